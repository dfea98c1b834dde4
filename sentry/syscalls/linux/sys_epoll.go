package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/epoll"
	"github.com/moat-sandbox/moat/sentry/fsimpl/eventfd"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[0]&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, a[0]&unix.EPOLL_CLOEXEC != 0)
}

// EpollCreate implements epoll_create(2): the size is only checked.
func EpollCreate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, false)
}

func newEpoll(t *kernel.Task, cloexec bool) (uintptr, error) {
	f, _ := epoll.New(t.Kernel().VFS, 0)
	return installFD(t, f, cloexec)
}

func epollOf(t *kernel.Task, epfd uintptr) (*epoll.Instance, func(), error) {
	f, err := getFD(t, epfd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := f.Impl().(*epoll.Instance)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return in, f.DecRef, nil
}

// EpollCtl implements epoll_ctl(2), in the order of its checks.
func EpollCtl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	op, fdArg := int(a[1]), int32(a[2])
	var ev struct {
		Events uint32
		Data   uint64
	}
	if op != unix.EPOLL_CTL_DEL {
		var b [12]byte // struct epoll_event is packed on x86-64
		if _, err := t.MM.CopyIn(a[3], b[:]); err != nil {
			return 0, err
		}
		ev.Events, ev.Data = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint64(b[4:])
	}
	in, done, err := epollOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	target, err := getFD(t, uintptr(fdArg))
	if err != nil {
		return 0, err
	}
	defer target.DecRef()
	if target.Impl() == vfs.FileImpl(in) {
		return 0, unix.EINVAL
	}
	if _, ok := target.Impl().(vfs.Waitable); !ok {
		return 0, unix.EPERM // regular files and directories can't be polled
	}
	// As do_epoll_ctl: an exclusive wake-up is asked for at EPOLL_CTL_ADD only (MOD is
	// refused in Ctl), with a few events, and not on an epoll file. Waking every
	// waiter, as the Sentry does, is what "one or more" in epoll_ctl(2) allows.
	const exclusiveOK = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLERR | unix.EPOLLHUP |
		unix.EPOLLWAKEUP | unix.EPOLLET | unix.EPOLLEXCLUSIVE
	nested, isEpoll := target.Impl().(*epoll.Instance)
	if op == unix.EPOLL_CTL_ADD && ev.Events&unix.EPOLLEXCLUSIVE != 0 && (isEpoll || ev.Events&^exclusiveOK != 0) {
		return 0, unix.EINVAL
	}
	if op == unix.EPOLL_CTL_ADD && isEpoll && in.WouldLoop(nested) {
		return 0, unix.ELOOP
	}
	return 0, in.Ctl(op, fdArg, target, ev.Events, ev.Data)
}

// epollWait is epoll_wait's common part: timeout in milliseconds (-1: forever).
func epollWait(t *kernel.Task, epfd, addr uintptr, max int32, timeout time.Duration, forever bool) (uintptr, error) {
	if max <= 0 || max > 1<<20 {
		return 0, unix.EINVAL
	}
	in, done, err := epollOf(t, epfd)
	if err != nil {
		return 0, err
	}
	defer done()
	var deadline time.Time
	poll := !forever && timeout <= 0
	if !forever && !poll {
		deadline = time.Now().Add(timeout)
	}
	evs, err := in.Wait(t, int(max), deadline, poll, func(fd int32) *vfs.FileDescription {
		f, err := t.FDs.Get(fd)
		if err != nil {
			return nil
		}
		f.DecRef()
		return f
	})
	if err != nil {
		return 0, err
	}
	b := make([]byte, 12*len(evs))
	for i, e := range evs {
		binary.LittleEndian.PutUint32(b[12*i:], e.Events)
		binary.LittleEndian.PutUint64(b[12*i+4:], e.Data)
	}
	if _, err := t.MM.CopyOut(addr, b); err != nil {
		return 0, err
	}
	return uintptr(len(evs)), nil
}

func msTimeout(ms int32) (time.Duration, bool) {
	if ms < 0 {
		return 0, true
	}
	return time.Duration(ms) * time.Millisecond, false
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	d, forever := msTimeout(int32(a[3]))
	return epollWait(t, a[0], a[1], int32(a[2]), d, forever)
}

// EpollPwait implements epoll_pwait(2): the signal mask, if given, applies while it
// waits.
func EpollPwait(t *kernel.Task, a [6]uintptr) (n uintptr, err error) {
	end, err := temporaryMask(t, a[4], a[5])
	if err != nil {
		return 0, err
	}
	defer func() { end(err) }()
	d, forever := msTimeout(int32(a[3]))
	return epollWait(t, a[0], a[1], int32(a[2]), d, forever)
}

// temporaryMask reads the signal mask at addr (size bytes) that a call applies while
// it waits, and applies it; the returned function ends it (kernel.TemporarySigMask).
// No mask (addr 0) changes nothing.
func temporaryMask(t *kernel.Task, addr, size uintptr) (func(error), error) {
	if addr == 0 {
		return func(error) {}, nil
	}
	if size != 8 {
		return nil, unix.EINVAL
	}
	var mask uint64
	if err := t.CopyInObj(addr, &mask); err != nil {
		return nil, err
	}
	return t.TemporarySigMask(mask), nil
}

// Eventfd2 implements eventfd2(2).
func Eventfd2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	const efdSemaphore = 1
	flags := int(a[1])
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|efdSemaphore) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(t.Kernel().VFS, uint64(uint32(a[0])), flags&efdSemaphore != 0, flags)
	return installFD(t, f, flags&unix.EFD_CLOEXEC != 0)
}

// Eventfd implements eventfd(2).
func Eventfd(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return Eventfd2(t, [6]uintptr{a[0], 0})
}

// pollfd is struct pollfd.
type pollfd struct {
	FD      int32
	Events  int16
	Revents int16
}

// doPoll is poll and ppoll: negative descriptors are skipped, bad ones report POLLNVAL.
func doPoll(t *kernel.Task, addr uintptr, n uint64, timeout time.Duration, forever bool) (uintptr, error) {
	if n > t.Limits[unix.RLIMIT_NOFILE].Cur {
		return 0, unix.EINVAL
	}
	fds := make([]pollfd, n)
	for i := range fds {
		if err := t.CopyInObj(addr+uintptr(8*i), &fds[i]); err != nil {
			return 0, err
		}
	}
	var timer <-chan time.Time
	if !forever && timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	for {
		ready := 0
		var changes []<-chan struct{}
		for i := range fds {
			p := &fds[i]
			p.Revents = 0
			if p.FD < 0 {
				continue
			}
			f, err := t.FDs.Get(p.FD)
			if err != nil {
				p.Revents = unix.POLLNVAL
				ready++
				continue
			}
			r := f.ReadinessFor(t) & (uint32(uint16(p.Events)) | vfs.EventErr | vfs.EventHup)
			if ch := f.ChangedFor(t); ch != nil {
				changes = append(changes, ch)
			}
			f.DecRef()
			if r != 0 {
				p.Revents = int16(r)
				ready++
			}
		}
		if ready > 0 || !forever && timeout <= 0 {
			for i := range fds {
				if err := t.CopyOutObj(addr+uintptr(8*i)+6, fds[i].Revents); err != nil {
					return 0, err
				}
			}
			return uintptr(ready), nil
		}
		if err := waitAny(t, changes, timer); err != nil {
			if err == errTimeout {
				timeout, forever = 0, false
				continue
			}
			return 0, err
		}
	}
}

// Poll implements poll(2).
func Poll(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	d, forever := msTimeout(int32(a[2]))
	return doPoll(t, a[0], uint64(a[1]), d, forever)
}

// Ppoll implements ppoll(2).
func Ppoll(t *kernel.Task, a [6]uintptr) (n uintptr, err error) {
	forever, d := true, time.Duration(0)
	if a[2] != 0 {
		ts, err := timespecIn(t, a[2])
		if err != nil {
			return 0, err
		}
		forever, d = false, time.Duration(ts.Nano())
	}
	end, err := temporaryMask(t, a[3], a[4])
	if err != nil {
		return 0, err
	}
	defer func() { end(err) }()
	return doPoll(t, a[0], uint64(a[1]), d, forever)
}

// EpollPwait2 implements epoll_pwait2(2): epoll_pwait with a timespec timeout (NULL
// waits forever; a negative or unnormalized one is EINVAL).
func EpollPwait2(t *kernel.Task, a [6]uintptr) (n uintptr, err error) {
	d, forever := time.Duration(0), true
	if a[3] != 0 {
		ts, err := timespecIn(t, a[3])
		if err != nil {
			return 0, err
		}
		d, forever = time.Duration(ts.Nano()), false
	}
	end, err := temporaryMask(t, a[4], a[5])
	if err != nil {
		return 0, err
	}
	defer func() { end(err) }()
	return epollWait(t, a[0], a[1], int32(a[2]), d, forever)
}
