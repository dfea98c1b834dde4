package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/inotify"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// allInotifyBits are the bits inotify_add_watch knows (ALL_INOTIFY_BITS).
const allInotifyBits = unix.IN_ALL_EVENTS | unix.IN_UNMOUNT | unix.IN_Q_OVERFLOW | unix.IN_IGNORED |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK | unix.IN_MASK_CREATE |
	unix.IN_MASK_ADD | unix.IN_ISDIR | unix.IN_ONESHOT

// InotifyInit1 implements inotify_init1(2).
func InotifyInit1(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return inotifyInit(t, int(a[0]))
}

// InotifyInit implements inotify_init(2).
func InotifyInit(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return inotifyInit(t, 0)
}

func inotifyInit(t *kernel.Task, flags int) (uintptr, error) {
	if flags&^(unix.IN_CLOEXEC|unix.IN_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	f, err := inotify.New(t.Kernel().VFS, t.Creds.UID, flags)
	if err != nil {
		return 0, err
	}
	return installFD(t, f, flags&unix.IN_CLOEXEC != 0)
}

// inotifyOf returns the instance at fd (EBADF, or EINVAL for another file) and the
// function dropping the reference.
func inotifyOf(t *kernel.Task, fd uintptr) (*inotify.Instance, func(), error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := f.Impl().(*inotify.Instance)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return in, f.DecRef, nil
}

// InotifyAddWatch implements inotify_add_watch(2), with the checks in the order of
// fs/notify/inotify/inotify_user.c: a mask with no known bit, the fd, IN_MASK_ADD with
// IN_MASK_CREATE, an fd that is not an inotify file, the path (IN_DONT_FOLLOW,
// IN_ONLYDIR), then read permission on the file.
func InotifyAddWatch(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	mask := uint32(a[2])
	if mask&allInotifyBits == 0 || mask&^allInotifyBits != 0 {
		return 0, unix.EINVAL
	}
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if mask&unix.IN_MASK_ADD != 0 && mask&unix.IN_MASK_CREATE != 0 {
		return 0, unix.EINVAL
	}
	in, ok := f.Impl().(*inotify.Instance)
	if !ok {
		return 0, unix.EINVAL
	}
	vd, err := resolveAt(t, unix.AT_FDCWD, a[1], mask&unix.IN_DONT_FOLLOW == 0, false)
	if err != nil {
		return 0, err
	}
	if mask&unix.IN_ONLYDIR != 0 && !vd.Dentry.IsDir() {
		return 0, unix.ENOTDIR
	}
	st, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return 0, err
	}
	if err := t.Creds.MayAccess(unix.R_OK, &st); err != nil {
		return 0, err
	}
	wd, err := in.AddWatch(vd.Dentry, mask)
	return uintptr(wd), err
}

// InotifyRmWatch implements inotify_rm_watch(2).
func InotifyRmWatch(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	in, put, err := inotifyOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer put()
	return 0, in.RemoveWatch(int32(a[1]))
}
