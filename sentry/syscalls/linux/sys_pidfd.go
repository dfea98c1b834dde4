package linux

import (
	"math/bits"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// pidfds (kernel/pid.c, kernel/signal.c, kernel/fork.c): the files are
// sentry/kernel's PidFD. A /proc/PID directory is not taken as a pidfd
// (tgid_pidfd_to_pid): it is EBADF here.

// pidfdOf returns the pidfd at fd and its description, which the caller drops: EBADF
// for a bad descriptor or another file.
func pidfdOf(t *kernel.Task, fd uintptr) (*kernel.PidFD, *vfs.FileDescription, error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, nil, err
	}
	p, ok := f.Impl().(*kernel.PidFD)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EBADF
	}
	return p, f, nil
}

// PidfdOpen implements pidfd_open(2): unknown flags and a PID below 1 are EINVAL; the
// descriptor is close-on-exec.
func PidfdOpen(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, flags := int32(a[0]), uint32(a[1])
	if flags&^uint32(kernel.PIDFD_NONBLOCK|kernel.PIDFD_THREAD) != 0 || pid <= 0 {
		return 0, unix.EINVAL
	}
	f, err := t.PidFDOpen(pid, int(flags))
	if err != nil {
		return 0, err
	}
	return installFD(t, f, true)
}

// PidfdSendSignal implements pidfd_send_signal(2), in its order of checks: the flags
// (unknown ones, or more than one scope, EINVAL), the descriptor (EBADF), the
// siginfo (EFAULT), then the signal's.
func PidfdSendSignal(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	sig, infoAddr, flags := unix.Signal(int32(a[1])), a[2], uint32(a[3])
	const scopes = kernel.PIDFD_SIGNAL_THREAD | kernel.PIDFD_SIGNAL_THREAD_GROUP | kernel.PIDFD_SIGNAL_PROCESS_GROUP
	if flags&^scopes != 0 || bits.OnesCount32(flags) > 1 {
		return 0, unix.EINVAL
	}
	p, f, err := pidfdOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	var info *arch.SignalInfo
	if infoAddr != 0 {
		info = new(arch.SignalInfo)
		if err := t.CopyInObj(infoAddr, info); err != nil {
			return 0, unix.EFAULT
		}
	}
	threadFD := f.StatusFlags()&kernel.PIDFD_THREAD != 0
	return 0, t.PidFDSendSignal(p, threadFD, sig, info, int(flags))
}

// PidfdGetfd implements pidfd_getfd(2): flags must be 0 (EINVAL); the new descriptor
// is close-on-exec.
func PidfdGetfd(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	targetFD, flags := int32(a[1]), uint32(a[2])
	if flags != 0 {
		return 0, unix.EINVAL
	}
	p, f, err := pidfdOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	got, err := t.PidFDGetFD(p, targetFD)
	if err != nil {
		return 0, err
	}
	return installFD(t, got, true)
}
