package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/signalfd"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Signalfd4 implements signalfd4(2), in fs/signalfd.c's order of checks: flags, mask
// size, the mask (EFAULT), then the descriptor: -1 makes a new signalfd, another
// descriptor must be a signalfd, whose mask is replaced (its flags stay).
func Signalfd4(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	ufd, flags := int32(a[0]), int(a[3])
	if flags&^(unix.SFD_CLOEXEC|unix.SFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	if a[2] != 8 {
		return 0, unix.EINVAL
	}
	var mask uint64
	if err := t.CopyInObj(a[1], &mask); err != nil {
		return 0, unix.EFAULT
	}
	mask &^= 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)
	if ufd == -1 {
		f := signalfd.New(t.Kernel().VFS, t, mask, flags)
		return installFD(t, f, flags&unix.SFD_CLOEXEC != 0)
	}
	f, err := getFD(t, uintptr(ufd))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	sf, ok := f.Impl().(*signalfd.File)
	if !ok {
		return 0, unix.EINVAL
	}
	sf.SetMask(mask)
	return uintptr(ufd), nil
}

// Signalfd implements signalfd(2): signalfd4 without flags.
func Signalfd(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return Signalfd4(t, [6]uintptr{a[0], a[1], a[2], 0})
}
