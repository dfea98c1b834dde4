package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Exit implements exit(2): the calling thread ends; its process ends with its last
// thread.
func Exit(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	t.ExitThread(kernel.ExitStatus{Code: int(a[0] & 0xff)})
	return 0, nil
}

// ExitGroup implements exit_group(2).
func ExitGroup(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	t.Exit(kernel.ExitStatus{Code: int(a[0] & 0xff)})
	return 0, nil
}

// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h).
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

// ArchPrctl implements arch_prctl(2): the FS and GS bases.
func ArchPrctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	regs := &t.State.Regs
	switch a[0] {
	case archSetFS, archSetGS:
		// As do_arch_prctl_64: a base past the user address space is EPERM.
		if a[1] >= t.MM.MaxAddress() {
			return 0, unix.EPERM
		}
		if a[0] == archSetFS {
			regs.Fs_base = uint64(a[1])
		} else {
			regs.Gs_base = uint64(a[1])
		}
		return 0, nil
	case archGetFS:
		return 0, t.CopyOutObj(a[1], regs.Fs_base)
	case archGetGS:
		return 0, t.CopyOutObj(a[1], regs.Gs_base)
	}
	return 0, unix.EINVAL
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	t.ClearChildTID = a[0]
	return uintptr(t.ThreadID()), nil
}

// SetRobustList implements set_robust_list(2): the head is kept for exit, when the
// robust futexes it lists are released.
func SetRobustList(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	const robustListHeadSize = 24
	if a[1] != robustListHeadSize {
		return 0, unix.EINVAL
	}
	t.RobustList = a[0]
	return 0, nil
}

// GetRobustList implements get_robust_list(2): the robust list head of thread pid (0:
// the caller), which the caller must be allowed to ptrace-read (EPERM), ESRCH if there
// is no such thread.
func GetRobustList(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	const robustListHeadSize = 24
	target := t
	if pid := int32(a[0]); pid != 0 {
		if target = t.PIDNamespace().TaskWithID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	if !t.MayPtraceRead(target) {
		return 0, unix.EPERM
	}
	head := target.RobustList
	if err := t.CopyOutObj(a[2], uint64(robustListHeadSize)); err != nil {
		return 0, err
	}
	return 0, t.CopyOutObj(a[1], uint64(head))
}

// Getpid implements getpid(2): the thread group's ID in its PID namespace (a
// namespace's first process is its init, 1).
func Getpid(t *kernel.Task, a [6]uintptr) (uintptr, error) { return uintptr(t.ProcessID()), nil }

// Gettid implements gettid(2).
func Gettid(t *kernel.Task, a [6]uintptr) (uintptr, error) { return uintptr(t.ThreadID()), nil }

// Getppid implements getppid(2): 0 for a parent outside the caller's PID namespace (a
// namespace's init's, or that of a process runsc exec made).
func Getppid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.Proc.ParentPIDIn(t.PIDNamespace())), nil
}
