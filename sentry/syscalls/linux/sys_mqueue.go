package linux

import (
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/mqueue"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// POSIX message queues (ipc/mqueue.c). The queues are sentry/fsimpl/mqueue's; opening,
// unlinking and notification are the kernel's (sentry/kernel/mqueue.go). glibc strips
// the name's leading slash (EINVAL without one) before the system call.

// mqName copies in a queue's name and checks it as getname and lookup_one_len do: too
// long a path is ENAMETOOLONG, an empty one ENOENT, a slash or "." or ".." EACCES, a
// name longer than NAME_MAX ENAMETOOLONG.
func mqName(t *kernel.Task, addr uintptr) (string, error) {
	name, err := path(t, addr, false)
	if err != nil {
		return "", err
	}
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return "", unix.EACCES
	}
	if len(name) > vfs.NameMax {
		return "", unix.ENAMETOOLONG
	}
	return name, nil
}

// MqOpen implements mq_open(2): the attributes are read if given (EFAULT), the name
// checked, then the queue opened or made. The descriptor is always close-on-exec, as
// do_mq_open asks get_unused_fd_flags.
func MqOpen(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	oflag, mode := int(int32(a[1])), uint32(uint16(a[2]))
	var attr *mqueue.Attr
	if a[3] != 0 {
		attr = new(mqueue.Attr)
		if err := t.CopyInObj(a[3], attr); err != nil {
			return 0, unix.EFAULT
		}
	}
	name, err := mqName(t, a[0])
	if err != nil {
		return 0, err
	}
	f, err := t.MqOpen(name, oflag, mode, attr)
	if err != nil {
		return 0, err
	}
	return installFD(t, f, true)
}

// MqUnlink implements mq_unlink(2).
func MqUnlink(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	name, err := mqName(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.MqUnlink(name)
}

// mqOf returns the queue of descriptor fd with its description, which the caller
// drops: EBADF for a bad descriptor or another file.
func mqOf(t *kernel.Task, fd uintptr) (*mqueue.Queue, *vfs.FileDescription, error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, nil, err
	}
	mf, ok := f.Impl().(*mqueue.File)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EBADF
	}
	return mf.Queue(), f, nil
}

// mqDeadline reads an absolute CLOCK_REALTIME timeout (prepare_timeout): EFAULT, or
// EINVAL for an invalid timespec; zero for none.
func mqDeadline(t *kernel.Task, addr uintptr) (time.Time, error) {
	if addr == 0 {
		return time.Time{}, nil
	}
	var ts unix.Timespec
	if err := t.CopyInObj(addr, &ts); err != nil {
		return time.Time{}, unix.EFAULT
	}
	if !timespecValid(ts) {
		return time.Time{}, unix.EINVAL
	}
	return time.Unix(ts.Sec, ts.Nsec), nil
}

// MqTimedsend implements mq_timedsend(2), in do_mq_timedsend's order of checks: the
// timeout, the priority, the descriptor and its write access, the size, the message.
func MqTimedsend(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, size, prio := a[1], a[2], uint32(a[3])
	deadline, err := mqDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	if prio >= mqueue.PrioMax {
		return 0, unix.EINVAL
	}
	q, f, err := mqOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Writable() {
		return 0, unix.EBADF
	}
	if size > uintptr(q.MsgSize()) {
		return 0, unix.EMSGSIZE
	}
	text := make([]byte, size)
	if _, err := t.MM.CopyIn(addr, text); err != nil {
		return 0, unix.EFAULT
	}
	return 0, q.Send(t, text, prio, f.StatusFlags()&unix.O_NONBLOCK != 0, deadline, t)
}

// MqTimedreceive implements mq_timedreceive(2), in do_mq_timedreceive's order: the
// timeout, the descriptor and its read access, the buffer's size (EMSGSIZE if smaller
// than the queue's message size), then the wait. A message whose copy-out faults is
// lost, as on Linux.
func MqTimedreceive(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, size, prioAddr := a[1], a[2], a[3]
	deadline, err := mqDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	q, f, err := mqOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	if size < uintptr(q.MsgSize()) {
		return 0, unix.EMSGSIZE
	}
	text, prio, err := q.Receive(t, f.StatusFlags()&unix.O_NONBLOCK != 0, deadline)
	if err != nil {
		return 0, err
	}
	if prioAddr != 0 {
		if err := t.CopyOutObj(prioAddr, prio); err != nil {
			return 0, unix.EFAULT
		}
	}
	if _, err := t.MM.CopyOut(addr, text); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(text)), nil
}

// MqNotify implements mq_notify(2), in do_mq_notify's order: the sigevent is read
// (EFAULT) and checked (EINVAL), then the descriptor. SIGEV_THREAD needs a netlink
// socket at sigev_signo, which the Sentry does not have: any descriptor there is
// ENOTSOCK, or EINVAL for a socket, as netlink_getsockbyfilp answers (glibc's
// mq_notify, unable to make its netlink socket, fails with ENOSYS first).
func MqNotify(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var ev *kernel.SigEvent
	if a[1] != 0 {
		ev = new(kernel.SigEvent)
		if err := t.CopyInObj(a[1], ev); err != nil {
			return 0, unix.EFAULT
		}
		switch ev.Notify {
		case kernel.SIGEV_NONE:
		case kernel.SIGEV_SIGNAL:
			if uint32(ev.Signo) > 64 { // valid_signal: 0 is valid
				return 0, unix.EINVAL
			}
		case kernel.SIGEV_THREAD:
			cookie := make([]byte, 32) // NOTIFY_COOKIE_LEN
			if _, err := t.MM.CopyIn(uintptr(ev.Value), cookie); err != nil {
				return 0, unix.EFAULT
			}
			sf, err := getFD(t, uintptr(ev.Signo))
			if err != nil {
				return 0, err
			}
			st, err := sf.Stat()
			sf.DecRef()
			if err == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
				return 0, unix.EINVAL // a socket, but not AF_NETLINK
			}
			return 0, unix.ENOTSOCK
		default:
			return 0, unix.EINVAL
		}
	}
	q, f, err := mqOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, t.MqNotify(q, ev)
}

// MqGetsetattr implements mq_getsetattr(2): the new attributes are read (EFAULT) and
// checked (only O_NONBLOCK may be in mq_flags), then the descriptor; the old ones
// (mq_flags is the description's O_NONBLOCK) are written after the change.
func MqGetsetattr(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var set *mqueue.Attr
	if a[1] != 0 {
		set = new(mqueue.Attr)
		if err := t.CopyInObj(a[1], set); err != nil {
			return 0, unix.EFAULT
		}
		if set.Flags&^unix.O_NONBLOCK != 0 {
			return 0, unix.EINVAL
		}
	}
	q, f, err := mqOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	old := q.Attr()
	old.Flags = int64(f.StatusFlags() & unix.O_NONBLOCK)
	if set != nil {
		flags := f.StatusFlags()&^unix.O_NONBLOCK | int(set.Flags)
		f.SetStatusFlags(flags)
		q.Touch()
	}
	if a[2] != 0 {
		if err := t.CopyOutObj(a[2], &old); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}
