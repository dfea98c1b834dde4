package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// CPU-time clocks and the timers on them (kernel/time/posix-cpu-timers.c). A clock is
// a process's or one thread's CPU time: PROF (user and system), VIRT (user only) or
// SCHED (what the scheduler ran: here the same as PROF). CLOCK_PROCESS_CPUTIME_ID and
// CLOCK_THREAD_CPUTIME_ID are the caller's; clock_getcpuclockid and
// pthread_getcpuclockid make negative IDs that name another process, or another thread
// of the caller's process.
//
// The task's user time counts the stretch it is running in as it runs (usage.go), so a
// timer can see a busy loop's time without stopping it. Linux checks CPU timers at each
// tick; here a timer's host timer fires when the clock could first have reached its
// expiry (the time left, divided by the threads that can run, at least a tick of
// cpuTick), checks the clock, and fires again later if the expiry is still ahead. A
// clock whose process or thread is gone stops, and its timers with it.
//
// ITIMER_VIRTUAL and ITIMER_PROF are a process's own: SIGVTALRM and SIGPROF (si_code
// SI_KERNEL) at each expiry, an interval re-arming it.

// cpuTick is the finest step at which a CPU-time timer checks its clock: Debian's
// tick (HZ 250).
const cpuTick = 4 * time.Millisecond

// CPUCLOCK_* are the kinds of CPU-time clock encoded in a clock ID's low bits.
const (
	cpuClockProf      = 0
	cpuClockVirt      = 1
	cpuClockSched     = 2
	cpuClockMax       = 3
	cpuClockPerThread = 4
)

// cpuSet is what a process's CPU clock sums, kept apart from k.mu so that a timer
// reads it under its own lock: the live threads, and the time of the exited ones. Its
// mu is a leaf lock; k.mu is held to change it.
type cpuSet struct {
	mu      sync.Mutex
	threads []*Task
	dead    Usage
}

func (c *cpuSet) add(t *Task) {
	c.mu.Lock()
	c.threads = append(c.threads, t)
	c.mu.Unlock()
}

// exited moves t's time from the live threads to the exited ones.
func (c *cpuSet) exited(t *Task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.threads {
		if o == t {
			c.threads = append(c.threads[:i], c.threads[i+1:]...)
			break
		}
	}
	c.dead.add(t.usage.load())
}

// has reports whether t is a live thread of the process.
func (c *cpuSet) has(t *Task) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.threads {
		if o == t {
			return true
		}
	}
	return false
}

// sample returns the process's CPU time and how many threads can add to it.
func (c *cpuSet) sample() (Usage, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.dead
	for _, t := range c.threads {
		u.add(t.usage.load())
	}
	return u, len(c.threads)
}

// CPUClock is a CPU-time clock of a process, or of one thread.
type CPUClock struct {
	proc   *Process
	thread *Task // nil for the process's clock
	which  int
}

// IsCPUClock reports whether a clock ID names a CPU-time clock.
func IsCPUClock(clock int32) bool {
	return clock < 0 || clock == unix.CLOCK_PROCESS_CPUTIME_ID || clock == unix.CLOCK_THREAD_CPUTIME_ID
}

// CPUClockOf resolves a CPU-time clock ID for t, as pid_for_clock: EINVAL for a bad
// kind, a PID with no task, a thread of another process, or a process clock whose PID
// is not a process's (except, for reading it, t's own thread ID).
func (t *Task) CPUClockOf(clock int32, gettime bool) (CPUClock, error) {
	switch clock {
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		return CPUClock{proc: t.Proc, which: cpuClockSched}, nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return CPUClock{proc: t.Proc, thread: t, which: cpuClockSched}, nil
	}
	if clock >= 0 {
		return CPUClock{}, unix.EINVAL
	}
	pid, thread, which := ^(clock >> 3), clock&cpuClockPerThread != 0, int(clock&3)
	if which >= cpuClockMax {
		return CPUClock{}, unix.EINVAL
	}
	if pid == 0 {
		if thread {
			return CPUClock{proc: t.Proc, thread: t, which: which}, nil
		}
		return CPUClock{proc: t.Proc, which: which}, nil
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	ns := t.Proc.ns
	if thread {
		target := ns.tasks[pid]
		if target == nil || target.Proc != t.Proc {
			return CPUClock{}, unix.EINVAL
		}
		return CPUClock{proc: t.Proc, thread: target, which: which}, nil
	}
	if gettime && pid == t.id.in(ns) {
		return CPUClock{proc: t.Proc, which: which}, nil
	}
	p := ns.procs[pid]
	if p == nil {
		return CPUClock{}, unix.EINVAL
	}
	return CPUClock{proc: p, which: which}, nil
}

// PerThread reports whether the clock is one thread's.
func (c CPUClock) PerThread() bool { return c.thread != nil }

// Of reports whether the clock is t's own thread clock.
func (c CPUClock) Of(t *Task) bool { return c.thread == t }

// sample returns the clock's time in nanoseconds and how many threads can advance it
// (0: it has stopped).
func (c CPUClock) sample() (int64, int) {
	var u Usage
	n := 1
	if c.thread != nil {
		u = c.thread.usage.load()
		if !c.proc.cpu.has(c.thread) {
			n = 0
		}
	} else {
		u, n = c.proc.cpu.sample()
	}
	if c.which == cpuClockVirt {
		return u.User, n
	}
	return u.User + u.Sys, n
}

// Now reads the clock in nanoseconds.
func (c CPUClock) Now() int64 {
	ns, _ := c.sample()
	return ns
}

// untilReach is how long to wait, in host time, before the clock could be at target:
// the time left over the threads that can advance it, at least cpuTick; ok is false
// if the clock has stopped.
func (c CPUClock) untilReach(target int64) (time.Duration, bool) {
	now, n := c.sample()
	if n == 0 {
		return 0, false
	}
	return max(time.Duration((target-now)/int64(n)), cpuTick), true
}

// CPUSleep waits until the clock reaches target, as posix_cpu_nsleep, and reports
// whether it did: false if t was interrupted first. A clock that stops (its process or
// thread is gone) is waited on until t is interrupted.
func (t *Task) CPUSleep(c CPUClock, target int64) bool {
	for {
		if c.Now() >= target {
			return true
		}
		d, ok := c.untilReach(target)
		if !ok {
			d = time.Hour
		}
		tm := time.NewTimer(d)
		t.SleepStart()
		select {
		case <-tm.C:
		case <-t.Interrupted():
			t.SleepFinish()
			tm.Stop()
			return false
		}
		t.SleepFinish()
	}
}

// cpuItimer is ITIMER_VIRTUAL or ITIMER_PROF of a process: the clock time of its next
// expiry (0: disarmed) and its interval, in nanoseconds. k.mu guards it.
type cpuItimer struct {
	next, interval int64
	gen            uint64
	timer          *time.Timer
}

// itimerOf returns the process's ITIMER_VIRTUAL or ITIMER_PROF, its clock and signal.
func (p *Process) itimerOf(which int) (*cpuItimer, CPUClock, unix.Signal) {
	if which == unix.ITIMER_VIRTUAL {
		return &p.itimers[0], CPUClock{proc: p, which: cpuClockVirt}, unix.SIGVTALRM
	}
	return &p.itimers[1], CPUClock{proc: p, which: cpuClockProf}, unix.SIGPROF
}

// getLocked is the timer's value (time left, a tick when due but not yet fired, as
// get_cpu_itimer) and interval. k.mu is held.
func (it *cpuItimer) getLocked(c CPUClock) (value, interval int64) {
	if it.next == 0 {
		return 0, it.interval
	}
	left := it.next - c.Now()
	if left <= 0 {
		left = int64(cpuTick)
	}
	return left, it.interval
}

// CPUItimer returns ITIMER_VIRTUAL's or ITIMER_PROF's value and interval, as
// getitimer(2).
func (t *Task) CPUItimer(which int) (value, interval int64) {
	t.FlushUsage()
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	it, c, _ := t.Proc.itimerOf(which)
	return it.getLocked(c)
}

// SetCPUItimer sets ITIMER_VIRTUAL or ITIMER_PROF (value 0 disarms) and returns the
// old setting, as setitimer(2).
func (t *Task) SetCPUItimer(which int, value, interval int64) (oldValue, oldInterval int64) {
	t.FlushUsage()
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	it, c, sig := p.itimerOf(which)
	oldValue, oldInterval = it.getLocked(c)
	it.gen++
	if it.timer != nil {
		it.timer.Stop()
		it.timer = nil
	}
	it.next, it.interval = 0, interval
	if value > 0 {
		// set_cpu_itimer adds a tick to the value.
		it.next = c.Now() + value + int64(cpuTick)
		p.armItimerLocked(k, it, c, sig, it.gen)
	}
	return oldValue, oldInterval
}

// armItimerLocked starts the host timer that checks it. When the clock has reached
// the expiry, the signal goes to the process and an interval moves the expiry on by
// one interval. k.mu is held.
func (p *Process) armItimerLocked(k *Kernel, it *cpuItimer, c CPUClock, sig unix.Signal, gen uint64) {
	d, ok := c.untilReach(it.next)
	if !ok {
		return
	}
	it.timer = time.AfterFunc(d, func() {
		k.mu.Lock()
		if it.gen != gen || p.exit != nil {
			k.mu.Unlock()
			return
		}
		it.timer = nil
		now := c.Now()
		if now < it.next {
			p.armItimerLocked(k, it, c, sig, gen)
			k.mu.Unlock()
			return
		}
		if it.interval > 0 {
			it.next += it.interval // one interval per check, as check_cpu_itimer
			p.armItimerLocked(k, it, c, sig, gen)
		} else {
			it.next = 0
		}
		target := p.signalTarget(sig)
		k.mu.Unlock()
		if target != nil {
			var info arch.SignalInfo
			info.Code = arch.SI_KERNEL
			target.Queue(int(sig), info)
		}
	})
}

// stopItimersLocked stops the CPU itimers' host timers (exit). k.mu is held.
func (p *Process) stopItimersLocked() {
	for i := range p.itimers {
		p.itimers[i].gen++
		if p.itimers[i].timer != nil {
			p.itimers[i].timer.Stop()
			p.itimers[i].timer = nil
		}
	}
}
