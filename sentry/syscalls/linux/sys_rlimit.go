package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// rlimit64 is struct rlimit64.
type rlimit64 struct{ Cur, Max uint64 }

// Prlimit64 implements prlimit64(2) for the calling process.
func Prlimit64(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, resource, newAddr, oldAddr := int32(a[0]), a[1], a[2], a[3]
	if resource >= kernel.RlimitCount {
		return 0, unix.EINVAL
	}
	var nl rlimit64
	if newAddr != 0 {
		if err := t.CopyInObj(newAddr, &nl); err != nil {
			return 0, err
		}
		if nl.Cur > nl.Max {
			return 0, unix.EINVAL
		}
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.ESRCH
	}
	old := t.Limits[resource]
	if newAddr != 0 {
		if err := setLimit(t, resource, nl); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		return 0, t.CopyOutObj(oldAddr, &rlimit64{old.Cur, old.Max})
	}
	return 0, nil
}

// setLimit sets a limit already checked for cur ≤ max, as do_prlimit.
func setLimit(t *kernel.Task, resource uintptr, l rlimit64) error {
	if resource == unix.RLIMIT_NOFILE && l.Max > kernel.NrOpen {
		return unix.EPERM
	}
	t.Limits[resource] = kernel.Rlimit{Cur: l.Cur, Max: l.Max}
	return nil
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[0] >= kernel.RlimitCount {
		return 0, unix.EINVAL
	}
	var l rlimit64
	if err := t.CopyInObj(a[1], &l); err != nil {
		return 0, err
	}
	if l.Cur > l.Max {
		return 0, unix.EINVAL
	}
	return 0, setLimit(t, a[0], l)
}

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[0] >= kernel.RlimitCount {
		return 0, unix.EINVAL
	}
	l := t.Limits[a[0]]
	return 0, t.CopyOutObj(a[1], &rlimit64{l.Cur, l.Max})
}
