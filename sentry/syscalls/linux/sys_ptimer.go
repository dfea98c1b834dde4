package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// clockFD marks a negative clock ID that names a clock device by its descriptor
// (CLOCKFD: a PTP clock), which the Sentry has none of, and which has no timers.
const clockFD = 3

// TimerCreate implements timer_create(2), in kernel/time/posix-timers.c's order of
// checks: the sigevent is read (EFAULT), the clock checked (EINVAL, or EOPNOTSUPP for
// a clock that has no timers), the sigevent checked (EINVAL), the id written (EFAULT,
// and the timer is gone). The CPU-time clocks are sentry/kernel/cputimer.go's.
func TimerCreate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	clock := int32(a[0])
	var ev *kernel.SigEvent
	if a[1] != 0 {
		ev = new(kernel.SigEvent)
		if err := t.CopyInObj(a[1], ev); err != nil {
			return 0, unix.EFAULT
		}
	}
	var id int32
	switch {
	case clock == unix.CLOCK_MONOTONIC_RAW || clock == unix.CLOCK_REALTIME_COARSE || clock == unix.CLOCK_MONOTONIC_COARSE,
		clock < 0 && clock&7 == clockFD:
		return 0, unix.EOPNOTSUPP
	case kernel.IsCPUClock(clock):
		c, err := t.CPUClockOf(clock, false)
		if err != nil {
			return 0, err
		}
		if id, err = t.TimerCreateCPU(c, ev); err != nil {
			return 0, err
		}
	default:
		now, err := clockReader(t, clock)
		if err != nil {
			return 0, err
		}
		if id, err = t.TimerCreate(now, ev); err != nil {
			return 0, err
		}
	}
	if err := t.CopyOutObj(a[2], id); err != nil {
		t.TimerDelete(id)
		return 0, unix.EFAULT
	}
	return 0, nil
}

// TimerSettime implements timer_settime(2): no new setting is EINVAL, then it is read
// (EFAULT) and checked (EINVAL), then the timer looked up (EINVAL).
func TimerSettime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[2] == 0 {
		return 0, unix.EINVAL
	}
	value, interval, valid, err := itimerspecIn(t, a[2])
	if err != nil {
		return 0, err
	}
	if !valid {
		return 0, unix.EINVAL
	}
	const timerAbstime = 1
	old, err := t.TimerSet(int32(a[0]), kernel.Timer{Value: value, Interval: interval}, a[1]&timerAbstime != 0)
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		return 0, itimerspecOut(t, a[3], old.Value, old.Interval)
	}
	return 0, nil
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	cur, err := t.TimerGet(int32(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, itimerspecOut(t, a[1], cur.Value, cur.Interval)
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	n, err := t.TimerGetOverrun(int32(a[0]))
	return uintptr(n), err
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.TimerDelete(int32(a[0]))
}
