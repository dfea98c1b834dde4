package kernel

import (
	"runtime"
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
//
// That clock is the task's only while no other goroutine runs on the thread, so the
// task goroutine is locked to its thread (Task.Run) and the clock is read at both ends
// of each stretch it stays locked: a window of Sentry work and Switches, which ends
// every accountEvery stretches, or when someone needs the time now (FlushUsage), or
// when the task is about to wait. On a platform that is not thread-bound
// (platform.Platform.ThreadBound) a wait lets go of the thread: SleepStart charges
// the window and unlocks, right before the wait's select, and SleepFinish, right after
// it, locks the goroutine to whatever thread it woke on and opens a new window there.
// Between the two the goroutine runs only to park and to wake, and the time it spends
// parked is no CPU time. A wait that does not call them stays locked, which costs the
// parked thread but counts right all the same.

// Usage is CPU time, in nanoseconds.
type Usage struct {
	User, Sys int64
	// MaxRSS is the largest resident set in bytes (ru_maxrss): adding usages keeps
	// the larger.
	MaxRSS uint64
}

func (u *Usage) add(o Usage) { u.User += o.User; u.Sys += o.Sys; u.MaxRSS = max(u.MaxRSS, o.MaxRSS) }

// taskUsage is a task's running CPU time; other tasks read it (getrusage, times), so
// its fields are atomic.
type taskUsage struct {
	user, sys atomic.Int64
	// switchedAt is when the task last entered the platform's Switch (Unix
	// nanoseconds), 0 while it is outside: readers count the stretch in progress as
	// user time, so that a CPU-time timer sees a busy loop's time as it runs. seq is odd
	// while the task goroutine changes user and switchedAt together.
	switchedAt, seq atomic.Int64
	// The rest is the task goroutine's only. lastCPU is the Sentry thread's CPU clock
	// when it was last read; wall is the Sentry's wall time for the task since then,
	// outside Switch, over n stretches; from is when the current stretch began (or was
	// last charged up to). parked is set between SleepStart and SleepFinish, while the
	// goroutine is not locked to its thread.
	lastCPU int64
	wall    time.Duration
	n       int
	from    int64 // monoNow
	parked  bool
}

// monoNow reads the monotonic clock, in nanoseconds since the package started: one
// vDSO call, where time.Now reads the wall clock too. The task loop reads it about
// three times a system call.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

var monoEpoch = time.Now()

func (u *taskUsage) load() Usage {
	for {
		g := u.seq.Load()
		if g&1 != 0 {
			continue
		}
		at, user, sys := u.switchedAt.Load(), u.user.Load(), u.sys.Load()
		if u.seq.Load() != g {
			continue
		}
		if at != 0 {
			user += max(monoNow()-at, 0)
		}
		return Usage{User: user, Sys: sys}
	}
}

// enterSwitch marks the start of a stretch of application time at now (monoNow, never
// 0: monoEpoch is in the past).
func (u *taskUsage) enterSwitch(now int64) {
	u.switchedAt.Store(max(now, 1))
}

// threadCPU reads the calling OS thread's CPU clock. The task goroutine is locked to
// its thread (outside SleepStart and SleepFinish), so this is the Sentry's work for
// the task.
func threadCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// startAccounting starts the Sentry-time clock of the task's thread, to which the task
// goroutine is locked.
func (t *Task) startAccounting() {
	t.usage.lastCPU = threadCPU()
	t.usage.from = monoNow()
}

// Reading the thread's CPU clock is a host system call (about half a microsecond, a
// tenth of a sandboxed getpid), so it is read once per accountEvery stretches of Sentry
// work, or after a long one (one that may have blocked). The clock also runs while the
// Sentry spins in Switch waiting for the application (systrap), which is no system time
// of the task's; so what a window charges is the smaller of the CPU time it saw and the
// Sentry's wall time outside Switch in it: never more than either.
const (
	accountEvery = 16
	accountLong  = 50 * time.Microsecond
)

// accountSys ends a stretch of Sentry work for the task at now (monoNow; before a
// Switch, at exit).
func (t *Task) accountSys(now int64) {
	u := &t.usage
	d := time.Duration(now - u.from)
	u.wall += d
	u.from = now
	u.n++
	if u.n >= accountEvery || d > accountLong {
		t.FlushUsage()
	}
}

// FlushUsage charges the task with the system time of its open window, up to now, so
// that what it reads of its own usage is up to date. Only the task goroutine may call
// it. A parked task has nothing to charge: SleepStart charged its window.
func (t *Task) FlushUsage() {
	u := &t.usage
	if u.parked {
		return
	}
	now := monoNow()
	u.wall += time.Duration(now - u.from)
	u.from = now
	cpu := threadCPU()
	u.sys.Add(min(cpu-u.lastCPU, int64(u.wall)))
	u.lastCPU, u.wall, u.n = cpu, 0, 0
}

// SleepStart is called on the task goroutine right before a wait that may block (the
// select that takes Interrupted): where the platform lets it (Kernel.threadFree), it
// charges the task's open window and lets go of the OS thread, so that the wait parks
// a goroutine, not a thread. SleepFinish must follow right after the wait. It
// implements vfs.Sleeper.
func (t *Task) SleepStart() {
	u := &t.usage
	if !t.k.threadFree || u.parked {
		return
	}
	t.FlushUsage()
	u.parked = true
	runtime.UnlockOSThread()
}

// SleepFinish ends what SleepStart began: the goroutine is locked to the thread it
// woke on, whose CPU clock a new window starts from. Without a SleepStart before it,
// it does nothing. It implements vfs.Sleeper.
func (t *Task) SleepFinish() {
	u := &t.usage
	if !u.parked {
		return
	}
	runtime.LockOSThread()
	u.parked = false
	u.lastCPU = threadCPU()
	u.from = monoNow()
}

// accountUser charges the task with the application time from start to end, and
// starts a stretch of Sentry work at end (one clock read for both).
func (t *Task) accountUser(start, end int64) {
	u := &t.usage
	u.seq.Add(1)
	u.user.Add(end - start)
	u.switchedAt.Store(0)
	u.seq.Add(1)
	u.from = end
}

// ThreadUsage is the CPU time of t itself (RUSAGE_THREAD, CLOCK_THREAD_CPUTIME_ID).
func (t *Task) ThreadUsage() Usage {
	u := t.usage.load()
	u.MaxRSS = t.MM.MaxRSS()
	return u
}

// ProcessUsage is the CPU time of t's process: its exited threads and its live ones
// (RUSAGE_SELF, CLOCK_PROCESS_CPUTIME_ID).
func (t *Task) ProcessUsage() Usage {
	k := t.k
	k.mu.Lock()
	u := t.Proc.usageLocked()
	k.mu.Unlock()
	u.MaxRSS = max(u.MaxRSS, t.MM.MaxRSS()) // the address space's, and its earlier ones'
	return u
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
