package linux

import (
	"math"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// select(2) and pselect6(2), as fs/select.c: the three sets are bitmaps of n bits, in
// longs; a set bit naming a closed descriptor is EBADF; a descriptor is readable on
// IN, HUP or ERR, writable on OUT or ERR, exceptional on PRI. The timeout left is
// written back, as Linux does.

// fdTableSize is Linux's fdt->max_fds, which select clamps n to: the table's capacity,
// at least 64 and a power of two above the highest open descriptor.
func fdTableSize(t *kernel.Task) int32 {
	hi := int32(-1)
	for _, fd := range t.FDs.Fds() {
		if fd > hi {
			hi = fd
		}
	}
	size := int32(64)
	if hi >= 64 {
		size = int32(1) << bits.Len32(uint32(hi))
	}
	return size
}

// doSelect is select and pselect6's common part; deadline is zero for no timeout.
func doSelect(t *kernel.Task, n int32, addrs [3]uintptr, timeout time.Duration, forever bool) (uintptr, error) {
	if n < 0 {
		return 0, unix.EINVAL
	}
	if max := fdTableSize(t); n > max {
		n = max
	}
	words := (int(n) + 63) / 64
	var sets [3][]uint64
	for i, addr := range addrs {
		if addr == 0 {
			continue
		}
		sets[i] = make([]uint64, words)
		if words > 0 {
			if err := t.CopyInObj(addr, sets[i]); err != nil {
				return 0, err
			}
		}
		if rem := n % 64; rem != 0 {
			sets[i][words-1] &= 1<<rem - 1 // bits at or above n are not looked at
		}
	}
	// Every descriptor named must be open.
	var files []*vfs.FileDescription
	var fds []int32
	defer func() {
		for _, f := range files {
			f.DecRef()
		}
	}()
	for fd := int32(0); fd < n; fd++ {
		w, b := fd/64, uint64(1)<<(fd%64)
		if (word(sets[0], w)|word(sets[1], w)|word(sets[2], w))&b == 0 {
			continue
		}
		f, err := t.FDs.Get(fd)
		if err != nil {
			return 0, unix.EBADF
		}
		files = append(files, f)
		fds = append(fds, fd)
	}
	var timer <-chan time.Time
	if !forever && timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	var out [3][]uint64
	for {
		ready := 0
		var changes []<-chan struct{}
		for i := range out {
			if sets[i] != nil {
				out[i] = make([]uint64, words)
			}
		}
		for j, f := range files {
			fd := fds[j]
			w, b := fd/64, uint64(1)<<(fd%64)
			r := f.ReadinessFor(t)
			for i, mask := range [3]uint32{vfs.EventIn | vfs.EventHup | vfs.EventErr, vfs.EventOut | vfs.EventErr, vfs.EventPri} {
				if word(sets[i], w)&b != 0 && r&mask != 0 {
					out[i][w] |= b
					ready++
				}
			}
			if ch := f.ChangedFor(t); ch != nil {
				changes = append(changes, ch)
			}
		}
		if ready > 0 || !forever && timeout <= 0 {
			for i, addr := range addrs {
				if addr != 0 && words > 0 {
					if err := t.CopyOutObj(addr, out[i]); err != nil {
						return 0, err
					}
				}
			}
			return uintptr(ready), nil
		}
		if err := waitAny(t, changes, timer); err != nil {
			if err == errTimeout {
				timeout, forever = 0, false
				continue
			}
			return 0, kernel.ERESTARTNOHAND
		}
	}
}

// word is set's word w, 0 if there is no set.
func word(set []uint64, w int32) uint64 {
	if set == nil {
		return 0
	}
	return set[w]
}

// Select implements select(2).
func Select(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	forever, d := true, time.Duration(0)
	var start time.Time
	if a[4] != 0 {
		var tv unix.Timeval
		if err := t.CopyInObj(a[4], &tv); err != nil {
			return 0, err
		}
		// Microseconds past a second carry into the seconds, as Linux's kern_select
		// does; what is left negative is EINVAL.
		sec, usec := tv.Sec+tv.Usec/1e6, tv.Usec%1e6
		if sec < 0 || usec < 0 {
			return 0, unix.EINVAL
		}
		if sec > int64(math.MaxInt64/time.Second)-1 {
			sec = int64(math.MaxInt64/time.Second) - 1 // about 292 years: as good as forever
		}
		d = time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		forever, start = false, time.Now()
	}
	n, err := doSelect(t, int32(a[0]), [3]uintptr{a[1], a[2], a[3]}, d, forever)
	if a[4] != 0 {
		// The time left, even on error; a failed write is ignored, as in Linux.
		left := d - time.Since(start)
		if left < 0 || err == nil && n == 0 {
			left = 0
		}
		tv := durationTimeval(left)
		_ = t.CopyOutObj(a[4], &tv)
	}
	return n, err
}

// Pselect6 implements pselect6(2): its sixth argument points at the signal mask's
// address and size.
func Pselect6(t *kernel.Task, a [6]uintptr) (n uintptr, err error) {
	forever, d := true, time.Duration(0)
	var start time.Time
	if a[4] != 0 {
		ts, err := timespecIn(t, a[4])
		if err != nil {
			return 0, err
		}
		forever, d, start = false, time.Duration(ts.Nano()), time.Now()
	}
	if a[5] != 0 {
		var sig struct{ Addr, Size uint64 }
		if err := t.CopyInObj(a[5], &sig); err != nil {
			return 0, err
		}
		end, merr := temporaryMask(t, uintptr(sig.Addr), uintptr(sig.Size))
		if merr != nil {
			return 0, merr
		}
		defer func() { end(err) }() // err: the call's result
	}
	n, err = doSelect(t, int32(a[0]), [3]uintptr{a[1], a[2], a[3]}, d, forever)
	if a[4] != 0 {
		left := d - time.Since(start)
		if left < 0 || err == nil && n == 0 {
			left = 0
		}
		ts := unix.NsecToTimespec(int64(left))
		_ = t.CopyOutObj(a[4], &ts)
	}
	return n, err
}
