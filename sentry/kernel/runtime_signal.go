package kernel

import (
	"github.com/moat-sandbox/moat/sentry/arch"
	"golang.org/x/sys/unix"
)

// SignalFromRuntime sends sig to the init of container (all false) or to every process
// of container (all true) on behalf of the OCI runtime's kill command, which is
// outside the sandbox: the signal comes from an ancestor PID namespace, so its sender
// is PID 0 (SI_USER). container is "" for the sandbox's own container, whose init is
// PID 1, or the ID of another container of the pod, whose init is process init (a
// root-namespace ID). As kernel/signal.c:sig_task_ignored with force set, a PID
// namespace's init (the sandbox's, or that of a pod's container with a namespace of
// its own) receives only SIGKILL and SIGSTOP unless it handles the signal. It returns
// ESRCH if no live process matched, and EINVAL for a bad signal number.
func (k *Kernel) SignalFromRuntime(container string, init int32, sig unix.Signal, all bool) error {
	if container == "" {
		init = 1
	}
	if sig <= 0 || sig > 64 {
		return unix.EINVAL
	}
	k.mu.Lock()
	var targets []*Task
	for _, q := range k.procs {
		if q.exit != nil || len(q.threads) == 0 || q.container != container || !all && q.PID != init {
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
		target.post(sig, info, true)
	}
	return nil
}
