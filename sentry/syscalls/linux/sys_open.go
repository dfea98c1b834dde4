package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// path copies in a path argument: ENAMETOOLONG past PATH_MAX, ENOENT if empty (as
// getname) unless empty is allowed (AT_EMPTY_PATH).
func path(t *kernel.Task, addr uintptr, emptyOK bool) (string, error) {
	p, err := t.MM.CopyInString(addr, vfs.PathMax-1)
	if err != nil {
		return "", err
	}
	if p == "" && !emptyOK {
		return "", unix.ENOENT
	}
	return p, nil
}

// validOpenFlags are the flags open keeps; others are ignored (openat2 rejects them).
const validOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE | unix.O_SYNC

func openAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int, mode uint32) (uintptr, error) {
	p, err := path(t, pathAddr, false)
	if err != nil {
		return 0, err
	}
	op, err := t.PathOp(dirfd, p)
	if err != nil {
		return 0, err
	}
	flags &= validOpenFlags
	f, err := t.Kernel().VFS.OpenAt(t.Caller(), op, flags, mode)
	if err != nil {
		return 0, err
	}
	if f, err = openedFile(t, f, flags); err != nil {
		return 0, err
	}
	return installFD(t, f, flags&unix.O_CLOEXEC != 0)
}

// Open implements open(2).
func Open(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return openAt(t, unix.AT_FDCWD, a[0], int(int32(a[1])), uint32(a[2]))
}

// Openat implements openat(2).
func Openat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return openAt(t, fd(a[0]), a[1], int(int32(a[2])), uint32(a[3]))
}

// Creat implements creat(2).
func Creat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return openAt(t, unix.AT_FDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(a[1]))
}

// Close implements close(2).
func Close(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.FDs.Remove(fd(a[0]))
}

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	first, last, flags := uint32(a[0]), uint32(a[1]), a[2]
	if flags&^(unix.CLOSE_RANGE_UNSHARE|unix.CLOSE_RANGE_CLOEXEC) != 0 || first > last {
		return 0, unix.EINVAL
	}
	t.FDs.RemoveRange(first, last, flags&unix.CLOSE_RANGE_CLOEXEC != 0)
	return 0, nil
}

// openHow is struct open_how.
type openHow struct {
	Flags, Mode, Resolve uint64
}

// Openat2 implements openat2(2): open_how is read as copy_struct_from_user reads an
// extensible struct (EINVAL below the first version's size, E2BIG for non-zero bytes
// past what is known), and unknown flags are errors rather than ignored.
func Openat2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	const howSize = 24
	size := a[3]
	if size < howSize {
		return 0, unix.EINVAL
	}
	if size > pageSize {
		return 0, unix.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.MM.CopyIn(a[2], buf); err != nil {
		return 0, err
	}
	for _, b := range buf[howSize:] {
		if b != 0 {
			return 0, unix.E2BIG
		}
	}
	var how openHow
	if err := t.CopyInObj(a[2], &how); err != nil {
		return 0, err
	}
	const resolveAll = vfs.ResolveNoXdev | vfs.ResolveNoMagiclinks | vfs.ResolveNoSymlinks |
		vfs.ResolveBeneath | vfs.ResolveInRoot | vfs.ResolveCached
	switch {
	case how.Flags&^uint64(validOpenFlags) != 0,
		how.Mode&^0o7777 != 0,
		how.Mode != 0 && how.Flags&unix.O_CREAT == 0 && how.Flags&unix.O_TMPFILE != unix.O_TMPFILE,
		how.Resolve&^resolveAll != 0,
		how.Resolve&vfs.ResolveBeneath != 0 && how.Resolve&vfs.ResolveInRoot != 0:
		return 0, unix.EINVAL
	case how.Resolve&vfs.ResolveCached != 0 && how.Flags&(unix.O_CREAT|unix.O_TRUNC) != 0:
		return 0, unix.EAGAIN
	}
	p, err := path(t, a[1], false)
	if err != nil {
		return 0, err
	}
	op, err := t.PathOp(fd(a[0]), p)
	if err != nil {
		return 0, err
	}
	op.Resolve = how.Resolve
	if how.Resolve&vfs.ResolveInRoot != 0 && len(p) > 0 && p[0] == '/' {
		// An absolute path starts at the dirfd, which is the root here.
		if op, err = t.PathOp(fd(a[0]), "."); err != nil {
			return 0, err
		}
		op.Path, op.Resolve = p, how.Resolve
	}
	f, err := t.Kernel().VFS.OpenAt(t.Caller(), op, int(how.Flags), uint32(how.Mode))
	if err != nil {
		return 0, err
	}
	if f, err = openedFile(t, f, int(how.Flags)); err != nil {
		return 0, err
	}
	return installFD(t, f, how.Flags&unix.O_CLOEXEC != 0)
}
