package kernel

import (
	"errors"

	"golang.org/x/sys/unix"
)

// SyscallFn implements one system call. It returns the value for rax, or an error that
// is (or wraps) a unix.Errno, which becomes -errno.
type SyscallFn func(t *Task, args [6]uintptr) (uintptr, error)

// Syscall is one entry of the table.
type Syscall struct {
	Name string
	Fn   SyscallFn
}

// SyscallTable maps x86-64 system call numbers to their implementations. A number
// that is absent is unimplemented: ENOSYS, logged once.
type SyscallTable struct {
	Table map[uintptr]Syscall
}

// errnoOf turns a handler's error into an errno.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO // an error that is not an errno: a Sentry bug, reported as EIO
}
