package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Close implements close(2).
func Close(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.FDs.Remove(fd(a[0]))
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := t.FDs.Get(fd(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, statTo(t, f, a[1])
}

func statTo(t *kernel.Task, f kernel.File, addr uintptr) error {
	var st unix.Stat_t
	if err := f.Stat(&st); err != nil {
		return err
	}
	return t.CopyOutObj(addr, &st)
}

// Newfstatat implements newfstatat(2) (fstatat). Without a VFS only the AT_EMPTY_PATH
// form on a file descriptor is supported.
func Newfstatat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	dirfd, flags := fd(a[0]), int(a[3])
	const known = unix.AT_SYMLINK_NOFOLLOW | unix.AT_NO_AUTOMOUNT | unix.AT_EMPTY_PATH
	if flags&^known != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.MM.CopyInString(a[1], unix.PathMax-1)
	if err != nil {
		return 0, err
	}
	if path != "" {
		return 0, unsupported(t, "newfstatat of a path (no VFS yet)")
	}
	if flags&unix.AT_EMPTY_PATH == 0 {
		return 0, unix.ENOENT
	}
	if dirfd == unix.AT_FDCWD {
		return 0, unsupported(t, "newfstatat of the working directory (no VFS yet)")
	}
	f, err := t.FDs.Get(dirfd)
	if err != nil {
		return 0, err
	}
	return 0, statTo(t, f, a[2])
}

// Ioctl implements ioctl(2).
func Ioctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := t.FDs.Get(fd(a[0]))
	if err != nil {
		return 0, err
	}
	return f.Ioctl(t, uintptr(uint32(a[1])), a[2])
}
