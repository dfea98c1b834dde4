package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Kill implements kill(2).
func Kill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SendSignal(int32(a[0]), unix.Signal(int32(a[1])))
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return 0, t.SendThreadSignal(0, int32(a[0]), unix.Signal(int32(a[1])))
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	tgid, tid := int32(a[0]), int32(a[1])
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	return 0, t.SendThreadSignal(tgid, tid, unix.Signal(int32(a[2])))
}

// RtSigreturn implements rt_sigreturn(2): the registers, mask and FP state saved in the
// frame come back; rax is the saved one.
func RtSigreturn(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return t.SigReturn(), nil
}

// RtSigsuspend implements rt_sigsuspend(2).
func RtSigsuspend(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[1] != 8 {
		return 0, unix.EINVAL
	}
	var mask uint64
	if err := t.CopyInObj(a[0], &mask); err != nil {
		return 0, err
	}
	return 0, t.Suspend(mask)
}

// Pause implements pause(2).
func Pause(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.Suspend(t.SigMask)
}

// Sigaltstack implements sigaltstack(2).
func Sigaltstack(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var set *arch.SignalStack
	if a[0] != 0 {
		var ss struct {
			Sp    uint64
			Flags int32
			_     int32
			Size  uint64
		}
		if err := t.CopyInObj(a[0], &ss); err != nil {
			return 0, err
		}
		set = &arch.SignalStack{Sp: ss.Sp, Flags: ss.Flags, Size: ss.Size}
	}
	old, err := t.SigAltStack(set)
	if a[1] != 0 {
		out := struct {
			Sp    uint64
			Flags int32
			_     int32
			Size  uint64
		}{Sp: old.Sp, Flags: old.Flags, Size: old.Size}
		if cerr := t.CopyOutObj(a[1], &out); cerr != nil && err == nil {
			return 0, cerr
		}
	}
	return 0, err
}

// RtSigpending implements rt_sigpending(2): the pending signals, which are those the
// mask holds back.
func RtSigpending(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[1] > 8 {
		return 0, unix.EINVAL
	}
	p := t.Pending()
	b := []byte{byte(p), byte(p >> 8), byte(p >> 16), byte(p >> 24), byte(p >> 32), byte(p >> 40), byte(p >> 48), byte(p >> 56)}
	_, err := t.MM.CopyOut(a[0], b[:a[1]])
	return 0, err
}

// Alarm implements alarm(2).
func Alarm(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.Alarm(uint32(a[0]))), nil
}

// itimerval is struct itimerval: the interval, then the value.
type itimerval struct {
	Interval, Value unix.Timeval
}

// timevalDuration converts a timeval, ok false if Linux rejects it (negative seconds
// or microseconds outside [0, 1e6)).
func timevalDuration(tv unix.Timeval) (time.Duration, bool) {
	if tv.Sec < 0 || tv.Usec < 0 || tv.Usec >= 1e6 {
		return 0, false
	}
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond, true
}

func durationTimeval(d time.Duration) unix.Timeval { return unix.NsecToTimeval(int64(d)) }

// Setitimer implements setitimer(2). ITIMER_REAL is the process's alarm timer;
// ITIMER_VIRTUAL and ITIMER_PROF run on its CPU time (sentry/kernel/cputimer.go). A
// NULL new value disarms, as Linux still allows.
func Setitimer(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	which, newAddr, oldAddr := int32(a[0]), a[1], a[2]
	var nv itimerval
	if newAddr != 0 {
		if err := t.CopyInObj(newAddr, &nv); err != nil {
			return 0, err
		}
	}
	value, ok1 := timevalDuration(nv.Value)
	interval, ok2 := timevalDuration(nv.Interval)
	if !ok1 || !ok2 {
		return 0, unix.EINVAL
	}
	var old itimerval
	switch which {
	case unix.ITIMER_REAL:
		ov, oi := t.SetRealTimer(value, interval)
		old = itimerval{Interval: durationTimeval(oi), Value: durationTimeval(ov)}
	case unix.ITIMER_VIRTUAL, unix.ITIMER_PROF:
		ov, oi := t.SetCPUItimer(int(which), int64(value), int64(interval))
		old = itimerval{Interval: unix.NsecToTimeval(oi), Value: unix.NsecToTimeval(ov)}
	default:
		return 0, unix.EINVAL
	}
	if oldAddr == 0 {
		return 0, nil
	}
	return 0, t.CopyOutObj(oldAddr, &old)
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var cur itimerval
	switch int32(a[0]) {
	case unix.ITIMER_REAL:
		v, i := t.RealTimer()
		cur = itimerval{Interval: durationTimeval(i), Value: durationTimeval(v)}
	case unix.ITIMER_VIRTUAL, unix.ITIMER_PROF:
		v, i := t.CPUItimer(int(a[0]))
		cur = itimerval{Interval: unix.NsecToTimeval(i), Value: unix.NsecToTimeval(v)}
	default:
		return 0, unix.EINVAL
	}
	return 0, t.CopyOutObj(a[1], &cur)
}

// RtSigtimedwait implements rt_sigtimedwait(2): the set is read (EINVAL for a size
// other than 8, EFAULT), then the relative timeout (EFAULT, EINVAL for a bad
// timespec); the signal's siginfo is written if asked (EFAULT, the signal taken).
func RtSigtimedwait(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	setAddr, infoAddr, tsAddr, size := a[0], a[1], a[2], a[3]
	if size != 8 {
		return 0, unix.EINVAL
	}
	var set uint64
	if err := t.CopyInObj(setAddr, &set); err != nil {
		return 0, unix.EFAULT
	}
	var deadline time.Time
	poll := false
	if tsAddr != 0 {
		var ts unix.Timespec
		if err := t.CopyInObj(tsAddr, &ts); err != nil {
			return 0, unix.EFAULT
		}
		if !timespecValid(ts) {
			return 0, unix.EINVAL
		}
		d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
		poll = d == 0
		deadline = time.Now().Add(d)
	}
	sig, info, err := t.SigTimedWait(set, deadline, poll)
	if err != nil {
		return 0, err
	}
	if infoAddr != 0 {
		info.Signo = int32(sig)
		if err := t.CopyOutObj(infoAddr, &info); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uintptr(sig), nil
}

// RtSigqueueinfo implements rt_sigqueueinfo(2): the siginfo is read (EFAULT), its
// si_signo made sig, and sent to the process (see kernel.Task.SendSignalInfo).
func RtSigqueueinfo(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, sig := int32(a[0]), unix.Signal(int32(a[1]))
	var info arch.SignalInfo
	if err := t.CopyInObj(a[2], &info); err != nil {
		return 0, unix.EFAULT
	}
	info.Signo = int32(sig)
	return 0, t.SendSignalInfo(pid, 0, sig, info)
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2): IDs below 1 are EINVAL, then as
// rt_sigqueueinfo to one thread.
func RtTgsigqueueinfo(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	tgid, tid, sig := int32(a[0]), int32(a[1]), unix.Signal(int32(a[2]))
	var info arch.SignalInfo
	if err := t.CopyInObj(a[3], &info); err != nil {
		return 0, unix.EFAULT
	}
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	info.Signo = int32(sig)
	return 0, t.SendSignalInfo(tgid, tid, sig, info)
}
