// Package unix is AF_UNIX: the Sentry's own local sockets, of types SOCK_STREAM,
// SOCK_DGRAM and SOCK_SEQPACKET, as Linux's net/unix/af_unix.c has them. Nothing here
// reaches the host.
//
// A socket is a sock: its state (unconnected, listening, connected), its peer, its
// bound name, and its receive queue of messages. Sending appends a message to the
// receiving sock's queue; receiving takes it off. A message carries its bytes, the
// sender's name (datagrams), credentials (SCM_CREDENTIALS) and open file descriptions
// (SCM_RIGHTS, whose references the message holds until they are received or the
// message is dropped). A stream is a queue of messages read as one byte stream; a
// datagram or a sequenced packet is one message per receive.
//
// Flow control is Linux's: the bytes a sock has sent and that are still queued at the
// receiver count against its send buffer (sk_wmem_alloc against sk_sndbuf), with a
// fixed overhead per message standing for the kernel's skb; a stream sender waits
// while they pass its buffer. A datagram sent to a socket that is not connected back to
// the sender also waits while the receiver holds more than max_dgram_qlen messages.
//
// Out-of-band data (streams, as Linux 6.x with CONFIG_AF_UNIX_OOB): a MSG_OOB send's
// last byte is queued as a message of its own that the receiver marks as its OOB byte
// (a newer one unmarks an older, which becomes ordinary data). recv(MSG_OOB) takes it
// and leaves its message empty in the queue; an ordinary receive stops at the mark
// once it has bytes, and otherwise passes over it (dropping an OOB byte not taken),
// unless SO_OOBINLINE keeps the byte in the stream (manage_oob). SIGURG is not sent:
// descriptions have no owner (F_SETOWN).
//
// Connecting a stream or seqpacket socket to a listening one makes the server's end at
// once (Linux's "embryo"), connected to the client and queued on the listener until
// accept takes it; the client may write before that. The listener's backlog bounds the
// queue (backlog+1 pending, as unix_recvq_full).
//
// Names: an abstract name (a leading NUL) lives in the namespace's table until its
// socket is closed; a filesystem name is a socket inode the system call layer makes
// with the VFS, and the namespace maps that inode's (device, inode number) to the
// socket bound there. Unlinking the name leaves the socket bound but unreachable. A
// namespace belongs to one VFS (a sandbox), as Linux's belong to a network namespace.
//
// Blocking: every change to a sock closes and replaces its changed channel; a waiter
// takes the channel under the lock, releases the lock and waits on it or on its task's
// interruption (ERESTARTSYS). poll, select and epoll use the same channel through
// vfs.Waitable. A change to one end wakes both ends, and a message taken off a queue
// wakes its sender.
//
// Sockets that reach each other only through messages in flight (a socket sent over
// itself, two sent over each other) are collected as Linux's unix_gc does: when a
// socket is closed while socket descriptions are in flight, those whose every
// reference is in a queue and that no open socket's queue reaches are purged.
//
// Lock order: namespace.mu is the only lock; it guards every sock of the namespace.
// It is never held while a file description is released (a message's files may include
// sockets, whose release takes it): released files are collected and dropped after
// unlocking.
package unix

import (
	"sync"
	"sync/atomic"
	"time"

	sys "golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Linux's defaults (net/core/sock.c, net/unix/af_unix.c, include/net/sock.h).
const (
	defaultBuf   = 212992 // net.core.wmem_default and rmem_default
	maxBuf       = 212992 // net.core.wmem_max and rmem_max
	minSndBuf    = 4608   // SOCK_MIN_SNDBUF
	minRcvBuf    = 2304   // SOCK_MIN_RCVBUF
	maxDgramQlen = 10     // net.unix.max_dgram_qlen
	somaxconn    = 4096   // net.core.somaxconn
	// overhead is what a queued message costs beyond its bytes (Linux's skb truesize
	// is its data rounded up plus about this much).
	overhead = 576
	// ScmMaxFD is SCM_MAX_FD, the most files one message carries.
	ScmMaxFD = 253
)

// erestartsys is what a wait interrupted by a signal returns (include/linux/errno.h).
const erestartsys = sys.Errno(512)

type state int

const (
	stateUnconnected state = iota // TCP_CLOSE
	stateListening                // TCP_LISTEN
	stateConnected                // TCP_ESTABLISHED
)

// Shutdown bits (include/net/sock.h).
const (
	rcvShutdown  = 1
	sendShutdown = 2
)

// Cred is a process's identity as SCM_CREDENTIALS and SO_PEERCRED carry it.
type Cred struct {
	PID      int32
	UID, GID uint32
}

// nobody is what a message without credentials shows (pid 0, the overflow IDs).
var nobody = Cred{PID: 0, UID: 65534, GID: 65534}

// Key names a socket inode: its device and inode number.
type Key struct{ Dev, Ino uint64 }

// Addr is a socket name: an abstract name (Name starts with NUL, Key unused), a path
// (Key is its inode), or nothing (Name empty).
type Addr struct {
	Name string
	Key  Key
}

// Abstract reports whether a is an abstract name.
func (a Addr) Abstract() bool { return len(a.Name) > 0 && a.Name[0] == 0 }

// namespace holds the names of one VFS's sockets.
type namespace struct {
	mu       sync.Mutex
	abstract map[string]*sock
	paths    map[Key]*sock
	// autobind is the next autobind name to try.
	autobind uint32
	// socks are the namespace's open sockets, and inflight counts the socket
	// descriptions that messages hold: what the collector (gc.go) looks at.
	socks    map[*sock]struct{}
	inflight int
}

var (
	namespacesMu sync.Mutex
	namespaces   = map[*vfs.VFS]*namespace{}
	inodes       atomic.Uint64
)

func namespaceOf(v *vfs.VFS) *namespace {
	namespacesMu.Lock()
	defer namespacesMu.Unlock()
	ns := namespaces[v]
	if ns == nil {
		ns = &namespace{abstract: map[string]*sock{}, paths: map[Key]*sock{}, socks: map[*sock]struct{}{}}
		namespaces[v] = ns
	}
	return ns
}

// message is one send's worth of a queue.
type message struct {
	data  []byte
	from  Addr
	cred  Cred
	files []*vfs.FileDescription
	// sender is charged size until the message leaves the queue.
	sender *sock
	size   int
}

// sock is one socket.
type sock struct {
	ns  *namespace
	v   *vfs.VFS
	typ int
	ino uint64

	// Guarded by ns.mu.
	state    state
	peer     *sock
	addr     Addr
	queue    []*message
	queued   int // bytes in queue
	shutdown int
	err      sys.Errno // SO_ERROR, cleared when read
	passcred bool
	sndbuf   int
	rcvbuf   int
	wmem     int // what this sock's messages in queues cost
	backlog  int
	// rcvtimeo and sndtimeo bound blocking receives and sends (zero: no bound;
	// negative: no wait).
	rcvtimeo, sndtimeo time.Duration
	pending            []*sock // listening: connections accept has not taken
	// oob is the message holding the out-of-band byte not yet taken (Linux's
	// oob_skb); oobInline is SO_OOBINLINE. A taken OOB byte leaves its message in the
	// queue, empty, as a mark. dropped are the files of messages dropped by a receive,
	// to release once ns.mu is unlocked.
	oob       *message
	oobInline bool
	dropped   []*vfs.FileDescription
	peerCred  *Cred // SO_PEERCRED
	released  bool
	changed   chan struct{}
	// fd is the socket's description, once it has one (an embryo has none).
	fd *vfs.FileDescription
	// nonblock mirrors nothing: a description's O_NONBLOCK is passed with each call.
}

// Socket is the file implementation of a socket: it is what a description of an
// AF_UNIX socket holds.
type Socket struct{ s *sock }

// newSock makes a sock; ns.mu must be held, or ns be new to the caller.
func newSock(v *vfs.VFS, ns *namespace, typ int) *sock {
	s := &sock{ns: ns, v: v, typ: typ, ino: inodes.Add(1), sndbuf: defaultBuf,
		rcvbuf: defaultBuf, changed: make(chan struct{})}
	ns.socks[s] = struct{}{}
	return s
}

// file makes a description for s.
func (s *sock) file(flags int) *vfs.FileDescription {
	vd := s.v.Anonymous(&inode{ino: s.ino, ctime: sys.NsecToTimespec(time.Now().UnixNano())}, "sockfs")
	s.fd = vfs.NewFileDescription(vd, &Socket{s}, sys.O_RDWR|flags&sys.O_NONBLOCK)
	return s.fd
}

// New makes an unconnected socket of type typ (SOCK_STREAM, SOCK_DGRAM or
// SOCK_SEQPACKET) with flags (O_NONBLOCK).
func New(v *vfs.VFS, typ, flags int) *vfs.FileDescription {
	ns := namespaceOf(v)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return newSock(v, ns, typ).file(flags)
}

// Pair makes two sockets connected to each other, as socketpair(2); each has cred as
// its peer's credentials.
func Pair(v *vfs.VFS, typ, flags int, cred Cred) (a, b *vfs.FileDescription) {
	ns := namespaceOf(v)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	x, y := newSock(v, ns, typ), newSock(v, ns, typ)
	x.peer, y.peer = y, x
	x.state, y.state = stateConnected, stateConnected
	c := cred
	x.peerCred, y.peerCred = &c, &c
	return x.file(flags), y.file(flags)
}

// Of returns the socket a description is, or nil.
func Of(f *vfs.FileDescription) *Socket {
	s, _ := f.Impl().(*Socket)
	return s
}

// Type is the socket's type (SO_TYPE).
func (so *Socket) Type() int { return so.s.typ }

// changedLocked wakes every waiter on s.
func (s *sock) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wakeLocked wakes s and its peer.
func (s *sock) wakeLocked() {
	s.changedLocked()
	if s.peer != nil {
		s.peer.changedLocked()
	}
}

// deadline is when a wait of an operation starting now ends under timeout
// (SO_RCVTIMEO, SO_SNDTIMEO; zero: never).
func deadline(timeout time.Duration) time.Time {
	switch {
	case timeout == 0:
		return time.Time{}
	case timeout < 0: // a negative timeout: no wait at all
		return time.Now()
	}
	return time.Now().Add(timeout)
}

// wait releases ns.mu, waits for a change of w, an interruption or the deadline dl
// (zero: none), and takes ns.mu again. As sock_intr_errno, an interrupted wait with
// no timeout is restarted (ERESTARTSYS) and one with a timeout is EINTR; a wait that
// times out is EAGAIN.
func (s *sock) wait(ctx vfs.Context, w *sock, dl time.Time) error {
	ch := w.changed
	var timer <-chan time.Time
	if !dl.IsZero() {
		left := time.Until(dl)
		if left <= 0 {
			return sys.EAGAIN
		}
		t := time.NewTimer(left)
		defer t.Stop()
		timer = t.C
	}
	s.ns.mu.Unlock()
	defer s.ns.mu.Lock()
	vfs.SleepStart(ctx)
	defer vfs.SleepFinish(ctx)
	select {
	case <-ch:
		return nil
	case <-timer:
		return sys.EAGAIN
	case <-ctx.Interrupted():
		if !dl.IsZero() {
			return sys.EINTR
		}
		return erestartsys
	}
}

// dequeueLocked takes the first message off s's queue and releases what its sender
// was charged.
func (s *sock) dequeueLocked() *message { return s.dequeueAtLocked(0) }

// dequeueAtLocked takes message i off s's queue (dequeueLocked).
func (s *sock) dequeueAtLocked(i int) *message {
	m := s.queue[i]
	s.queue = append(s.queue[:i], s.queue[i+1:]...)
	if m == s.oob {
		s.oob = nil
	}
	s.queued -= len(m.data)
	if m.sender != nil {
		m.sender.wmem -= m.size
		m.sender.changedLocked()
		m.sender = nil
	}
	return m
}

// purgeLocked empties s's queue and returns the files its messages held.
func (s *sock) purgeLocked() []*vfs.FileDescription {
	var files []*vfs.FileDescription
	for len(s.queue) > 0 {
		files = append(files, s.ns.detachLocked(s.dequeueLocked())...)
	}
	return files
}

// releaseFiles drops the references of files; ns.mu must not be held.
func releaseFiles(files []*vfs.FileDescription) {
	for _, f := range files {
		f.DecRef()
	}
}

// Release implements vfs.FileImpl.Release: the socket is closed, as unix_release_sock.
// Its name is freed; a stream or seqpacket peer sees both directions shut down (and
// ECONNRESET if this end had unread data); connections waiting on a listener are
// closed with it.
func (so *Socket) Release() {
	s := so.s
	s.ns.mu.Lock()
	files := s.releaseLocked(false)
	files = append(files, s.ns.collectLocked()...)
	s.ns.mu.Unlock()
	releaseFiles(files)
}

func (s *sock) releaseLocked(embryo bool) []*vfs.FileDescription {
	ns := s.ns
	s.released = true
	delete(ns.socks, s)
	if s.addr.Abstract() {
		if k := abstractKey(s.typ, s.addr.Name); ns.abstract[k] == s {
			delete(ns.abstract, k)
		}
	} else if s.addr.Name != "" && ns.paths[s.addr.Key] == s {
		delete(ns.paths, s.addr.Key)
	}
	if p := s.peer; p != nil {
		if s.typ != sys.SOCK_DGRAM {
			p.shutdown = rcvShutdown | sendShutdown
			if len(s.queue) > 0 || embryo {
				p.err = sys.ECONNRESET
			}
		}
		p.changedLocked()
		s.peer = nil
	}
	var files []*vfs.FileDescription
	for _, c := range s.pending {
		files = append(files, c.releaseLocked(true)...)
	}
	s.pending = nil
	s.state = stateUnconnected
	files = append(files, s.purgeLocked()...)
	s.changedLocked()
	return files
}

// IsStream implements vfs.Stream.
func (*Socket) IsStream() {}

// Read implements vfs.FileImpl.Read for callers that can't block.
func (so *Socket) Read(dst []byte, _ int64) (int, error) { return so.ReadCtx(nil, dst, true) }

// Write implements vfs.FileImpl.Write for callers that can't block.
func (so *Socket) Write(src []byte, _ int64) (int, error) { return so.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile.ReadCtx: read(2) is recv with no flags, except
// that a read of nothing returns at once (sock_read_iter).
func (so *Socket) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	r, err := so.Recv(ctx, len(dst), 0, nonblock)
	releaseFiles(r.Files)
	copy(dst, r.Data)
	return len(r.Data), err
}

// WriteCtx implements vfs.BlockingFile.WriteCtx: write(2) is send with no flags.
func (so *Socket) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	return so.Send(ctx, src, nil, Control{}, 0, nonblock)
}

// Ioctls (include/uapi/asm-generic/ioctls.h, include/uapi/linux/sockios.h).
const (
	fionread   = 0x541b // FIONREAD, SIOCINQ
	siocoutq   = 0x5411 // SIOCOUTQ, TIOCOUTQ
	siocatmark = 0x8905 // SIOCATMARK
)

// Ioctl implements vfs.FileImpl.Ioctl: SIOCINQ, as unix_inq_len (a stream's queued
// bytes, a datagram socket's next message), SIOCOUTQ, as unix_outq_len (what the
// socket's messages not yet received cost, overhead included), and a stream's
// SIOCATMARK.
func (so *Socket) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	s := so.s
	var n int
	switch req {
	case fionread:
		s.ns.mu.Lock()
		switch {
		case s.state == stateListening:
			s.ns.mu.Unlock()
			return 0, sys.EINVAL
		case s.typ != sys.SOCK_DGRAM:
			n = s.queued
		case len(s.queue) > 0:
			n = len(s.queue[0].data)
		}
		s.ns.mu.Unlock()
	case siocoutq:
		s.ns.mu.Lock()
		n = s.wmem
		s.ns.mu.Unlock()
	case siocatmark:
		// Whether the next byte is the mark (unix_ioctl): the pending OOB byte, or a
		// taken one with no other OOB byte pending or the pending one right after.
		s.ns.mu.Lock()
		if s.typ != sys.SOCK_STREAM {
			s.ns.mu.Unlock()
			return 0, sys.EOPNOTSUPP
		}
		if len(s.queue) > 0 {
			head := s.queue[0]
			var next *message
			if len(s.queue) > 1 {
				next = s.queue[1]
			}
			if head == s.oob || len(head.data) == 0 && (s.oob == nil || next == s.oob) {
				n = 1
			}
		}
		s.ns.mu.Unlock()
	default:
		return 0, sys.ENOTTY
	}
	_, err := mem.CopyOut(arg, []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
	return 0, err
}

// More readiness bits poll reports for sockets (include/uapi/asm-generic/poll.h).
const (
	eventRdNorm = 0x40
	eventWrNorm = 0x100
	eventWrBand = 0x200
)

// Readiness implements vfs.Waitable, as unix_poll (streams, seqpacket) and
// unix_dgram_poll.
func (so *Socket) Readiness() uint32 {
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	var r uint32
	if s.err != 0 {
		r |= vfs.EventErr
	}
	if s.shutdown == rcvShutdown|sendShutdown {
		r |= vfs.EventHup
	}
	if s.shutdown&rcvShutdown != 0 {
		r |= vfs.EventRdHup | vfs.EventIn | eventRdNorm
	}
	if len(s.queue) > 0 || len(s.pending) > 0 {
		r |= vfs.EventIn | eventRdNorm
	}
	if s.oob != nil {
		r |= vfs.EventPri
	}
	if s.typ != sys.SOCK_DGRAM && s.state == stateUnconnected {
		r |= vfs.EventHup
	}
	writable := s.state != stateListening && s.wmem*4 <= s.sndbuf
	if s.typ == sys.SOCK_DGRAM && writable {
		if p := s.peer; p != nil && p.peer != s && len(p.queue) > maxDgramQlen {
			writable = false
		}
	}
	if writable {
		r |= vfs.EventOut | eventWrNorm | eventWrBand
	}
	return r
}

// Changed implements vfs.Waitable.
func (so *Socket) Changed() <-chan struct{} {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	return so.s.changed
}

// inode is a socket's inode, as fstat shows it.
type inode struct {
	ino   uint64
	ctime sys.Timespec // when the socket was made (sock_alloc)
}

// Stat implements vfs.Inode.Stat.
func (in *inode) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: sys.S_IFSOCK | 0o777, Nlink: 1, Ino: in.ino, Blksize: 4096,
		Atime: in.ctime, Mtime: in.ctime, Ctime: in.ctime}, nil
}

// SetStat implements vfs.Inode.SetStat.
func (in *inode) SetStat(vfs.SetStat) error { return sys.EPERM }

// Open implements vfs.Inode.Open; a socket is opened only by socket(2).
func (in *inode) Open(int) (vfs.FileImpl, error) { return nil, sys.ENXIO }
