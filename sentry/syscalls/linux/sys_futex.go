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
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPI        = 6
	futexUnlockPI      = 7
	futexTrylockPI     = 8
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexWaitRequeuePI = 11
	futexCmpRequeuePI  = 12
	futexLockPI2       = 13
	futexPrivateFlag   = 128
	futexClockRealtime = 256
	futexBitsetAny     = 0xffffffff
)

// Futex implements futex(2), private or not: FUTEX_WAIT, FUTEX_WAKE and their _BITSET
// forms, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, and the PI locks
// (FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI) without priority
// boosting, and FUTEX_WAIT_REQUEUE_PI with FUTEX_CMP_REQUEUE_PI. The checks follow
// kernel/futex/syscalls.c: the timeout is read and checked first, then the clock flag,
// then the operation's own arguments.
func Futex(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, op, val, timeoutAddr, addr2, val3 := a[0], int(a[1]), uint32(a[2]), a[3], a[4], uint32(a[5])
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	realtime := op&futexClockRealtime != 0
	private := op&futexPrivateFlag != 0
	var deadline time.Time
	switch cmd {
	case futexWait, futexWaitBitset, futexLockPI, futexLockPI2, futexWaitRequeuePI:
		if timeoutAddr == 0 {
			break
		}
		var ts unix.Timespec
		if err := t.CopyInObj(timeoutAddr, &ts); err != nil {
			return 0, err
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		switch {
		case cmd == futexWait: // relative
			deadline = time.Now().Add(time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec))
		case cmd == futexLockPI || realtime: // absolute, CLOCK_REALTIME
			deadline = time.Unix(ts.Sec, ts.Nsec)
		default: // absolute, CLOCK_MONOTONIC
			d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
			deadline = time.Now().Add(d - t.Kernel().Uptime())
		}
	}
	if realtime && cmd != futexWaitBitset && cmd != futexWaitRequeuePI && cmd != futexLockPI2 {
		return 0, unix.ENOSYS
	}
	// The count of FUTEX_REQUEUE and FUTEX_WAKE_OP's second futex rides in the timeout
	// argument.
	val2 := int(int32(uint32(timeoutAddr)))
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWaitBitset {
			bitset = val3
		}
		if bitset == 0 {
			return 0, unix.EINVAL
		}
		return 0, t.FutexWait(addr, private, val, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWakeBitset {
			bitset = val3
		}
		if bitset == 0 {
			return 0, unix.EINVAL
		}
		n, err := t.FutexWake(addr, private, int(int32(val)), bitset)
		return uintptr(n), err
	case futexRequeue:
		n, err := t.FutexRequeue(addr, addr2, private, int(int32(val)), val2, nil)
		return uintptr(n), err
	case futexCmpRequeue:
		n, err := t.FutexRequeue(addr, addr2, private, int(int32(val)), val2, &val3)
		return uintptr(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, addr2, private, int(int32(val)), val2, val3)
		return uintptr(n), err
	case futexLockPI, futexLockPI2:
		return 0, t.FutexLockPI(addr, private, deadline, false)
	case futexTrylockPI:
		return 0, t.FutexLockPI(addr, private, time.Time{}, true)
	case futexUnlockPI:
		return 0, t.FutexUnlockPI(addr, private)
	case futexWaitRequeuePI:
		return 0, t.FutexWaitRequeuePI(addr, addr2, private, val, deadline)
	case futexCmpRequeuePI:
		n, err := t.FutexCmpRequeuePI(addr, addr2, private, int(int32(val)), val2, val3)
		return uintptr(n), err
	}
	return 0, unsupported(t, "futex operation %d", cmd)
}
