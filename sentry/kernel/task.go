package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/mm"
	"github.com/moat-sandbox/moat/sentry/strace"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// ExitStatus is how a task's thread group ended: an exit code, or a signal.
type ExitStatus struct {
	Code   int
	Signal unix.Signal // non-zero: killed by this signal
}

// Shell is the status as a shell reports it: the code, or 128 plus the signal.
func (s ExitStatus) Shell() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return "killed by " + unix.SignalName(s.Signal)
	}
	return fmt.Sprintf("exited with %d", s.Code)
}

// Task is one application thread.
type Task struct {
	k     *Kernel
	MM    *mm.MemoryManager
	FDs   *vfs.FDTable
	FS    *FSContext
	Creds *vfs.Credentials
	State *arch.State
	ctx   platform.Context

	// TID is the thread's ID in the root PID namespace (the kernel's name for it); id
	// has its IDs in its own namespace and the ancestors (pidns.go), which is what the
	// application sees. A process's leader's IDs are the process's.
	TID int32
	id  pidRef
	// childNS is the PID namespace unshare(CLONE_NEWPID) made for t's next children
	// (pid_for_children), nil for t's own.
	childNS *PIDNamespace
	// Proc is the task's process (thread group).
	Proc *Process
	// killed is closed when the task must end (a fatal signal, its init exited);
	// blocking operations select on it. killSig is the signal that ends it.
	killed   chan struct{}
	killOnce sync.Once
	killSig  unix.Signal
	// threadOnly: the kill ends this thread only (a sibling's exec).
	threadOnly bool
	// SigMask is the set of blocked signals (bit n-1 for signal n); sigMu guards it
	// and the pending signals, which other tasks' kill(2) changes.
	SigMask uint64
	// sigWaiting is the set rt_sigtimedwait is waiting for: those signals count as
	// unblocked when a process-directed signal picks its thread, as Linux unblocks
	// them for the wait.
	sigWaiting atomic.Uint64
	sigMu      sync.Mutex
	pending    uint64
	pendInfo   [64]arch.SignalInfo
	// pendMore holds, per real-time signal, the instances queued behind the one in
	// pendInfo, oldest first: Linux queues real-time signals, each with its siginfo,
	// and keeps one of each standard signal.
	pendMore [64][]arch.SignalInfo
	// shared are the pending signals that were sent to the process, not to t: a
	// thread that unblocks one takes it over (adoptShared), as Linux's threads share
	// the process's pending set. sharedNext (k.mu) marks the signals signalTarget
	// chose t for, until queue takes the mark.
	shared     uint64
	sharedNext uint64
	// intr is closed when the task must stop waiting (see Interrupted).
	intr chan struct{}
	// queued, if not nil, is closed at the next signal queued, blocked or not
	// (SignalQueued).
	queued chan struct{}
	// savedMask is the mask rt_sigsuspend replaced, restored after the handler.
	savedMask *uint64
	altStack  arch.SignalStack
	// restart is the restart code of a system call interrupted by a signal, and
	// restartNr its number, until the signal is dealt with.
	restart   unix.Errno
	restartNr uint64
	// restartFn is what restart_syscall runs (RestartBlock).
	restartFn func(t *Task) (uintptr, error)
	// ClearChildTID is set_tid_address's pointer.
	ClearChildTID uintptr
	// RobustList is set_robust_list's head.
	RobustList uintptr
	// futexDead is set (under the futex table's lock) once the exiting task has
	// released its futexes: it can no longer be a PI futex's owner.
	futexDead bool
	// Argv and Envv bound the argument and environment strings on the stack.
	ArgvStart, ArgvEnd, EnvvStart, EnvvEnd uintptr
	// Exe is the path the task was exec'd from.
	Exe string
	// Limits are the thread group's resource limits.
	Limits [RlimitCount]Rlimit
	// Sched are the task's scheduling attributes (sched.go).
	Sched SchedAttrs
	// Start is when the task started.
	Start time.Time
	// Comm is the name prctl(PR_SET_NAME) gave, or "" for the executable's.
	Comm string
	// Undumpable and NoNewPrivs are prctl's flags.
	Undumpable, NoNewPrivs bool
	// PdeathSig is the signal the task gets when its parent thread exits
	// (PR_SET_PDEATHSIG), 0 for none.
	PdeathSig unix.Signal

	exit *ExitStatus

	// lastFault counts consecutive faults at the same address, to stop a fault that
	// the platform keeps reporting (a Sentry bug) from looping forever.
	lastFault        uintptr
	lastFaultCount   int
	lastFaultChanges uint64 // MemoryManager.Changes at the first of them

	usage taskUsage
	// inApp is set while the task is (about to be) in application code (freeze.go).
	inApp atomic.Bool
	// switches counts the returns from application code (membarrier.go).
	switches atomic.Uint64
	// sleeping is set when a system call is about to wait (Interrupted, which every
	// blocking wait selects on), and cleared when the call returns: /proc's state S.
	sleeping atomic.Bool
}

// NewTask returns the task of a new process with no parent in PID namespace ns (the
// root if nil; it is the namespace's init if it is the first), running in m with
// state st. ENOMEM if ns's init has exited.
func (k *Kernel) NewTask(m *mm.MemoryManager, fds *vfs.FDTable, fs *FSContext, creds *vfs.Credentials, st *arch.State, ns *PIDNamespace) (*Task, error) {
	if ns == nil {
		ns = k.root
	}
	return k.newTask(m, fds, fs, creds, st, nil, ns)
}

// newTask returns the task of a new process in ns, child of parent.
func (k *Kernel) newTask(m *mm.MemoryManager, fds *vfs.FDTable, fs *FSContext, creds *vfs.Credentials, st *arch.State, parent *Process, ns *PIDNamespace) (*Task, error) {
	t := &Task{k: k, MM: m, FDs: fds, FS: fs, Creds: creds, State: st,
		ctx: k.Platform.NewContext(), Limits: DefaultLimits(), Start: time.Now(),
		killed: make(chan struct{}), intr: make(chan struct{}),
		altStack: arch.SignalStack{Flags: arch.SS_DISABLE}}
	p, err := k.newProcess(t, parent, ns)
	if err != nil {
		t.ctx.Release()
		return nil, err
	}
	t.Proc = p
	if creds != nil {
		creds.Caller = t.TID
	}
	return t, nil
}

// Kill makes the task end as if by SIGKILL: it leaves a blocking call with EINTR and
// application code at once.
func (t *Task) Kill() { t.KillWith(unix.SIGKILL) }

// KillWith ends the task as if by the fatal signal sig.
func (t *Task) KillWith(sig unix.Signal) {
	t.killOnce.Do(func() {
		t.killSig = sig
		close(t.killed)
		t.sigMu.Lock()
		t.interruptLocked()
		t.sigMu.Unlock()
	})
}

// isKilled reports whether Kill was called.
func (t *Task) isKilled() bool {
	select {
	case <-t.killed:
		return true
	default:
		return false
	}
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// Exit ends the task's thread group with status s; the run loop returns after the
// current system call.
//
// Exit ends the whole thread group (exit_group, a fatal signal): the other threads are
// killed, and the group's status is s.
func (t *Task) Exit(s ExitStatus) {
	if t.exit == nil {
		t.exit = &s
	}
	k := t.k
	k.mu.Lock()
	if t.Proc.groupExit == nil {
		t.Proc.groupExit = &s
	}
	others := t.Proc.threadsBesidesLocked(t)
	k.mu.Unlock()
	for _, o := range others {
		o.KillWith(unix.SIGKILL)
	}
}

// ExitThread ends only this thread (exit(2)); the process ends with its last thread.
func (t *Task) ExitThread(s ExitStatus) {
	if t.exit == nil {
		t.exit = &s
	}
}

// Run runs the task until its thread group exits, and returns how it ended.
//
// The task goroutine is locked to its OS thread while it runs, for CPU accounting
// (usage.go) and for the platform's context if it is thread-bound; on a platform that
// is not, it lets go of the thread while it waits (SleepStart).
func (t *Task) Run() ExitStatus {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer t.ctx.Release()
	t.startAccounting()
	for t.exit == nil {
		t.SleepFinish() // a wait that missed its own (a handler that panicked in it)
		if t.isKilled() {
			if t.threadOnly {
				t.ExitThread(ExitStatus{Signal: t.killSig})
			} else {
				t.Exit(ExitStatus{Signal: t.killSig})
			}
			break
		}
		t.accountSys(monoNow())
		if !t.enterApp() {
			continue // killed while frozen
		}
		t.sleeping.Store(false)
		start := monoNow()
		t.usage.enterSwitch(start)
		ev, err := t.ctx.Switch(t.MM.AddressSpace(), t.State)
		t.inApp.Store(false)
		t.switches.Add(1)
		t.accountUser(start, monoNow())
		if err != nil {
			fmt.Fprintf(t.k.Log, "moat: task %d: %v\n", t.TID, err)
			t.Exit(ExitStatus{Signal: unix.SIGKILL})
			break
		}
		switch ev.Kind {
		case platform.EventSyscall:
			t.syscall()
		case platform.EventFault:
			t.fault(ev)
		case platform.EventSignal:
			if ev.Info.FromKernel() {
				// A synchronous signal (SIGILL, SIGFPE, SIGTRAP…).
				t.forceSignal(ev.Info)
			}
			// A signal sent to the stub from outside is not the application's.
		case platform.EventInterrupt:
		}
		t.deliverPending()
	}
	// The context goes before the address space (threadExited): systrap hands its
	// thread on to the address space's next user (platform.Context.Release).
	t.ctx.Release()
	st := t.threadExited()
	return st
}

// CommName is the task's command name: as prctl(PR_SET_NAME) set it, else the
// executable's base name, at most 15 bytes.
func (t *Task) CommName() string {
	c := t.Comm
	if c == "" {
		c = t.Exe[strings.LastIndex(t.Exe, "/")+1:]
	}
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// ReadMemory reads [start, end) of the task's memory (for /proc/[pid]/cmdline).
func (t *Task) ReadMemory(start, end uintptr) []byte {
	if end <= start {
		return nil
	}
	b := make([]byte, end-start)
	n, _ := t.MM.CopyIn(start, b)
	return b[:n]
}

func (t *Task) fault(ev platform.Event) {
	// A fault at the same address after the address space took access away (a fork
	// write-protecting its pages, mprotect, munmap) is progress, not a loop.
	changes := t.MM.Changes()
	if ev.Addr == t.lastFault && changes == t.lastFaultChanges {
		t.lastFaultCount++
	} else {
		t.lastFault, t.lastFaultCount, t.lastFaultChanges = ev.Addr, 1, changes
	}
	err := t.MM.HandleFault(ev.Addr, ev.Access)
	if err == nil && t.lastFaultCount < 8 {
		return
	}
	if t.k.Strace {
		fmt.Fprintf(t.k.Log, "[%d] fault at %#x (%v) rip=%#x: %v\n", t.TID, ev.Addr, ev.Access, t.State.Regs.Rip, err)
	}
	info := ev.Info
	switch e := err.(type) {
	case *mm.SegvError:
		info.Signo, info.Code = int32(unix.SIGSEGV), e.Code
		info.SetAddr(e.Addr)
	case *mm.BusError:
		info.Signo, info.Code = int32(unix.SIGBUS), e.Code()
		info.SetAddr(e.Addr)
	}
	t.lastFault, t.lastFaultCount = 0, 0
	t.forceSignal(info)
}

// forceSignal raises a synchronous signal (a fault): delivered to a handler if there is
// one and it isn't blocked, else the thread group ends with it (force_sig_fault).
func (t *Task) forceSignal(info arch.SignalInfo) {
	sig := int(info.Signo)
	act := t.SigAction(sig, nil)
	if act.Handler == sigDfl || act.Handler == sigIgn || t.SigMask&sigBit(sig) != 0 {
		t.Exit(ExitStatus{Signal: unix.Signal(sig)})
		return
	}
	t.Queue(sig, info)
}

// syscall runs the system call the task stopped at.
func (t *Task) syscall() {
	nr := arch.SyscallNo(&t.State.Regs)
	args := arch.SyscallArgs(&t.State.Regs)
	if t.k.Strace && (nr == unix.SYS_EXECVE || nr == unix.SYS_EXECVEAT) {
		// Its arguments are gone after it succeeds: print them now.
		fmt.Fprintf(t.k.Log, "[%d] %s ...\n", t.TID, strace.Enter(t.MM, nr, args))
	}
	var ret uintptr
	var err error
	sc, ok := t.k.Syscalls.Table[nr]
	if ok {
		ret, err = t.call(sc, nr, args)
	} else {
		t.k.missing(nr)
		err = unix.ENOSYS
	}
	if err != nil {
		e := errnoOf(err)
		switch e {
		case ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK:
			// Interrupted by a signal: settled when it is delivered.
			t.restart, t.restartNr = e, uint64(nr)
			e = unix.EINTR
		}
		ret = uintptr(-int(e))
	}
	t.sleeping.Store(false)
	if t.k.Strace {
		fmt.Fprintf(t.k.Log, "[%d] %s\n", t.TID, strace.Exit(t.MM, nr, args, ret))
	}
	arch.SetReturn(&t.State.Regs, ret)
}

// RunState is the task's state as /proc shows it (fs/proc/array.c's task_state_array):
// Z once its process has exited, T while the process is stopped (job control), S
// while a system call of the task waits, R otherwise.
func (t *Task) RunState() (byte, string) {
	t.k.mu.Lock()
	zombie, stopped := t.Proc.exit != nil, t.Proc.stopped
	t.k.mu.Unlock()
	switch {
	case zombie:
		return 'Z', "zombie"
	case stopped:
		return 'T', "stopped"
	case t.sleeping.Load():
		return 'S', "sleeping"
	}
	return 'R', "running"
}

// call runs a handler. A panic in it is a Sentry bug: it is logged with its stack, and
// only the calling thread group ends (SIGKILL); the Sentry and the other processes go on.
func (t *Task) call(sc Syscall, nr uintptr, args [6]uintptr) (ret uintptr, err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(t.k.Log, "moat: BUG: system call %s%v of task %d panicked: %v\n%s\n",
				sc.Name, args, t.TID, r, debug.Stack())
			t.Exit(ExitStatus{Signal: unix.SIGKILL})
			ret, err = 0, unix.EIO
		}
	}()
	return sc.Fn(t, args)
}

// CopyOutObj copies the little-endian encoding of a fixed-size value to addr.
func (t *Task) CopyOutObj(addr uintptr, v any) error {
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
		return err
	}
	_, err := t.MM.CopyOut(addr, buf.Bytes())
	return err
}

// CopyInObj reads a fixed-size value from addr.
func (t *Task) CopyInObj(addr uintptr, v any) error {
	buf := make([]byte, binary.Size(v))
	if _, err := t.MM.CopyIn(addr, buf); err != nil {
		return err
	}
	return binary.Read(bytes.NewReader(buf), binary.LittleEndian, v)
}

// UnixCred is who the task is for SCM_CREDENTIALS and SO_PEERCRED: its process's PID
// (the root PID namespace's: a reader translates it with PIDNamespace.IDOfRoot) and
// its user and group IDs.
func (t *Task) UnixCred() (pid int32, uid, gid uint32) {
	return t.Proc.PID, t.Creds.UID, t.Creds.GID
}
