// Package box confines the process it runs in, on every thread: capabilities and
// no_new_privs, which Linux keeps per thread. A Go program has many threads, and a
// capability dropped by one of them stays with the others, so each change is made with
// syscall.AllThreadsSyscall, which the Go runtime applies to every thread at once. That
// needs a binary without cgo (runsc and its Gofer are built so); with cgo it fails with
// ErrCgo rather than leave some threads privileged.
//
// The Gofer keeps the capabilities file service needs; the Sentry keeps none.
package box

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrCgo: the process uses cgo, so its threads can't all be changed at once.
var ErrCgo = errors.New("box: cannot change every thread of a process that uses cgo")

// KeepCapabilities leaves the process, on every thread, with only the capabilities
// keep (CAP_* numbers) in its bounding, effective, permitted and inheritable sets, none
// ambient, and sets no_new_privs: nothing it execs can gain any back.
func KeepCapabilities(keep ...uintptr) error {
	var mask uint64
	for _, c := range keep {
		mask |= 1 << c
	}
	all := func(nr, a1, a2, a3 uintptr) error {
		_, _, e := syscall.AllThreadsSyscall(nr, a1, a2, a3)
		switch {
		case e == syscall.ENOTSUP:
			return ErrCgo
		case e != 0:
			return e
		}
		return nil
	}
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		if mask&(1<<c) != 0 {
			continue
		}
		if err := all(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := all(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clearing the ambient set: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for i := range data {
		k := uint32(mask >> (32 * i))
		data[i].Effective &= k
		data[i].Permitted &= k
		data[i].Inheritable &= k
	}
	// Safe: hdr and data are live for the call; every thread reads the same structs.
	if err := all(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := all(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return nil
}
