package kernel

import (
	"encoding/binary"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
)

// Process is a thread group: today one task. Processes form the tree fork makes: each
// has a parent (nil for the container's init) and children; an exited process is a
// zombie, holding its exit status, until its parent reaps it with wait4. A process
// whose parent exits is given to init; when init exits, every other process is killed,
// as in a PID namespace.
//
// The kernel's mu guards the tree and every process's state.
type Process struct {
	PID    int32
	parent *Process
	// parentThread is the thread of parent that made the process (or the one it was
	// given to when that thread exited): its exit sends the parent-death signal.
	parentThread *Task
	// subreaper is prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are given to
	// the nearest live subreaper ancestor rather than init.
	subreaper bool
	// pgid and sid are the process group and session (k.mu guards them); didExec is
	// set once the process has exec'd, after which its parent may not move it.
	pgid, sid int32
	didExec   bool
	// deadUsage is the CPU time of the process's exited threads; childUsage that of its
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
	// parked are the process-directed signals every thread blocked when they were
	// sent, queued on the thread signalTarget fell back to: the first thread to
	// unblock one takes it (SetSigMask), as Linux's shared pending set. k.mu.
	parked uint64
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
}

// Parent returns the process's parent's PID, 0 for init.
func (p *Process) ParentPID(k *Kernel) int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.parent == nil {
		return 0
	}
	return p.parent.PID
}

// newProcess registers a process for t, child of parent (nil: init), under a new PID.
func (k *Kernel) newProcess(t *Task, parent *Process) *Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nextPID++
	p := &Process{PID: k.nextPID, parent: parent, task: t, children: map[*Process]struct{}{},
		threads: map[*Task]struct{}{t: {}}}
	p.cpu.threads = []*Task{t}
	if parent != nil {
		p.parentThread = parent.liveTask()
		parent.children[p] = struct{}{}
		p.sig = parent.sig
		p.pgid, p.sid = parent.pgid, parent.sid
		p.ctty = parent.ctty
		p.container = parent.container
	} else {
		p.pgid, p.sid = p.PID, p.PID // init leads its own group and session
	}
	k.procs[p.PID] = p
	k.tasks[p.PID] = t
	return p
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
	t.accountSys()
	t.FlushUsage()
	t.dropTimerSignals()
	k.mu.Lock()
	delete(p.threads, t)
	delete(k.tasks, t.TID)
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
		if d.sig == unix.SIGKILL {
			d.target.KillWith(d.sig)
			continue
		}
		var info arch.SignalInfo
		info.Code = arch.SI_USER
		binary.LittleEndian.PutUint32(info.Fields[0:], uint32(d.from.Proc.PID))
		binary.LittleEndian.PutUint32(info.Fields[4:], d.from.Creds.RealUID)
		d.target.Queue(int(d.sig), info)
	}
}

// reaperLocked returns the process p's orphans go to, as kernel/exit.c:find_new_reaper:
// the nearest live ancestor that is a child subreaper, else init (nil if init is gone).
// k.mu is held.
func (k *Kernel) reaperLocked(p *Process) *Process {
	for a := p.parent; a != nil; a = a.parent {
		if a.subreaper && a.exit == nil && a.liveTask() != nil {
			return a
		}
	}
	if init := k.procs[1]; init != nil && init.exit == nil {
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

// exited records that t's process ended with s: its children go to init (or, if it is
// init, are killed), its parent is told.
func (t *Task) exited(s ExitStatus) {
	k := t.k
	p := t.Proc
	p.deleteTimers()
	k.mu.Lock()
	p.exit = &s
	p.stopItimersLocked()
	hup := p.leaderExitedLocked(k)
	init := k.procs[1]
	var orphans []*Process
	for c := range p.children {
		orphans = append(orphans, c)
	}
	reaper := k.reaperLocked(p)
	var zombies []*Process // orphans already dead: their new parent is told
	for _, c := range orphans {
		delete(p.children, c)
		if p == init || reaper == nil {
			c.parent, c.parentThread = nil, nil
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
			delete(k.procs, p.PID)
		} else {
			parent = p.parent.liveTask()
		}
	} else {
		delete(k.procs, p.PID) // nobody will reap it
	}
	var kill []*Task
	if p == init {
		for _, q := range k.procs {
			for th := range q.threads {
				kill = append(kill, th)
			}
		}
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
	// Waiters wake only now, with SIGCHLD already pending (do_notify_parent queues the
	// signal, then wakes the parent): a parent back from wait4 sees it in sigpending.
	k.mu.Lock()
	k.changedLocked()
	k.mu.Unlock()
	for _, other := range kill {
		other.Kill()
	}
}

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
// waiting.
func (t *Task) Wait(o WaitOpts) (WaitResult, error) {
	k := t.k
	for {
		k.mu.Lock()
		group := o.ID
		if group == 0 {
			group = t.Proc.pgid
		}
		matched := false
		for c := range t.Proc.children {
			if o.Which == WaitPID && c.PID != o.ID || o.Which == WaitGroup && c.pgid != group {
				continue
			}
			matched = true
			if c.exit != nil && !o.NotExits {
				r := WaitResult{PID: c.PID, UID: c.task.Creds.RealUID, Status: *c.exit, Usage: c.deadUsage}
				r.Usage.add(c.childUsage)
				if !o.NoReap {
					delete(t.Proc.children, c)
					delete(k.procs, c.PID)
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
				r := WaitResult{PID: c.PID, UID: c.task.Creds.UID, Stopped: c.reportStop, Usage: c.usageLocked()}
				if !o.NoReap {
					c.reportStop = 0
				}
				k.mu.Unlock()
				return r, nil
			}
			if o.Continued && c.reportCont {
				r := WaitResult{PID: c.PID, UID: c.task.Creds.UID, Continued: true, Usage: c.usageLocked()}
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
		select {
		case <-gen:
		case <-t.Interrupted():
			return WaitResult{}, ERESTARTSYS
		}
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
}

// ForkWith is Fork with clone's extras.
func (t *Task) ForkWith(vfork bool, o ForkOpts) (int32, error) {
	k := t.k
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
	c := k.newTask(m, t.FDs.Fork(), t.FS.Fork(), t.Creds.Copy(), st, t.Proc)
	c.Limits, c.Exe, c.Comm, c.CPUMask = t.Limits, t.Exe, t.Comm, t.CPUMask
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
		t.CopyOutObj(o.ParentSetTID, c.TID)
	}
	if o.ChildSetTID != 0 {
		c.CopyOutObj(o.ChildSetTID, c.TID)
	}
	c.ClearChildTID = o.ChildClearTID
	if o.PidFD != nil {
		o.PidFD.bind(c, false)
	}
	var done chan struct{}
	if vfork {
		done = make(chan struct{})
		k.mu.Lock()
		c.Proc.vforkDone = done
		k.mu.Unlock()
	}
	go c.Run()
	if vfork {
		select {
		case <-done:
		case <-t.killed:
		}
	}
	return c.Proc.PID, nil
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
	delete(k.procs, p.PID)
	delete(k.tasks, p.PID)
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
		Exe: t.Exe, Comm: t.Comm, CPUMask: t.CPUMask, SigMask: t.SigMask,
		NoNewPrivs: t.NoNewPrivs, Undumpable: t.Undumpable,
		ArgvStart: t.ArgvStart, ArgvEnd: t.ArgvEnd, EnvvStart: t.EnvvStart, EnvvEnd: t.EnvvEnd}
	k.mu.Lock()
	k.nextPID++
	c.TID = k.nextPID
	c.Creds.Caller = c.TID
	t.Proc.threads[c] = struct{}{}
	t.Proc.cpu.add(c)
	k.tasks[c.TID] = c
	k.mu.Unlock()
	// The TIDs are in memory before the thread can run (and exit, clearing its
	// clear_child_tid), as copy_process does: pthread_join waits on that word.
	if o.ParentSetTID != 0 {
		t.CopyOutObj(o.ParentSetTID, c.TID)
	}
	if o.ChildSetTID != 0 {
		c.CopyOutObj(o.ChildSetTID, c.TID)
	}
	c.ClearChildTID = o.ChildClearTID
	if o.PidFD != nil {
		o.PidFD.bind(c, true)
	}
	go c.Run()
	return c.TID, nil
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

// lookupProcess returns the process of the task pid names for t (0: t's own), nil if
// there is none. A thread's ID names its process, as in Linux's getpgid. k.mu must be
// held.
func (t *Task) lookupProcess(pid int32) *Process {
	if pid == 0 {
		return t.Proc
	}
	if p := t.k.procs[pid]; p != nil {
		return p
	}
	if task := t.k.tasks[pid]; task != nil {
		return task.Proc
	}
	return nil
}

// ProcessGroup returns the process group and session of process pid (0: t's), as
// getpgid(2) and getsid(2).
func (t *Task) ProcessGroup(pid int32) (pgid, sid int32, err error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	p := t.lookupProcess(pid)
	if p == nil {
		return 0, 0, unix.ESRCH
	}
	return p.pgid, p.sid, nil
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
	p := t.lookupProcess(pid)
	if p == nil || p.exit != nil {
		return unix.ESRCH
	}
	if pid != 0 && p.PID != pid {
		return unix.EINVAL // a thread other than the group leader
	}
	if pgid == 0 {
		pgid = p.PID
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
	if pgid != p.PID {
		found := false
		for _, q := range k.procs {
			if q.pgid == pgid && q.sid == t.Proc.sid {
				found = true
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	p.pgid = pgid
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
	p.pgid, p.sid = p.PID, p.PID
	p.ctty = nil
	return p.PID, nil
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

// ProcStatus is what /proc/[pid]/stat and status show of a task that kernel state
// decides.
type ProcStatus struct {
	TGID, PGID, SID int32
	Threads         int
	// Signal sets (bit n-1 for signal n): the task's pending ones (a process-directed
	// signal is pending on the thread chosen for it: there is no process-wide set),
	// blocked, and the process's ignored and caught ones.
	Pending, Blocked, Ignored, Caught uint64
}

// Status returns t's ProcStatus.
func (t *Task) Status() ProcStatus {
	k := t.k
	k.mu.Lock()
	p := t.Proc
	s := ProcStatus{TGID: p.PID, PGID: p.pgid, SID: p.sid, Threads: len(p.threads)}
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
	t.sigMu.Lock()
	s.Pending, s.Blocked = t.pending, t.SigMask
	t.sigMu.Unlock()
	return s
}
