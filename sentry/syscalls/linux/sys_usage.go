package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// CPU time: getrusage(2), times(2) and the CPU-time clocks, from the kernel's
// accounting (sentry/kernel/usage.go). Of struct rusage only the times and ru_maxrss
// are kept; the other counters (faults, context switches…) read zero, a known
// divergence.

// rusage is struct rusage: two timevals and fourteen longs.
type rusage struct {
	Utime, Stime unix.Timeval
	Rest         [14]int64
}

func copyOutRusage(t *kernel.Task, addr uintptr, u kernel.Usage) error {
	r := rusage{Utime: unix.NsecToTimeval(u.User), Stime: unix.NsecToTimeval(u.Sys)}
	r.Rest[0] = int64(u.MaxRSS / 1024) // ru_maxrss, in KiB
	return t.CopyOutObj(addr, &r)
}

// Getrusage implements getrusage(2) for RUSAGE_SELF, RUSAGE_CHILDREN and RUSAGE_THREAD.
func Getrusage(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	t.FlushUsage()
	var u kernel.Usage
	switch int32(a[0]) {
	case unix.RUSAGE_SELF:
		u = t.ProcessUsage()
	case unix.RUSAGE_CHILDREN:
		u = t.ChildrenUsage()
	case unix.RUSAGE_THREAD:
		u = t.ThreadUsage()
	default:
		return 0, unix.EINVAL
	}
	return 0, copyOutRusage(t, a[1], u)
}

// userHZ is the unit of times(2): clock ticks of 1/100 s (USER_HZ).
const userHZ = 100

func ticks(ns int64) int64 { return ns / (1e9 / userHZ) }

// Times implements times(2). It returns the ticks since the sandbox booted (Linux
// counts from an arbitrary point; only differences mean anything).
func Times(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[0] != 0 {
		t.FlushUsage()
		self, children := t.ProcessUsage(), t.ChildrenUsage()
		tms := [4]int64{ticks(self.User), ticks(self.Sys), ticks(children.User), ticks(children.Sys)}
		if err := t.CopyOutObj(a[0], &tms); err != nil {
			return 0, err
		}
	}
	return uintptr(ticks(int64(t.Kernel().Uptime()))), nil
}

// cpuClock reads a CPU-time clock (kernel.IsCPUClock): EINVAL if it names nothing
// the caller may read (pid_for_clock with gettime).
func cpuClock(t *kernel.Task, id int32) (int64, error) {
	c, err := t.CPUClockOf(id, true)
	if err != nil {
		return 0, err
	}
	t.FlushUsage()
	return c.Now(), nil
}
