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
