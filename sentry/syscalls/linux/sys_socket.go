package linux

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	unixsock "github.com/moat-sandbox/moat/sentry/socket/unix"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Socket ABI (include/linux/socket.h, include/linux/net.h, include/uapi/linux/un.h).
const (
	afMax          = 46 // AF_MAX: families at or above it are EAFNOSUPPORT
	sockMax        = 11 // SOCK_MAX: types at or above it are EINVAL
	sockTypeMask   = 0xf
	sockaddrMax    = 128 // sizeof(struct sockaddr_storage)
	sunPathOffset  = 2   // offsetof(struct sockaddr_un, sun_path)
	sockaddrUnSize = 110 // sizeof(struct sockaddr_un)
	uioMaxIOV      = 1024
	optmemMax      = 131072 // net.core.optmem_max: the largest control buffer sendmsg takes
	cmsghdrSize    = 16
	ucredSize      = 12
	msghdrSize     = 56
	mmsghdrSize    = 64
	msgWaitforone  = 0x10000
	capSetgid      = 6
	capSetuid      = 7
)

// familyNames names the families an application asks for that the Sentry has not
// got yet (they are logged once by name).
var familyNames = map[int]string{
	unix.AF_INET: "AF_INET", unix.AF_INET6: "AF_INET6", unix.AF_NETLINK: "AF_NETLINK",
	unix.AF_PACKET: "AF_PACKET", unix.AF_VSOCK: "AF_VSOCK", unix.AF_ALG: "AF_ALG",
	unix.AF_BLUETOOTH: "AF_BLUETOOTH", unix.AF_KEY: "AF_KEY", unix.AF_TIPC: "AF_TIPC",
	unix.AF_CAN: "AF_CAN", unix.AF_XDP: "AF_XDP", unix.AF_APPLETALK: "AF_APPLETALK",
}

// newSocket checks socket(2)'s and socketpair(2)'s arguments as __sys_socket and
// __sock_create do, and returns the AF_UNIX type and the SOCK_NONBLOCK/SOCK_CLOEXEC
// flags.
func newSocket(t *kernel.Task, family, typ, protocol int) (int, int, error) {
	flags := typ &^ sockTypeMask
	if flags&^(unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK) != 0 {
		return 0, 0, unix.EINVAL
	}
	typ &= sockTypeMask
	if family < 0 || family >= afMax {
		return 0, 0, unix.EAFNOSUPPORT
	}
	if typ >= sockMax {
		return 0, 0, unix.EINVAL
	}
	if family != unix.AF_UNIX {
		name := familyNames[family]
		if name == "" {
			name = fmt.Sprintf("address family %d", family)
		}
		return 0, 0, unsupportedErr(t, unix.EAFNOSUPPORT, "socket family %s", name)
	}
	// unix_create.
	if protocol != 0 && protocol != unix.AF_UNIX {
		return 0, 0, unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
	case unix.SOCK_RAW:
		typ = unix.SOCK_DGRAM
	default:
		return 0, 0, unix.ESOCKTNOSUPPORT
	}
	return typ, flags, nil
}

// Socket implements socket(2): AF_UNIX only.
func Socket(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	typ, flags, err := newSocket(t, int(int32(a[0])), int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	f := unixsock.New(t.Kernel().VFS, typ, flags)
	return installFD(t, f, flags&unix.SOCK_CLOEXEC != 0)
}

// Socketpair implements socketpair(2).
func Socketpair(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	typ, flags, err := newSocket(t, int(int32(a[0])), int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	x, y := unixsock.Pair(t.Kernel().VFS, typ, flags, credOf(t))
	return 0, installPair(t, x, y, a[3], flags&unix.SOCK_CLOEXEC != 0)
}

// installPair installs two new files and stores their descriptors at addr, as pipe2
// and socketpair do: nothing stays installed on failure.
func installPair(t *kernel.Task, x, y *vfs.FileDescription, addr uintptr, cloexec bool) error {
	limit := t.Limits[unix.RLIMIT_NOFILE].Cur
	xfd, err := t.FDs.NewFD(x, 0, cloexec, limit)
	if err != nil {
		x.DecRef()
		y.DecRef()
		return err
	}
	yfd, err := t.FDs.NewFD(y, 0, cloexec, limit)
	if err != nil {
		t.FDs.Remove(xfd)
		y.DecRef()
		return err
	}
	if err := t.CopyOutObj(addr, [2]int32{xfd, yfd}); err != nil {
		t.FDs.Remove(xfd)
		t.FDs.Remove(yfd)
		return err
	}
	return nil
}

// credOf is t's Cred for its sockets. Its PID, like every PID a socket keeps, is the
// root PID namespace's: a reader sees it in its own namespace (pidOfCred), as Linux
// keeps a struct pid.
func credOf(t *kernel.Task) unixsock.Cred {
	pid, uid, gid := t.UnixCred()
	return unixsock.Cred{PID: pid, UID: uid, GID: gid}
}

// pidOfCred is the PID of a socket's Cred as t's PID namespace has it (0 if it does
// not contain the process).
func pidOfCred(t *kernel.Task, c *unixsock.Cred) uint32 {
	return uint32(t.PIDNamespace().IDOfRoot(c.PID))
}

// socketFD returns the socket at fd: EBADF, or ENOTSOCK for another file. The caller
// drops the description's reference.
func socketFD(t *kernel.Task, a uintptr) (*vfs.FileDescription, *unixsock.Socket, error) {
	f, err := getFD(t, a)
	if err != nil {
		return nil, nil, err
	}
	so := unixsock.Of(f)
	if so == nil {
		f.DecRef()
		return nil, nil, unix.ENOTSOCK
	}
	return f, so, nil
}

// readSockaddr copies in an address as move_addr_to_kernel: EINVAL for a length
// beyond sockaddr_storage, EFAULT for a bad pointer.
func readSockaddr(t *kernel.Task, addr uintptr, n int32) ([]byte, error) {
	if n < 0 || n > sockaddrMax {
		return nil, unix.EINVAL
	}
	b := make([]byte, n)
	if n > 0 {
		if _, err := t.MM.CopyIn(addr, b); err != nil {
			return nil, unix.EFAULT
		}
	}
	return b, nil
}

func family(raw []byte) uint16 {
	if len(raw) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(raw)
}

// sunPath checks an AF_UNIX address as unix_validate_addr and returns its sun_path:
// abstract names whole, paths up to their NUL.
func sunPath(raw []byte) (string, error) {
	if len(raw) <= sunPathOffset || len(raw) > sockaddrUnSize || family(raw) != unix.AF_UNIX {
		return "", unix.EINVAL
	}
	p := raw[sunPathOffset:]
	if p[0] == 0 {
		return string(p), nil
	}
	for i, c := range p {
		if c == 0 {
			return string(p[:i]), nil
		}
	}
	return string(p), nil
}

// findAddr turns an address into the name of a socket to reach, as unix_find_other:
// a path is resolved (following symlinks), must be writable by the caller and a
// socket (ECONNREFUSED otherwise).
func findAddr(t *kernel.Task, raw []byte) (unixsock.Addr, error) {
	name, err := sunPath(raw)
	if err != nil {
		return unixsock.Addr{}, err
	}
	if name[0] == 0 {
		return unixsock.Addr{Name: name}, nil
	}
	p, err := t.PathOp(unix.AT_FDCWD, name)
	if err != nil {
		return unixsock.Addr{}, err
	}
	c := t.Caller()
	vd, err := t.Kernel().VFS.Resolve(c.Creds, p.Root, p.Start, p.Path, true)
	if err != nil {
		return unixsock.Addr{}, err
	}
	st, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return unixsock.Addr{}, err
	}
	if err := c.Creds.MayAccess(unix.W_OK, &st); err != nil {
		return unixsock.Addr{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return unixsock.Addr{}, unix.ECONNREFUSED
	}
	return unixsock.Addr{Name: name, Key: unixsock.Key{Dev: st.Dev, Ino: st.Ino}}, nil
}

// encodeAddr is a name as getsockname gives it: the family, then the abstract name or
// the path and its NUL.
func encodeAddr(a unixsock.Addr) []byte {
	b := []byte{unix.AF_UNIX, 0}
	b = append(b, a.Name...)
	if a.Name != "" && !a.Abstract() {
		b = append(b, 0)
	}
	return b
}

// writeSockaddr copies an address out as move_addr_to_user: at most the caller's
// length, which is then set to the address's.
func writeSockaddr(t *kernel.Task, addr, lenAddr uintptr, raw []byte) error {
	var n int32
	if err := t.CopyInObj(lenAddr, &n); err != nil {
		return unix.EFAULT
	}
	if n > int32(len(raw)) {
		n = int32(len(raw))
	}
	if n < 0 {
		return unix.EINVAL
	}
	if n > 0 {
		if _, err := t.MM.CopyOut(addr, raw[:n]); err != nil {
			return unix.EFAULT
		}
	}
	return t.CopyOutObj(lenAddr, int32(len(raw)))
}

// Bind implements bind(2), as unix_bind: an address of the family alone autobinds; a
// path makes a socket inode there (EADDRINUSE if the name exists), which is removed
// again if the socket turns out to be bound already.
func Bind(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	raw, err := readSockaddr(t, a[1], int32(a[2]))
	if err != nil {
		return 0, err
	}
	if len(raw) == sunPathOffset && family(raw) == unix.AF_UNIX {
		return 0, so.Autobind()
	}
	name, err := sunPath(raw)
	if err != nil {
		return 0, err
	}
	if name[0] == 0 {
		return 0, so.Bind(unixsock.Addr{Name: name})
	}
	v := t.Kernel().VFS
	c := t.Caller()
	p, err := t.PathOp(unix.AT_FDCWD, name)
	if err != nil {
		return 0, err
	}
	if err := v.MknodAt(c, p, unix.S_IFSOCK|0o777, 0); err != nil {
		if err == unix.EEXIST {
			return 0, unix.EADDRINUSE
		}
		return 0, err
	}
	st, err := v.StatAt(c, p, false)
	if err == nil {
		err = so.Bind(unixsock.Addr{Name: name, Key: unixsock.Key{Dev: st.Dev, Ino: st.Ino}})
	}
	if err != nil {
		v.UnlinkAt(c, p)
	}
	return 0, err
}

// Listen implements listen(2).
func Listen(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, so.Listen(int(int32(a[1])), credOf(t))
}

// Connect implements connect(2). As __sys_connect, the address is read before the
// file is found to be a socket.
func Connect(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	raw, err := readSockaddr(t, a[1], int32(a[2]))
	if err != nil {
		return 0, err
	}
	so := unixsock.Of(f)
	if so == nil {
		return 0, unix.ENOTSOCK
	}
	unspec := false
	if so.Type() == unix.SOCK_DGRAM {
		if len(raw) < 2 {
			return 0, unix.EINVAL
		}
		unspec = family(raw) == unix.AF_UNSPEC
	}
	var to unixsock.Addr
	if !unspec {
		if to, err = findAddr(t, raw); err != nil {
			return 0, err
		}
	}
	return 0, so.Connect(t, to, unspec, nonblocking(f), credOf(t))
}

// Accept implements accept(2).
func Accept(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return accept4(t, a[0], a[1], a[2], 0)
}

// Accept4 implements accept4(2).
func Accept4(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return accept4(t, a[0], a[1], a[2], int(int32(a[3])))
}

func accept4(t *kernel.Task, fdArg, addr, lenAddr uintptr, flags int) (uintptr, error) {
	if flags&^(unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	f, so, err := socketFD(t, fdArg)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	nf, err := so.Accept(t, nonblocking(f), flags)
	if err != nil {
		return 0, err
	}
	nfd, err := t.FDs.NewFD(nf, 0, flags&unix.SOCK_CLOEXEC != 0, t.Limits[unix.RLIMIT_NOFILE].Cur)
	if err != nil {
		nf.DecRef()
		return 0, err
	}
	if addr != 0 {
		peer, _ := unixsock.Of(nf).Peer()
		if err := writeSockaddr(t, addr, lenAddr, encodeAddr(peer)); err != nil {
			t.FDs.Remove(nfd)
			return 0, err
		}
	}
	return uintptr(nfd), nil
}

// Getsockname implements getsockname(2).
func Getsockname(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, writeSockaddr(t, a[1], a[2], encodeAddr(so.Name()))
}

// Getpeername implements getpeername(2).
func Getpeername(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	peer, err := so.Peer()
	if err != nil {
		return 0, err
	}
	return 0, writeSockaddr(t, a[1], a[2], encodeAddr(peer))
}

// Shutdown implements shutdown(2).
func Shutdown(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, so.Shutdown(int(int32(a[1])))
}

// Getsockopt implements getsockopt(2) for SOL_SOCKET; other levels have no options on
// AF_UNIX sockets (EOPNOTSUPP), and SOL_SOCKET options not kept here are logged and
// ENOPROTOOPT.
func Getsockopt(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	level, name, val, lenAddr := int(int32(a[1])), int(int32(a[2])), a[3], a[4]
	if level != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP
	}
	var n int32
	if err := t.CopyInObj(lenAddr, &n); err != nil {
		return 0, unix.EFAULT
	}
	if n < 0 {
		return 0, unix.EINVAL
	}
	var b []byte
	if send, ok := timeoutOpt(name); ok {
		tv := unix.NsecToTimeval(so.Timeout(send).Nanoseconds())
		b = binary.LittleEndian.AppendUint64(nil, uint64(tv.Sec))
		b = binary.LittleEndian.AppendUint64(b, uint64(tv.Usec))
	} else if name == unix.SO_PEERCRED {
		c := so.PeerCred()
		b = binary.LittleEndian.AppendUint32(nil, pidOfCred(t, &c))
		b = binary.LittleEndian.AppendUint32(b, c.UID)
		b = binary.LittleEndian.AppendUint32(b, c.GID)
	} else {
		v, ok := so.GetOpt(name)
		if !ok {
			return 0, unsupportedErr(t, unix.ENOPROTOOPT, "getsockopt(SOL_SOCKET, %d) on an AF_UNIX socket", name)
		}
		b = binary.LittleEndian.AppendUint32(nil, uint32(v))
	}
	b = b[:min(int(n), len(b))]
	if _, err := t.MM.CopyOut(val, b); err != nil && len(b) > 0 {
		return 0, unix.EFAULT
	}
	return 0, t.CopyOutObj(lenAddr, int32(len(b)))
}

// Setsockopt implements setsockopt(2) for SOL_SOCKET's SO_SNDBUF, SO_RCVBUF and
// SO_PASSCRED.
func Setsockopt(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	level, name, val, n := int(int32(a[1])), int(int32(a[2])), a[3], int32(a[4])
	if n < 0 {
		return 0, unix.EINVAL
	}
	if level != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP
	}
	if send, ok := timeoutOpt(name); ok {
		return 0, setTimeout(t, so, send, val, n)
	}
	if n < 4 {
		return 0, unix.EINVAL
	}
	var v int32
	if err := t.CopyInObj(val, &v); err != nil {
		return 0, unix.EFAULT
	}
	if !so.SetOpt(name, v) {
		return 0, unsupportedErr(t, unix.ENOPROTOOPT, "setsockopt(SOL_SOCKET, %d) on an AF_UNIX socket", name)
	}
	return 0, nil
}

// SO_RCVTIMEO_NEW and SO_SNDTIMEO_NEW (include/uapi/asm-generic/socket.h): on x86-64
// their struct __kernel_sock_timeval is laid out as the old struct timeval.
const (
	soRcvtimeoNew = 66
	soSndtimeoNew = 67
)

// timeoutOpt reports whether name is a timeout option, and whether the send one.
func timeoutOpt(name int) (send, ok bool) {
	switch name {
	case unix.SO_RCVTIMEO, soRcvtimeoNew:
		return false, true
	case unix.SO_SNDTIMEO, soSndtimeoNew:
		return true, true
	}
	return false, false
}

// setTimeout is sock_set_timeout: a struct timeval, EDOM for microseconds out of
// range; zero is no timeout and a negative one no wait. Linux counts in jiffies and
// rounds up to one; the Sentry keeps the microseconds.
func setTimeout(t *kernel.Task, so *unixsock.Socket, send bool, addr uintptr, n int32) error {
	if n < 16 {
		return unix.EINVAL
	}
	var tv unix.Timeval
	if err := t.CopyInObj(addr, &tv); err != nil {
		return unix.EFAULT
	}
	if tv.Usec < 0 || tv.Usec >= 1e6 {
		return unix.EDOM
	}
	d := time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
	if tv.Sec < 0 {
		d = -1
	} else if tv.Sec > 1<<32 {
		d = 0 // beyond MAX_SCHEDULE_TIMEOUT: forever
	}
	so.SetTimeout(send, d)
	return nil
}

// msghdr is struct msghdr.
type msghdr struct {
	Name       uint64
	Namelen    uint32
	_          uint32
	Iov        uint64
	Iovlen     uint64
	Control    uint64
	Controllen uint64
	Flags      int32
	_          int32
}

// gather copies in the bytes an iovec array names, up to max; EFAULT for a bad one.
func gather(t *kernel.Task, iov []iovec, max int) ([]byte, error) {
	var b []byte
	for _, v := range iov {
		n := min(int(min(v.Len, uint64(maxRW))), max-len(b))
		if n == 0 {
			continue
		}
		start := len(b)
		b = append(b, make([]byte, n)...)
		if _, err := t.MM.CopyIn(uintptr(v.Base), b[start:]); err != nil {
			return nil, unix.EFAULT
		}
	}
	return b, nil
}

// scatter copies data out to an iovec array.
func scatter(t *kernel.Task, iov []iovec, data []byte) error {
	for _, v := range iov {
		if len(data) == 0 {
			break
		}
		n := int(min(v.Len, uint64(len(data))))
		if _, err := t.MM.CopyOut(uintptr(v.Base), data[:n]); err != nil {
			return unix.EFAULT
		}
		data = data[n:]
	}
	return nil
}

func iovTotal(iov []iovec) int {
	var n uint64
	for _, v := range iov {
		n += v.Len
	}
	return int(min(n, maxRW))
}

// sendTo sends what iov names, as sock_sendmsg, to the socket named by rawTo (an
// address already checked by sendAddr; nil for none): a stream in pieces of at most a
// chunk (bytes sent before a failure count), anything else in one message, whose
// destination is looked up once its bytes are in. EPIPE on a stream raises SIGPIPE
// unless MSG_NOSIGNAL.
func sendTo(t *kernel.Task, f *vfs.FileDescription, so *unixsock.Socket, iov []iovec, rawTo []byte, ctl unixsock.Control, flags int) (int, error) {
	total := iovTotal(iov)
	nonblock := nonblocking(f)
	n, err := 0, so.CheckSend(rawTo != nil, total, flags)
	if err == nil && so.Type() != unix.SOCK_STREAM {
		// One message: its size was checked, its bytes are copied in whole.
		var data []byte
		var to *unixsock.Addr
		if data, err = gather(t, iov, total); err == nil && rawTo != nil {
			var a unixsock.Addr
			if a, err = findAddr(t, rawTo); err == nil {
				to = &a
			}
		}
		if err == nil {
			return so.Send(t, data, to, ctl, flags, nonblock)
		}
	}
	// A stream goes in pieces of at most a chunk; the files go with the first.
	for first := true; err == nil && (first || n < total); first = false {
		var data []byte
		if data, err = gather(t, skipIOV(iov, n), min(total-n, chunk)); err != nil {
			break
		}
		// MSG_OOB makes the last byte of the whole send out of band: it goes with the
		// last piece only.
		pieceFlags := flags
		if n+len(data) < total {
			pieceFlags &^= unix.MSG_OOB
		}
		var sent int
		sent, err = so.Send(t, data, nil, ctl, pieceFlags, nonblock)
		ctl.Files = nil
		n += sent
		if err != nil || sent < len(data) || total == 0 {
			break
		}
	}
	for _, f := range ctl.Files {
		f.DecRef()
	}
	if n > 0 {
		return n, nil
	}
	if err == unix.EPIPE && so.Type() == unix.SOCK_STREAM && flags&unix.MSG_NOSIGNAL == 0 {
		t.SigPipe()
	}
	return 0, err
}

// skipIOV returns iov without its first n bytes.
func skipIOV(iov []iovec, n int) []iovec {
	for len(iov) > 0 && uint64(n) >= iov[0].Len {
		n -= int(iov[0].Len)
		iov = iov[1:]
	}
	if len(iov) == 0 || n == 0 {
		return iov
	}
	out := append([]iovec{{Base: iov[0].Base + uint64(n), Len: iov[0].Len - uint64(n)}}, iov[1:]...)
	return out
}

// sendAddr reads the destination a send names, as move_addr_to_kernel and the
// family's first checks: a datagram socket's must be a valid AF_UNIX address (looked
// up later, by sendTo); a stream's only matters by being there (EISCONN, EOPNOTSUPP);
// a seqpacket socket's is ignored. nil: none.
func sendAddr(t *kernel.Task, so *unixsock.Socket, addr uintptr, n int32) ([]byte, error) {
	if addr == 0 || n == 0 {
		return nil, nil
	}
	raw, err := readSockaddr(t, addr, n)
	if err != nil {
		return nil, err
	}
	switch so.Type() {
	case unix.SOCK_SEQPACKET:
		return nil, nil
	case unix.SOCK_DGRAM:
		if _, err := sunPath(raw); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// Sendto implements sendto(2).
func Sendto(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	to, err := sendAddr(t, so, a[4], int32(a[5]))
	if err != nil {
		return 0, err
	}
	n, err := sendTo(t, f, so, []iovec{{Base: uint64(a[1]), Len: uint64(min(a[2], maxRW))}}, to, unixsock.Control{}, int(int32(a[3])))
	return uintptr(n), err
}

// Sendmsg implements sendmsg(2).
func Sendmsg(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n, err := sendmsg(t, f, so, a[1], int(int32(a[2])))
	return uintptr(n), err
}

// sendmsg is ___sys_sendmsg: the header, the destination, the iovecs, the control
// messages (__scm_send), then the send.
func sendmsg(t *kernel.Task, f *vfs.FileDescription, so *unixsock.Socket, addr uintptr, flags int) (int, error) {
	var m msghdr
	if err := t.CopyInObj(addr, &m); err != nil {
		return 0, unix.EFAULT
	}
	if int32(m.Namelen) < 0 {
		return 0, unix.EINVAL
	}
	to, err := sendAddr(t, so, uintptr(m.Name), min(int32(m.Namelen), sockaddrMax))
	if err != nil {
		return 0, err
	}
	if m.Iovlen > uioMaxIOV {
		return 0, unix.EMSGSIZE
	}
	iov, err := iovecs(t, uintptr(m.Iov), uintptr(m.Iovlen))
	if err != nil {
		return 0, err
	}
	if m.Controllen > optmemMax {
		return 0, unix.ENOBUFS
	}
	ctl, err := readControl(t, uintptr(m.Control), int(m.Controllen))
	if err != nil {
		return 0, err
	}
	return sendTo(t, f, so, iov, to, ctl, flags)
}

// readControl parses control messages as __scm_send: SCM_RIGHTS (at most SCM_MAX_FD
// files, EBADF for a bad one) and SCM_CREDENTIALS (checked as scm_check_creds); a
// malformed header or another SOL_SOCKET type is EINVAL, other levels are skipped.
func readControl(t *kernel.Task, addr uintptr, n int) (unixsock.Control, error) {
	var ctl unixsock.Control
	if n < cmsghdrSize {
		return ctl, nil
	}
	buf := make([]byte, n)
	if _, err := t.MM.CopyIn(addr, buf); err != nil {
		return ctl, unix.EFAULT
	}
	fail := func(err error) (unixsock.Control, error) {
		for _, f := range ctl.Files {
			f.DecRef()
		}
		return unixsock.Control{}, err
	}
	for off := 0; off+cmsghdrSize <= n; {
		l := binary.LittleEndian.Uint64(buf[off:])
		level := int32(binary.LittleEndian.Uint32(buf[off+8:]))
		typ := int32(binary.LittleEndian.Uint32(buf[off+12:]))
		if l < cmsghdrSize || l > uint64(n-off) {
			return fail(unix.EINVAL)
		}
		data := buf[off+cmsghdrSize : off+int(l)]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				num := len(data) / 4
				if num == 0 {
					break
				}
				if len(ctl.Files)+num > unixsock.ScmMaxFD {
					return fail(unix.EINVAL)
				}
				for i := range num {
					f, err := t.FDs.Get(int32(binary.LittleEndian.Uint32(data[4*i:])))
					if err != nil {
						return fail(unix.EBADF)
					}
					ctl.Files = append(ctl.Files, f)
				}
			case unix.SCM_CREDENTIALS:
				if len(data) != ucredSize {
					return fail(unix.EINVAL)
				}
				c := unixsock.Cred{PID: int32(binary.LittleEndian.Uint32(data)),
					UID: binary.LittleEndian.Uint32(data[4:]), GID: binary.LittleEndian.Uint32(data[8:])}
				if err := checkCred(t, &c); err != nil {
					return fail(err)
				}
				ctl.Cred = &c
			default:
				return fail(unix.EINVAL)
			}
		}
		off += int((l + 7) &^ 7)
	}
	return ctl, nil
}

// checkCred is scm_check_creds, then the PID's lookup in t's PID namespace: a sender
// may claim its own process and IDs, or others with CAP_SYS_ADMIN, CAP_SETUID and
// CAP_SETGID. The PID becomes the root namespace's (credOf).
func checkCred(t *kernel.Task, c *unixsock.Cred) error {
	if c.UID == ^uint32(0) || c.GID == ^uint32(0) {
		return unix.EINVAL
	}
	self := credOf(t)
	if (c.PID != t.ProcessID() && !t.Creds.HasCap(vfs.CapSysAdmin)) ||
		(c.UID != self.UID && !t.Creds.HasCap(capSetuid)) ||
		(c.GID != self.GID && !t.Creds.HasCap(capSetgid)) {
		return unix.EPERM
	}
	target := t.PIDNamespace().TaskWithID(c.PID)
	if target == nil {
		return unix.ESRCH
	}
	c.PID = target.TID
	return nil
}

// Sendmmsg implements sendmmsg(2): messages are sent until one fails; the count sent
// is the result unless the first failed.
func Sendmmsg(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	vec, vlen, flags := a[1], min(uint32(a[2]), uioMaxIOV), int(int32(a[3]))
	var i uint32
	for ; i < vlen; i++ {
		at := vec + uintptr(i)*mmsghdrSize
		n, err := sendmsg(t, f, so, at, flags)
		if err == nil {
			err = t.CopyOutObj(at+msghdrSize, uint32(n))
		}
		if err != nil {
			if i > 0 {
				break
			}
			return 0, err
		}
	}
	return uintptr(i), nil
}

// Recvfrom implements recvfrom(2).
func Recvfrom(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	flags := int(int32(a[3]))
	r, err := so.Recv(t, int(min(a[2], maxRW)), flags, nonblocking(f))
	for _, f := range r.Files {
		f.DecRef()
	}
	if err != nil {
		return 0, err
	}
	if _, err := t.MM.CopyOut(a[1], r.Data); err != nil && len(r.Data) > 0 {
		return 0, unix.EFAULT
	}
	if a[4] != 0 {
		var raw []byte
		if r.From.Name != "" {
			raw = encodeAddr(r.From)
		}
		if err := writeSockaddr(t, a[4], a[5], raw); err != nil {
			return 0, err
		}
	}
	return uintptr(recvResult(so, r, flags)), nil
}

// recvResult is what a receive returns: the bytes copied, or with MSG_TRUNC the
// datagram's whole length.
func recvResult(so *unixsock.Socket, r unixsock.Received, flags int) int {
	if flags&unix.MSG_TRUNC != 0 && so.Type() != unix.SOCK_STREAM {
		return r.Len
	}
	return len(r.Data)
}

// Recvmsg implements recvmsg(2).
func Recvmsg(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n, err := recvmsg(t, f, so, a[1], int(int32(a[2])))
	return uintptr(n), err
}

// recvmsg is ___sys_recvmsg: the header and iovecs in, the receive, then the data,
// name, control messages (credentials first, then files, as scm_recv) and flags out.
func recvmsg(t *kernel.Task, f *vfs.FileDescription, so *unixsock.Socket, addr uintptr, flags int) (int, error) {
	var m msghdr
	if err := t.CopyInObj(addr, &m); err != nil {
		return 0, unix.EFAULT
	}
	if int32(m.Namelen) < 0 {
		return 0, unix.EINVAL
	}
	if m.Iovlen > uioMaxIOV {
		return 0, unix.EMSGSIZE
	}
	iov, err := iovecs(t, uintptr(m.Iov), uintptr(m.Iovlen))
	if err != nil {
		return 0, err
	}
	r, err := so.Recv(t, iovTotal(iov), flags, nonblocking(f))
	if err != nil {
		return 0, err
	}
	if err := scatter(t, iov, r.Data); err != nil {
		for _, f := range r.Files {
			f.DecRef()
		}
		return 0, err
	}
	outFlags := int32(flags & unix.MSG_CMSG_CLOEXEC)
	if r.Trunc {
		outFlags |= unix.MSG_TRUNC
	}
	if r.OOB {
		outFlags |= unix.MSG_OOB
	}
	namelen := uint32(0)
	if m.Name != 0 && r.From.Name != "" {
		raw := encodeAddr(r.From)
		if _, err := t.MM.CopyOut(uintptr(m.Name), raw[:min(len(raw), int(min(m.Namelen, sockaddrMax)))]); err != nil {
			return 0, unix.EFAULT
		}
		namelen = uint32(len(raw))
	}
	cw := cmsgWriter{t: t, addr: uintptr(m.Control), room: int(min(m.Controllen, 1<<31))}
	if r.Cred != nil {
		c := r.Cred
		b := binary.LittleEndian.AppendUint32(nil, pidOfCred(t, c))
		b = binary.LittleEndian.AppendUint32(b, c.UID)
		cw.put(unix.SCM_CREDENTIALS, binary.LittleEndian.AppendUint32(b, c.GID))
	}
	if len(r.Files) > 0 {
		cw.putFiles(r.Files, flags&unix.MSG_CMSG_CLOEXEC != 0)
	}
	if cw.err != nil {
		return 0, cw.err
	}
	outFlags |= cw.flags
	if m.Name != 0 {
		if err := t.CopyOutObj(addr+8, namelen); err != nil {
			return 0, err
		}
	}
	if err := t.CopyOutObj(addr+40, uint64(cw.used)); err != nil {
		return 0, err
	}
	if err := t.CopyOutObj(addr+48, outFlags); err != nil {
		return 0, err
	}
	return recvResult(so, r, flags), nil
}

// cmsgWriter lays control messages out in the receiver's buffer as put_cmsg and
// scm_detach_fds: what does not fit is cut (MSG_CTRUNC).
type cmsgWriter struct {
	t     *kernel.Task
	addr  uintptr
	room  int
	used  int
	flags int32
	err   error
}

func cmsgSpace(n int) int { return cmsghdrSize + (n+7)&^7 }

// put writes one message; it is cut to the room left.
func (w *cmsgWriter) put(typ int32, data []byte) {
	if w.room < cmsghdrSize {
		w.flags |= unix.MSG_CTRUNC
		return
	}
	l := cmsghdrSize + len(data)
	if w.room < l {
		w.flags |= unix.MSG_CTRUNC
		l = w.room
	}
	w.write(typ, l, data[:l-cmsghdrSize])
	step := min(cmsgSpace(len(data)), w.room)
	w.addr += uintptr(step)
	w.room -= step
	w.used += step
}

func (w *cmsgWriter) write(typ int32, l int, data []byte) {
	b := binary.LittleEndian.AppendUint64(nil, uint64(l))
	b = binary.LittleEndian.AppendUint32(b, unix.SOL_SOCKET)
	b = binary.LittleEndian.AppendUint32(b, uint32(typ))
	if _, err := w.t.MM.CopyOut(w.addr, append(b, data...)); err != nil && w.err == nil {
		w.err = unix.EFAULT
	}
}

// putFiles installs as many of files as the room holds, as new descriptors, and
// writes their SCM_RIGHTS message; the rest are closed.
func (w *cmsgWriter) putFiles(files []*vfs.FileDescription, cloexec bool) {
	fdmax := 0
	if w.room > cmsghdrSize {
		fdmax = min((w.room-cmsghdrSize)/4, len(files))
	}
	var fds []byte
	i := 0
	for ; i < fdmax; i++ {
		nfd, err := w.t.FDs.NewFD(files[i], 0, cloexec, w.t.Limits[unix.RLIMIT_NOFILE].Cur)
		if err != nil {
			break
		}
		fds = binary.LittleEndian.AppendUint32(fds, uint32(nfd))
	}
	if i > 0 {
		w.write(unix.SCM_RIGHTS, cmsghdrSize+len(fds), fds)
		step := min(cmsgSpace(len(fds)), w.room)
		w.addr += uintptr(step)
		w.room -= step
		w.used += step
	}
	if i < len(files) {
		w.flags |= unix.MSG_CTRUNC
	}
	for _, f := range files[i:] {
		f.DecRef()
	}
}

// Recvmmsg implements recvmmsg(2): it receives until vlen messages, a failure after
// the first, or (MSG_WAITFORONE) the first; the timeout is checked after each message,
// as Linux does, and what remains of it is written back.
func Recvmmsg(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, so, err := socketFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	vec, vlen, flags, tsAddr := a[1], min(uint32(a[2]), uioMaxIOV), int(int32(a[3])), a[4]
	var deadline time.Time
	if tsAddr != 0 {
		var ts unix.Timespec
		if err := t.CopyInObj(tsAddr, &ts); err != nil {
			return 0, unix.EFAULT
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		deadline = time.Now().Add(time.Duration(ts.Nano()))
	}
	var i uint32
	for ; i < vlen; i++ {
		at := vec + uintptr(i)*mmsghdrSize
		n, err := recvmsg(t, f, so, at, flags)
		if err == nil {
			err = t.CopyOutObj(at+msghdrSize, uint32(n))
		}
		if err != nil {
			if i > 0 {
				break
			}
			return 0, err
		}
		if flags&msgWaitforone != 0 {
			flags |= unix.MSG_DONTWAIT
		}
		if tsAddr != 0 && !time.Now().Before(deadline) {
			i++
			break
		}
	}
	if tsAddr != 0 {
		left := max(time.Until(deadline), 0)
		t.CopyOutObj(tsAddr, unix.NsecToTimespec(left.Nanoseconds()))
	}
	return uintptr(i), nil
}

// sockVectored is readv or writev on a socket (ok false for other files): one
// message over the whole array, as sock_read_iter and sock_write_iter.
func sockVectored(t *kernel.Task, a [6]uintptr, write bool) (uintptr, bool, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, false, nil
	}
	defer f.DecRef()
	so := unixsock.Of(f)
	if so == nil {
		return 0, false, nil
	}
	iov, err := iovecs(t, a[1], a[2])
	if err != nil {
		return 0, true, err
	}
	if write {
		n, err := sockWritev(t, f, so, iov)
		return n, true, err
	}
	n, err := sockReadv(t, f, so, iov)
	return n, true, err
}

func sockReadv(t *kernel.Task, f *vfs.FileDescription, so *unixsock.Socket, iov []iovec) (uintptr, error) {
	total := iovTotal(iov)
	if total == 0 {
		return 0, nil
	}
	r, err := so.Recv(t, total, 0, nonblocking(f))
	for _, f := range r.Files {
		f.DecRef()
	}
	if err != nil {
		return 0, err
	}
	return uintptr(len(r.Data)), scatter(t, iov, r.Data)
}

func sockWritev(t *kernel.Task, f *vfs.FileDescription, so *unixsock.Socket, iov []iovec) (uintptr, error) {
	n, err := sendTo(t, f, so, iov, nil, unixsock.Control{}, 0)
	return uintptr(n), err
}
