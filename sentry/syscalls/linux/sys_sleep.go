package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// sleep waits d, or until the task is interrupted (ERESTART_RESTARTBLOCK: EINTR if a
// handler runs, with the time left).
func sleep(t *kernel.Task, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	start := time.Now()
	select {
	case <-timer.C:
		return 0, nil
	case <-t.Interrupted():
		return max(d-time.Since(start), 0), kernel.ERESTART_RESTARTBLOCK
	}
}

func timespecIn(t *kernel.Task, addr uintptr) (unix.Timespec, error) {
	var ts unix.Timespec
	if err := t.CopyInObj(addr, &ts); err != nil {
		return ts, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return ts, unix.EINVAL
	}
	return ts, nil
}

// Nanosleep implements nanosleep(2).
func Nanosleep(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	ts, err := timespecIn(t, a[0])
	if err != nil {
		return 0, err
	}
	left, err := sleep(t, time.Duration(ts.Nano()))
	if err != nil && a[1] != 0 {
		rem := unix.NsecToTimespec(int64(left))
		t.CopyOutObj(a[1], &rem)
	}
	return 0, err
}

// ClockNanosleep implements clock_nanosleep(2) on the realtime and monotonic clocks,
// relative or absolute (TIMER_ABSTIME).
func ClockNanosleep(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	clock, flags := int32(a[0]), a[1]
	const timerAbstime = 1
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		return 0, unsupported(t, "clock_nanosleep on a CPU-time clock")
	default:
		return 0, unix.EINVAL
	}
	ts, err := timespecIn(t, a[2])
	if err != nil {
		return 0, err
	}
	d := time.Duration(ts.Nano())
	if flags&timerAbstime != 0 {
		if clock == unix.CLOCK_REALTIME || clock == unix.CLOCK_TAI {
			d = time.Until(time.Unix(0, ts.Nano()))
		} else {
			d -= t.Kernel().Uptime()
		}
	}
	left, err := sleep(t, d)
	if err != nil && flags&timerAbstime == 0 && a[3] != 0 {
		rem := unix.NsecToTimespec(int64(left))
		t.CopyOutObj(a[3], &rem)
	}
	return 0, err
}
