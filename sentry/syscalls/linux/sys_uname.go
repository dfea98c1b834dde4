package linux

import (
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Release is the kernel version the Sentry reports. glibc and busybox check it against
// their minimum (3.2), and programs read it for features: it names a kernel whose system
// calls the Sentry aims to provide.
const Release = "6.6.0-moat"

// Uname implements uname(2).
func Uname(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var u [6][65]byte // struct new_utsname
	for i, s := range []string{"Linux", t.Kernel().Hostname, Release, "#1 SMP Moat", "x86_64", "(none)"} {
		copy(u[i][:64], s)
	}
	return 0, t.CopyOutObj(a[0], &u)
}
