package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/timerfd"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// timerfd_create(2)'s and timerfd_settime(2)'s flags.
const (
	tfdTimerAbstime     = 1 << 0
	tfdTimerCancelOnSet = 1 << 1
)

// clockReader returns a function reading clock in nanoseconds, for the clocks a timer
// may use: EINVAL for the others. The alarm clocks (which wake a suspended machine) are
// not supported.
func clockReader(t *kernel.Task, clock int32) (func() int64, error) {
	switch clock {
	case unix.CLOCK_REALTIME:
		return timeNow, nil
	case unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
		k := t.Kernel()
		return func() int64 { return int64(k.Uptime()) }, nil
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		return nil, unsupported(t, "timer on alarm clock %d", clock)
	}
	return nil, unix.EINVAL
}

// TimerfdCreate implements timerfd_create(2).
func TimerfdCreate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	clock, flags := int32(a[0]), int(a[1])
	if flags&^(unix.TFD_CLOEXEC|unix.TFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	now, err := clockReader(t, clock)
	if err != nil {
		return 0, err
	}
	f := timerfd.New(t.Kernel().VFS, now, flags)
	return installFD(t, f, flags&unix.TFD_CLOEXEC != 0)
}

// timerfdOf returns the timer at fd (EBADF, or EINVAL for another file) and the
// function dropping the reference.
func timerfdOf(t *kernel.Task, fd uintptr) (*timerfd.Timer, func(), error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, nil, err
	}
	tm, ok := f.Impl().(*timerfd.Timer)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return tm, f.DecRef, nil
}

// itimerspecIn reads a struct itimerspec as nanoseconds (value, interval): EFAULT, and
// whether both times are valid timespecs (itimerspec64_valid).
func itimerspecIn(t *kernel.Task, addr uintptr) (value, interval int64, valid bool, err error) {
	var its unix.ItimerSpec
	if err := t.CopyInObj(addr, &its); err != nil {
		return 0, 0, false, unix.EFAULT
	}
	valid = timespecValid(its.Value) && timespecValid(its.Interval)
	return its.Value.Nano(), its.Interval.Nano(), valid, nil
}

func timespecValid(ts unix.Timespec) bool {
	return ts.Sec >= 0 && ts.Nsec >= 0 && ts.Nsec < int64(time.Second)
}

// itimerspecOut writes a struct itimerspec.
func itimerspecOut(t *kernel.Task, addr uintptr, value, interval int64) error {
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(value), Interval: unix.NsecToTimespec(interval)}
	return t.CopyOutObj(addr, &its)
}

// TimerfdSettime implements timerfd_settime(2), in its order of checks: the new
// setting is read (EFAULT), then the flags and setting are checked (EINVAL), then fd.
func TimerfdSettime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := int(a[1])
	value, interval, valid, err := itimerspecIn(t, a[2])
	if err != nil {
		return 0, err
	}
	if flags&^(tfdTimerAbstime|tfdTimerCancelOnSet) != 0 || !valid {
		return 0, unix.EINVAL
	}
	tm, done, err := timerfdOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	// TFD_TIMER_CANCEL_ON_SET is accepted, but the Sentry never sets the realtime clock,
	// so the timer is never cancelled by it (a jump of the host's clock is not seen).
	old := tm.Set(timerfd.Spec{Value: value, Interval: interval}, flags&tfdTimerAbstime != 0)
	if a[3] != 0 {
		return 0, itimerspecOut(t, a[3], old.Value, old.Interval)
	}
	return 0, nil
}

// TimerfdGettime implements timerfd_gettime(2).
func TimerfdGettime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	tm, done, err := timerfdOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	cur := tm.Get()
	return 0, itimerspecOut(t, a[1], cur.Value, cur.Interval)
}
