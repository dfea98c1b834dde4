package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

func copyOutStatfs(t *kernel.Task, vd vfs.VirtualDentry, addr uintptr) (uintptr, error) {
	st, err := vfs.StatfsOf(vd)
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOutObj(addr, &st)
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return copyOutStatfs(t, vd, a[1])
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := fdDentry(t, a[0])
	if err != nil {
		return 0, err
	}
	return copyOutStatfs(t, vd, a[1])
}

// Fadvise64 implements fadvise64(2): advice is only a hint, and the Sentry's caches
// take none; the arguments are checked as generic_fadvise does.
func Fadvise64(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFIFO {
		return 0, unix.ESPIPE
	}
	if int64(a[2]) < 0 || a[3] > unix.FADV_NOREUSE {
		return 0, unix.EINVAL
	}
	return 0, nil
}
