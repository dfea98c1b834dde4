package kernel

import (
	"github.com/moat-sandbox/moat/sentry/arch"
	"golang.org/x/sys/unix"
)

// SignalFromRuntime sends sig to the container's init (all false) or to every process
// (all true) on behalf of the OCI runtime's kill command, which is outside the
// sandbox: the signal comes from an ancestor PID namespace, so its sender is PID 0
// (SI_USER). As kernel/signal.c:sig_task_ignored with force set, init (PID 1) receives
// only SIGKILL and SIGSTOP unless it handles the signal. It returns ESRCH if no live
// process matched, and EINVAL for a bad signal number.
func (k *Kernel) SignalFromRuntime(sig unix.Signal, all bool) error {
	if sig <= 0 || sig > 64 {
		return unix.EINVAL
	}
	k.mu.Lock()
	var targets []*Task
	for _, q := range k.procs {
		if q.exit != nil || len(q.threads) == 0 || !all && q.PID != 1 {
			continue
		}
		targets = append(targets, q.signalTarget(sig))
	}
	k.mu.Unlock()
	if len(targets) == 0 {
		return unix.ESRCH
	}
	var info arch.SignalInfo
	info.Code = arch.SI_USER
	for _, target := range targets {
		if target.Proc.PID == 1 && sig != unix.SIGKILL && sig != unix.SIGSTOP &&
			target.SigAction(int(sig), nil).Handler == sigDfl {
			continue
		}
		if sig == unix.SIGKILL {
			target.KillWith(sig)
			continue
		}
		target.Queue(int(sig), info)
	}
	return nil
}
