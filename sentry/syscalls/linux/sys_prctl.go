package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// prctl(PR_CAP_AMBIENT) operations (include/uapi/linux/prctl.h).
const (
	prCapAmbientIsSet    = 1
	prCapAmbientRaise    = 2
	prCapAmbientLower    = 3
	prCapAmbientClearAll = 4
)

// Prctl implements prctl(2) for the options below, with kernel/sys.c's and
// security/commoncap.c:cap_task_prctl's checks. Other options are EINVAL, as Linux
// answers an option it does not know, and are logged by number.
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
	case unix.PR_SET_PDEATHSIG:
		if a[1] > 64 {
			return 0, unix.EINVAL
		}
		t.SetPdeathSig(unix.Signal(a[1]))
		return 0, nil
	case unix.PR_GET_PDEATHSIG:
		return 0, t.CopyOutObj(a[1], int32(t.PdeathSig))
	case unix.PR_SET_CHILD_SUBREAPER:
		t.SetChildSubreaper(a[1] != 0)
		return 0, nil
	case unix.PR_GET_CHILD_SUBREAPER:
		return 0, t.CopyOutObj(a[1], int32(boolInt(t.ChildSubreaper())))
	case unix.PR_GET_DUMPABLE:
		return uintptr(boolInt(!t.Undumpable)), nil
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
		return uintptr(boolInt(t.NoNewPrivs)), nil
	case unix.PR_GET_KEEPCAPS:
		return uintptr(boolInt(t.Creds.Securebits&kernel.SecbitKeepCaps != 0)), nil
	case unix.PR_SET_KEEPCAPS:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		return 0, t.SetKeepCaps(a[1] == 1)
	case unix.PR_GET_SECUREBITS:
		return uintptr(t.Creds.Securebits), nil
	case unix.PR_SET_SECUREBITS:
		return 0, t.SetSecurebits(a[1])
	case unix.PR_CAPBSET_READ:
		if a[1] > vfs.CapLastCap {
			return 0, unix.EINVAL
		}
		return uintptr(t.Creds.Bounding>>a[1]) & 1, nil
	case unix.PR_CAPBSET_DROP:
		if !t.Creds.HasCap(vfs.CapSetpcap) {
			return 0, unix.EPERM
		}
		if a[1] > vfs.CapLastCap {
			return 0, unix.EINVAL
		}
		t.DropBounding(int(a[1]))
		return 0, nil
	case unix.PR_CAP_AMBIENT:
		return capAmbient(t, a[1], a[2], a[3], a[4])
	case unix.PR_GET_SECCOMP:
		return 0, nil // no seccomp filter of the application's own yet
	}
	return 0, unsupportedErr(t, unix.EINVAL, "prctl option %d", a[0])
}

// capAmbient is prctl(PR_CAP_AMBIENT, op, cap, arg4, arg5).
func capAmbient(t *kernel.Task, op, cap, arg4, arg5 uintptr) (uintptr, error) {
	if op == prCapAmbientClearAll {
		if cap|arg4|arg5 != 0 {
			return 0, unix.EINVAL
		}
		t.ClearAmbient()
		return 0, nil
	}
	if cap > vfs.CapLastCap || arg4|arg5 != 0 {
		return 0, unix.EINVAL
	}
	switch op {
	case prCapAmbientIsSet:
		return uintptr(t.Creds.Ambient>>cap) & 1, nil
	case prCapAmbientRaise, prCapAmbientLower:
		return 0, t.SetAmbient(int(cap), op == prCapAmbientRaise)
	}
	return 0, unix.EINVAL
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
