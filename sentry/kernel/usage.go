package kernel

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// CPU accounting. A task's user time is the wall time it spends in the platform's
// Switch, running application code: the application runs on a host thread the Sentry
// does not own, and no platform can read that thread's CPU clock cheaply, so this
// counts as user time any moment the host kept the runnable application off a CPU
// (as gVisor does). Its system time is the CPU time of the Sentry thread that serves
// it, read from that thread's own CPU clock: time a system call spends blocked (sleep,
// wait, a read from an empty pipe) is not counted, as on Linux.

// Usage is CPU time, in nanoseconds.
type Usage struct {
	User, Sys int64
}

func (u *Usage) add(o Usage) { u.User += o.User; u.Sys += o.Sys }

// taskUsage is a task's running CPU time; other tasks read it (getrusage, times), so
// its fields are atomic.
type taskUsage struct {
	user, sys atomic.Int64
	// lastCPU is the Sentry thread's CPU clock when it was last read (task goroutine
	// only).
	lastCPU int64
}

func (u *taskUsage) load() Usage { return Usage{User: u.user.Load(), Sys: u.sys.Load()} }

// threadCPU reads the calling OS thread's CPU clock. The task goroutine is locked to
// its thread, so this is the Sentry's work for the task.
func threadCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// startAccounting starts the Sentry-time clock of the task's thread.
func (t *Task) startAccounting() { t.usage.lastCPU = threadCPU() }

// accountSys charges the task with the Sentry CPU time since the last call.
func (t *Task) accountSys() {
	now := threadCPU()
	t.usage.sys.Add(now - t.usage.lastCPU)
	t.usage.lastCPU = now
}

// accountUser charges the task with d of application time.
func (t *Task) accountUser(d time.Duration) { t.usage.user.Add(int64(d)) }

// ThreadUsage is the CPU time of t itself (RUSAGE_THREAD, CLOCK_THREAD_CPUTIME_ID).
func (t *Task) ThreadUsage() Usage { return t.usage.load() }

// ProcessUsage is the CPU time of t's process: its exited threads and its live ones
// (RUSAGE_SELF, CLOCK_PROCESS_CPUTIME_ID).
func (t *Task) ProcessUsage() Usage {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return t.Proc.usageLocked()
}

// usageLocked is p's CPU time. k.mu must be held.
func (p *Process) usageLocked() Usage {
	u := p.deadUsage
	for th := range p.threads {
		u.add(th.usage.load())
	}
	return u
}

// ChildrenUsage is the CPU time of t's process's reaped children and, as Linux counts
// it, of the descendants they reaped (RUSAGE_CHILDREN, times' cutime and cstime).
func (t *Task) ChildrenUsage() Usage {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return t.Proc.childUsage
}
