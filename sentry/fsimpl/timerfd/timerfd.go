// Package timerfd is timerfd_create(2): a timer whose expirations are counted in a file.
//
// A timer is armed with a first expiry and an interval, both in nanoseconds on its clock
// (CLOCK_REALTIME, or the Sentry's monotonic clock for CLOCK_MONOTONIC and
// CLOCK_BOOTTIME). A Go timer (time.AfterFunc) fires at each expiry and adds to the
// count; a late wake-up counts every interval that passed, as the kernel's
// hrtimer_forward does. read(2) returns the count as a little-endian uint64 and resets
// it; a read of zero waits, or is EAGAIN with O_NONBLOCK. Readiness (poll, epoll,
// select) is "readable" while the count is non-zero.
//
// The realtime clock is read when the timer is armed: a later jump of the host's clock
// does not move an absolute realtime timer (TFD_TIMER_CANCEL_ON_SET is not supported).
package timerfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Timer is the state of one timerfd.
type Timer struct {
	vfs.NoopSeeker

	// now reads the timer's clock in nanoseconds.
	now func() int64

	mu sync.Mutex
	// next is the next expiry on the clock, 0 when disarmed; interval is 0 for a
	// one-shot timer.
	next, interval int64
	// count is the number of expirations not yet read.
	count uint64
	// gen tells a Go timer that fires after being replaced to do nothing.
	gen     uint64
	timer   *time.Timer
	changed chan struct{}
}

// New returns a timerfd on the clock that now reads, disarmed; flags may hold O_NONBLOCK.
func New(v *vfs.VFS, now func() int64, flags int) *vfs.FileDescription {
	tm := &Timer{now: now, changed: make(chan struct{})}
	vd := v.Anonymous(vfs.AnonInode{Name: "timerfd"}, "anon_inode")
	return vfs.NewFileDescription(vd, tm, unix.O_RDWR|flags&unix.O_NONBLOCK)
}

// Spec is an itimerspec in nanoseconds: the value (time to, or for an absolute
// setting the time of, the first expiry; 0 disarms) and the interval.
type Spec struct {
	Value, Interval int64
}

// Get returns the time left to the next expiry (0 if disarmed) and the interval, as
// timerfd_gettime(2).
func (tm *Timer) Get() Spec {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.getLocked()
}

func (tm *Timer) getLocked() Spec {
	tm.catchUpLocked()
	if tm.next == 0 {
		return Spec{Interval: tm.interval}
	}
	left := tm.next - tm.now()
	if left < 0 {
		left = 0
	}
	return Spec{Value: left, Interval: tm.interval}
}

// Set arms (or with a zero value disarms) the timer and returns the old setting, as
// timerfd_settime(2). abs says the value is a time on the clock, not a delay. The count
// of unread expirations is reset.
func (tm *Timer) Set(s Spec, abs bool) Spec {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	old := tm.getLocked()
	tm.gen++
	if tm.timer != nil {
		tm.timer.Stop()
		tm.timer = nil
	}
	tm.count = 0
	tm.next, tm.interval = 0, s.Interval
	if s.Value != 0 {
		tm.next = s.Value
		if !abs {
			tm.next += tm.now()
		}
		tm.armLocked()
	}
	tm.changedLocked()
	return old
}

// armLocked starts a Go timer for the next expiry.
func (tm *Timer) armLocked() {
	gen := tm.gen
	tm.timer = time.AfterFunc(time.Duration(tm.next-tm.now()), func() {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		if tm.gen != gen {
			return
		}
		tm.catchUpLocked()
		if tm.next != 0 {
			tm.armLocked()
		}
	})
}

// catchUpLocked counts the expirations that are due, moving next past now (or
// disarming a one-shot timer).
func (tm *Timer) catchUpLocked() {
	if tm.next == 0 {
		return
	}
	now := tm.now()
	if now < tm.next {
		return
	}
	if tm.interval == 0 {
		tm.count++
		tm.next = 0
	} else {
		n := (now-tm.next)/tm.interval + 1
		tm.count += uint64(n)
		tm.next += n * tm.interval
	}
	tm.changedLocked()
}

func (tm *Timer) changedLocked() {
	close(tm.changed)
	tm.changed = make(chan struct{})
}

// IsStream implements vfs.Stream.
func (*Timer) IsStream() {}

func (tm *Timer) Read(dst []byte, _ int64) (int, error)  { return tm.ReadCtx(nil, dst, true) }
func (tm *Timer) Write(src []byte, _ int64) (int, error) { return tm.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile.ReadCtx: the expiration count.
func (tm *Timer) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for {
		tm.catchUpLocked()
		if tm.count != 0 {
			break
		}
		if nonblock || ctx == nil {
			return 0, unix.EAGAIN
		}
		ch := tm.changed
		tm.mu.Unlock()
		vfs.SleepStart(ctx)
		select {
		case <-ch:
			vfs.SleepFinish(ctx)
			tm.mu.Lock()
		case <-ctx.Interrupted():
			vfs.SleepFinish(ctx)
			tm.mu.Lock()
			return 0, unix.Errno(512) // ERESTARTSYS
		}
	}
	binary.LittleEndian.PutUint64(dst, tm.count)
	tm.count = 0
	tm.changedLocked()
	return 8, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx: a timerfd can't be written (Linux has
// no write operation for it).
func (tm *Timer) WriteCtx(vfs.Context, []byte, bool) (int, error) { return 0, unix.EINVAL }

// Readiness implements vfs.Waitable.
func (tm *Timer) Readiness() uint32 {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.catchUpLocked()
	if tm.count != 0 {
		return vfs.EventIn
	}
	return 0
}

// Changed implements vfs.Waitable.
func (tm *Timer) Changed() <-chan struct{} {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.changed
}

// Ioctl: TFD_IOC_SET_TICKS (a checkpoint/restore aid) is not supported.
func (tm *Timer) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Release stops the Go timer.
func (tm *Timer) Release() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.gen++
	if tm.timer != nil {
		tm.timer.Stop()
	}
}
