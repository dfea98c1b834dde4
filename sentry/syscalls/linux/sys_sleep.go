package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// sleep waits d, or until the task is interrupted: then the time left goes to rem
// (if not 0) and the call ends with ERESTART_RESTARTBLOCK: EINTR if a handler runs,
// else restart_syscall sleeps until the same deadline, as Linux's
// hrtimer_nanosleep_restart (time spent stopped counts).
func sleep(t *kernel.Task, d time.Duration, rem uintptr) (uintptr, error) {
	if d <= 0 {
		return 0, nil
	}
	return sleepUntil(t, time.Now().Add(d), rem)
}

func sleepUntil(t *kernel.Task, deadline time.Time, rem uintptr) (uintptr, error) {
	d := time.Until(deadline)
	if d <= 0 {
		return 0, nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	t.SleepStart()
	select {
	case <-timer.C:
		t.SleepFinish()
		return 0, nil
	case <-t.Interrupted():
	}
	t.SleepFinish()
	if rem != 0 {
		left := unix.NsecToTimespec(int64(max(time.Until(deadline), 0)))
		if err := t.CopyOutObj(rem, &left); err != nil {
			return 0, err
		}
	}
	t.RestartBlock(func(t *kernel.Task) (uintptr, error) { return sleepUntil(t, deadline, rem) })
	return 0, kernel.ERESTART_RESTARTBLOCK
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
	return sleep(t, time.Duration(ts.Nano()), a[1])
}

// ClockNanosleep implements clock_nanosleep(2) on the realtime and monotonic clocks and
// the CPU-time clocks, relative or absolute (TIMER_ABSTIME).
func ClockNanosleep(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	clock, flags := int32(a[0]), a[1]
	const timerAbstime = 1
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return 0, unix.EOPNOTSUPP // clock_thread has no nsleep
	default:
		if clock < 0 && clock&7 == clockFD {
			return 0, unix.EOPNOTSUPP // a clock device: no nsleep
		}
		if !kernel.IsCPUClock(clock) {
			return 0, unix.EINVAL
		}
		return cpuNanosleep(t, clock, flags&timerAbstime != 0, a[2], a[3])
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
	if flags&timerAbstime != 0 {
		// An absolute sleep is made again with its arguments (ERESTARTNOHAND).
		if _, err := sleep(t, d, 0); err != nil {
			return 0, kernel.ERESTARTNOHAND
		}
		return 0, nil
	}
	return sleep(t, d, a[3])
}

// RestartSyscall implements restart_syscall(2): the continuation of a call a stop or
// an ignored signal interrupted.
func RestartSyscall(t *kernel.Task, a [6]uintptr) (uintptr, error) { return t.RestartSyscall() }

// cpuNanosleep is clock_nanosleep on a CPU-time clock, as posix_cpu_nsleep: the time is
// read (EFAULT, EINVAL), the caller's own thread clock is EINVAL (it could never
// advance), the clock must name something (EINVAL). Interrupted, an absolute sleep is
// made again (ERESTARTNOHAND); a relative one writes the clock time left to rem and
// goes on to the same target through restart_syscall.
func cpuNanosleep(t *kernel.Task, clock int32, abs bool, tsAddr, rem uintptr) (uintptr, error) {
	ts, err := timespecIn(t, tsAddr)
	if err != nil {
		return 0, err
	}
	c, err := t.CPUClockOf(clock, false)
	if err != nil {
		return 0, err
	}
	if c.Of(t) {
		return 0, unix.EINVAL
	}
	t.FlushUsage()
	target := ts.Nano()
	if !abs {
		target += c.Now()
	}
	return cpuSleepUntil(t, c, target, abs, rem)
}

func cpuSleepUntil(t *kernel.Task, c kernel.CPUClock, target int64, abs bool, rem uintptr) (uintptr, error) {
	if t.CPUSleep(c, target) {
		return 0, nil
	}
	if abs {
		return 0, kernel.ERESTARTNOHAND
	}
	if rem != 0 {
		left := unix.NsecToTimespec(max(target-c.Now(), 0))
		if err := t.CopyOutObj(rem, &left); err != nil {
			return 0, err
		}
	}
	t.RestartBlock(func(t *kernel.Task) (uintptr, error) { return cpuSleepUntil(t, c, target, false, rem) })
	return 0, kernel.ERESTART_RESTARTBLOCK
}
