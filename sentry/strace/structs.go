package strace

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Structures, as the x86-64 ABI lays them out. Each decoder reads its
// structure whole and formats the fields strace shows by default.

// cstring formats the NUL-terminated string at addr, or its address.
func (c *call) cstring(addr uintptr) string {
	if addr == 0 {
		return "NULL"
	}
	s, cut, ok := c.readString(addr)
	if !ok {
		return pointer(addr)
	}
	return quote([]byte(s), cut)
}

// quoteBytes quotes up to maxString bytes of b.
func quoteBytes(b []byte) string {
	return quote(b[:min(len(b), maxString)], len(b) > maxString)
}

// quoteField quotes a fixed-size char array up to its NUL.
func quoteField(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return quoteBytes(b)
}

// Time.

func timespecText(b le, off int) string {
	return "{tv_sec=" + b.dec(off) + ", tv_nsec=" + b.dec(off+8) + "}"
}

func timevalText(b le, off int) string {
	return "{tv_sec=" + b.dec(off) + ", tv_usec=" + b.dec(off+8) + "}"
}

// timespec is a struct timespec *.
var timespec = object(16, func(_ *call, b le) string { return timespecText(b, 0) })

// timeval is a struct timeval *.
var timeval = object(16, func(_ *call, b le) string { return timevalText(b, 0) })

// utimeTimespecs is utimensat's struct timespec[2], with UTIME_NOW and
// UTIME_OMIT.
var utimeTimespecs = object(32, func(_ *call, b le) string {
	var ts [2]string
	for j := range ts {
		switch nsec := b.i64(16*j + 8); nsec {
		case unix.UTIME_NOW:
			ts[j] = "{tv_sec=" + b.dec(16*j) + ", tv_nsec=UTIME_NOW}"
		case unix.UTIME_OMIT:
			ts[j] = "{tv_sec=" + b.dec(16*j) + ", tv_nsec=UTIME_OMIT}"
		default:
			ts[j] = timespecText(b, 16*j)
		}
	}
	return "[" + ts[0] + ", " + ts[1] + "]"
})

// timevals is utimes's struct timeval[2].
var timevals = object(32, func(_ *call, b le) string {
	return "[" + timevalText(b, 0) + ", " + timevalText(b, 16) + "]"
})

var itimerspec = object(32, func(_ *call, b le) string {
	return "{it_interval=" + timespecText(b, 0) + ", it_value=" + timespecText(b, 16) + "}"
})

var itimerval = object(32, func(_ *call, b le) string {
	return "{it_interval=" + timevalText(b, 0) + ", it_value=" + timevalText(b, 16) + "}"
})

var timezone = object(8, func(_ *call, b le) string {
	return "{tz_minuteswest=" + itoa(b.i32(0)) + ", tz_dsttime=" + itoa(b.i32(4)) + "}"
})

var tms = object(32, func(_ *call, b le) string {
	return "{tms_utime=" + b.dec(0) + ", tms_stime=" + b.dec(8) +
		", tms_cutime=" + b.dec(16) + ", tms_cstime=" + b.dec(24) + "}"
})

var utimbuf = object(16, func(_ *call, b le) string {
	return "{actime=" + b.dec(0) + ", modtime=" + b.dec(8) + "}"
})

func itoa(v int32) string { return strconv.Itoa(int(v)) }

// Files.

// stat is a struct stat * (arch/x86/include/uapi/asm/stat.h).
var stat = object(144, func(_ *call, b le) string {
	m := b.u32(24)
	s := "{st_mode=" + fileMode(m) + ", "
	if t := m & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		s += "st_rdev=" + makedev(b.u64(40))
	} else {
		s += "st_size=" + b.dec(48)
	}
	return s + ", ...}"
})

// statx is a struct statx *.
var statx = object(256, func(_ *call, b le) string {
	return "{stx_mask=" + statxMask.format(uint64(b.u32(0))) +
		", stx_attributes=" + hexC(b.u64(8)) +
		", stx_mode=" + fileMode(uint32(b.u16(28))) +
		", stx_size=" + b.udec(40) + ", ...}"
})

var fsMagics = names{
	{unix.EXT4_SUPER_MAGIC, "EXT2_SUPER_MAGIC"},
	{unix.TMPFS_MAGIC, "TMPFS_MAGIC"},
	{unix.PROC_SUPER_MAGIC, "PROC_SUPER_MAGIC"},
	{unix.SYSFS_MAGIC, "SYSFS_MAGIC"},
	{unix.DEVPTS_SUPER_MAGIC, "DEVPTS_SUPER_MAGIC"},
	{unix.OVERLAYFS_SUPER_MAGIC, "OVERLAYFS_SUPER_MAGIC"},
	{unix.CGROUP2_SUPER_MAGIC, "CGROUP2_SUPER_MAGIC"},
	{unix.CGROUP_SUPER_MAGIC, "CGROUP_SUPER_MAGIC"},
	{unix.V9FS_MAGIC, "V9FS_MAGIC"},
	{unix.BTRFS_SUPER_MAGIC, "BTRFS_SUPER_MAGIC"},
	{unix.XFS_SUPER_MAGIC, "XFS_SUPER_MAGIC"},
	{unix.NFS_SUPER_MAGIC, "NFS_SUPER_MAGIC"},
	{unix.FUSE_SUPER_MAGIC, "FUSE_SUPER_MAGIC"},
	{0x19800202, "MQUEUE_MAGIC"},
	{unix.SOCKFS_MAGIC, "SOCKFS_MAGIC"},
	{unix.PIPEFS_MAGIC, "PIPEFS_MAGIC"},
	{unix.ANON_INODE_FS_MAGIC, "ANON_INODE_FS_MAGIC"},
}

var statfsFlags = newFlags("0",
	name{unix.ST_RDONLY, "ST_RDONLY"},
	name{unix.ST_NOSUID, "ST_NOSUID"},
	name{unix.ST_NODEV, "ST_NODEV"},
	name{unix.ST_NOEXEC, "ST_NOEXEC"},
	name{unix.ST_SYNCHRONOUS, "ST_SYNCHRONOUS"},
	name{0x20, "ST_VALID"},
	name{unix.ST_MANDLOCK, "ST_MANDLOCK"},
	name{unix.ST_NOATIME, "ST_NOATIME"},
	name{unix.ST_NODIRATIME, "ST_NODIRATIME"},
	name{unix.ST_RELATIME, "ST_RELATIME"},
	name{0x2000, "ST_NOSYMFOLLOW"},
)

// statfs is a struct statfs *.
var statfs = object(120, func(_ *call, b le) string {
	typ, ok := fsMagics.lookup(b.u64(0))
	if !ok {
		typ = hexC(b.u64(0))
	}
	return "{f_type=" + typ + ", f_bsize=" + b.dec(8) + ", f_blocks=" + b.udec(16) +
		", f_bfree=" + b.udec(24) + ", f_bavail=" + b.udec(32) + ", f_files=" + b.udec(40) +
		", f_ffree=" + b.udec(48) + ", f_fsid={val=[" + hexC(uint64(b.u32(56))) + ", " + hexC(uint64(b.u32(60))) +
		"]}, f_namelen=" + b.dec(64) + ", f_frsize=" + b.dec(72) +
		", f_flags=" + statfsFlags.format(b.u64(80)) + "}"
})

// flock is a struct flock *, with l_pid for the commands that report it.
var flock = object(32, func(c *call, b le) string {
	s := "{l_type=" + lockTypes.format(uint64(b.i16(0))) +
		", l_whence=" + whence.format(uint64(b.i16(2))) +
		", l_start=" + b.dec(8) + ", l_len=" + b.dec(16)
	if cmd := uint32(c.args[1]); cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		s += ", l_pid=" + itoa(b.i32(24))
	}
	return s + "}"
})

// openHow is openat2's struct open_how *.
var openHow = object(24, func(_ *call, b le) string {
	return "{flags=" + openFlags.format(b.u64(0)) + ", mode=" + octal(b.u64(8)) +
		", resolve=" + resolveFlags.format(b.u64(16)) + "}"
})

// dirents counts the entries getdents and getdents64 returned; both
// structures have d_reclen at offset 16.
var dirents = out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	b, ok := c.read(addr, int(min(uint64(c.ret), maxRead+1)))
	if !ok {
		return "", false
	}
	n := 0
	for off := 0; off+18 <= len(b); n++ {
		reclen := int(le(b).u16(off + 16))
		if reclen == 0 {
			break
		}
		off += reclen
	}
	return pointer(addr) + " /* " + strconv.Itoa(n) + " entries */", true
}))

// System.

// utsname is uname's struct utsname *: six char[65].
var utsname = object(6*65, func(_ *call, b le) string {
	return "{sysname=" + quoteField(b[0:65]) + ", nodename=" + quoteField(b[65:130]) + ", ...}"
})

var sysinfo = object(112, func(_ *call, b le) string {
	return "{uptime=" + b.dec(0) + ", loads=[" + b.udec(8) + ", " + b.udec(16) + ", " + b.udec(24) +
		"], totalram=" + b.udec(32) + ", freeram=" + b.udec(40) + ", sharedram=" + b.udec(48) +
		", bufferram=" + b.udec(56) + ", totalswap=" + b.udec(64) + ", freeswap=" + b.udec(72) +
		", procs=" + strconv.Itoa(int(b.u16(80))) + ", totalhigh=" + b.udec(88) +
		", freehigh=" + b.udec(96) + ", mem_unit=" + strconv.FormatUint(uint64(b.u32(104)), 10) + "}"
})

// rlimitValue formats a limit as strace: RLIM64_INFINITY, 8192*1024, 1024.
func rlimitValue(v uint64, infinity string) string {
	switch {
	case v == math.MaxUint64:
		return infinity
	case v > 1024 && v%1024 == 0:
		return strconv.FormatUint(v/1024, 10) + "*1024"
	}
	return strconv.FormatUint(v, 10)
}

// rlimit returns a struct rlimit * formatter naming RLIM_INFINITY infinity.
func rlimit(infinity string) arg {
	return object(16, func(_ *call, b le) string {
		return "{rlim_cur=" + rlimitValue(b.u64(0), infinity) + ", rlim_max=" + rlimitValue(b.u64(8), infinity) + "}"
	})
}

var rusage = object(144, func(_ *call, b le) string {
	return "{ru_utime=" + timevalText(b, 0) + ", ru_stime=" + timevalText(b, 16) + ", ...}"
})

// Scalars behind pointers.

// fdPair is pipe's and socketpair's int[2].
var fdPair = object(8, func(_ *call, b le) string {
	return "[" + itoa(b.i32(0)) + ", " + itoa(b.i32(4)) + "]"
})

var intPtr = object(4, func(_ *call, b le) string { return "[" + itoa(b.i32(0)) + "]" })

var uintPtr = object(4, func(_ *call, b le) string {
	return "[" + strconv.FormatUint(uint64(b.u32(0)), 10) + "]"
})

var longPtr = object(8, func(_ *call, b le) string { return "[" + b.dec(0) + "]" })

var sizePtr = object(8, func(_ *call, b le) string { return "[" + b.udec(0) + "]" })

var addrPtr = object(8, func(_ *call, b le) string { return "[" + pointer(uintptr(b.u64(0))) + "]" })

// gids is a gid_t array of as many elements as the call's first argument
// says (setgroups').
var gids = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	return c.gids(addr, uint64(uint32(c.args[0])))
})

// gidsOut is a gid_t array of as many elements as the call returned
// (getgroups').
var gidsOut = out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	return c.gids(addr, min(uint64(c.ret), uint64(uint32(c.args[0]))))
}))

// gids formats n gid_t at addr.
func (c *call) gids(addr uintptr, n uint64) (string, bool) {
	show := min(n, maxArray)
	b, ok := c.read(addr, int(4*show))
	if !ok {
		return "", false
	}
	elems := make([]string, show)
	for j := range elems {
		elems[j] = strconv.FormatUint(uint64(le(b).u32(4*j)), 10)
	}
	return list(elems, n > show), true
}

// Signals.

// sigsetText formats a signal set as strace: [INT TERM], or ~[...] when most
// signals are in it.
func sigsetText(set uint64) string {
	prefix := ""
	if bits.OnesCount64(set) > 32 {
		prefix, set = "~", ^set
	}
	var sigs []string
	for sig := uint64(1); sig <= 64; sig++ {
		if set&(1<<(sig-1)) != 0 {
			sigs = append(sigs, strings.TrimPrefix(signalName(sig), "SIG"))
		}
	}
	return prefix + "[" + strings.Join(sigs, " ") + "]"
}

// sigset is a sigset_t *.
var sigset = object(8, func(_ *call, b le) string { return sigsetText(b.u64(0)) })

// sigaction is a struct sigaction * as the kernel lays it out
// (struct kernel_sigaction: handler, flags, restorer, mask).
var sigaction = object(32, func(_ *call, b le) string {
	var h string
	switch handler := b.u64(0); handler {
	case 0:
		h = "SIG_DFL"
	case 1:
		h = "SIG_IGN"
	default:
		h = pointer(uintptr(handler))
	}
	flags := b.u64(8)
	s := "{sa_handler=" + h + ", sa_mask=" + sigsetText(b.u64(24)) + ", sa_flags=" + saFlags.format(flags)
	if flags&saRestorer != 0 {
		s += ", sa_restorer=" + pointer(uintptr(b.u64(16)))
	}
	return s + "}"
})

// stackT is sigaltstack's stack_t *.
var stackT = object(24, func(_ *call, b le) string {
	return "{ss_sp=" + pointer(uintptr(b.u64(0))) + ", ss_flags=" + ssFlags.format(uint64(b.u32(8))) +
		", ss_size=" + b.udec(16) + "}"
})

// pselectSigmask is pselect6's last argument: a pointer to {sigset_t *,
// size_t}.
var pselectSigmask = object(16, func(c *call, b le) string {
	set := "NULL"
	if p := uintptr(b.u64(0)); p != 0 {
		set = pointer(p)
		if s, ok := c.read(p, 8); ok {
			set = sigsetText(le(s).u64(0))
		}
	}
	return "{sigmask=" + set + ", sigsetsize=" + b.udec(8) + "}"
})

// Processes.

// waitStatus is wait4's int *wstatus, written when it returned a pid.
var waitStatus = out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	if c.ret == 0 {
		return "", false
	}
	b, ok := c.read(addr, 4)
	if !ok {
		return "", false
	}
	return "[" + waitStatusText(le(b).u32(0)) + "]", true
}))

// waitStatusText decodes a wait status as strace does, with the macros of
// wait(2).
func waitStatusText(s uint32) string {
	switch {
	case s == 0xffff:
		return "{WIFCONTINUED(s)}"
	case s&0x7f == 0:
		return "{WIFEXITED(s) && WEXITSTATUS(s) == " + strconv.Itoa(int(s>>8&0xff)) + "}"
	case s&0xff == 0x7f:
		return "{WIFSTOPPED(s) && WSTOPSIG(s) == " + signalName(uint64(s>>8&0xff)) + "}"
	}
	t := "{WIFSIGNALED(s) && WTERMSIG(s) == " + signalName(uint64(s&0x7f))
	if s&0x80 != 0 {
		t += " && WCOREDUMP(s)"
	}
	return t + "}"
}

// argv is execve's argument vector: ["ls", "-l"].
var argv = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	var elems []string
	for j := 0; ; j++ {
		b, ok := c.read(addr+uintptr(8*j), 8)
		if !ok {
			if j == 0 {
				return "", false
			}
			elems = append(elems, pointer(addr+uintptr(8*j)))
			break
		}
		p := uintptr(le(b).u64(0))
		if p == 0 {
			break
		}
		if j == maxArray {
			elems = append(elems, "...")
			break
		}
		elems = append(elems, c.cstring(p))
	}
	return "[" + strings.Join(elems, ", ") + "]", true
})

// envp is execve's environment, which strace counts: 0x7ffc... /* 23 vars */.
var envp = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	const most = 4096
	n := 0
	for ; n < most; n++ {
		b, ok := c.read(addr+uintptr(8*n), 8)
		if !ok {
			if n == 0 {
				return "", false
			}
			break
		}
		if le(b).u64(0) == 0 {
			break
		}
	}
	s := strconv.Itoa(n)
	if n == most {
		s += "+"
	}
	return pointer(addr) + " /* " + s + " vars */", true
})

// cloneArgs is clone3's struct clone_args *, of the size its second argument
// gives (at least CLONE_ARGS_SIZE_VER0, 64 bytes).
var cloneArgs = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	if c.args[1] < 64 {
		return "", false
	}
	b, ok := c.read(addr, 64)
	if !ok {
		return "", false
	}
	l := le(b)
	s := "{flags=" + cloneFlags.format(l.u64(0))
	for _, f := range []struct {
		name string
		off  int
	}{{"pidfd", 8}, {"child_tid", 16}, {"parent_tid", 24}} {
		if v := l.u64(f.off); v != 0 {
			s += ", " + f.name + "=" + pointer(uintptr(v))
		}
	}
	s += ", exit_signal=" + signalName(l.u64(32)) + ", stack=" + pointer(uintptr(l.u64(40))) +
		", stack_size=" + hexC(l.u64(48))
	if v := l.u64(56); v != 0 {
		s += ", tls=" + pointer(uintptr(v))
	}
	return s + "}", true
})

// cpuSet is a CPU mask of as many bytes as the call's second argument says
// or, at exit, as it returned (sched_getaffinity): [0 1 2 3].
var cpuSet = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	n := uint64(uint32(c.args[1]))
	if c.exit && c.nr == unix.SYS_SCHED_GETAFFINITY {
		n = uint64(c.ret)
	}
	b, ok := c.read(addr, int(min(n, 1024)))
	if !ok {
		return "", false
	}
	var cpus []string
	for j, v := range b {
		for ; v != 0; v &= v - 1 {
			if len(cpus) == maxArray {
				return "[" + strings.Join(cpus, " ") + " ...]", true
			}
			cpus = append(cpus, strconv.Itoa(8*j+bits.TrailingZeros8(v)))
		}
	}
	return "[" + strings.Join(cpus, " ") + "]", true
})

// I/O vectors.

// iovecs formats count struct iovecs at addr, showing at most data bytes of
// their contents in total.
func (c *call) iovecs(addr uintptr, count, data uint64) (string, bool) {
	show := min(count, maxArray)
	b, ok := c.read(addr, int(16*show))
	if !ok {
		return "", false
	}
	elems := make([]string, show)
	for j := range elems {
		base, n := le(b).u64(16*j), le(b).u64(16*j+8)
		shown := min(n, data)
		data -= shown
		elems[j] = "{iov_base=" + c.buffer(uintptr(base), shown) + ", iov_len=" + strconv.FormatUint(n, 10) + "}"
	}
	return list(elems, count > show), true
}

// iovIn is an iovec array the call reads, with its count next (writev's).
var iovIn = pointee(func(c *call, i int, addr uintptr) (string, bool) {
	return c.iovecs(addr, uint64(c.args[i+1]), math.MaxUint64)
})

// iovOut is an iovec array the call fills with as many bytes as it returns,
// with its count next (readv's).
var iovOut = out(pointee(func(c *call, i int, addr uintptr) (string, bool) {
	return c.iovecs(addr, uint64(c.args[i+1]), uint64(c.ret))
}))

// Polling.

// pollfds is poll's struct pollfd array, of the size its second argument
// gives.
var pollfds = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	n := uint64(uint32(c.args[1]))
	show := min(n, maxArray)
	b, ok := c.read(addr, int(8*show))
	if !ok {
		return "", false
	}
	elems := make([]string, show)
	for j := range elems {
		elems[j] = "{fd=" + itoa(le(b).i32(8*j)) + ", events=" + pollEvents.format(uint64(le(b).u16(8*j+4))) + "}"
	}
	return list(elems, n > show), true
})

// pollResult adds the returned events to poll's result: 1 ([{fd=3,
// revents=POLLIN}]).
func pollResult(c *call) string {
	ret := strconv.FormatInt(int64(c.ret), 10)
	if c.ret == 0 {
		return ret + " (Timeout)"
	}
	n := uint64(uint32(c.args[1]))
	show := min(n, maxArray)
	b, ok := c.read(c.args[0], int(8*show))
	if !ok {
		return ret
	}
	var elems []string
	for j := 0; j < int(show); j++ {
		if revents := le(b).u16(8*j + 6); revents != 0 {
			elems = append(elems, "{fd="+itoa(le(b).i32(8*j))+", revents="+pollEvents.format(uint64(revents))+"}")
		}
	}
	return ret + " (" + list(elems, n > show) + ")"
}

// maxFDSet bounds the descriptors an fd_set is read for.
const maxFDSet = 1 << 16

// fdSetText formats the descriptors below nfds in the fd_set at addr: [3 4].
func (c *call) fdSetText(addr uintptr, nfds int32) (string, bool) {
	if nfds < 0 {
		return "", false
	}
	n := min(int(nfds), maxFDSet)
	b, ok := c.read(addr, 8*((n+63)/64))
	if !ok {
		return "", false
	}
	var fds []string
	for fd := 0; fd < n; fd++ {
		if b[fd/8]&(1<<(fd%8)) == 0 {
			continue
		}
		if len(fds) == maxArray {
			fds = append(fds, "...")
			break
		}
		fds = append(fds, strconv.Itoa(fd))
	}
	return "[" + strings.Join(fds, " ") + "]", true
}

// fdSet is one of select's fd_set arguments. After the call the kernel has
// replaced what was asked with what is ready, which the result shows, so
// the argument prints as its address then.
func fdSet(c *call, i int) string {
	addr := c.args[i]
	if addr == 0 || c.exit {
		return pointer(addr)
	}
	if s, ok := c.fdSetText(addr, int32(c.args[0])); ok {
		return s
	}
	return pointer(addr)
}

// selectResult adds the ready descriptors to select's result: 1 (in [3]).
func selectResult(c *call) string {
	ret := strconv.FormatInt(int64(c.ret), 10)
	if c.ret == 0 {
		return ret + " (Timeout)"
	}
	var sets []string
	for j, label := range []string{"in", "out", "except"} {
		if addr := c.args[1+j]; addr != 0 {
			if s, ok := c.fdSetText(addr, int32(c.args[0])); ok && s != "[]" {
				sets = append(sets, label+" "+s)
			}
		}
	}
	if len(sets) == 0 {
		return ret
	}
	return ret + " (" + strings.Join(sets, ", ") + ")"
}

func epollEventText(b le, off int) string {
	return "{events=" + epollEvents.format(uint64(b.u32(off))) +
		", data={u32=" + strconv.FormatUint(uint64(b.u32(off+4)), 10) + ", u64=" + b.udec(off+4) + "}}"
}

// epollEvent is epoll_ctl's struct epoll_event *, packed on x86-64.
var epollEvent = object(12, func(_ *call, b le) string { return epollEventText(b, 0) })

// epollEventsOut is epoll_wait's array, of as many events as it returned.
var epollEventsOut = out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	n := uint64(c.ret)
	show := min(n, maxArray)
	b, ok := c.read(addr, int(12*show))
	if !ok {
		return "", false
	}
	elems := make([]string, show)
	for j := range elems {
		elems[j] = epollEventText(b, 12*j)
	}
	return list(elems, n > show), true
}))

// Terminals.

var winsize = object(8, func(_ *call, b le) string {
	return "{ws_row=" + strconv.Itoa(int(b.u16(0))) + ", ws_col=" + strconv.Itoa(int(b.u16(2))) +
		", ws_xpixel=" + strconv.Itoa(int(b.u16(4))) + ", ws_ypixel=" + strconv.Itoa(int(b.u16(6))) + "}"
})

// Sockets.

// maxSockaddr is sizeof(struct sockaddr_storage).
const maxSockaddr = 128

// sockaddr formats the n-byte socket address at addr.
func (c *call) sockaddr(addr uintptr, n uint64) (string, bool) {
	n = min(n, maxSockaddr)
	if n < 2 {
		return "", false
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return "", false
	}
	family := uint64(le(b).u16(0))
	s := "{sa_family=" + socketDomains.format(family)
	switch {
	case family == unix.AF_UNIX && n > 2:
		if p := b[2:]; p[0] == 0 {
			s += ", sun_path=@" + quoteBytes(p[1:])
		} else {
			s += ", sun_path=" + quoteField(p)
		}
	case family == unix.AF_INET && n >= 8:
		s += ", sin_port=htons(" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:]))) +
			"), sin_addr=inet_addr(\"" + netip.AddrFrom4([4]byte(b[4:8])).String() + "\")"
	case family == unix.AF_INET6 && n >= 24:
		s += ", sin6_port=htons(" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:]))) +
			"), sin6_flowinfo=htonl(" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[4:])), 10) +
			"), inet_pton(AF_INET6, \"" + netip.AddrFrom16([16]byte(b[8:24])).String() + "\", &sin6_addr)"
		if n >= 28 {
			s += ", sin6_scope_id=" + strconv.FormatUint(uint64(le(b).u32(24)), 10)
		}
	case family == unix.AF_NETLINK && n >= 12:
		s += ", nl_pid=" + itoa(le(b).i32(4)) + ", nl_groups=" + padHex(uint64(le(b).u32(8)), 8)
	case n > 2:
		s += ", sa_data=" + quoteBytes(b[2:])
	}
	return s + "}", true
}

// padHex formats v as %0*x.
func padHex(v uint64, width int) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", max(0, width-len(s))) + s
}

// sockaddrIn is a socket address the call reads, whose length is argument
// lenArg (connect's, sendto's).
func sockaddrIn(lenArg int) arg {
	return pointee(func(c *call, _ int, addr uintptr) (string, bool) {
		return c.sockaddr(addr, uint64(uint32(c.args[lenArg])))
	})
}

// sockaddrOut is a socket address the call writes, whose length it stores
// at the pointer in argument lenArg (accept's, recvfrom's).
func sockaddrOut(lenArg int) arg {
	return out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
		b, ok := c.read(c.args[lenArg], 4)
		if !ok {
			return "", false
		}
		return c.sockaddr(addr, uint64(le(b).u32(0)))
	}))
}

// msghdr formats sendmsg's and recvmsg's struct msghdr, with data bytes of
// its iovecs' contents.
func (c *call) msghdr(addr uintptr, data uint64) (string, bool) {
	b, ok := c.read(addr, 56)
	if !ok {
		return "", false
	}
	l := le(b)
	name, namelen := uintptr(l.u64(0)), l.u32(8)
	iov, iovlen := uintptr(l.u64(16)), l.u64(24)
	control, controllen := uintptr(l.u64(32)), l.u64(40)

	nameText := pointer(name)
	if name != 0 {
		if s, ok := c.sockaddr(name, uint64(namelen)); ok {
			nameText = s
		}
	}
	iovText := pointer(iov)
	if iov != 0 {
		if s, ok := c.iovecs(iov, iovlen, data); ok {
			iovText = s
		}
	}
	s := "{msg_name=" + nameText + ", msg_namelen=" + strconv.FormatUint(uint64(namelen), 10) +
		", msg_iov=" + iovText + ", msg_iovlen=" + strconv.FormatUint(iovlen, 10)
	if controllen != 0 {
		s += ", msg_control=" + c.cmsgs(control, controllen)
	}
	return s + ", msg_controllen=" + strconv.FormatUint(controllen, 10) +
		", msg_flags=" + msgFlags.format(uint64(l.u32(48))) + "}", true
}

// cmsgs formats the control messages at addr.
func (c *call) cmsgs(addr uintptr, n uint64) string {
	const header = 16 // struct cmsghdr: cmsg_len, cmsg_level, cmsg_type
	b, ok := c.read(addr, int(min(n, 4096)))
	if !ok {
		return pointer(addr)
	}
	var elems []string
	more := false
	for off := uint64(0); off+header <= uint64(len(b)); {
		if len(elems) == maxArray {
			more = true
			break
		}
		l := le(b[off:])
		clen := l.u64(0)
		if clen < header || clen > uint64(len(b))-off {
			break
		}
		level, typ := uint64(l.u32(8)), uint64(l.u32(12))
		s := "{cmsg_len=" + strconv.FormatUint(clen, 10) + ", cmsg_level=" + sockLevels.format(level)
		data := b[off+header : off+clen]
		if level == unix.SOL_SOCKET {
			s += ", cmsg_type=" + cmsgTypes.format(typ)
			switch {
			case typ == unix.SCM_RIGHTS:
				fds := make([]string, 0, len(data)/4)
				for j := 0; j+4 <= len(data) && len(fds) < maxArray; j += 4 {
					fds = append(fds, itoa(le(data).i32(j)))
				}
				s += ", cmsg_data=" + list(fds, len(data)/4 > maxArray)
			case typ == unix.SCM_CREDENTIALS && len(data) >= 12:
				d := le(data)
				s += ", cmsg_data={pid=" + itoa(d.i32(0)) + ", uid=" + strconv.FormatUint(uint64(d.u32(4)), 10) +
					", gid=" + strconv.FormatUint(uint64(d.u32(8)), 10) + "}"
			}
		} else {
			s += ", cmsg_type=" + hexC(typ)
		}
		elems = append(elems, s+"}")
		off += (clen + 7) &^ 7
	}
	return list(elems, more)
}

// msgIn is sendmsg's message.
var msgIn = pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	return c.msghdr(addr, math.MaxUint64)
})

// msgOut is recvmsg's message, filled with as many bytes as it returned.
var msgOut = out(pointee(func(c *call, _ int, addr uintptr) (string, bool) {
	return c.msghdr(addr, uint64(c.ret))
}))
