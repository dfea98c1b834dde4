package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/loader"
)

// stringArray copies in a NULL-terminated array of string pointers (argv, envp), as
// copy_strings: a NULL array is empty; E2BIG for too many strings or one too long.
func stringArray(t *kernel.Task, addr uintptr) ([]string, error) {
	var out []string
	if addr == 0 {
		return out, nil
	}
	for i := uintptr(0); ; i++ {
		if i >= loader.MaxArgStrings {
			return nil, unix.E2BIG
		}
		var p uint64
		if err := t.CopyInObj(addr+8*i, &p); err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := t.MM.CopyInString(uintptr(p), loader.MaxArgStrlen-1)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

func execveat(t *kernel.Task, dirfd int32, pathAddr, argvAddr, envpAddr uintptr, flags int) (uintptr, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	p, err := path(t, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	argv, err := stringArray(t, argvAddr)
	if err != nil {
		return 0, err
	}
	envv, err := stringArray(t, envpAddr)
	if err != nil {
		return 0, err
	}
	// On success the old image is gone and the new one starts with rax 0.
	return 0, t.Execve(dirfd, p, argv, envv, flags)
}

// Execve implements execve(2).
func Execve(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return execveat(t, unix.AT_FDCWD, a[0], a[1], a[2], 0)
}

// Execveat implements execveat(2).
func Execveat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return execveat(t, fd(a[0]), a[1], a[2], a[3], int(a[4]))
}
