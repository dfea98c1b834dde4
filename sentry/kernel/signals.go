package kernel

import (
	"encoding/binary"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// Signals. Each process keeps the dispositions (rt_sigaction), each task its mask, its
// pending signals (one of each standard signal, with its siginfo; every instance of a
// real-time one, in order: addPendingLocked) and its alternate stack. Sending a signal queues it and, if it is not blocked, wakes the task: a
// blocking system call ends with a restart code, and running application code is
// interrupted through the platform. After every stop the run loop delivers what is
// pending and unblocked, lowest number first: an ignored signal is dropped, a default
// action that terminates ends the thread group, and a handler gets a frame on the stack
// (arch.BuildSignalFrame) with the mask widened, one handler per return to the
// application. rt_sigreturn restores what the frame saved.
//
// A process-directed signal goes to a thread that doesn't block it (signalTarget), else
// waits on the leader, marked as the process's (Task.shared). That marked signal is
// what Linux keeps in the process's shared pending set, and every thread sees it as
// such: a thread that unblocks it takes it over (adoptShared); rt_sigpending, a
// signalfd's readiness and reads, and rt_sigtimedwait of any thread see and take it
// (Pending, DequeueSignal), and its queueing wakes their waits (SignalQueued).
//
// A system call interrupted by a signal returns a restart code; at delivery it becomes
// EINTR if a handler runs without SA_RESTART (ERESTARTSYS) or at all (ERESTARTNOHAND),
// and otherwise the call is made again, as Linux's handle_signal. Stop signals and
// SIGCONT are job control (jobctl.go). A PID namespace's init drops at generation the
// signals whose action is the default, but SIGKILL and SIGSTOP from an ancestor
// namespace (post's force; pidns.go); si_pid is the sender's ID, 0 for a receiver that
// can't see it (sendTo).

// SigAction is struct sigaction as the kernel takes it (struct kernel_sigaction).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SignalActions are a process's dispositions, by signal number - 1.
type SignalActions [64]SigAction

// Restart codes: what an interrupted system call returns inside the kernel
// (include/linux/errno.h).
const (
	ERESTARTSYS           = unix.Errno(512)
	ERESTARTNOINTR        = unix.Errno(513)
	ERESTARTNOHAND        = unix.Errno(514)
	ERESTART_RESTARTBLOCK = unix.Errno(516)
)

// sigaction flags (arch/x86/include/uapi/asm/signal.h).
const (
	saRestorer  = 0x04000000
	saOnstack   = 0x08000000
	saRestart   = 0x10000000
	saNodefer   = 0x40000000
	saResethand = 0x80000000
	saNocldwait = 0x2
	sigIgn      = 1
	sigDfl      = 0
)

func sigBit(sig int) uint64 { return 1 << (sig - 1) }

// Signal numbers that can't be caught, blocked or ignored.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// ignoredByDefault are the signals whose default action is to do nothing.
const ignoredByDefault = 1<<(unix.SIGCHLD-1) | 1<<(unix.SIGURG-1) | 1<<(unix.SIGWINCH-1) | 1<<(unix.SIGCONT-1)

// stopSignals stop a process by default (jobctl.go).
const stopSignals = 1<<(unix.SIGSTOP-1) | 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1)

// SigAction returns the disposition of sig and, if act is not nil, replaces it.
func (t *Task) SigAction(sig int, act *SigAction) SigAction {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	old := t.Proc.sig[sig-1]
	if act != nil {
		t.Proc.sig[sig-1] = *act
	}
	return old
}

// SetSigMask sets the blocked signals (SIGKILL and SIGSTOP can't be blocked); a
// pending signal it unblocks is delivered when the system call returns.
func (t *Task) SetSigMask(mask uint64) {
	t.sigMu.Lock()
	unblocked := t.SigMask &^ mask
	t.SigMask = mask &^ unblockable
	if t.pending&^t.SigMask != 0 {
		t.interruptLocked() // a pending signal is now deliverable: stop waiting
	}
	t.sigMu.Unlock()
	if unblocked != 0 {
		t.adoptShared(unblocked &^ unblockable)
	}
}

// blocks reports whether t blocks sig.
func (t *Task) blocks(sig int) bool {
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	return t.SigMask&sigBit(sig) != 0
}

// adoptShared takes over the process-directed signals of sigs that wait, blocked, on
// other threads of the process: a thread that unblocks a signal gets it from the
// process's pending set (there is one set per thread here; a process-directed signal
// sits on the thread signalTarget chose when every thread blocked it).
func (t *Task) adoptShared(sigs uint64) {
	k := t.k
	k.mu.Lock()
	others := t.Proc.threadsBesidesLocked(t)
	k.mu.Unlock()
	for _, o := range others {
		if sigs == 0 {
			return
		}
		o.sigMu.Lock()
		move := o.pending & o.shared & o.SigMask & sigs
		var infos [64][]arch.SignalInfo
		for b := move; b != 0; b &= b - 1 {
			sig := bits.TrailingZeros64(b) + 1
			infos[sig-1] = append([]arch.SignalInfo{o.pendInfo[sig-1]}, o.pendMore[sig-1]...)
			o.pendMore[sig-1] = nil
		}
		o.pending &^= move
		o.shared &^= move
		o.sigMu.Unlock()
		if move == 0 {
			continue
		}
		sigs &^= move
		t.sigMu.Lock()
		for b := move; b != 0; b &= b - 1 {
			sig := bits.TrailingZeros64(b) + 1
			for _, info := range infos[sig-1] {
				t.addPendingLocked(sig, info, true)
			}
		}
		if t.pending&^t.SigMask != 0 {
			t.interruptLocked()
		}
		t.sigMu.Unlock()
	}
}

// resetHandlers is what exec does to dispositions: handlers go back to the default,
// ignored signals stay ignored; the alternate stack is gone.
func (t *Task) resetHandlers() {
	t.resetActions()
	t.altStack = arch.SignalStack{Flags: arch.SS_DISABLE}
}

// resetActions sets every handled signal's action to the default; ignored ones stay
// ignored (flush_signal_handlers).
func (t *Task) resetActions() {
	t.k.mu.Lock()
	for i := range t.Proc.sig {
		if t.Proc.sig[i].Handler != sigIgn {
			t.Proc.sig[i] = SigAction{}
		}
	}
	t.k.mu.Unlock()
}

// Interrupted implements vfs.Context: it is closed when the task must stop waiting,
// because a signal it doesn't block is pending or it was killed.
func (t *Task) Interrupted() <-chan struct{} {
	t.sleeping.Store(true) // a blocking wait is next (RunState)
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	return t.intr
}

// interruptLocked wakes the task: its blocking call ends, its application code stops.
func (t *Task) interruptLocked() {
	select {
	case <-t.intr:
	default:
		close(t.intr)
	}
	t.ctx.Interrupt()
}

// post sends a signal the sender has already checked to t: nothing for signal 0
// (which only checks), SIGKILL kills, any other is queued with info. force is set for
// a signal from an ancestor PID namespace (or the runtime, outside the sandbox): only
// such a SIGKILL or SIGSTOP reaches a namespace's init that has no handler for it.
func (t *Task) post(sig unix.Signal, info arch.SignalInfo, force bool) {
	switch sig {
	case 0:
	case unix.SIGKILL:
		t.k.mu.Lock()
		dropped := t.Proc.unkillableLocked() && !force
		t.k.mu.Unlock()
		if !dropped {
			t.KillWith(sig)
		}
	default:
		t.queue(int(sig), info, force)
	}
}

// sendTo sends sig with info from t to target, as send_signal_locked: a sender that
// target's PID namespace does not contain (an ancestor's) is forced (post) and
// appears as PID 0 in si_pid.
func (t *Task) sendTo(target *Task, sig unix.Signal, info arch.SignalInfo) {
	force := !t.visibleFrom(target)
	if force && hasSenderPID(info.Code) {
		binary.LittleEndian.PutUint32(info.Fields[0:], 0)
	}
	target.post(sig, info, force)
}

// hasSenderPID reports whether a siginfo with code carries si_pid and si_uid first
// (the SIL_KILL and SIL_RT layouts of a signal a process sends).
func hasSenderPID(code int32) bool {
	switch code {
	case arch.SI_USER, arch.SI_TKILL, siQueue, SI_MESGQ:
		return true
	}
	return false
}

// siQueue is SI_QUEUE (sigqueue(3)).
const siQueue = -1

// senderInfo is the siginfo of a signal t sends with code (SI_USER, SI_TKILL): si_pid
// is t's process ID in its own namespace (sendTo clears it for a target that can't
// see t), si_uid its real user ID.
func (t *Task) senderInfo(code int32) arch.SignalInfo {
	var info arch.SignalInfo
	info.Code = code
	binary.LittleEndian.PutUint32(info.Fields[0:], uint32(t.ProcessID()))
	binary.LittleEndian.PutUint32(info.Fields[4:], t.Creds.RealUID)
	return info
}

// Queue makes sig pending for t with info, and wakes t if it doesn't block it. It
// reports whether the signal was queued: not if it is ignored, or a standard signal
// already pending (one of each is kept), or too many are queued (addPendingLocked).
func (t *Task) Queue(sig int, info arch.SignalInfo) bool { return t.queue(sig, info, false) }

// queue is Queue; force is post's. A signal whose action is the default is ignored by
// a namespace's init, unless forced and SIGSTOP (sig_task_ignored).
func (t *Task) queue(sig int, info arch.SignalInfo, force bool) bool {
	info.Signo = int32(sig)
	if resume := t.Proc.jobControlOnQueue(t.k, sig); resume != nil {
		defer resume() // after the SIGCONT is pending (sigMu's deferred unlock runs first)
	}
	t.k.mu.Lock()
	act := t.Proc.sig[sig-1]
	unkillable := t.Proc.unkillableLocked()
	shared := t.sharedNext&sigBit(sig) != 0 // sent to the process (signalTarget)
	t.sharedNext &^= sigBit(sig)
	var others []*Task
	if shared && t.blocks(sig) {
		// A thread may have unblocked it since signalTarget chose t: it goes there.
		for o := range t.Proc.threads {
			if o != t && !o.blocks(sig) {
				o.sharedNext |= sigBit(sig)
				t.k.mu.Unlock()
				return o.queue(sig, info, force)
			}
		}
		// It waits on t for the whole process: the other threads' signalfds and
		// rt_sigtimedwait see it too, so their waits must wake (after sigMu's unlock).
		others = t.Proc.threadsBesidesLocked(t)
		defer func() {
			for _, o := range others {
				o.sigMu.Lock()
				o.wakeQueuedLocked()
				o.sigMu.Unlock()
			}
		}()
	}
	t.k.mu.Unlock()
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	ignored := act.Handler == sigIgn || act.Handler == sigDfl && sigBit(sig)&ignoredByDefault != 0 ||
		act.Handler == sigDfl && unkillable && !(force && sig == int(unix.SIGSTOP))
	if ignored && t.SigMask&sigBit(sig) == 0 {
		return false // dropped when generated, as sig_ignored
	}
	queued := t.addPendingLocked(sig, info, shared)
	if queued {
		t.wakeQueuedLocked()
	} else {
		others = nil // nothing new to see
	}
	if t.SigMask&sigBit(sig) == 0 {
		t.interruptLocked()
	}
	return queued
}

// sigRTMin is the first real-time signal (the kernel's SIGRTMIN; glibc keeps two).
const sigRTMin = 32

// maxQueuedSignals bounds the signals pending on one thread: the default
// RLIMIT_SIGPENDING (DefaultLimits), so a process can't fill the Sentry's memory.
const maxQueuedSignals = 63432

// addPendingLocked makes sig pending with info and reports whether it was added: a
// standard signal already pending is not (the one pending stands for both), a
// real-time one queues behind the others unless maxQueuedSignals are pending already
// (then it is dropped, where Linux fails a sigqueue with EAGAIN; RLIMIT_SIGPENDING is
// not enforced). shared marks a new signal as the process's. t.sigMu is held.
func (t *Task) addPendingLocked(sig int, info arch.SignalInfo, shared bool) bool {
	bit := sigBit(sig)
	if t.pending&bit == 0 {
		t.pending |= bit
		t.pendInfo[sig-1] = info
		if shared {
			t.shared |= bit
		} else {
			t.shared &^= bit
		}
		return true
	}
	if sig < sigRTMin || t.queuedCountLocked() >= maxQueuedSignals {
		return false
	}
	t.pendMore[sig-1] = append(t.pendMore[sig-1], info)
	return true
}

// queuedCountLocked is the number of signals pending on t, every queued instance of a
// real-time signal counted. t.sigMu is held.
func (t *Task) queuedCountLocked() int {
	n := bits.OnesCount64(t.pending)
	for b := t.pending &^ (sigBit(sigRTMin) - 1); b != 0; b &= b - 1 {
		n += len(t.pendMore[bits.TrailingZeros64(b)])
	}
	return n
}

// wakeQueuedLocked closes the channel SignalQueued handed out, if any. t.sigMu is held.
func (t *Task) wakeQueuedLocked() {
	if t.queued != nil {
		close(t.queued)
		t.queued = nil
	}
}

// Pending returns the signals pending for t: its own and the process-directed ones
// waiting on other threads of its process (Linux's task and shared pending sets).
func (t *Task) Pending() uint64 {
	elsewhere := t.sharedElsewhere()
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	return t.pending | elsewhere
}

// sharedElsewhere returns the process-directed signals pending on the threads of t's
// process other than t.
func (t *Task) sharedElsewhere() uint64 {
	t.k.mu.Lock()
	others := t.Proc.threadsBesidesLocked(t)
	t.k.mu.Unlock()
	var s uint64
	for _, o := range others {
		o.sigMu.Lock()
		s |= o.pending & o.shared
		o.sigMu.Unlock()
	}
	return s
}

// SignalQueued returns a channel closed at the next signal queued to t, blocked or not
// (signalfd waits on it for blocked signals).
func (t *Task) SignalQueued() <-chan struct{} {
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	if t.queued == nil {
		t.queued = make(chan struct{})
	}
	return t.queued
}

// DequeueSignal takes the lowest pending signal in mask, blocked or not, with its
// siginfo, as dequeue_signal does for signalfd and rt_sigtimedwait; 0 if none is
// pending. As Linux's, it looks at t's own pending signals first, then at the
// process's: the process-directed ones waiting on other threads (sharedElsewhere).
func (t *Task) DequeueSignal(mask uint64) (int, arch.SignalInfo) {
	t.sigMu.Lock()
	sig, info := t.takeLocked(mask)
	t.sigMu.Unlock()
	if sig != 0 {
		return sig, info
	}
	t.k.mu.Lock()
	others := t.Proc.threadsBesidesLocked(t)
	t.k.mu.Unlock()
	for {
		// The lowest such signal of all the threads, then the first thread holding it
		// (another may take it meanwhile: then look again).
		var all uint64
		for _, o := range others {
			o.sigMu.Lock()
			all |= o.pending & o.shared & mask
			o.sigMu.Unlock()
		}
		if all == 0 {
			return 0, arch.SignalInfo{}
		}
		low := all & -all
		for _, o := range others {
			o.sigMu.Lock()
			sig, info := o.takeLocked(o.pending & o.shared & low)
			o.sigMu.Unlock()
			if sig != 0 {
				return sig, info
			}
		}
		mask &^= low // gone, or a stale timer signal that takeLocked dropped
	}
}

// takeLocked takes the lowest pending signal in mask, dropping stale POSIX timer
// signals on the way; 0 if none is left. t.sigMu is held.
func (t *Task) takeLocked(mask uint64) (int, arch.SignalInfo) {
	for {
		ready := t.pending & mask
		if ready == 0 {
			return 0, arch.SignalInfo{}
		}
		sig := bits.TrailingZeros64(ready) + 1
		info := t.pendInfo[sig-1]
		if more := t.pendMore[sig-1]; len(more) > 0 {
			t.pendInfo[sig-1] = more[0] // the next instance; the signal stays pending
			t.pendMore[sig-1] = more[1:]
			if len(more) == 1 {
				t.pendMore[sig-1] = nil
			}
		} else {
			t.pending &^= sigBit(sig)
			t.shared &^= sigBit(sig)
		}
		if info.Code == SI_TIMER && !t.timerSignalLocked(&info) {
			continue
		}
		return sig, info
	}
}

// next takes the lowest pending unblocked signal, or returns 0 (and re-arms the
// interrupt channel when nothing else is left to wake for).
func (t *Task) next() (int, arch.SignalInfo) {
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	sig, info := t.takeLocked(^t.SigMask)
	if sig == 0 {
		select {
		case <-t.intr:
			if !t.isKilled() {
				t.intr = make(chan struct{})
			}
		default:
		}
	}
	return sig, info
}

// deliverPending acts on the pending signals after a stop (see the package comment).
func (t *Task) deliverPending() {
	for t.exit == nil {
		t.waitWhileStopped()
		sig, info := t.next()
		if sig == 0 {
			t.finishRestart(nil)
			return
		}
		act := t.SigAction(sig, nil)
		bit := sigBit(sig)
		switch {
		case sig == int(unix.SIGKILL):
			t.Exit(ExitStatus{Signal: unix.SIGKILL})
			return
		case act.Handler == sigIgn || act.Handler == sigDfl && bit&ignoredByDefault != 0:
			continue
		case act.Handler == sigDfl && bit&stopSignals != 0:
			if !t.stopDiscarded(sig) {
				t.stopGroup(sig)
			}
			continue
		case act.Handler == sigDfl:
			t.Exit(ExitStatus{Signal: unix.Signal(sig)})
			return
		}
		t.finishRestart(&act)
		if !t.handle(sig, info, act) {
			t.Exit(ExitStatus{Signal: unix.SIGSEGV}) // the frame couldn't be written
		}
		return
	}
}

// finishRestart settles a system call interrupted by a signal: EINTR, or made again.
func (t *Task) finishRestart(act *SigAction) {
	code := t.restart
	if code == 0 {
		return
	}
	t.restart = 0
	eintr := act != nil && (code == ERESTARTNOHAND || code == ERESTART_RESTARTBLOCK ||
		code == ERESTARTSYS && act.Flags&saRestart == 0)
	r := &t.State.Regs
	if eintr {
		t.restartFn = nil
		r.Rax = ^uint64(unix.EINTR) + 1 // -EINTR
		return
	}
	// Make the call again: back to the syscall instruction, with its number.
	if t.savedMask != nil && act == nil {
		t.SetSigMask(*t.savedMask)
		t.savedMask = nil
	}
	r.Rip -= 2
	r.Rax = t.restartNr
	if code == ERESTART_RESTARTBLOCK && t.restartFn != nil {
		r.Rax = unix.SYS_RESTART_SYSCALL // continues as RestartBlock said
	}
}

// handle sets up a frame that runs the handler of sig, and reports whether it could.
func (t *Task) handle(sig int, info arch.SignalInfo, act SigAction) bool {
	if act.Flags&saRestorer == 0 {
		return false // x86-64 has no other way back: Linux fails the frame too
	}
	r := &t.State.Regs
	onAlt := t.altStack.Contains(r.Rsp)
	top := r.Rsp - arch.RedZone
	if act.Flags&saOnstack != 0 && t.altStack.Flags&arch.SS_DISABLE == 0 && !onAlt {
		top = t.altStack.Sp + t.altStack.Size
	}
	mask := t.SigMask
	if t.savedMask != nil {
		mask = *t.savedMask // sigsuspend's: restored when the handler returns
		t.savedMask = nil
	}
	alt := t.altStack
	if onAlt {
		alt.Flags |= arch.SS_ONSTACK
	}
	f := arch.BuildSignalFrame(t.State, top&^15, sig, &info, act.Handler, act.Restorer, mask, alt)
	if _, err := t.MM.CopyOut(uintptr(f.Addr), f.Data); err != nil {
		return false
	}
	newMask := t.SigMask | act.Mask
	if act.Flags&saNodefer == 0 {
		newMask |= sigBit(sig)
	}
	t.SetSigMask(newMask)
	if act.Flags&saResethand != 0 {
		t.SigAction(sig, &SigAction{})
	}
	return true
}

// SigReturn restores the state a signal frame saved (rt_sigreturn). The frame's
// ucontext is where the handler's return left the stack pointer. A frame that can't be
// read ends the thread group with SIGSEGV.
func (t *Task) SigReturn() uintptr {
	uc := uintptr(t.State.Regs.Rsp)
	data := make([]byte, arch.UcontextSize)
	if _, err := t.MM.CopyIn(uc, data); err != nil {
		t.Exit(ExitStatus{Signal: unix.SIGSEGV})
		return 0
	}
	mask, alt, err := arch.RestoreSignalFrame(t.State, data, func(addr uint64, dst []byte) error {
		_, err := t.MM.CopyIn(uintptr(addr), dst)
		return err
	})
	if err != nil {
		t.Exit(ExitStatus{Signal: unix.SIGSEGV})
		return 0
	}
	t.SetSigMask(mask)
	if alt.Flags&arch.SS_DISABLE != 0 || alt.Size >= minSigStkSz {
		alt.Flags &^= arch.SS_ONSTACK
		t.altStack = alt
	}
	return uintptr(t.State.Regs.Rax)
}

// minSigStkSz is MINSIGSTKSZ.
const minSigStkSz = 2048

// SigAltStack gets and sets the alternate signal stack, as sigaltstack(2).
func (t *Task) SigAltStack(set *arch.SignalStack) (arch.SignalStack, error) {
	old := t.altStack
	if old.Contains(t.State.Regs.Rsp) {
		old.Flags |= arch.SS_ONSTACK
	}
	if set != nil {
		if old.Flags&arch.SS_ONSTACK != 0 {
			return old, unix.EPERM
		}
		flags := int32(uint32(set.Flags) &^ (1 << 31)) // SS_AUTODISARM
		switch flags {
		case 0, arch.SS_ONSTACK:
			if set.Size < minSigStkSz {
				return old, unix.ENOMEM
			}
			t.altStack = arch.SignalStack{Sp: set.Sp, Size: set.Size}
		case arch.SS_DISABLE:
			t.altStack = arch.SignalStack{Flags: arch.SS_DISABLE}
		default:
			return old, unix.EINVAL
		}
	}
	return old, nil
}

// Suspend waits for a signal with mask in place of the task's, as rt_sigsuspend: the
// old mask comes back when the handler returns (or the call is made again).
func (t *Task) Suspend(mask uint64) error {
	old := t.SigMask
	t.savedMask = &old
	t.SetSigMask(mask)
	intr := t.Interrupted()
	t.SleepStart()
	<-intr
	t.SleepFinish()
	return ERESTARTNOHAND
}

// TemporarySigMask replaces t's signal mask for the length of a system call that takes
// one (ppoll, pselect6, epoll_pwait). The returned function ends it: if the call was
// interrupted (err is EINTR or a restart code), the old mask comes back only after the
// signal's handler has run, as with sigsuspend, so the signal the temporary mask let
// in is delivered under it; otherwise at once.
func (t *Task) TemporarySigMask(mask uint64) func(err error) {
	old := t.SigMask
	t.SetSigMask(mask)
	return func(err error) {
		switch err {
		case unix.EINTR, ERESTARTSYS, ERESTARTNOHAND, ERESTARTNOINTR, ERESTART_RESTARTBLOCK:
			t.savedMask = &old
		default:
			t.SetSigMask(old)
		}
	}
}

// SendSignal sends sig to process pid from t, as kill(2): sig 0 checks that the process
// exists; pid 0 names t's process group, -1 every process but init and t's, < -1 the
// process group -pid. IDs are those of t's PID namespace, and only processes it
// contains are found.
func (t *Task) SendSignal(pid int32, sig unix.Signal) error {
	if sig < 0 || sig > 64 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	ns := t.Proc.ns
	var targets []*Task
	found, denied := false, false
	for qid, q := range ns.procs {
		switch {
		case pid > 0 && qid == pid,
			pid == 0 && q.pgid == t.Proc.pgid,
			pid == -1 && qid != 1 && q != t.Proc,
			pid < -1 && q.pgrp.in(ns) == -pid:
			found = true
			if q.exit != nil || len(q.threads) == 0 {
				// A zombie (or one exiting) still has its PID and group: kill
				// finds it and succeeds, and the signal goes nowhere, as in Linux.
				// (Linux checks the permission against the zombie's credentials
				// first; it is allowed here.)
				continue
			}
			target := q.signalTarget(sig)
			if !t.mayKill(target, sig) {
				if sig != 0 {
					target.sharedNext &^= sigBit(int(sig)) // not sent after all
				}
				denied = true
				continue
			}
			targets = append(targets, target)
		}
	}
	k.mu.Unlock()
	// As kill_something_info: ESRCH if no process matched; EPERM if none of them may
	// be signalled, except for pid -1, which reports success.
	if !found {
		return unix.ESRCH
	}
	if len(targets) == 0 && denied && pid != -1 {
		return unix.EPERM
	}
	if sig == 0 {
		return nil
	}
	info := t.senderInfo(arch.SI_USER)
	for _, target := range targets {
		t.sendTo(target, sig, info)
	}
	return nil
}

// SigPipe raises SIGPIPE for a write that found no reader.
func (t *Task) SigPipe() {
	var info arch.SignalInfo
	info.Code = arch.SI_USER
	t.Queue(int(unix.SIGPIPE), info)
}

// childExited tells parent that child ended with s: SIGCHLD with its status.
func childExited(parent *Task, child *Process, s ExitStatus) {
	if s.Signal != 0 {
		notifyParent(parent, child, cldKilled, int32(s.Signal))
		return
	}
	notifyParent(parent, child, cldExited, int32(s.Code))
}

// Alarm arranges SIGALRM after secs seconds (0: none) and returns the seconds that were
// left of the previous alarm, as alarm(2): it is ITIMER_REAL without an interval, and
// the old value is rounded to the nearest second, never down to 0.
func (t *Task) Alarm(secs uint32) uint32 {
	old, _ := t.SetRealTimer(time.Duration(secs)*time.Second, 0)
	left := uint32(old / time.Second)
	if rem := old % time.Second; left == 0 && rem > 0 || rem >= time.Second/2 {
		left++
	}
	return left
}

// SetRealTimer sets the process's ITIMER_REAL, as setitimer(2): SIGALRM to the process
// after value (0: disarm), then every interval (0: once). It returns the timer's
// previous value and interval. The timer belongs to the process: it survives exec and
// is not inherited by fork.
func (t *Task) SetRealTimer(value, interval time.Duration) (oldValue, oldInterval time.Duration) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	oldValue, oldInterval = p.realTimerLocked()
	if p.alarm != nil {
		p.alarm.Stop()
		p.alarm = nil
	}
	p.alarmGen++
	p.alarmInterval = interval
	if value > 0 {
		p.alarmAt = time.Now().Add(value)
		p.armRealLocked(k, p.alarmGen, value)
	}
	return oldValue, oldInterval
}

// RealTimer returns the process's ITIMER_REAL, as getitimer(2).
func (t *Task) RealTimer() (value, interval time.Duration) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Proc.realTimerLocked()
}

// realTimerLocked is the time left on ITIMER_REAL (at least 1 µs while it is armed,
// as Linux reports) and its interval. k.mu must be held.
func (p *Process) realTimerLocked() (value, interval time.Duration) {
	if p.alarm != nil {
		value = time.Until(p.alarmAt)
		if value < time.Microsecond {
			value = time.Microsecond
		}
	}
	return value, p.alarmInterval
}

// armRealLocked starts the host timer for ITIMER_REAL generation gen, due in d. When it
// fires it sends SIGALRM to the process and, with an interval, re-arms from the due
// time (late expirations are not queued twice: a pending SIGALRM is one signal). k.mu
// must be held.
func (p *Process) armRealLocked(k *Kernel, gen uint64, d time.Duration) {
	p.alarm = time.AfterFunc(d, func() {
		k.mu.Lock()
		if p.alarmGen != gen || p.exit != nil {
			k.mu.Unlock()
			return
		}
		p.alarm = nil
		if p.alarmInterval > 0 {
			now := time.Now()
			next := p.alarmAt.Add(p.alarmInterval)
			if next.Before(now) {
				next = now.Add(p.alarmInterval - now.Sub(p.alarmAt)%p.alarmInterval)
			}
			p.alarmAt = next
			p.armRealLocked(k, gen, time.Until(next))
		}
		target := p.signalTarget(unix.SIGALRM)
		k.mu.Unlock()
		if target != nil {
			var info arch.SignalInfo
			info.Code = arch.SI_KERNEL
			target.Queue(int(unix.SIGALRM), info)
		}
	})
}

// signalTarget picks the thread a process-directed signal goes to: one that doesn't
// block it (or waits for it in rt_sigtimedwait), else the leader (complete_signal).
// k.mu is held.
func (p *Process) signalTarget(sig unix.Signal) *Task {
	if sig == 0 {
		return p.liveTask() // signal 0 only checks that the process exists
	}
	target := p.liveTask()
	for th := range p.threads {
		if th.SigMask&sigBit(int(sig)) == 0 || th.sigWaiting.Load()&sigBit(int(sig)) != 0 {
			target = th
			break
		}
	}
	if target != nil {
		target.sharedNext |= sigBit(int(sig)) // queue marks it process-directed
	}
	return target
}

// SendThreadSignal sends sig to thread tid (of process tgid, unless tgid is 0), as
// tgkill and tkill.
func (t *Task) SendThreadSignal(tgid, tid int32, sig unix.Signal) error {
	if sig < 0 || sig > 64 {
		return unix.EINVAL
	}
	ns := t.Proc.ns
	target := ns.TaskWithID(tid)
	if target == nil || tgid != 0 && ns.IDOfProcess(target.Proc) != tgid {
		return unix.ESRCH
	}
	t.k.mu.Lock()
	may := t.mayKill(target, sig)
	t.k.mu.Unlock()
	if !may {
		return unix.EPERM
	}
	if sig == 0 {
		return nil
	}
	t.sendTo(target, sig, t.senderInfo(arch.SI_TKILL))
	return nil
}

// SigTimedWait waits for a signal of mask to be pending and takes it, as
// rt_sigtimedwait's do_sigtimedwait: one already pending is taken at once; otherwise
// t waits until deadline (zero: forever; EAGAIN when it passes, at once for a past
// one) or until a signal outside mask interrupts it (EINTR: its handler runs, and the
// call is not restarted). SIGKILL and SIGSTOP can't be waited for.
func (t *Task) SigTimedWait(mask uint64, deadline time.Time, poll bool) (int, arch.SignalInfo, error) {
	mask &^= unblockable
	t.sigWaiting.Store(mask)
	defer t.sigWaiting.Store(0)
	var timeout <-chan time.Time
	if !poll && !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	for {
		queued := t.SignalQueued()
		if sig, info := t.DequeueSignal(mask); sig != 0 {
			return sig, info, nil
		}
		if poll {
			return 0, arch.SignalInfo{}, unix.EAGAIN
		}
		t.SleepStart()
		select {
		case <-queued:
		case <-timeout:
			t.SleepFinish()
			if sig, info := t.DequeueSignal(mask); sig != 0 {
				return sig, info, nil
			}
			return 0, arch.SignalInfo{}, unix.EAGAIN
		case <-t.Interrupted():
			t.SleepFinish()
			if sig, info := t.DequeueSignal(mask); sig != 0 {
				return sig, info, nil
			}
			return 0, arch.SignalInfo{}, unix.EINTR
		}
		t.SleepFinish()
	}
}

// SendSignalInfo sends sig with the caller's siginfo, as rt_sigqueueinfo (tid 0: to
// process tgid) and rt_tgsigqueueinfo (to thread tid of process tgid): a siginfo that
// claims to come from the kernel or from kill/tkill (si_code >= 0 or SI_TKILL) may
// only be sent by a task to itself (EPERM), as do_rt_sigqueueinfo; then ESRCH if
// there is no such process or thread, EINVAL for a bad signal, EPERM without the
// right to signal it. A zombie takes the signal, to no effect.
func (t *Task) SendSignalInfo(tgid, tid int32, sig unix.Signal, info arch.SignalInfo) error {
	self := t.ProcessID() == tgid
	if tid != 0 {
		self = t.ThreadID() == tid
	}
	if (info.Code >= 0 || info.Code == arch.SI_TKILL) && !self {
		return unix.EPERM
	}
	k := t.k
	k.mu.Lock()
	ns := t.Proc.ns
	var target *Task
	if tid != 0 {
		target = ns.tasks[tid]
		if target == nil || ns.IDOfProcess(target.Proc) != tgid {
			k.mu.Unlock()
			return unix.ESRCH
		}
	} else {
		p := ns.procs[tgid]
		if p == nil || tgid <= 0 {
			k.mu.Unlock()
			return unix.ESRCH
		}
		if p.exit != nil || len(p.threads) == 0 {
			k.mu.Unlock()
			if sig < 0 || sig > 64 {
				return unix.EINVAL
			}
			return nil
		}
		target = p.signalTarget(sig)
	}
	if sig < 0 || sig > 64 {
		k.mu.Unlock()
		return unix.EINVAL
	}
	may := t.mayKill(target, sig)
	k.mu.Unlock()
	if !may {
		return unix.EPERM
	}
	t.sendTo(target, sig, info)
	return nil
}
