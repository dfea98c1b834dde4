package seccompfilters

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install sets no_new_privs and installs prog with
// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Filters stack: an installed
// filter cannot be removed, and every installed filter runs on each syscall
// (the most restrictive result wins).
//
// Without unix.SECCOMP_FILTER_FLAG_TSYNC the filter (like no_new_privs)
// applies only to the calling OS thread and to threads it creates later, so
// the caller must have called runtime.LockOSThread and know what that
// thread is for; Install locks the thread itself only for the duration of
// the call so that prctl and seccomp act on the same thread. With TSYNC the
// kernel applies the filter to all threads of the process, or fails if one
// of them has diverged (e.g. has a filter the caller lacks).
//
// unix.SECCOMP_FILTER_FLAG_NEW_LISTENER is rejected: Install has no way to
// return the listener fd.
func Install(prog []unix.SockFilter, flags uint) error {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fmt.Errorf("seccompfilters: program length %d not in [1, %d]", len(prog), unix.BPF_MAXINSNS)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return fmt.Errorf("seccompfilters: SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccompfilters: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccompfilters: seccomp(SECCOMP_SET_MODE_FILTER, %#x): %w", flags, errno)
	}
	if r != 0 {
		// With TSYNC (and without TSYNC_ESRCH) a positive return value
		// is the ID of a thread that could not be synchronized.
		return fmt.Errorf("seccompfilters: seccomp(SECCOMP_SET_MODE_FILTER, %#x): thread %d could not be synchronized", flags, r)
	}
	return nil
}
