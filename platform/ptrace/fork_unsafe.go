package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// forkTemplate forks the calling thread into a new process, the template stub, without
// exec'ing anything: the child stops itself at once and waits for the tracer, which
// unmaps everything but the stub region and installs the stub's seccomp filter
// (factory.go). Later stubs are cloned from the template, never forked from the Sentry.
//
// Safe: between clone and the child's stop, the child runs only this nosplit code, which
// makes raw system calls and touches nothing of the Go runtime (no allocation, no stack
// growth, no scheduler). Every signal is blocked on the calling thread across the clone,
// so the child inherits a full mask and can never enter a Go signal handler; SIGSTOP
// and SIGKILL, which can't be blocked, have no handler. The caller must be locked to its
// OS thread, which becomes the child's parent for PR_SET_PDEATHSIG.
//
//go:nosplit
//go:norace
func forkTemplate() (pid int, errno unix.Errno) {
	all, old := ^uint64(0), uint64(0)
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	r, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		templateChild()
	}
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	return int(r), e
}

// templateChild is the forked child's only code: die with the parent thread, leave
// the Sentry's process group, and stop. In a group of their own, the stubs (all cloned
// from the template) get none of the signals a terminal sends to the Sentry's group
// (SIGINT, SIGWINCH…) when the Sentry runs in a terminal's foreground.
//
//go:nosplit
//go:norace
func templateChild() {
	unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0)
	unix.RawSyscall(unix.SYS_SETPGID, 0, 0, 0)
	for {
		pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		unix.RawSyscall(unix.SYS_KILL, pid, uintptr(unix.SIGSTOP), 0)
	}
}
