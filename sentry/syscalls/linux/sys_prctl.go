package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Prctl implements prctl(2) for the options that concern only the calling task's own
// attributes; the others come with the process and signal work and are logged.
func Prctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	switch a[0] {
	case unix.PR_SET_NAME:
		var b [16]byte
		n, err := t.MM.CopyIn(a[1], b[:15])
		if err != nil && n == 0 {
			return 0, err
		}
		name := b[:n]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		t.Comm = string(name)
		return 0, nil
	case unix.PR_GET_NAME:
		var b [16]byte
		copy(b[:15], t.CommName())
		_, err := t.MM.CopyOut(a[1], b[:])
		return 0, err
	case unix.PR_GET_DUMPABLE:
		if t.Undumpable {
			return 0, nil
		}
		return 1, nil
	case unix.PR_SET_DUMPABLE:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		t.Undumpable = a[1] == 0
		return 0, nil
	case unix.PR_SET_NO_NEW_PRIVS:
		if a[1] != 1 || a[2]|a[3]|a[4] != 0 {
			return 0, unix.EINVAL
		}
		t.NoNewPrivs = true
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		if a[1]|a[2]|a[3]|a[4] != 0 {
			return 0, unix.EINVAL
		}
		if t.NoNewPrivs {
			return 1, nil
		}
		return 0, nil
	case unix.PR_CAPBSET_READ:
		// The bounding set is the credentials' capabilities until capset and the
		// credential work separate them; CAP_LAST_CAP is 40.
		const capLastCap = 40
		if a[1] > capLastCap {
			return 0, unix.EINVAL
		}
		return uintptr(t.Creds.Caps>>a[1]) & 1, nil
	case unix.PR_GET_SECCOMP:
		return 0, nil // no seccomp filter of the application's own yet
	case unix.PR_GET_KEEPCAPS:
		if t.Creds.Securebits&kernel.SecbitKeepCaps != 0 {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_KEEPCAPS:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		return 0, t.SetKeepCaps(a[1] == 1)
	case unix.PR_GET_CHILD_SUBREAPER, unix.PR_GET_PDEATHSIG:
		return 0, t.CopyOutObj(a[1], int32(0))
	}
	return 0, unsupported(t, "prctl option %d", a[0])
}
