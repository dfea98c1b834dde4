package kernel

import (
	"fmt"
	"math/bits"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
)

// Process is a thread group. Processes form the tree fork makes: each has a parent
// (nil for a process the runtime made: a container's init, an exec'd process) and
// children; an exited process is a zombie, holding its exit status, until its parent
// reaps it with wait4. A process whose parent exits is given to its PID namespace's
// init (pidns.go); when that init exits, every other process of the namespace is
// killed.
//
// The kernel's mu guards the tree and every process's state.
type Process struct {
	// membarrier holds the membarrier commands the process registered for
	// (membarrier.go).
	membarrier atomic.Uint32
	// PID is the process's ID in the root PID namespace (the kernel's name for it);
	// the application sees IDOfProcess in its own namespace.
	PID int32
	// ns is the PID namespace the process lives in.
	ns     *PIDNamespace
	parent *Process
	// parentThread is the thread of parent that made the process (or the one it was
	// given to when that thread exited): its exit sends the parent-death signal.
	parentThread *Task
	// subreaper is prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are given to
	// the nearest live subreaper ancestor rather than init.
	subreaper bool
	// pgid and sid are the process group and session, as root-namespace IDs, and
	// pgrp and sess the same as references that give their IDs in other namespaces
	// (setGroupLocked keeps them together; k.mu guards them); didExec is set once the
	// process has exec'd, after which its parent may not move it.
	pgid, sid  int32
	pgrp, sess pidRef
	didExec    bool
	// reported is set (k.mu) once the exit's SIGCHLD is queued: only then do waits
	// report the zombie.
	reported bool
	// deadUsage is the CPU time of the process's exited threads (and the largest
	// resident set of the address spaces it left, by exit or exec); childUsage that of its
	// reaped children and what they had reaped (usage.go). k.mu guards both.
	deadUsage, childUsage Usage
	// cpu is what the process's CPU-time clock sums, for timers on it (cputimer.go).
	cpu cpuSet
	// itimers are ITIMER_VIRTUAL and ITIMER_PROF (cputimer.go); k.mu guards them.
	itimers  [2]cpuItimer
	children map[*Process]struct{}
	task     *Task              // the thread group leader
	threads  map[*Task]struct{} // the live threads
	exit     *ExitStatus        // set when the process has exited (a zombie until reaped)
	// groupExit is the status exit_group or a fatal signal gave the whole group.
	groupExit *ExitStatus
	// vforkDone is closed when a vfork child execs or exits, releasing its parent.
	vforkDone chan struct{}
	// sig holds the signal dispositions (shared by the process's threads).
	sig SignalActions
	// alarm is ITIMER_REAL's host timer (alarm(2) and setitimer(2)), due at alarmAt,
	// re-armed every alarmInterval; alarmGen tells a stale timer's callback it was
	// replaced. k.mu guards them.
	alarm         *time.Timer
	alarmAt       time.Time
	alarmInterval time.Duration
	alarmGen      uint64
	// timers are the POSIX timers (ptimer.go).
	timers ptimers
	// Job control (jobctl.go): stopped while a group stop is in effect, until contCh
	// is closed; reportStop (the stop signal) and reportCont are the events wait has
	// not consumed yet.
	stopped    bool
	contCh     chan struct{}
	reportStop int
	reportCont bool
	// ctty is the controlling terminal (tty.go), nil for none.
	ctty *devpts.Terminal
	// container names the OCI container of a pod the process belongs to ("" for the
	// sandbox's own container): set for a process the runtime creates, inherited by
	// fork. It is how the runtime's kill, ps and stats of one container of a pod find
	// its processes; the application cannot see it.
	container string
	// cgroup is the cgroup the process is in (cgroup.go): its container's when the
	// runtime makes it, its parent's when forked, another of its container's
	// hierarchy when moved there. k.mu guards it.
	cgroup *Cgroup
	// OOMScoreAdj is /proc/[pid]/oom_score_adj (-1000 to 1000), inherited by fork;
	// the spec's process.oomScoreAdj sets init's.
	OOMScoreAdj atomic.Int32
}

// setGroupLocked puts p in process group pgrp and session sess. k.mu is held.
func (p *Process) setGroupLocked(pgrp, sess pidRef) {
	p.pgrp, p.sess = pgrp, sess
	p.pgid, p.sid = pgrp.root(), sess.root()
}

// threadsBesidesLocked returns the process's live threads other than t. k.mu is held.
func (p *Process) threadsBesidesLocked(t *Task) []*Task {
	var others []*Task
	for o := range p.threads {
		if o != t {
			others = append(others, o)
		}
	}
	return others
}

// newProcess registers a process for t, child of parent (nil: one the runtime makes),
// under a new ID in ns and its ancestors; the namespace's first process is its init.
// ENOMEM if ns's init has exited.
func (k *Kernel) newProcess(t *Task, parent *Process, ns *PIDNamespace) (*Process, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if parent != nil && !k.pidsAllowLocked(parent) {
		return nil, unix.EAGAIN // pids.max reached
	}
	id, err := ns.allocLocked()
	if err != nil {
		return nil, err
	}
	t.id, t.TID = id, id.root()
	p := &Process{PID: id.root(), ns: ns, parent: parent, task: t, children: map[*Process]struct{}{},
		threads: map[*Task]struct{}{t: {}}}
	p.cpu.threads = []*Task{t}
	if parent != nil {
		p.parentThread = parent.liveTask()
		parent.children[p] = struct{}{}
		p.sig = parent.sig
		p.setGroupLocked(parent.pgrp, parent.sess)
		p.ctty = parent.ctty
		p.container = parent.container
		p.cgroup = parent.cgroup
		p.OOMScoreAdj.Store(parent.OOMScoreAdj.Load())
	} else {
		p.setGroupLocked(id, id) // leads its own group and session
	}
	if ns.init == nil {
		ns.init = p
	}
	k.addProcLocked(p)
	k.addTaskLocked(t)
	return p, nil
}

// changed wakes every task waiting for a process to change state (wait4).
func (k *Kernel) changedLocked() {
	close(k.waitGen)
	k.waitGen = make(chan struct{})
}

// liveTask returns a live thread of p, or nil. k.mu is held.
func (p *Process) liveTask() *Task {
	if _, ok := p.threads[p.task]; ok {
		return p.task
	}
	for t := range p.threads {
		return t
	}
	return nil
}

// threadExited ends t: its clear_child_tid is cleared and woken (pthread_join waits on
// it), it leaves its group, and if it was the last thread the process exits. It returns
// the status the thread (or the group) ended with.
func (t *Task) threadExited() ExitStatus {
	k := t.k
	p := t.Proc
	t.futexExit(true)
	if t.ClearChildTID != 0 {
		if t.CopyOutObj(t.ClearChildTID, int32(0)) == nil {
			t.FutexWake(t.ClearChildTID, false, 1, ^uint32(0))
		}
	}
	t.SleepFinish()
	t.accountSys(monoNow())
	t.FlushUsage()
	t.dropTimerSignals()
	rss := t.MM.MaxRSS()
	k.mu.Lock()
	p.deadUsage.MaxRSS = max(p.deadUsage.MaxRSS, rss)
	delete(p.threads, t)
	k.removeTaskLocked(t)
	p.cpu.exited(t)
	deathSigs := t.forgetChildrenLocked(p.liveTask())
	p.deadUsage.add(t.usage.load())
	last := len(p.threads) == 0
	s := *t.exit
	if p.groupExit != nil {
		s = *p.groupExit
	}
	k.changedLocked()
	k.mu.Unlock()
	t.FDs.DecUsers()
	t.MM.DecUsers()
	deathSigs.send()
	if last {
		k.semExit(p)
		t.exited(s)
	}
	return s
}

// forgetChildrenLocked gives the processes t made to heir, another live thread of its
// process (nil if t is the last: exited gives them to a reaper), and returns the
// parent-death signals their threads asked for, as kernel/exit.c:forget_original_parent
// does for a dying thread's children. k.mu is held.
func (t *Task) forgetChildrenLocked(heir *Task) pdeathSignals {
	var sigs pdeathSignals
	for c := range t.Proc.children {
		if c.parentThread != t {
			continue
		}
		c.parentThread = heir
		if c.exit != nil {
			continue
		}
		for th := range c.threads {
			if th.PdeathSig != 0 {
				sigs = append(sigs, pdeathSignal{c.signalTarget(th.PdeathSig), th.PdeathSig, t})
			}
		}
	}
	return sigs
}

type pdeathSignal struct {
	target *Task
	sig    unix.Signal
	from   *Task
}

type pdeathSignals []pdeathSignal

// send sends the signals (SEND_SIG_NOINFO: SI_USER from the dying thread's process).
func (s pdeathSignals) send() {
	for _, d := range s {
		d.from.sendTo(d.target, d.sig, d.from.senderInfo(arch.SI_USER))
	}
}

// reaperLocked returns the process p's orphans go to, as kernel/exit.c:find_new_reaper:
// the nearest live ancestor in p's PID namespace that is a child subreaper, else the
// namespace's init (nil if it is p, or gone). k.mu is held.
func (k *Kernel) reaperLocked(p *Process) *Process {
	init := p.ns.init
	if p == init {
		return nil
	}
	for a := p.parent; a != nil && a.ns == p.ns && a != init; a = a.parent {
		if a.subreaper && a.exit == nil && a.liveTask() != nil {
			return a
		}
	}
	if init != nil && init.exit == nil {
		return init
	}
	return nil
}

// SetChildSubreaper sets or clears t's process's PR_SET_CHILD_SUBREAPER mark.
func (t *Task) SetChildSubreaper(on bool) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.Proc.subreaper = on
}

// ChildSubreaper reports t's process's PR_SET_CHILD_SUBREAPER mark.
func (t *Task) ChildSubreaper() bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Proc.subreaper
}

// exited records that t's process ended with s: its children go to a reaper (pidns.go),
// its parent is told. If it is its PID namespace's init, every other process of the
// namespace is killed first, and the parent is told once they have all exited, as
// zap_pid_ns_processes.
func (t *Task) exited(s ExitStatus) {
	k := t.k
	p := t.Proc
	p.deleteTimers()
	if p.ns.init == p {
		k.zapPIDNamespace(p.ns, p)
	}
	k.mu.Lock()
	p.exit = &s
	p.stopItimersLocked()
	hup := p.leaderExitedLocked(k)
	var orphans []*Process
	for c := range p.children {
		orphans = append(orphans, c)
	}
	reaper := k.reaperLocked(p)
	var zombies []*Process // orphans already dead: their new parent is told
	for _, c := range orphans {
		delete(p.children, c)
		if reaper == nil {
			// Nobody will reap it: an exited one goes now, a live one when it exits.
			c.parent, c.parentThread = nil, nil
			if c.exit != nil {
				k.removeProcLocked(c)
			}
			continue
		}
		c.parent, c.parentThread = reaper, reaper.liveTask()
		reaper.children[c] = struct{}{}
		if c.exit != nil {
			zombies = append(zombies, c)
		}
	}
	var reaperTask *Task
	if reaper != nil {
		reaperTask = reaper.liveTask()
	}
	hupGroups := p.orphanedStoppedGroupsLocked(k, orphans)
	if p.vforkDone != nil {
		close(p.vforkDone)
		p.vforkDone = nil
	}
	var parent *Task
	if p.parent != nil {
		// A parent that ignores SIGCHLD (or asked SA_NOCLDWAIT) leaves no zombie.
		act := p.parent.sig[unix.SIGCHLD-1]
		if act.Handler == sigIgn || act.Flags&saNocldwait != 0 {
			delete(p.parent.children, p)
			k.removeProcLocked(p)
		} else {
			parent = p.parent.liveTask()
		}
	} else {
		k.removeProcLocked(p) // nobody will reap it
	}
	k.mu.Unlock()
	for _, z := range zombies {
		childExited(reaperTask, z, *z.exit)
	}
	if hup != 0 {
		k.SignalGroup(hup, unix.SIGHUP)
	}
	for _, pg := range hupGroups {
		k.SignalGroup(pg, unix.SIGHUP)
		k.SignalGroup(pg, unix.SIGCONT)
	}
	if parent != nil {
		childExited(parent, p, s)
	}
	// Waiters see the zombie and wake only now, with SIGCHLD already pending
	// (do_notify_parent queues the signal under the lock a waiter takes): a parent
	// back from wait4 sees it in sigpending.
	k.mu.Lock()
	p.reported = true
	k.changedLocked()
	k.mu.Unlock()
}

// zapPIDNamespace ends ns, whose init is exiting: no process may join it any more,
// every other process of it (those of its descendant namespaces included) is killed,
// and it returns once they have all exited, as zap_pid_ns_processes. (Linux also
// waits for those whose parent is outside the namespace to be reaped; here they may
// stay zombies after.) A task that does not end within zapTimeout (a Sentry bug: a
// killed task leaves every wait) is logged and left, so that init's exit is still
// reported.
func (k *Kernel) zapPIDNamespace(ns *PIDNamespace, init *Process) {
	k.mu.Lock()
	ns.closed = true
	k.mu.Unlock()
	deadline := time.After(zapTimeout)
	for {
		k.mu.Lock()
		var live []*Task
		for _, q := range ns.procs {
			if q == init || q.exit != nil {
				continue
			}
			for th := range q.threads {
				live = append(live, th)
			}
			if len(q.threads) == 0 {
				live = append(live, nil) // exiting: wait for its exit
			}
		}
		gen := k.waitGen
		k.mu.Unlock()
		if len(live) == 0 {
			return
		}
		for _, th := range live {
			if th != nil {
				th.Kill()
			}
		}
		select {
		case <-gen:
		case <-deadline:
			fmt.Fprintf(k.Log, "moat: PID namespace of init %d: %d tasks still running %v after it exited\n", init.PID, len(live), zapTimeout)
			return
		}
	}
}

// zapTimeout bounds how long a namespace's exiting init waits for the others.
const zapTimeout = 10 * time.Second

// WaitStatus is a status as wait4 reports it.
func (s ExitStatus) WaitStatus() uint32 {
	if s.Signal != 0 {
		return uint32(s.Signal)
	}
	return uint32(s.Code&0xff) << 8
}

// WaitOpts select what Wait waits for.
type WaitOpts struct {
	Which  WaitWhich
	ID     int32 // the child's PID, or the group's (0: t's own group)
	NoHang bool  // return a zero result at once if no child has exited
	NoReap bool  // leave the child a zombie (waitid's WNOWAIT)
	// NotExits waits for no exits at all (waitid without WEXITED).
	NotExits bool
	// Stopped and Continued also report a child's stop (WUNTRACED, WSTOPPED) and
	// continue (WCONTINUED), once each.
	Stopped, Continued bool
}

// WaitWhich is which children a wait is for.
type WaitWhich int

// The children a wait can be for.
const (
	WaitAny   WaitWhich = iota // any child
	WaitPID                    // the child WaitOpts.ID
	WaitGroup                  // any child in process group WaitOpts.ID (0: the caller's)
)

// WaitResult is a child Wait found.
type WaitResult struct {
	PID    int32
	UID    uint32 // the child's real user ID
	Status ExitStatus
	Usage  Usage // the child's CPU time and its reaped descendants' (wait4's rusage)
	// Stopped is the signal that stopped the child, when that is what was found;
	// Continued says the child was continued.
	Stopped   int
	Continued bool
}

// WaitStatus is the status word wait4 stores: the exit's, 0x7f | sig<<8 for a stop,
// 0xffff for a continue.
func (r WaitResult) WaitStatus() uint32 {
	switch {
	case r.Stopped != 0:
		return 0x7f | uint32(r.Stopped)<<8
	case r.Continued:
		return 0xffff
	}
	return r.Status.WaitStatus()
}

// Wait waits for a child of t's process that o selects to exit (or stop or continue,
// as o asks), reaps it (unless
// o.NoReap) and returns it. With o.NoHang it returns a zero result at once if none has
// exited. ECHILD if there is no such child; ERESTARTSYS if t is interrupted while
// waiting and, looking once more as do_wait does after its wake-up, finds none (a
// child's exit queues SIGCHLD before it wakes the waiters: the wait still reports it).
func (t *Task) Wait(o WaitOpts) (WaitResult, error) {
	k := t.k
	interrupted := false
	for {
		k.mu.Lock()
		ns := t.Proc.ns
		matched := false
		for c := range t.Proc.children {
			if o.Which == WaitPID && ns.IDOfProcess(c) != o.ID ||
				o.Which == WaitGroup && o.ID == 0 && c.pgid != t.Proc.pgid ||
				o.Which == WaitGroup && o.ID != 0 && c.pgrp.in(ns) != o.ID {
				continue
			}
			matched = true
			if c.exit != nil && !c.reported {
				continue // its parent is being told; the wait sees it once SIGCHLD is pending
			}
			if c.exit != nil && !o.NotExits {
				r := WaitResult{PID: ns.IDOfProcess(c), UID: c.task.Creds.RealUID, Status: *c.exit, Usage: c.deadUsage}
				r.Usage.add(c.childUsage)
				if !o.NoReap {
					delete(t.Proc.children, c)
					k.removeProcLocked(c)
					t.Proc.childUsage.add(c.deadUsage)
					t.Proc.childUsage.add(c.childUsage)
					k.changedLocked() // the child's pidfds hang up
				}
				k.mu.Unlock()
				return r, nil
			}
			if c.exit != nil {
				continue
			}
			if o.Stopped && c.stopped && c.reportStop != 0 {
				r := WaitResult{PID: ns.IDOfProcess(c), UID: c.task.Creds.UID, Stopped: c.reportStop, Usage: c.usageLocked()}
				if !o.NoReap {
					c.reportStop = 0
				}
				k.mu.Unlock()
				return r, nil
			}
			if o.Continued && c.reportCont {
				r := WaitResult{PID: ns.IDOfProcess(c), UID: c.task.Creds.UID, Continued: true, Usage: c.usageLocked()}
				if !o.NoReap {
					c.reportCont = false
				}
				k.mu.Unlock()
				return r, nil
			}
		}
		gen := k.waitGen
		k.mu.Unlock()
		if !matched {
			return WaitResult{}, unix.ECHILD
		}
		if o.NoHang {
			return WaitResult{}, nil
		}
		if interrupted {
			return WaitResult{}, ERESTARTSYS
		}
		t.SleepStart()
		select {
		case <-gen:
		case <-t.Interrupted():
			interrupted = true
		}
		t.SleepFinish()
	}
}

// Fork makes a child process of t's, as fork(2): a copy of its address space
// (copy-on-write), its open files, working directory, credentials, limits and signal
// dispositions. The child returns 0 from the system call. With vfork the child runs in
// t's own address space (CLONE_VM), and t waits until the child execs or exits, as
// vfork(2): what the child writes before that, the parent sees (posix_spawn reports an
// exec failure that way).
func (t *Task) Fork(vfork bool) (int32, error) {
	return t.ForkWith(vfork, ForkOpts{})
}

// ForkOpts are clone's extras for a new process.
type ForkOpts struct {
	ParentSetTID  uintptr // where to store the child's PID in the parent's memory, if not 0
	Stack         uintptr // the child's stack pointer, if not 0
	ChildSetTID   uintptr // where to store the child's TID in its memory, if not 0
	ChildClearTID uintptr // the child's clear_child_tid, if not 0
	// ClearSighand resets the child's signal handlers (not ignored signals) to the
	// default (CLONE_CLEAR_SIGHAND).
	ClearSighand bool
	// PidFD, if not nil, is bound to the child before it runs (CLONE_PIDFD).
	PidFD *PidFD
	// NewPIDNamespace puts the child in a new PID namespace, as its init
	// (CLONE_NEWPID; the caller checks CAP_SYS_ADMIN).
	NewPIDNamespace bool
}

// ForkWith is Fork with clone's extras. The child is made in t's pid_for_children
// namespace (or a new one, child of it): ENOMEM if that namespace's init has exited.
// It returns the child's ID in t's namespace.
func (t *Task) ForkWith(vfork bool, o ForkOpts) (int32, error) {
	k := t.k
	ns := t.ChildPIDNamespace()
	if o.NewPIDNamespace {
		var err error
		if ns, err = t.newChildPIDNamespace(); err != nil {
			return 0, err
		}
	}
	k.mu.Lock()
	closed := ns.closed
	k.mu.Unlock()
	if closed {
		return 0, unix.ENOMEM
	}
	m := t.MM
	if vfork {
		m.IncUsers()
	} else {
		as, err := k.Platform.NewAddressSpace()
		if err != nil {
			return 0, unix.ENOMEM
		}
		if m, err = t.MM.Fork(as, uintptr(t.State.Regs.Rsp)); err != nil {
			as.Release()
			return 0, unix.ENOMEM
		}
	}
	st := t.State.Fork()
	st.Regs.Rax = 0
	fds := t.FDs.Fork()
	c, err := k.newTask(m, fds, t.FS.Fork(), t.Creds.Copy(), st, t.Proc, ns)
	if err != nil {
		fds.DecUsers()
		m.DecUsers()
		return 0, err
	}
	c.Limits, c.Exe, c.Comm = t.Limits, t.Exe, t.Comm
	c.Sched.inherit(&t.Sched)
	c.Proc.membarrier.Store(t.Proc.membarrier.Load()) // the address space's, copied
	c.NoNewPrivs, c.Undumpable = t.NoNewPrivs, t.Undumpable
	k.mu.Lock()
	c.Proc.parentThread = t
	k.mu.Unlock()
	c.ArgvStart, c.ArgvEnd, c.EnvvStart, c.EnvvEnd = t.ArgvStart, t.ArgvEnd, t.EnvvStart, t.EnvvEnd
	c.SigMask, c.altStack = t.SigMask, t.altStack
	if o.ClearSighand {
		c.resetActions()
	}
	if o.Stack != 0 {
		c.State.Regs.Rsp = uint64(o.Stack)
	}
	if o.ParentSetTID != 0 {
		t.CopyOutObj(o.ParentSetTID, t.Proc.ns.IDOfTask(c))
	}
	if o.ChildSetTID != 0 {
		c.CopyOutObj(o.ChildSetTID, c.ThreadID())
	}
	c.ClearChildTID = o.ChildClearTID
	if o.PidFD != nil {
		o.PidFD.bind(c, false, t.Proc.ns)
	}
	var done chan struct{}
	if vfork {
		done = make(chan struct{})
		k.mu.Lock()
		c.Proc.vforkDone = done
		k.mu.Unlock()
	}
	id := t.Proc.ns.IDOfProcess(c.Proc)
	go c.Run()
	if vfork {
		t.SleepStart()
		select {
		case <-done:
		case <-t.killed:
		}
		t.SleepFinish()
	}
	return id, nil
}

// execDone releases a vfork parent once the child has a program of its own.
func (t *Task) execDone() {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.Proc.didExec = true
	if t.Proc.vforkDone != nil {
		close(t.Proc.vforkDone)
		t.Proc.vforkDone = nil
	}
}

// forget removes a process that never ran (its exec failed).
func (k *Kernel) forget(p *Process) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.removeProcLocked(p)
	k.removeTaskLocked(p.task)
	if p.ns.init == p {
		p.ns.init = nil // it never ran: the next one is init
	}
	if p.parent != nil {
		delete(p.parent.children, p)
	}
}

// ThreadOpts are clone's arguments for a new thread.
type ThreadOpts struct {
	ShareFiles, ShareFS bool
	Stack               uintptr
	SetTLS              bool
	TLS                 uintptr
	ParentSetTID        uintptr // where to store the TID in the parent's memory, if not 0
	ChildSetTID         uintptr
	ChildClearTID       uintptr
	// PidFD, if not nil, is bound to the thread before it runs (CLONE_PIDFD).
	PidFD *PidFD
}

// NewThread starts a thread in t's process (clone with CLONE_THREAD): it shares the
// address space and the signal dispositions, and the file table and FS context as
// asked; it starts from t's registers with rax 0.
func (t *Task) NewThread(o ThreadOpts) (int32, error) {
	k := t.k
	if t.ChildPIDNamespace() != t.Proc.ns {
		// A thread can't be in another namespace than its group (copy_process).
		return 0, unix.EINVAL
	}
	if o.SetTLS && o.TLS >= t.MM.MaxAddress() {
		return 0, unix.EPERM
	}
	st := t.State.Fork()
	st.Regs.Rax = 0
	if o.Stack != 0 {
		st.Regs.Rsp = uint64(o.Stack)
	}
	if o.SetTLS {
		st.Regs.Fs_base = uint64(o.TLS)
	}
	fds, fs := t.FDs, t.FS
	if o.ShareFiles {
		fds.IncUsers()
	} else {
		fds = t.FDs.Fork()
	}
	if !o.ShareFS {
		fs = t.FS.Fork()
	}
	t.MM.IncUsers()
	c := &Task{k: k, MM: t.MM, FDs: fds, FS: fs, Creds: t.Creds.Copy(), State: st,
		ctx: k.Platform.NewContext(), Limits: t.Limits, Start: time.Now(),
		killed: make(chan struct{}), intr: make(chan struct{}),
		altStack: arch.SignalStack{Flags: arch.SS_DISABLE}, Proc: t.Proc,
		Exe: t.Exe, Comm: t.Comm, SigMask: t.SigMask,
		NoNewPrivs: t.NoNewPrivs, Undumpable: t.Undumpable,
		ArgvStart: t.ArgvStart, ArgvEnd: t.ArgvEnd, EnvvStart: t.EnvvStart, EnvvEnd: t.EnvvEnd}
	c.Sched.inherit(&t.Sched)
	k.mu.Lock()
	id, err := t.Proc.ns.allocLocked()
	if err == nil && !k.pidsAllowLocked(t.Proc) {
		err = unix.EAGAIN // pids.max reached (the ID is not reused: IDs only grow)
	}
	if err != nil {
		k.mu.Unlock()
		c.ctx.Release()
		fds.DecUsers()
		t.MM.DecUsers()
		return 0, err
	}
	c.id, c.TID = id, id.root()
	c.Creds.Caller = c.TID
	t.Proc.threads[c] = struct{}{}
	t.Proc.cpu.add(c)
	k.addTaskLocked(c)
	k.mu.Unlock()
	// The TIDs are in memory before the thread can run (and exit, clearing its
	// clear_child_tid), as copy_process does: pthread_join waits on that word.
	tid := c.ThreadID()
	if o.ParentSetTID != 0 {
		t.CopyOutObj(o.ParentSetTID, tid)
	}
	if o.ChildSetTID != 0 {
		c.CopyOutObj(o.ChildSetTID, tid)
	}
	c.ClearChildTID = o.ChildClearTID
	if o.PidFD != nil {
		o.PidFD.bind(c, true, t.Proc.ns)
	}
	go c.Run()
	return tid, nil
}

// endSiblings ends every other thread of t's process and waits for them, as exec does
// (de_thread).
func (t *Task) endSiblings() {
	k := t.k
	for {
		k.mu.Lock()
		var others []*Task
		for o := range t.Proc.threads {
			if o != t {
				others = append(others, o)
			}
		}
		gen := k.waitGen
		k.mu.Unlock()
		if len(others) == 0 {
			return
		}
		for _, o := range others {
			o.threadOnly = true
			o.KillWith(unix.SIGKILL)
		}
		<-gen
	}
}

// lookupProcess returns the process of the task pid names in t's PID namespace (0:
// t's own), nil if there is none. A thread's ID names its process, as in Linux's
// getpgid. k.mu must be held.
func (t *Task) lookupProcess(pid int32) *Process {
	if pid == 0 {
		return t.Proc
	}
	ns := t.Proc.ns
	if p := ns.procs[pid]; p != nil {
		return p
	}
	if task := ns.tasks[pid]; task != nil {
		return task.Proc
	}
	return nil
}

// ProcessGroup returns the process group and session of process pid (0: t's), as
// getpgid(2) and getsid(2), in t's PID namespace (0 for one outside it).
func (t *Task) ProcessGroup(pid int32) (pgid, sid int32, err error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	p := t.lookupProcess(pid)
	if p == nil {
		return 0, 0, unix.ESRCH
	}
	return p.pgrp.in(t.Proc.ns), p.sess.in(t.Proc.ns), nil
}

// SetProcessGroup moves process pid (0: t's) into process group pgid (0: pid's own),
// as setpgid(2), with its checks in Linux's order: the target must be t's process or
// its child (ESRCH); a child must be in t's session (EPERM) and not have exec'd
// (EACCES); a session leader cannot move (EPERM); and a group other than its own must
// already exist in t's session (EPERM).
func (t *Task) SetProcessGroup(pid, pgid int32) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	ns := t.Proc.ns
	p := t.lookupProcess(pid)
	if p == nil || p.exit != nil {
		return unix.ESRCH
	}
	if pid != 0 && ns.IDOfProcess(p) != pid {
		return unix.EINVAL // a thread other than the group leader
	}
	if pgid == 0 {
		pgid = ns.IDOfProcess(p)
	}
	switch {
	case p.parent == t.Proc:
		if p.sid != t.Proc.sid {
			return unix.EPERM
		}
		if p.didExec {
			return unix.EACCES
		}
	case p != t.Proc:
		return unix.ESRCH
	}
	if p.sid == p.PID {
		return unix.EPERM
	}
	grp := p.task.id
	if pgid != ns.IDOfProcess(p) {
		found := false
		for _, q := range ns.procs {
			if q.pgrp.in(ns) == pgid && q.sid == t.Proc.sid {
				grp, found = q.pgrp, true
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	p.setGroupLocked(grp, p.sess)
	return nil
}

// NewSession makes t's process the leader of a new session and process group, as
// setsid(2): EPERM if it already leads a process group.
func (t *Task) NewSession() (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	for _, q := range k.procs {
		if q.pgid == p.PID {
			return 0, unix.EPERM
		}
	}
	p.setGroupLocked(p.task.id, p.task.id)
	p.ctty = nil
	return p.ns.IDOfProcess(p), nil
}

// Threads returns the live threads of t's process, by thread ID.
func (t *Task) Threads() []*Task {
	k := t.k
	k.mu.Lock()
	out := make([]*Task, 0, len(t.Proc.threads))
	for th := range t.Proc.threads {
		out = append(out, th)
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].TID < out[j].TID })
	return out
}

// ThreadsIn returns the live threads of t's process by their ID in ns (none if ns
// does not contain the process).
func (t *Task) ThreadsIn(ns *PIDNamespace) map[int32]*Task {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[int32]*Task{}
	for th := range t.Proc.threads {
		if id := th.id.in(ns); id != 0 {
			out[id] = th
		}
	}
	return out
}

// ProcStatus is what /proc/[pid]/stat and status show of a task that kernel state
// decides. The IDs are those of the namespace Status is given.
type ProcStatus struct {
	TGID, PGID, SID, PPID int32
	Threads               int
	// Signal sets (bit n-1 for signal n): those pending for the task alone (SigPnd),
	// the process-directed ones pending (ShdPnd, whichever thread they wait on), the
	// task's blocked ones, and the process's ignored and caught ones.
	Pending, SharedPending, Blocked, Ignored, Caught uint64
	// Queued counts the signals pending for the task, each queued real-time signal
	// instance on its own (SigQ; Linux counts those of the user).
	Queued int
}

// Status returns t's ProcStatus, its IDs as ns sees them.
func (t *Task) Status(ns *PIDNamespace) ProcStatus {
	k := t.k
	k.mu.Lock()
	p := t.Proc
	s := ProcStatus{TGID: ns.IDOfProcess(p), PGID: p.pgrp.in(ns), SID: p.sess.in(ns), Threads: len(p.threads)}
	if p.exit != nil {
		s.Threads = 1 // the leader, until reaped (signal->nr_threads)
	}
	if p.parent != nil {
		s.PPID = ns.IDOfProcess(p.parent)
	}
	for i, a := range p.sig {
		switch a.Handler {
		case sigDfl:
		case sigIgn:
			s.Ignored |= 1 << i
		default:
			s.Caught |= 1 << i
		}
	}
	k.mu.Unlock()
	elsewhere := t.sharedElsewhere()
	t.sigMu.Lock()
	s.Pending, s.SharedPending, s.Blocked = t.pending&^t.shared, t.pending&t.shared|elsewhere, t.SigMask
	s.Queued = t.queuedCountLocked() + bits.OnesCount64(elsewhere&^t.pending)
	t.sigMu.Unlock()
	return s
}
