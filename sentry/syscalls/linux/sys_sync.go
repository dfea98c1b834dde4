package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Fsync implements fsync(2) and fdatasync(2): files with storage behind them (the
// Gofer's) are synced on the host; the Sentry's in-memory files have nothing to sync.
// Pipes and sockets can't be synced (EINVAL).
func Fsync(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if _, stream := f.Impl().(vfs.Stream); stream {
		if st, err := f.Stat(); err == nil && st.Mode&unix.S_IFMT != unix.S_IFCHR {
			return 0, unix.EINVAL
		}
	}
	if s, ok := f.Impl().(vfs.Syncer); ok {
		return 0, s.Sync()
	}
	return 0, nil
}

// Syncfs implements syncfs(2).
func Syncfs(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	f.DecRef()
	return 0, nil
}

// Sync implements sync(2): the Gofer's host files are written through as they are
// written; nothing waits in the Sentry.
func Sync(t *kernel.Task, a [6]uintptr) (uintptr, error) { return 0, nil }

// Fallocate implements fallocate(2), in the order of vfs_fallocate's checks.
func Fallocate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	mode, off, length := uint32(a[1]), int64(a[2]), int64(a[3])
	const supported = unix.FALLOC_FL_KEEP_SIZE | unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_COLLAPSE_RANGE |
		unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_INSERT_RANGE | unix.FALLOC_FL_UNSHARE_RANGE
	switch {
	case off < 0 || length <= 0:
		return 0, unix.EINVAL
	case mode&^supported != 0:
		return 0, unix.EOPNOTSUPP
	case mode&unix.FALLOC_FL_PUNCH_HOLE != 0 && mode&unix.FALLOC_FL_ZERO_RANGE != 0:
		return 0, unix.EOPNOTSUPP
	case mode&unix.FALLOC_FL_PUNCH_HOLE != 0 && mode&unix.FALLOC_FL_KEEP_SIZE == 0:
		return 0, unix.EOPNOTSUPP
	case !f.Writable():
		return 0, unix.EBADF
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return 0, unix.ESPIPE
	case unix.S_IFDIR:
		return 0, unix.EISDIR
	case unix.S_IFREG:
	default:
		return 0, unix.ENODEV
	}
	if off+length < 0 {
		return 0, unix.EFBIG
	}
	al, ok := f.Impl().(vfs.Allocator)
	if !ok || mode&^(unix.FALLOC_FL_KEEP_SIZE|unix.FALLOC_FL_PUNCH_HOLE) != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if err := al.Allocate(mode, off, length); err != nil {
		return 0, err
	}
	f.NotifyModify()
	return 0, nil
}
