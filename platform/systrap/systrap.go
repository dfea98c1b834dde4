// Package systrap is the systrap platform: application threads trap their own system
// calls with a seccomp SECCOMP_RET_TRAP filter, and a signal handler in the stub hands
// the registers to the Sentry through a context page the two share, with no process
// switch on the way (see platform/ptrace's systrap.go for the mechanism). A Switch
// depends on nothing of the OS thread that calls it, so systrap's contexts are not
// thread-bound (platform.Platform.ThreadBound): the Sentry's tasks let go of their
// threads while they wait.
//
// The stubs themselves (the template, address spaces, mapping changes) are made and
// driven exactly as the ptrace platform makes and drives them, so the code lives there
// and this package only names the platform. DESIGN.md gives systrap a package of its
// own; sharing the stub machinery this way keeps one copy of it until the two
// platforms' needs part (systrap's own batched mapping changes).
package systrap

import "github.com/moat-sandbox/moat/platform/ptrace"

// New returns a systrap platform whose address spaces map ranges of memfd, the memory
// file. The caller keeps memfd open until Close.
func New(memfd int) (*ptrace.Platform, error) {
	return ptrace.NewSystrap(memfd)
}
