package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// Job control: group stop and continue, as kernel/signal.c.
//
// A stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) whose action is the default is
// acted on when a thread dequeues it (deliverPending): the process enters a group stop
// (stopGroup). Every other thread is interrupted, so that a blocking call ends with its
// restart code and application code stops; each thread then waits at the top of
// deliverPending (waitWhileStopped) until SIGCONT or SIGKILL. After SIGCONT the
// interrupted calls are settled as for any signal with no handler: made again (a
// sleep resumes with the time it had left, through restart_syscall).
//
// At generation (Queue), as prepare_signal: SIGCONT continues a stopped process even
// if it blocks or ignores SIGCONT (the threads wake only once SIGCONT is pending, so
// that its handler, not a restart, settles their interrupted calls), and discards
// every pending stop signal; a stop
// signal discards a pending SIGCONT. SIGTSTP, SIGTTIN and SIGTTOU are discarded at
// delivery when the process group is orphaned (SIGSTOP never is).
//
// The parent learns of a stop and a continue by SIGCHLD (CLD_STOPPED, CLD_CONTINUED)
// unless its SIGCHLD action has SA_NOCLDSTOP, and by wait4 with WUNTRACED or
// WCONTINUED and waitid with WSTOPPED or WCONTINUED, each event reported once (WNOWAIT
// leaves it). The stop is reported as soon as the thread that dequeued the signal
// stops, not after the last thread has (Linux waits for all of them).
//
// A process group that an exit orphans while one of its members is stopped is sent
// SIGHUP and SIGCONT, so that it can't stay stopped with nobody to continue it.
//
// The state lives in Process under k.mu; a thread's pending set is changed under its
// sigMu, taken inside k.mu.

// saNocldstop is SA_NOCLDSTOP.
const saNocldstop = 1

// SIGCHLD's si_code for a child's state change (include/uapi/asm-generic/siginfo.h).
const (
	cldExited    = 1
	cldKilled    = 2
	cldStopped   = 5
	cldContinued = 6
)

// jobControlOnQueue is what generating sig does to p's job-control state, before sig
// is queued (prepare_signal): it drops the pending signals sig cancels. For a SIGCONT
// to a stopped process it returns resume, to be called once the SIGCONT is pending (or
// was dropped as ignored): a thread the continue wakes must find it there, or it would
// restart its interrupted call instead of running SIGCONT's handler.
func (p *Process) jobControlOnQueue(k *Kernel, sig int) (resume func()) {
	bit := sigBit(sig)
	if sig != int(unix.SIGCONT) && bit&stopSignals == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.exit != nil || p.groupExit != nil {
		return nil
	}
	drop := sigBit(int(unix.SIGCONT))
	if sig == int(unix.SIGCONT) {
		drop = stopSignals
	}
	for th := range p.threads {
		th.sigMu.Lock()
		th.pending &^= drop
		th.sigMu.Unlock()
	}
	if sig != int(unix.SIGCONT) || !p.stopped {
		return nil
	}
	return func() {
		k.mu.Lock()
		if !p.stopped { // continued meanwhile
			k.mu.Unlock()
			return
		}
		p.stopped = false
		close(p.contCh)
		p.reportStop, p.reportCont = 0, true
		parent := p.parentToNotifyLocked()
		k.mu.Unlock()
		k.stateChanged(parent, p, cldContinued, int32(unix.SIGCONT))
	}
}

// stateChanged sends parent (if not nil) SIGCHLD for child's stop or continue, then
// wakes the waiters, so that a parent that wait finds the change also has the signal,
// as do_notify_parent_cldstop.
func (k *Kernel) stateChanged(parent *Task, child *Process, code, status int32) {
	if parent != nil {
		notifyParent(parent, child, code, status)
	}
	k.mu.Lock()
	k.changedLocked()
	k.mu.Unlock()
}

// parentToNotifyLocked is the parent task to send SIGCHLD for a stop or continue, nil
// if there is none or it asked SA_NOCLDSTOP. k.mu is held.
func (p *Process) parentToNotifyLocked() *Task {
	if p.parent == nil || p.parent.sig[unix.SIGCHLD-1].Flags&saNocldstop != 0 {
		return nil
	}
	return p.parent.liveTask()
}

// notifyParent sends parent SIGCHLD for child with si_code code and si_status status;
// si_pid is the child's ID in the parent's PID namespace (do_notify_parent).
func notifyParent(parent *Task, child *Process, code, status int32) {
	var info arch.SignalInfo
	info.Code = code
	le := binary.LittleEndian
	le.PutUint32(info.Fields[0:], uint32(parent.Proc.ns.IDOfProcess(child)))
	le.PutUint32(info.Fields[4:], child.task.Creds.UID)
	le.PutUint32(info.Fields[8:], uint32(status))
	parent.Queue(int(unix.SIGCHLD), info)
}

// stopGroup starts a group stop of t's process by sig (do_signal_stop).
func (t *Task) stopGroup(sig int) {
	k := t.k
	p := t.Proc
	k.mu.Lock()
	if p.stopped || p.groupExit != nil || t.isKilled() {
		k.mu.Unlock()
		return
	}
	p.stopped = true
	p.contCh = make(chan struct{})
	p.reportStop, p.reportCont = sig, false
	for th := range p.threads {
		if th != t {
			th.sigMu.Lock()
			th.interruptLocked()
			th.sigMu.Unlock()
		}
	}
	parent := p.parentToNotifyLocked()
	k.mu.Unlock()
	k.stateChanged(parent, p, cldStopped, int32(sig))
}

// waitWhileStopped blocks t while its process is stopped, until SIGCONT or SIGKILL.
func (t *Task) waitWhileStopped() {
	k := t.k
	k.mu.Lock()
	stopped, cont := t.Proc.stopped, t.Proc.contCh
	k.mu.Unlock()
	if !stopped {
		return
	}
	t.SleepStart()
	defer t.SleepFinish()
	select {
	case <-cont:
	case <-t.killed:
	}
}

// orphanedPgrpLocked reports whether process group pgid is orphaned: no member has a
// parent in another group of the same session (will_become_orphaned_pgrp). k.mu is
// held.
func (k *Kernel) orphanedPgrpLocked(pgid int32) bool {
	for _, q := range k.procs {
		if q.pgid != pgid || q.exit != nil {
			continue
		}
		if par := q.parent; par != nil && par.exit == nil && par.pgid != pgid && par.sid == q.sid {
			return false
		}
	}
	return true
}

// orphanedStoppedGroupsLocked returns the process groups p's exit orphans that have
// a stopped member: they are sent SIGHUP and SIGCONT (kill_orphaned_pgrp). p was a
// link to the outside for its own group (through its parent) and for its children's
// groups (through itself). p.exit is set and its children reparented. k.mu is held.
func (p *Process) orphanedStoppedGroupsLocked(k *Kernel, children []*Process) []int32 {
	var groups []int32
	consider := func(pgid int32) {
		for _, g := range groups {
			if g == pgid {
				return
			}
		}
		if k.orphanedPgrpLocked(pgid) && k.stoppedInPgrpLocked(pgid) {
			groups = append(groups, pgid)
		}
	}
	if par := p.parent; par != nil && par.pgid != p.pgid && par.sid == p.sid {
		consider(p.pgid)
	}
	for _, c := range children {
		if c.pgid != p.pgid && c.sid == p.sid {
			consider(c.pgid)
		}
	}
	return groups
}

// stoppedInPgrpLocked reports whether a live process of group pgid is stopped. k.mu
// is held.
func (k *Kernel) stoppedInPgrpLocked(pgid int32) bool {
	for _, q := range k.procs {
		if q.pgid == pgid && q.exit == nil && q.stopped {
			return true
		}
	}
	return false
}

// stopDiscarded reports whether the stop signal sig, dequeued by t, is discarded
// because t's process group is orphaned (SIGSTOP never is).
func (t *Task) stopDiscarded(sig int) bool {
	if sig == int(unix.SIGSTOP) {
		return false
	}
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.k.orphanedPgrpLocked(t.Proc.pgid)
}

// RestartBlock makes a system call that is interrupted with ERESTART_RESTARTBLOCK
// continue, after a signal with no handler, as fn (restart_syscall(2) calls it), as
// Linux's restart_block: a sleep resumes with the time it had left.
func (t *Task) RestartBlock(fn func(t *Task) (uintptr, error)) { t.restartFn = fn }

// RestartSyscall runs the continuation RestartBlock set (restart_syscall(2)); with
// none, EINTR as Linux's do_no_restart_syscall.
func (t *Task) RestartSyscall() (uintptr, error) {
	fn := t.restartFn
	t.restartFn = nil
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn(t)
}
