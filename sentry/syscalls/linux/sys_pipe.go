package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/pipe"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Pipe2 implements pipe2(2).
func Pipe2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return makePipe(t, a[0], int(a[1]))
}

// Pipe implements pipe(2).
func Pipe(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return makePipe(t, a[0], 0)
}

func makePipe(t *kernel.Task, addr uintptr, flags int) (uintptr, error) {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT|oNotificationPipe) != 0 {
		return 0, unix.EINVAL
	}
	if flags&oNotificationPipe != 0 {
		return 0, unsupported(t, "pipe2 with O_NOTIFICATION_PIPE")
	}
	r, w := pipe.New(t.Kernel().VFS, flags)
	return 0, installPair(t, r, w, addr, flags&unix.O_CLOEXEC != 0)
}

// O_NOTIFICATION_PIPE is O_EXCL reused by pipe2 (include/uapi/linux/watch_queue.h).
const oNotificationPipe = unix.O_EXCL
