package kernel

import (
	"encoding/binary"
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// POSIX timers (timer_create(2), kernel/time/posix-timers.c). A process's timers are
// numbered from 0 in creation order. A timer is armed with a first expiry and an
// interval in nanoseconds on its clock; a Go timer fires at each expiry (on a CPU-time
// clock, when the clock could first be there: cputimer.go). At expiry a
// SIGEV_SIGNAL timer queues its signal to the process (SIGEV_THREAD_ID: to one thread)
// with si_code SI_TIMER, si_timerid and si_value; further expiries while that signal
// is still queued (up to when it is taken) are counted as overruns, which the
// delivered siginfo's si_overrun and timer_getoverrun report. A SIGEV_NONE timer
// signals nothing: timer_gettime counts its expiries when asked. Re-arming or deleting a timer makes its queued
// signal stale: it is dropped when dequeued, as Linux 6.13+ does. Timers are deleted
// at exec and at the process's exit, and not inherited by fork.
//
// Lock order: Task.sigMu, then ptimers.mu (delivery). Kernel.mu and Task.sigMu are
// never taken under ptimers.mu: a timer's callback releases it before queueing.

// sigevent's sigev_notify values (include/uapi/asm-generic/siginfo.h).
const (
	SIGEV_SIGNAL    = 0
	SIGEV_NONE      = 1
	SIGEV_THREAD    = 2
	SIGEV_THREAD_ID = 4
)

// SI_TIMER is the si_code of a POSIX timer's signal.
const SI_TIMER = -2

// SigEvent is struct sigevent as timer_create reads it.
type SigEvent struct {
	Value    uint64
	Signo    int32
	Notify   int32
	ThreadID int32
	_        [44]byte
}

// Timer is the setting of a POSIX timer: the time to (or with abs, the time of) the
// first expiry, 0 when disarmed, and the interval, in nanoseconds.
type Timer struct {
	Value, Interval int64
}

type posixTimer struct {
	id     int32
	proc   *Process
	now    func() int64
	cpu    *CPUClock // the clock, for a timer on a CPU-time clock
	notify int32
	signo  int
	value  uint64
	thread *Task // SIGEV_THREAD_ID's target

	next, interval int64
	gen            uint64 // tells a replaced Go timer's callback to do nothing
	seq            uint32 // the signal sequence: a queued signal of an older one is stale
	queued         bool
	overrun        int64 // expiries while the signal was queued
	overrunLast    int64 // overrun of the last delivered signal
	timer          *time.Timer
}

// ptimers are a process's POSIX timers.
type ptimers struct {
	mu     sync.Mutex
	m      map[int32]*posixTimer
	nextID int32
}

// TimerCreate makes a disarmed POSIX timer on the clock now reads, as timer_create(2)
// after the clock was checked: ev nil means SIGALRM to the process with the timer id
// as si_value. EAGAIN when no id is left, then EINVAL for a bad sigevent: as in
// do_timer_create, the id is taken before the sigevent is checked, so a bad one uses
// an id up.
func (t *Task) TimerCreate(now func() int64, ev *SigEvent) (int32, error) {
	return t.timerCreate(now, nil, ev)
}

// TimerCreateCPU is TimerCreate on a CPU-time clock (cputimer.go).
func (t *Task) TimerCreateCPU(c CPUClock, ev *SigEvent) (int32, error) {
	t.FlushUsage()
	return t.timerCreate(c.Now, &c, ev)
}

func (t *Task) timerCreate(now func() int64, cpu *CPUClock, ev *SigEvent) (int32, error) {
	var thread *Task
	if ev != nil && ev.Notify == SIGEV_SIGNAL|SIGEV_THREAD_ID {
		thread = t.Proc.ns.TaskWithID(ev.ThreadID) // before ts.mu: Kernel.mu is not taken under it
	}
	ts := &t.Proc.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[int32]*posixTimer{}
	}
	id := int32(-1)
	for range math.MaxInt32 {
		next := ts.nextID
		ts.nextID = (next + 1) & math.MaxInt32
		if _, used := ts.m[next]; !used {
			id = next
			break
		}
	}
	if id < 0 {
		return 0, unix.EAGAIN
	}
	tm := &posixTimer{id: id, proc: t.Proc, now: now, cpu: cpu, notify: SIGEV_SIGNAL, signo: int(unix.SIGALRM),
		value: uint64(id)}
	if ev != nil {
		// As good_sigevent.
		switch ev.Notify {
		case SIGEV_SIGNAL | SIGEV_THREAD_ID:
			if thread == nil || thread.Proc != t.Proc {
				return 0, unix.EINVAL
			}
			tm.thread = thread
			fallthrough
		case SIGEV_SIGNAL, SIGEV_THREAD:
			if ev.Signo <= 0 || ev.Signo > 64 {
				return 0, unix.EINVAL
			}
		case SIGEV_NONE:
		default:
			return 0, unix.EINVAL
		}
		tm.notify, tm.signo, tm.value = ev.Notify, int(ev.Signo), ev.Value
	}
	ts.m[id] = tm
	return id, nil
}

func (t *Task) timer(id int32) (*ptimers, *posixTimer, error) {
	ts := &t.Proc.timers
	ts.mu.Lock()
	tm := ts.m[id]
	if tm == nil {
		ts.mu.Unlock()
		return nil, nil, unix.EINVAL
	}
	return ts, tm, nil
}

// TimerDelete deletes timer id (EINVAL if there is none), as timer_delete(2).
func (t *Task) TimerDelete(id int32) error {
	ts, tm, err := t.timer(id)
	if err != nil {
		return err
	}
	defer ts.mu.Unlock()
	tm.stopLocked()
	delete(ts.m, id)
	return nil
}

// deleteTimers deletes all the process's timers (exec, exit).
func (p *Process) deleteTimers() {
	ts := &p.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for id, tm := range ts.m {
		tm.stopLocked()
		delete(ts.m, id)
	}
}

// TimerGet returns the time left and interval of timer id, as timer_gettime(2).
func (t *Task) TimerGet(id int32) (Timer, error) {
	ts, tm, err := t.timer(id)
	if err != nil {
		return Timer{}, err
	}
	defer ts.mu.Unlock()
	return tm.getLocked(), nil
}

// TimerGetOverrun returns the overrun count of the timer's last delivered signal, as
// timer_getoverrun(2).
func (t *Task) TimerGetOverrun(id int32) (int32, error) {
	ts, tm, err := t.timer(id)
	if err != nil {
		return 0, err
	}
	defer ts.mu.Unlock()
	return int32(min(tm.overrunLast, math.MaxInt32)), nil
}

// TimerSet arms (a zero value disarms) timer id and returns its old setting, as
// timer_settime(2); abs: the value is a time on the timer's clock.
func (t *Task) TimerSet(id int32, s Timer, abs bool) (Timer, error) {
	ts, tm, err := t.timer(id)
	if err != nil {
		return Timer{}, err
	}
	defer ts.mu.Unlock()
	old := tm.getLocked()
	tm.stopLocked()
	tm.overrun, tm.overrunLast = 0, 0
	if s.Value == 0 {
		return old, nil
	}
	tm.next, tm.interval = s.Value, s.Interval
	if !abs {
		tm.next += tm.now()
	}
	if tm.notify != SIGEV_NONE {
		tm.armLocked(t.k, ts)
	}
	return old, nil
}

// stopLocked disarms the timer and makes its queued signal stale.
func (tm *posixTimer) stopLocked() {
	tm.gen++
	tm.seq++
	tm.queued = false
	if tm.timer != nil {
		tm.timer.Stop()
		tm.timer = nil
	}
	tm.next, tm.interval = 0, 0
}

// getLocked is the timer's setting now: a SIGEV_NONE timer's expiries are counted
// first; an expiry that is due but not yet signalled shows 1 ns left, as
// common_timer_get.
func (tm *posixTimer) getLocked() Timer {
	if tm.notify == SIGEV_NONE {
		tm.expireLocked()
	}
	if tm.next == 0 {
		return Timer{Interval: tm.interval}
	}
	left := tm.next - tm.now()
	if left <= 0 {
		left = 1
	}
	return Timer{Value: left, Interval: tm.interval}
}

// expireLocked counts the expiries that are due and moves next past now (or disarms a
// one-shot timer); it returns how many there were.
func (tm *posixTimer) expireLocked() int64 {
	now := tm.now()
	if tm.next == 0 || now < tm.next {
		return 0
	}
	if tm.interval == 0 {
		tm.next = 0
		return 1
	}
	n := (now-tm.next)/tm.interval + 1
	tm.next += n * tm.interval
	return n
}

// armLocked starts a Go timer for the next expiry.
// A timer on a CPU-time clock fires when the clock could first be there, and is
// checked again then (cputimer.go); one whose clock stopped is not armed.
func (tm *posixTimer) armLocked(k *Kernel, ts *ptimers) {
	gen := tm.gen
	d := time.Duration(tm.next - tm.now())
	if tm.cpu != nil {
		var ok bool
		if d, ok = tm.cpu.untilReach(tm.next); !ok {
			return
		}
	}
	tm.timer = time.AfterFunc(d, func() { tm.fire(k, ts, gen) })
}

// fire is the Go timer's callback: it counts the expiries, re-arms, and queues the
// signal unless the last one is still queued.
func (tm *posixTimer) fire(k *Kernel, ts *ptimers, gen uint64) {
	ts.mu.Lock()
	if tm.gen != gen {
		ts.mu.Unlock()
		return
	}
	tm.timer = nil
	n := tm.expireLocked()
	if tm.next != 0 {
		tm.armLocked(k, ts)
	}
	if n == 0 {
		ts.mu.Unlock()
		return
	}
	if tm.queued {
		tm.overrun += n
		ts.mu.Unlock()
		return
	}
	tm.queued = true
	tm.overrun += n - 1
	var info arch.SignalInfo
	info.Code = SI_TIMER
	le := binary.LittleEndian
	le.PutUint32(info.Fields[0:], uint32(tm.id))
	le.PutUint64(info.Fields[8:], tm.value)
	le.PutUint32(info.Fields[16:], tm.seq) // si_sys_private: never shown
	sig, seq, target := tm.signo, tm.seq, tm.thread
	ts.mu.Unlock()

	if target == nil {
		k.mu.Lock()
		if tm.proc.exit == nil {
			target = tm.proc.signalTarget(unix.Signal(sig))
		}
		k.mu.Unlock()
	} else if target.isKilled() {
		target = nil
	}
	if target == nil || !target.Queue(sig, info) {
		ts.mu.Lock()
		if tm.seq == seq {
			tm.queued = false
		}
		ts.mu.Unlock()
	}
}

// timerSignalLocked settles a POSIX timer's signal being dequeued by t: false if it is
// stale (its timer was re-armed or deleted since), else its si_overrun is filled in and
// the timer may signal again. t.sigMu is held.
func (t *Task) timerSignalLocked(info *arch.SignalInfo) bool {
	le := binary.LittleEndian
	id, seq := int32(le.Uint32(info.Fields[0:])), le.Uint32(info.Fields[16:])
	ts := &t.Proc.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tm := ts.m[id]
	if tm == nil || tm.seq != seq || !tm.queued {
		return false
	}
	tm.queued = false
	// Expiries since the last one the Go timer counted are overruns too: Linux forwards
	// the timer past now when its signal is taken (posix_timer_rearm), so the count
	// doesn't depend on how promptly the callbacks ran.
	tm.overrun += tm.expireLocked()
	tm.overrunLast, tm.overrun = tm.overrun, 0
	le.PutUint32(info.Fields[4:], uint32(min(tm.overrunLast, math.MaxInt32)))
	le.PutUint32(info.Fields[16:], 0)
	return true
}

// dropTimerSignals drops the POSIX timer signals pending on t, which is exiting, so
// that their timers may signal again.
func (t *Task) dropTimerSignals() {
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	for sig := 1; sig <= 64; sig++ {
		if t.pending&sigBit(sig) == 0 {
			continue
		}
		var keep []arch.SignalInfo
		for _, info := range append([]arch.SignalInfo{t.pendInfo[sig-1]}, t.pendMore[sig-1]...) {
			if info.Code == SI_TIMER {
				t.timerSignalLocked(&info)
			} else {
				keep = append(keep, info)
			}
		}
		t.pendMore[sig-1] = nil
		if len(keep) == 0 {
			t.pending &^= sigBit(sig)
			t.shared &^= sigBit(sig)
			continue
		}
		t.pendInfo[sig-1] = keep[0]
		if len(keep) > 1 {
			t.pendMore[sig-1] = keep[1:]
		}
	}
}
