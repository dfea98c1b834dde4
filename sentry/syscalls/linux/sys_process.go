package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Fork implements fork(2).
func Fork(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, err := t.Fork(false)
	return uintptr(pid), err
}

// Vfork implements vfork(2). The child gets a copy of the address space rather than the
// parent's own (the parent waits until the child execs or exits, as with vfork), which
// no program that keeps to vfork's rules can tell apart.
func Vfork(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, err := t.Fork(true)
	return uintptr(pid), err
}

// Clone implements clone(2) for new processes: fork's flags, and vfork's
// (CLONE_VM|CLONE_VFORK, as posix_spawn uses them, with the child on a new stack).
// New threads come with the threads work.
func Clone(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags, newsp, parentTid, childTid, tls := a[0], a[1], a[2], a[3], a[4]
	const tids = unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID
	if flags&unix.CLONE_THREAD != 0 {
		return cloneThread(t, flags, newsp, parentTid, childTid, tls)
	}
	if flags&unix.CLONE_SIGHAND != 0 && flags&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	if flags&0xff > 64 {
		return 0, unix.EINVAL
	}
	rest := flags &^ (0xff | tids)
	vfork := false
	switch rest {
	case 0:
	case unix.CLONE_VM | unix.CLONE_VFORK:
		vfork = true
	default:
		return 0, unsupported(t, "clone with flags %#x (threads and namespaces)", flags)
	}
	if flags&0xff != uintptr(unix.SIGCHLD) {
		return 0, unsupported(t, "clone with exit signal %d", flags&0xff)
	}
	pid, err := t.ForkWith(vfork, kernel.ForkOpts{
		ParentSetTID:  flagAddr(flags, unix.CLONE_PARENT_SETTID, parentTid),
		Stack:         newsp,
		ChildSetTID:   flagAddr(flags, unix.CLONE_CHILD_SETTID, childTid),
		ChildClearTID: flagAddr(flags, unix.CLONE_CHILD_CLEARTID, childTid),
	})
	if err != nil {
		return 0, err
	}
	return uintptr(pid), nil
}

// cloneThread makes a thread, as clone with CLONE_THREAD: it needs CLONE_SIGHAND, which
// needs CLONE_VM (EINVAL otherwise, as copy_process).
func cloneThread(t *kernel.Task, flags, newsp, parentTid, childTid, tls uintptr) (uintptr, error) {
	if flags&unix.CLONE_SIGHAND == 0 || flags&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	const allowed = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID |
		unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | unix.CLONE_DETACHED | 0xff
	if flags&^allowed != 0 {
		return 0, unsupported(t, "clone of a thread with flags %#x", flags)
	}
	tid, err := t.NewThread(kernel.ThreadOpts{
		ShareFiles:    flags&unix.CLONE_FILES != 0,
		ShareFS:       flags&unix.CLONE_FS != 0,
		Stack:         newsp,
		SetTLS:        flags&unix.CLONE_SETTLS != 0,
		TLS:           tls,
		ParentSetTID:  flagAddr(flags, unix.CLONE_PARENT_SETTID, parentTid),
		ChildSetTID:   flagAddr(flags, unix.CLONE_CHILD_SETTID, childTid),
		ChildClearTID: flagAddr(flags, unix.CLONE_CHILD_CLEARTID, childTid),
	})
	if err != nil {
		return 0, err
	}
	return uintptr(tid), nil
}

func flagAddr(flags, flag, addr uintptr) uintptr {
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

// Waitid implements waitid(2) for P_ALL, P_PID and P_PGID: exits, stops and
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
		return 0, unsupported(t, "waitid P_PIDFD (no pidfds yet)")
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
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
