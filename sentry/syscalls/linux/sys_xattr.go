package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// The extended attribute calls. No filesystem of the Sentry supports extended
// attributes yet, so each call checks its file as Linux does (the path is resolved, the
// descriptor must be valid) and then fails as on a filesystem without xattr handlers,
// with EOPNOTSUPP.

func xattrPath(t *kernel.Task, a [6]uintptr, follow bool) (uintptr, error) {
	if _, err := resolveAt(t, unix.AT_FDCWD, a[0], follow, false); err != nil {
		return 0, err
	}
	return 0, unix.EOPNOTSUPP
}

func xattrFD(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	f.DecRef()
	return 0, unix.EOPNOTSUPP
}

// Getxattr implements getxattr(2), setxattr, listxattr and removexattr.
func Getxattr(t *kernel.Task, a [6]uintptr) (uintptr, error) { return xattrPath(t, a, true) }

// Lgetxattr implements lgetxattr(2), lsetxattr, llistxattr and lremovexattr.
func Lgetxattr(t *kernel.Task, a [6]uintptr) (uintptr, error) { return xattrPath(t, a, false) }

// Fgetxattr implements fgetxattr(2), fsetxattr, flistxattr and fremovexattr.
func Fgetxattr(t *kernel.Task, a [6]uintptr) (uintptr, error) { return xattrFD(t, a) }
