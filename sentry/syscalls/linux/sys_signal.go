package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Kill implements kill(2).
func Kill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SendSignal(int32(a[0]), unix.Signal(int32(a[1])))
}

// Tkill implements tkill(2): with one task per process, the thread is the process.
func Tkill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return 0, t.SendSignal(int32(a[0]), unix.Signal(int32(a[1])))
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	tgid, tid := int32(a[0]), int32(a[1])
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	if tgid != tid {
		return 0, unix.ESRCH // one task per process: a thread of another group doesn't exist
	}
	return 0, t.SendSignal(tid, unix.Signal(int32(a[2])))
}
