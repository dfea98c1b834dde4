package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// futex operations and flags (include/uapi/linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
	futexBitsetAny     = 0xffffffff
)

// Futex implements futex(2): FUTEX_WAIT, FUTEX_WAKE and their _BITSET forms, private or
// not. Requeue, wake-op and priority-inheritance operations come with threads.
func Futex(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, op, val, timeoutAddr, val3 := a[0], int(a[1]), uint32(a[2]), a[3], uint32(a[5])
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWaitBitset {
			if val3 == 0 {
				return 0, unix.EINVAL
			}
			bitset = val3
		} else if op&futexClockRealtime != 0 {
			return 0, unix.ENOSYS // as Linux: FUTEX_WAIT takes no clock flag
		}
		var deadline time.Time
		if timeoutAddr != 0 {
			var ts unix.Timespec
			if err := t.CopyInObj(timeoutAddr, &ts); err != nil {
				return 0, err
			}
			if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
				return 0, unix.EINVAL
			}
			d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
			if cmd == futexWait {
				deadline = time.Now().Add(d) // relative
			} else if op&futexClockRealtime != 0 {
				deadline = time.Unix(ts.Sec, ts.Nsec) // absolute, CLOCK_REALTIME
			} else {
				deadline = time.Now().Add(d - t.Kernel().Uptime()) // absolute, CLOCK_MONOTONIC
			}
		}
		return 0, t.FutexWait(addr, val, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWakeBitset {
			if val3 == 0 {
				return 0, unix.EINVAL
			}
			bitset = val3
		}
		n, err := t.FutexWake(addr, int(min(val, 1<<30)), bitset)
		return uintptr(n), err
	}
	return 0, unsupported(t, "futex operation %d", cmd)
}
