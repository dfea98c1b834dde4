package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// SignalProcess sends sig to process pid (a root-namespace ID, as the runtime names
// processes) on behalf of the OCI runtime (runsc exec passing on a signal it received
// to the process it runs): from outside the sandbox, so its sender is PID 0 (SI_USER)
// and its signal is forced (an init still ignores all but SIGKILL and SIGSTOP). It returns ESRCH if pid is not a live process,
// and EINVAL for a bad signal number.
func (k *Kernel) SignalProcess(pid int32, sig unix.Signal) error {
	if sig < 0 || sig > 64 {
		return unix.EINVAL
	}
	k.mu.Lock()
	q := k.procs[pid]
	var target *Task
	if q != nil && q.exit == nil && len(q.threads) > 0 {
		target = q.signalTarget(sig)
	}
	k.mu.Unlock()
	if target == nil {
		return unix.ESRCH
	}
	var info arch.SignalInfo
	info.Code = arch.SI_USER
	target.post(sig, info, true)
	return nil
}
