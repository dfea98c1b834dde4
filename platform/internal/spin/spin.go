// Package spin is the busy-waiting the two fast platforms hand over with: systrap's
// Sentry waiting for a stub thread's event (platform/ptrace), and kvm's Sentry and
// vCPU thread waiting for each other's answer (platform/kvm). A side spins for as long
// as the other has lately been taking (For: three times the moving average, Average),
// within a limit each platform sets, never on one CPU; past Busy a spinner yields its
// CPU between looks (Until), so that on an oversubscribed host the CPU goes to a
// thread with work, often the very one it waits for. PAUSE (Pause) is what the
// application-side spinners execute too (the stub's handler, the guest's fast entry),
// and PauseTime, measured once, turns a time into their budget of PAUSEs.
package spin

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Busy is how long a spinner spins before it yields its CPU between looks.
const Busy = 5 * time.Microsecond

var (
	// MultiCPU: with one CPU nobody spins, the other side needs the CPU.
	MultiCPU = runtime.NumCPU() > 1
	// PauseTime is how long one PAUSE takes here (tens of cycles on one CPU, a
	// hundred and more on another).
	PauseTime = measurePause()
)

// measurePause times the PAUSE instruction: the best of a few runs of a thousand.
func measurePause() time.Duration {
	best := time.Duration(1 << 62)
	for range 5 {
		t0 := time.Now()
		PauseLoop(1000)
		best = min(best, time.Since(t0))
	}
	return max(best/1000, time.Nanosecond)
}

// Pause executes one PAUSE (pause_amd64.s): no machine clear when the word a spinner
// watches changes.
func Pause()

// PauseLoop executes PAUSE n times (pause_amd64.s).
func PauseLoop(n uint32)

// For is how long to spin for a side that has lately taken avg: nothing past limit
// (or on one CPU), else three times avg and 2 µs more, at most limit.
func For(avg, limit time.Duration) time.Duration {
	if !MultiCPU || avg > limit {
		return 0
	}
	return min(3*avg+2*time.Microsecond, limit)
}

// Until spins until done() or for d since start, yielding past Busy.
func Until(start Mono, d time.Duration, done func() bool) {
	for i := 1; !done(); i++ {
		Pause()
		if i%64 != 0 {
			continue
		}
		switch since := time.Duration(Now() - start); {
		case since > d:
			return
		case since > Busy:
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// Average folds d, at most maxSample (so that one preemption, a host time slice, does
// not stop the spinning), into the moving average avg (weight 1/8).
func Average(avg, d, maxSample time.Duration) time.Duration {
	return avg + (min(d, maxSample)-avg)/8
}

// Mono is a time on the monotonic clock, in nanoseconds since the package was
// initialized (never 0 once read).
type Mono int64

var epoch = time.Now().Add(-time.Nanosecond)

// Now reads the monotonic clock: one vDSO call, where time.Now reads the wall clock
// too (two). A hand-over reads it a few times per system call.
func Now() Mono { return Mono(time.Since(epoch)) }
