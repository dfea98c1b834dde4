package systrap

import (
	"github.com/moat-sandbox/moat/platform/ptrace"
	sf "github.com/moat-sandbox/moat/seccompfilters"
)

// HostSyscalls are the host system calls the systrap platform makes from the Sentry's
// process once the Sentry runs under its seccomp allow-list (see
// ptrace.SystrapHostSyscalls for the list and why).
func HostSyscalls() map[uintptr][]sf.Rule {
	return ptrace.SystrapHostSyscalls()
}
