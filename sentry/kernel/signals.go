package kernel

import "golang.org/x/sys/unix"

// Signals, as far as they go today: each process keeps its dispositions and each task
// its mask, so rt_sigaction and rt_sigprocmask report and change them as Linux does.
// Delivering a signal to a handler comes with the signal work; until then the only
// signals a task receives are synchronous faults and kills, which end it.

// SigAction is struct sigaction as the kernel takes it (struct kernel_sigaction).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SignalActions are a process's dispositions, by signal number - 1.
type SignalActions [64]SigAction

// Signal numbers that can't be caught, blocked or ignored.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

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

// SetSigMask sets the blocked signals (SIGKILL and SIGSTOP can't be blocked).
func (t *Task) SetSigMask(mask uint64) { t.SigMask = mask &^ unblockable }

// resetHandlers is what exec does to dispositions: handlers go back to the default,
// ignored signals stay ignored.
func (t *Task) resetHandlers() {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	for i := range t.Proc.sig {
		if t.Proc.sig[i].Handler != 1 { // SIG_IGN
			t.Proc.sig[i] = SigAction{}
		}
	}
}

// SigPipe applies SIGPIPE to a write that found no reader: its default action ends the
// process, unless the signal is ignored or blocked (then the write just fails with
// EPIPE). A handler can't run yet; the write fails with EPIPE and this is logged.
func (t *Task) SigPipe() {
	if t.SigMask&(1<<(unix.SIGPIPE-1)) != 0 {
		return
	}
	act := t.SigAction(int(unix.SIGPIPE), nil)
	switch act.Handler {
	case 0: // SIG_DFL: terminate
		t.Exit(ExitStatus{Signal: unix.SIGPIPE})
	case 1: // SIG_IGN
	default:
		t.k.missing(unix.SYS_RT_SIGACTION) // a handler that would have run
	}
}

// ignoredByDefault are the signals whose default action is to do nothing.
const ignoredByDefault = 1<<(unix.SIGCHLD-1) | 1<<(unix.SIGURG-1) | 1<<(unix.SIGWINCH-1)

// stopOrCont are the job-control signals (stop and continue).
const stopOrCont = 1<<(unix.SIGSTOP-1) | 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) |
	1<<(unix.SIGTTOU-1) | 1<<(unix.SIGCONT-1)

// SendSignal sends sig to process pid from t, as kill(2): sig 0 checks that the process
// exists. What the Sentry can do without running handlers it does: a signal that is
// ignored (explicitly or by default) is dropped, one whose default action is to end the
// process ends it; SIGKILL always does. A handler that would run, a blocked signal
// that would stay pending, and stop/continue are not supported yet (logged, and the
// call fails with ENOSYS).
func (t *Task) SendSignal(pid int32, sig unix.Signal) error {
	if sig < 0 || sig > 64 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	var targets []*Task
	switch {
	case pid > 0:
		if q := k.procs[pid]; q != nil && q.exit == nil {
			targets = append(targets, q.task)
		}
	case pid == 0 || pid == -1 || pid == -1*1:
		// Every process in the caller's group (all of them: one group today), or
		// every process but init and the caller for -1.
		for _, q := range k.procs {
			if q.exit == nil && (pid == 0 || q.PID != 1 && q != t.Proc) {
				targets = append(targets, q.task)
			}
		}
	default:
		if -pid == 1 {
			for _, q := range k.procs {
				if q.exit == nil {
					targets = append(targets, q.task)
				}
			}
		}
	}
	k.mu.Unlock()
	if len(targets) == 0 {
		return unix.ESRCH
	}
	if sig == 0 {
		return nil
	}
	for _, target := range targets {
		if err := target.deliver(sig); err != nil {
			return err
		}
	}
	return nil
}

// deliver applies sig to t by its disposition, as far as the Sentry goes today.
func (t *Task) deliver(sig unix.Signal) error {
	bit := uint64(1) << (sig - 1)
	if sig == unix.SIGKILL {
		t.KillWith(sig)
		return nil
	}
	act := t.SigAction(int(sig), nil)
	switch {
	case act.Handler == 1 || act.Handler == 0 && bit&ignoredByDefault != 0: // ignored
		return nil
	case bit&stopOrCont != 0 || t.SigMask&bit != 0 || act.Handler != 0:
		t.k.missing(unix.SYS_RT_SIGACTION) // needs delivery to a handler or job control
		return unix.ENOSYS
	}
	t.KillWith(sig) // default action: terminate (or core)
	return nil
}
