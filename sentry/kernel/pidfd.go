package kernel

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// pidfds (kernel/pid.c, kernel/fork.c, fs/pidfs.c): a file that names a process (or,
// with PIDFD_THREAD, one thread) for as long as it is open. It is readable when the
// process has exited, and hangs up as well once it is reaped (pidfd_poll); its fdinfo
// shows the PID, or -1 once reaped. pidfd_send_signal signals through it,
// pidfd_getfd copies one of the process's descriptors, and waitid(P_PIDFD) waits for
// it. Readiness changes with the kernel's wait generation, which every exit and reap
// closes.

// PIDFD_THREAD (O_EXCL) and PIDFD_NONBLOCK (O_NONBLOCK) are pidfd_open's flags, kept
// in the description's status flags.
const (
	PIDFD_THREAD   = unix.O_EXCL
	PIDFD_NONBLOCK = unix.O_NONBLOCK
)

// PidFD is a pidfd's file.
type PidFD struct {
	vfs.NoopSeeker
	k    *Kernel
	proc *Process
	// thread is the task a PIDFD_THREAD pidfd names, nil for a process's.
	thread *Task
	// ns is the PID namespace of the task that made the pidfd (nil: the root).
	ns *PIDNamespace
}

// NewPidFD returns a pidfd of t's process (thread false) or of t alone, as
// pidfd_prepare: its flags are O_RDWR and flags (PIDFD_NONBLOCK, PIDFD_THREAD).
func (k *Kernel) NewPidFD(t *Task, thread bool, flags int) *vfs.FileDescription {
	p := &PidFD{k: k, proc: t.Proc, ns: t.Proc.ns}
	if thread {
		p.thread = t
		flags |= PIDFD_THREAD
	}
	vd := k.VFS.Anonymous(vfs.AnonInode{Name: "pidfd"}, "anon_inode")
	return vfs.NewFileDescriptionFlags(vd, p, unix.O_RDWR|flags&(PIDFD_NONBLOCK|PIDFD_THREAD))
}

// NewPendingPidFD returns a pidfd that names nothing yet, for clone's CLONE_PIDFD: its
// descriptor is installed and written out before the child exists, as copy_process
// does (so EMFILE and EFAULT fail the clone with no child made), and the child is
// bound to it before it runs (ForkOpts.PidFD, ThreadOpts.PidFD). Until then it acts as
// the pidfd of a reaped process.
func (k *Kernel) NewPendingPidFD(thread bool) (*vfs.FileDescription, *PidFD) {
	p := &PidFD{k: k}
	flags := unix.O_RDWR
	if thread {
		flags |= PIDFD_THREAD
	}
	vd := k.VFS.Anonymous(vfs.AnonInode{Name: "pidfd"}, "anon_inode")
	return vfs.NewFileDescriptionFlags(vd, p, flags), p
}

// bind makes a pending pidfd name t (thread) or its process; ns is the PID namespace
// of the task that made it, whose IDs its fdinfo shows.
func (p *PidFD) bind(t *Task, thread bool, ns *PIDNamespace) {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	p.proc, p.ns = t.Proc, ns
	if thread {
		p.thread = t
	}
}

// PidFDOpen implements pidfd_open(2) once the flags and pid are checked: ESRCH if no
// task has the ID, ENOENT if it names a thread that does not lead its process and
// PIDFD_THREAD is not asked for (as Linux 6.9 on; EINVAL before).
func (t *Task) PidFDOpen(pid int32, flags int) (*vfs.FileDescription, error) {
	k := t.k
	ns := t.Proc.ns
	k.mu.Lock()
	target := ns.tasks[pid]
	if target == nil {
		// A zombie process keeps its PID until reaped.
		if p := ns.procs[pid]; p != nil {
			target = p.task
		}
	}
	k.mu.Unlock()
	if target == nil {
		return nil, unix.ESRCH
	}
	thread := flags&PIDFD_THREAD != 0
	if !thread && ns.IDOfProcess(target.Proc) != pid {
		return nil, unix.ENOENT
	}
	f := k.NewPidFD(target, thread, flags)
	f.Impl().(*PidFD).ns = ns // the opener's, not the target's
	return f, nil
}

// reapedLocked reports whether the pidfd's process (or thread) is gone: reaped, or an
// exited thread that was not its process's leader. k.mu is held.
func (p *PidFD) reapedLocked() bool {
	if p.proc == nil {
		return true // not bound yet
	}
	if p.thread != nil && p.thread != p.proc.task {
		return p.k.tasks[p.thread.TID] != p.thread
	}
	return p.k.procs[p.proc.PID] != p.proc
}

// exitedLocked reports whether the process (or thread) has exited. k.mu is held.
func (p *PidFD) exitedLocked() bool {
	if p.thread != nil {
		return p.k.tasks[p.thread.TID] != p.thread
	}
	return p.proc.exit != nil || p.reapedLocked()
}

// Readiness implements vfs.Waitable, as pidfd_poll.
func (p *PidFD) Readiness() uint32 {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	switch {
	case p.proc == nil:
		return 0
	case p.reapedLocked():
		return vfs.EventIn | vfs.EventRdNorm | vfs.EventHup
	case p.exitedLocked():
		return vfs.EventIn | vfs.EventRdNorm
	}
	return 0
}

// Changed implements vfs.Waitable.
func (p *PidFD) Changed() <-chan struct{} {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	return p.k.waitGen
}

// FDInfo implements vfs.FDInfoer: the Pid and NSpid lines (pidfd_show_fdinfo), -1
// once the process is reaped: its ID in the namespace of the task that made the pidfd
// (Linux: of the reader's /proc), then in each namespace down to its own; 0 alone if
// that namespace does not contain it.
func (p *PidFD) FDInfo() string {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if p.reapedLocked() {
		return "Pid:\t-1\nNSpid:\t-1\n"
	}
	id := p.proc.task.id
	if p.thread != nil {
		id = p.thread.id
	}
	ns := p.ns
	if ns == nil {
		ns = p.k.root
	}
	nr := id.in(ns)
	if nr == 0 {
		return "Pid:\t0\nNSpid:\t0\n"
	}
	nspid := ""
	for lv := ns.level; lv < len(id.ids); lv++ {
		nspid += fmt.Sprintf("\t%d", id.ids[lv])
	}
	return fmt.Sprintf("Pid:\t%d\nNSpid:%s\n", nr, nspid)
}

// IsStream implements vfs.Stream.
func (*PidFD) IsStream() {}

// Read implements vfs.FileImpl: a pidfd has no read (EINVAL).
func (*PidFD) Read([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Write implements vfs.FileImpl.
func (*PidFD) Write([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Ioctl implements vfs.FileImpl: the PIDFD_GET_* namespace ioctls are not supported.
func (*PidFD) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) { return 0, unix.ENOTTY }

// Release implements vfs.FileImpl.
func (*PidFD) Release() {}

// WaitPID is the process ID waitid(P_PIDFD) by t waits for: the pidfd's process's in
// t's PID namespace (0 for a pidfd not yet bound, or a process t's namespace does not
// contain, which no child of t's is).
func (p *PidFD) WaitPID(t *Task) int32 {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return t.Proc.ns.IDOfProcess(p.proc)
}

// Signal scopes of pidfd_send_signal.
const (
	PIDFD_SIGNAL_THREAD        = 1
	PIDFD_SIGNAL_THREAD_GROUP  = 2
	PIDFD_SIGNAL_PROCESS_GROUP = 4
)

// PidFDSendSignal implements pidfd_send_signal(2) once the flags are checked: scope is
// one of the PIDFD_SIGNAL_* (0: the pidfd's own kind, threadFD for PIDFD_THREAD), info
// the caller's siginfo or nil. As the syscall: a siginfo must carry sig, and one that claims to come from the
// kernel or from tkill (si_code >= 0 or SI_TKILL) may only be sent to the caller
// itself (EPERM). Then as kill_pid_info_type: ESRCH once the process is reaped, EINVAL
// for a bad signal, EPERM without the right to signal it; a zombie takes the signal
// and nothing happens.
func (t *Task) PidFDSendSignal(p *PidFD, threadFD bool, sig unix.Signal, info *arch.SignalInfo, scope int) error {
	if scope == 0 {
		scope = PIDFD_SIGNAL_THREAD_GROUP
		if threadFD {
			scope = PIDFD_SIGNAL_THREAD
		}
	}
	if info != nil {
		if info.Signo != int32(sig) {
			return unix.EINVAL
		}
		t.k.mu.Lock()
		self := p.proc == t.Proc && (p.thread == nil || p.thread == t)
		t.k.mu.Unlock()
		if (!self || scope == PIDFD_SIGNAL_PROCESS_GROUP) && (info.Code >= 0 || info.Code == arch.SI_TKILL) {
			return unix.EPERM
		}
	} else {
		info = &arch.SignalInfo{Code: arch.SI_USER}
		if scope == PIDFD_SIGNAL_THREAD {
			info.Code = arch.SI_TKILL
		}
		le := binary.LittleEndian
		le.PutUint32(info.Fields[0:], uint32(t.ProcessID()))
		le.PutUint32(info.Fields[4:], t.Creds.RealUID)
	}
	k := t.k
	k.mu.Lock()
	if p.reapedLocked() {
		k.mu.Unlock()
		return unix.ESRCH
	}
	if scope == PIDFD_SIGNAL_PROCESS_GROUP {
		pgid := p.proc.pgid
		k.mu.Unlock()
		return t.signalGroupInfo(pgid, sig, *info)
	}
	if sig < 0 || sig > 64 {
		k.mu.Unlock()
		return unix.EINVAL
	}
	var target *Task
	switch {
	case scope == PIDFD_SIGNAL_THREAD && p.thread != nil:
		if k.tasks[p.thread.TID] == p.thread {
			target = p.thread
		}
	case scope == PIDFD_SIGNAL_THREAD:
		if _, live := p.proc.threads[p.proc.task]; live {
			target = p.proc.task
		}
	default:
		target = p.proc.signalTarget(sig)
	}
	if target == nil {
		// An exited thread or process not yet reaped: signalled, to no effect.
		k.mu.Unlock()
		return nil
	}
	may := t.mayKill(target, sig)
	k.mu.Unlock()
	if !may {
		return unix.EPERM
	}
	t.sendTo(target, sig, *info)
	return nil
}

// signalGroupInfo sends sig with info to every process of group pgid, as
// kill_pgrp_info: ESRCH if it has none, EPERM if none may be signalled.
func (t *Task) signalGroupInfo(pgid int32, sig unix.Signal, info arch.SignalInfo) error {
	if sig < 0 || sig > 64 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	var targets []*Task
	found, denied := false, false
	for _, q := range k.procs {
		if q.pgid != pgid || q.exit != nil || len(q.threads) == 0 {
			continue
		}
		found = true
		target := q.signalTarget(sig)
		if !t.mayKill(target, sig) {
			denied = true
			continue
		}
		targets = append(targets, target)
	}
	k.mu.Unlock()
	if !found {
		return unix.ESRCH
	}
	if len(targets) == 0 && denied {
		return unix.EPERM
	}
	for _, target := range targets {
		t.sendTo(target, sig, info)
	}
	return nil
}

// PidFDGetFD implements pidfd_getfd(2) once the flags are checked: a new reference to
// the description at fd in the pidfd's process, as __pidfd_fget: ESRCH once the task
// has exited, EPERM unless t may ptrace it (PTRACE_MODE_ATTACH_REALCREDS: the checks of
// MayPtraceRead), EBADF if it has no such descriptor (or has exited).
func (t *Task) PidFDGetFD(p *PidFD, fd int32) (*vfs.FileDescription, error) {
	k := t.k
	k.mu.Lock()
	var target *Task
	if p.proc == nil {
		// Not bound yet: as a reaped process.
	} else if p.thread != nil {
		if k.tasks[p.thread.TID] == p.thread {
			target = p.thread
		}
	} else if k.procs[p.proc.PID] == p.proc {
		target = p.proc.liveTask() // none for a zombie
	}
	k.mu.Unlock()
	if target == nil {
		return nil, unix.ESRCH
	}
	if !t.MayPtraceRead(target) {
		return nil, unix.EPERM
	}
	k.mu.Lock()
	exited := k.tasks[target.TID] != target
	fds := target.FDs
	k.mu.Unlock()
	if exited || fds == nil {
		return nil, unix.EBADF
	}
	return fds.Get(fd)
}
