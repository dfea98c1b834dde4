package linux

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Fork implements fork(2).
func Fork(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, err := t.Fork(false)
	return uintptr(pid), err
}

// Vfork implements vfork(2): the child runs in the parent's address space, and the
// parent waits until it execs or exits.
func Vfork(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, err := t.Fork(true)
	return uintptr(pid), err
}

// cloneArgs are clone's and clone3's arguments (the kernel's struct kernel_clone_args).
type cloneArgs struct {
	flags      uint64 // CLONE_*, without the exit signal
	exitSignal uint64
	stack      uintptr // the child's stack pointer; 0: the parent's
	parentTid  uintptr
	childTid   uintptr
	tls        uintptr
	pidfd      uintptr // where CLONE_PIDFD's descriptor goes
	// pidfdFile is the pending pidfd the child is bound to.
	pidfdFile *kernel.PidFD
}

// withoutPidFD is c once its pidfd is made: the rest of clone sees no CLONE_PIDFD.
func (c cloneArgs) withoutPidFD() cloneArgs {
	c.flags &^= unix.CLONE_PIDFD
	return c
}

// CLONE_* flags that x/sys/unix lacks or that only clone3 has.
const (
	cloneClearSighand = 0x100000000
	cloneIntoCgroup   = 0x200000000
	cloneLegacyFlags  = 0xffffffff
	csignal           = 0xff
	cloneNewtime      = 0x80
)

// Clone implements clone(2): the exit signal is the flags' low byte (ignored for a
// thread). See doClone.
func Clone(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := uint64(a[0])
	return doClone(t, cloneArgs{flags: flags &^ csignal, exitSignal: flags & csignal,
		stack: a[1], parentTid: a[2], childTid: a[3], tls: a[4], pidfd: a[2]})
}

// clone3 struct clone_args sizes (CLONE_ARGS_SIZE_VER0..2) and the most set_tid entries
// (MAX_PID_NS_LEVEL).
const (
	cloneArgsSizeVer0 = 64
	cloneArgsSizeVer2 = 88
	maxPIDNSLevel     = 32
)

// cloneArgsV2 is struct clone_args as of CLONE_ARGS_SIZE_VER2.
type cloneArgsV2 struct {
	Flags, Pidfd, ChildTid, ParentTid, ExitSignal, Stack, StackSize, TLS uint64
	SetTid, SetTidSize, Cgroup                                           uint64
}

// Clone3 implements clone3(2): its struct clone_args is read as
// kernel/fork.c:copy_clone_args_from_user does (E2BIG for a size above a page or
// non-zero bytes past the struct the kernel knows, EINVAL for one below version 0 and
// for bad set_tid, exit signal or cgroup fields), checked as clone3_args_valid (no
// unknown flags, no CSIGNAL bits or CLONE_DETACHED, no exit signal for a thread, a
// stack and its size given together), and then made as clone does. set_tid and
// CLONE_INTO_CGROUP are not supported (logged).
func Clone3(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, size := a[0], a[1]
	if size > 4096 {
		return 0, unix.E2BIG
	}
	if size < cloneArgsSizeVer0 {
		return 0, unix.EINVAL
	}
	buf := make([]byte, size)
	if _, err := t.MM.CopyIn(addr, buf); err != nil {
		return 0, unix.EFAULT
	}
	for _, b := range buf[min(size, cloneArgsSizeVer2):] {
		if b != 0 {
			return 0, unix.E2BIG
		}
	}
	var ca cloneArgsV2
	fields := []*uint64{&ca.Flags, &ca.Pidfd, &ca.ChildTid, &ca.ParentTid, &ca.ExitSignal, &ca.Stack,
		&ca.StackSize, &ca.TLS, &ca.SetTid, &ca.SetTidSize, &ca.Cgroup}
	for i, f := range fields {
		if off := uintptr(8 * i); off+8 <= size {
			*f = binary.LittleEndian.Uint64(buf[off:])
		}
	}
	if ca.SetTidSize > maxPIDNSLevel || ca.SetTid == 0 && ca.SetTidSize > 0 || ca.SetTid != 0 && ca.SetTidSize == 0 {
		return 0, unix.EINVAL
	}
	if ca.ExitSignal&^csignal != 0 || ca.ExitSignal > 64 {
		return 0, unix.EINVAL
	}
	if ca.Flags&cloneIntoCgroup != 0 && (ca.Cgroup > math.MaxInt32 || size < cloneArgsSizeVer2) {
		return 0, unix.EINVAL
	}
	if ca.SetTid != 0 {
		tids := make([]int32, ca.SetTidSize)
		if err := t.CopyInObj(uintptr(ca.SetTid), tids); err != nil {
			return 0, unix.EFAULT
		}
	}
	// clone3_args_valid.
	if ca.Flags&^(cloneLegacyFlags|cloneClearSighand|cloneIntoCgroup) != 0 ||
		ca.Flags&(unix.CLONE_DETACHED|csignal&^cloneNewtime) != 0 ||
		ca.Flags&(unix.CLONE_SIGHAND|cloneClearSighand) == unix.CLONE_SIGHAND|cloneClearSighand ||
		ca.Flags&(unix.CLONE_THREAD|unix.CLONE_PARENT) != 0 && ca.ExitSignal != 0 {
		return 0, unix.EINVAL
	}
	stack := uintptr(ca.Stack)
	if ca.Stack == 0 {
		if ca.StackSize > 0 {
			return 0, unix.EINVAL
		}
	} else {
		end := ca.Stack + ca.StackSize
		if ca.StackSize == 0 || end < ca.Stack || end > uint64(t.MM.MaxAddress()) {
			return 0, unix.EINVAL
		}
		stack = uintptr(end)
	}
	switch {
	case ca.SetTid != 0:
		return 0, unsupported(t, "clone3 with set_tid")
	case ca.Flags&cloneIntoCgroup != 0:
		return 0, unsupported(t, "clone3 with CLONE_INTO_CGROUP")
	}
	return doClone(t, cloneArgs{flags: ca.Flags, exitSignal: ca.ExitSignal, stack: stack,
		parentTid: uintptr(ca.ParentTid), childTid: uintptr(ca.ChildTid), tls: uintptr(ca.TLS),
		pidfd: uintptr(ca.Pidfd)})
}

// doClone makes a thread or a process as copy_process, with its checks in order:
// CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM (EINVAL). A new process may
// have fork's flags or vfork's (CLONE_VM|CLONE_VFORK, as posix_spawn uses them, with
// the child on a new stack), CLONE_CLEAR_SIGHAND, and SIGCHLD as its exit signal;
// CLONE_PIDFD (not with CLONE_DETACHED, nor with CLONE_PARENT_SETTID at the same
// address, as legacy clone has them) gives the parent a pidfd of the child, of a thread
// with PIDFD_THREAD as Linux 6.9 does; CLONE_NEWPID makes the child the init of a new
// PID namespace (not with CLONE_THREAD: EINVAL; EPERM without CAP_SYS_ADMIN); other
// flags (other namespaces, a shared address space without a thread) are logged
// (ENOSYS).
func doClone(t *kernel.Task, c cloneArgs) (uintptr, error) {
	flags := c.flags
	if flags&(unix.CLONE_NEWNS|unix.CLONE_FS) == unix.CLONE_NEWNS|unix.CLONE_FS ||
		flags&(unix.CLONE_NEWUSER|unix.CLONE_FS) == unix.CLONE_NEWUSER|unix.CLONE_FS ||
		flags&unix.CLONE_THREAD != 0 && flags&unix.CLONE_SIGHAND == 0 ||
		flags&unix.CLONE_SIGHAND != 0 && flags&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	// A thread can't be in another PID namespace than its group's.
	if flags&unix.CLONE_THREAD != 0 && flags&(unix.CLONE_NEWUSER|unix.CLONE_NEWPID) != 0 {
		return 0, unix.EINVAL
	}
	// copy_namespaces: a new namespace needs CAP_SYS_ADMIN.
	if flags&unix.CLONE_NEWPID != 0 && !t.Creds.HasCap(vfs.CapSysAdmin) {
		return 0, unix.EPERM
	}
	if flags&unix.CLONE_PIDFD != 0 {
		if flags&unix.CLONE_DETACHED != 0 ||
			flags&unix.CLONE_PARENT_SETTID != 0 && c.pidfd == c.parentTid {
			return 0, unix.EINVAL
		}
		// copy_process installs and writes out the descriptor before the child
		// exists: EMFILE and EFAULT fail the clone.
		f, p := t.Kernel().NewPendingPidFD(flags&unix.CLONE_THREAD != 0)
		fd, err := t.FDs.NewFD(f, 0, true, t.Limits[unix.RLIMIT_NOFILE].Cur)
		if err != nil {
			f.DecRef()
			return 0, err
		}
		if err := t.CopyOutObj(c.pidfd, fd); err != nil {
			t.FDs.Remove(fd)
			return 0, unix.EFAULT
		}
		c.pidfdFile = p
		id, err := doClone(t, c.withoutPidFD())
		if err != nil {
			t.FDs.Remove(fd)
		}
		return id, err
	}
	if flags&unix.CLONE_THREAD != 0 {
		return cloneThread(t, c)
	}
	if c.exitSignal > 64 {
		return 0, unix.EINVAL
	}
	const tids = unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID
	rest := flags &^ (tids | cloneClearSighand | unix.CLONE_NEWPID)
	vfork := false
	switch rest {
	case 0:
	case unix.CLONE_VM | unix.CLONE_VFORK:
		vfork = true
	default:
		return 0, unsupported(t, "clone with flags %#x (namespaces, shared tables)", flags)
	}
	if c.exitSignal != uint64(unix.SIGCHLD) {
		return 0, unsupported(t, "clone with exit signal %d", c.exitSignal)
	}
	pid, err := t.ForkWith(vfork, kernel.ForkOpts{
		ParentSetTID:  flagAddr(flags, unix.CLONE_PARENT_SETTID, c.parentTid),
		Stack:         c.stack,
		ChildSetTID:   flagAddr(flags, unix.CLONE_CHILD_SETTID, c.childTid),
		ChildClearTID: flagAddr(flags, unix.CLONE_CHILD_CLEARTID, c.childTid),
		ClearSighand:  flags&cloneClearSighand != 0,
		PidFD:         c.pidfdFile,

		NewPIDNamespace: flags&unix.CLONE_NEWPID != 0,
	})
	if err != nil {
		return 0, err
	}
	return uintptr(pid), nil
}

// Unshare implements unshare(2) for CLONE_NEWPID, as ksys_unshare: unknown flags are
// EINVAL; CLONE_THREAD, CLONE_SIGHAND and CLONE_VM are EINVAL in a process with other
// threads and nothing otherwise; CLONE_NEWPID needs CAP_SYS_ADMIN (EPERM), and makes
// a new PID namespace for the caller's next children (EINVAL if it already did, ENOSPC
// beyond 32 levels). Unsharing other namespaces or tables is logged (ENOSYS).
func Unshare(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := uint64(a[0])
	const known = unix.CLONE_THREAD | unix.CLONE_FS | unix.CLONE_NEWNS | unix.CLONE_SIGHAND |
		unix.CLONE_VM | unix.CLONE_FILES | unix.CLONE_SYSVSEM | unix.CLONE_NEWUTS |
		unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWUSER | unix.CLONE_NEWPID |
		unix.CLONE_NEWCGROUP | cloneNewtime
	if flags&^known != 0 {
		return 0, unix.EINVAL
	}
	if flags&(unix.CLONE_THREAD|unix.CLONE_SIGHAND|unix.CLONE_VM) != 0 && len(t.Threads()) > 1 {
		return 0, unix.EINVAL
	}
	if other := flags &^ (unix.CLONE_THREAD | unix.CLONE_SIGHAND | unix.CLONE_VM | unix.CLONE_NEWPID); other != 0 {
		return 0, unsupported(t, "unshare with flags %#x", other)
	}
	if flags&unix.CLONE_NEWPID == 0 {
		return 0, nil
	}
	if !t.Creds.HasCap(vfs.CapSysAdmin) {
		return 0, unix.EPERM
	}
	return 0, t.UnsharePIDNamespace()
}

// cloneThread makes a thread, as clone with CLONE_THREAD (CLONE_SIGHAND and CLONE_VM
// checked by doClone).
func cloneThread(t *kernel.Task, c cloneArgs) (uintptr, error) {
	flags := c.flags
	const allowed = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID |
		unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | unix.CLONE_DETACHED
	if flags&^allowed != 0 {
		return 0, unsupported(t, "clone of a thread with flags %#x", flags)
	}
	tid, err := t.NewThread(kernel.ThreadOpts{
		ShareFiles:    flags&unix.CLONE_FILES != 0,
		ShareFS:       flags&unix.CLONE_FS != 0,
		Stack:         c.stack,
		SetTLS:        flags&unix.CLONE_SETTLS != 0,
		TLS:           c.tls,
		ParentSetTID:  flagAddr(flags, unix.CLONE_PARENT_SETTID, c.parentTid),
		ChildSetTID:   flagAddr(flags, unix.CLONE_CHILD_SETTID, c.childTid),
		ChildClearTID: flagAddr(flags, unix.CLONE_CHILD_CLEARTID, c.childTid),
		PidFD:         c.pidfdFile,
	})
	if err != nil {
		return 0, err
	}
	return uintptr(tid), nil
}

func flagAddr(flags uint64, flag uint64, addr uintptr) uintptr {
	if flags&flag != 0 {
		return addr
	}
	return 0
}

// Wait4 implements wait4(2): pid -1 waits for any child, 0 for one in the caller's
// process group, < -1 for one in group -pid, > 0 for that child.
func Wait4(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, statusAddr, options, rusageAddr := int32(a[0]), a[1], a[2], a[3]
	const wall, wclone, wnothread = 0x40000000, 0x80000000, 0x20000000
	if options&^(unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED|wall|wclone|wnothread) != 0 {
		return 0, unix.EINVAL
	}
	if pid == -2147483648 { // -INT_MIN names no group
		return 0, unix.ESRCH
	}
	o := kernel.WaitOpts{NoHang: options&unix.WNOHANG != 0,
		Stopped: options&unix.WUNTRACED != 0, Continued: options&unix.WCONTINUED != 0}
	switch {
	case pid > 0:
		o.Which, o.ID = kernel.WaitPID, pid
	case pid == 0:
		o.Which = kernel.WaitGroup
	case pid < -1:
		o.Which, o.ID = kernel.WaitGroup, -pid
	}
	r, err := t.Wait(o)
	if err != nil || r.PID == 0 {
		return 0, err
	}
	if statusAddr != 0 {
		if err := t.CopyOutObj(statusAddr, r.WaitStatus()); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		if err := copyOutRusage(t, rusageAddr, r.Usage); err != nil {
			return 0, err
		}
	}
	return uintptr(r.PID), nil
}

// Waitid implements waitid(2) for P_ALL, P_PID, P_PGID and P_PIDFD: exits, stops and
// continues.
func Waitid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	idtype, id, infop, options, rusageAddr := int32(a[0]), int32(a[1]), a[2], int32(a[3]), a[4]
	const pAll, pPID, pPGID, pPIDFD = 0, 1, 2, 3
	const wall, wclone, wnothread = 0x40000000, -0x80000000, 0x20000000
	valid := int32(unix.WNOHANG | unix.WNOWAIT | unix.WEXITED | unix.WSTOPPED | unix.WCONTINUED | wall | wclone | wnothread)
	if options&^valid != 0 || options&(unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	o := kernel.WaitOpts{NoHang: options&unix.WNOHANG != 0, NoReap: options&unix.WNOWAIT != 0,
		NotExits: options&unix.WEXITED == 0, Stopped: options&unix.WSTOPPED != 0,
		Continued: options&unix.WCONTINUED != 0}
	pidfdNonblock := false
	switch idtype {
	case pAll:
	case pPID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		o.Which, o.ID = kernel.WaitPID, id
	case pPGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		o.Which, o.ID = kernel.WaitGroup, id // 0: the caller's group, as since Linux 5.4
	case pPIDFD:
		// The child the pidfd names; a non-blocking pidfd makes the wait WNOHANG, and
		// finding nothing then EAGAIN unless WNOHANG was asked (kernel_waitid).
		if id < 0 {
			return 0, unix.EINVAL
		}
		p, f, err := pidfdOf(t, uintptr(id))
		if err != nil {
			return 0, err
		}
		nonblock := f.StatusFlags()&unix.O_NONBLOCK != 0
		f.DecRef()
		o.Which, o.ID = kernel.WaitPID, p.WaitPID(t)
		if nonblock && !o.NoHang {
			o.NoHang, pidfdNonblock = true, true
		}
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
	}
	if pidfdNonblock && r.PID == 0 {
		return 0, unix.EAGAIN
	}
	if infop != 0 {
		// Linux writes these fields one by one (all zero when WNOHANG found nothing),
		// leaving the rest of the siginfo as it was.
		var head [3]int32 // si_signo, si_errno, si_code
		var body [3]int32 // si_pid, si_uid, si_status
		if r.PID != 0 {
			head[0], head[2] = int32(unix.SIGCHLD), 1 // CLD_EXITED
			body[0], body[1], body[2] = r.PID, int32(r.UID), int32(r.Status.Code)
			switch {
			case r.Stopped != 0:
				head[2], body[2] = 5, int32(r.Stopped) // CLD_STOPPED
			case r.Continued:
				head[2], body[2] = 6, int32(unix.SIGCONT) // CLD_CONTINUED
			case r.Status.Signal != 0:
				head[2], body[2] = 2, int32(r.Status.Signal) // CLD_KILLED
			}
		}
		if err := t.CopyOutObj(infop, &head); err != nil {
			return 0, err
		}
		if err := t.CopyOutObj(infop+16, &body); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		return 0, copyOutRusage(t, rusageAddr, r.Usage)
	}
	return 0, nil
}

// RtSigaction implements rt_sigaction(2).
func RtSigaction(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	sig, actAddr, oldAddr, size := int(a[0]), a[1], a[2], a[3]
	if size != 8 || sig < 1 || sig > 64 {
		return 0, unix.EINVAL
	}
	var act *kernel.SigAction
	if actAddr != 0 {
		act = &kernel.SigAction{}
		if err := t.CopyInObj(actAddr, act); err != nil {
			return 0, err
		}
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return 0, unix.EINVAL
		}
		act.Mask &^= 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)
	}
	old := t.SigAction(sig, act)
	if oldAddr != 0 {
		return 0, t.CopyOutObj(oldAddr, &old)
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	how, setAddr, oldAddr, size := int(a[0]), a[1], a[2], a[3]
	if size != 8 {
		return 0, unix.EINVAL
	}
	old := t.SigMask
	if setAddr != 0 {
		var set uint64
		if err := t.CopyInObj(setAddr, &set); err != nil {
			return 0, err
		}
		switch how {
		case unix.SIG_BLOCK:
			t.SetSigMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSigMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSigMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if oldAddr != 0 {
		return 0, t.CopyOutObj(oldAddr, old)
	}
	return 0, nil
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pgid, _, err := t.ProcessGroup(int32(a[0]))
	return uintptr(pgid), err
}

// Getpgrp implements getpgrp(2).
func Getpgrp(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pgid, _, err := t.ProcessGroup(0)
	return uintptr(pgid), err
}

// Setpgid implements setpgid(2).
func Setpgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetProcessGroup(int32(a[0]), int32(a[1]))
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	_, sid, err := t.ProcessGroup(int32(a[0]))
	return uintptr(sid), err
}

// Setsid implements setsid(2). Sessions have no controlling terminal yet (no ptys).
func Setsid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	sid, err := t.NewSession()
	return uintptr(sid), err
}
