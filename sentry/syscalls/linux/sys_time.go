package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// The Sentry's clocks. The application has no vDSO: every clock read is a system call
// that reads the Sentry's own clocks.

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var ts unix.Timespec
	switch int32(a[0]) {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE:
		ts = unix.NsecToTimespec(time.Now().UnixNano())
	case unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_BOOTTIME:
		ts = unix.NsecToTimespec(int64(t.Kernel().Uptime()))
	default:
		if !kernel.IsCPUClock(int32(a[0])) {
			return 0, unix.EINVAL
		}
		ns, err := cpuClock(t, int32(a[0]))
		if err != nil {
			return 0, err
		}
		ts = unix.NsecToTimespec(ns)
	}
	return 0, t.CopyOutObj(a[1], &ts)
}

// ClockGetres implements clock_getres(2): 1 ns for the high-resolution clocks, a tick
// (4 ms, Debian's HZ of 250) for the coarse ones and the PROF and VIRT CPU clocks.
func ClockGetres(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var res int64
	clock := int32(a[0])
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_BOOTTIME,
		unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		res = 1
	case unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		res = 4_000_000
	default:
		// Another process's or thread's CPU clock (posix_cpu_clock_getres): 1 ns for
		// a SCHED clock, a tick for PROF and VIRT; EINVAL if it names nothing.
		if clock >= 0 {
			return 0, unix.EINVAL
		}
		if _, err := t.CPUClockOf(clock, false); err != nil {
			return 0, err
		}
		res = 4_000_000
		if clock&3 == 2 {
			res = 1
		}
	}
	if a[1] == 0 {
		return 0, nil
	}
	ts := unix.NsecToTimespec(res)
	return 0, t.CopyOutObj(a[1], &ts)
}

// Gettimeofday implements gettimeofday(2). The time zone argument is obsolete; Linux
// fills it with zeroes from its sys_tz, as here.
func Gettimeofday(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[0] != 0 {
		tv := unix.NsecToTimeval(time.Now().UnixNano())
		if err := t.CopyOutObj(a[0], &tv); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := t.CopyOutObj(a[1], &[2]int32{}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	now := time.Now().Unix()
	if a[0] != 0 {
		if err := t.CopyOutObj(a[0], now); err != nil {
			return 0, err
		}
	}
	return uintptr(now), nil
}

// timeNow is the realtime clock in nanoseconds.
func timeNow() int64 { return time.Now().UnixNano() }
