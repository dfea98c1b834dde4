package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Futexes: the kernel's table of tasks waiting on futex words, keyed by address space
// and address (private futexes; shared ones, keyed by the memory-file page, come with
// shared memory between processes).
//
// A waiter checks the word and queues itself under the table's lock, so a wake-up made
// after the application changed the word can't be missed (the FUTEX_WAIT contract).

type futexKey struct {
	mm   any
	addr uintptr
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	woken  chan struct{}
}

// Futexes is a futex table.
type Futexes struct {
	mu      sync.Mutex
	waiters map[futexKey][]*futexWaiter
}

// FutexWait blocks until the word at addr is woken, as FUTEX_WAIT_BITSET: EAGAIN if the
// word does not hold val, ETIMEDOUT if deadline (if not zero) passes first.
func (t *Task) FutexWait(addr uintptr, val uint32, bitset uint32, deadline time.Time) error {
	if addr%4 != 0 {
		return unix.EINVAL
	}
	f := &t.k.futexes
	f.mu.Lock()
	var cur uint32
	if err := t.CopyInObj(addr, &cur); err != nil {
		f.mu.Unlock()
		return err
	}
	if cur != val {
		f.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: futexKey{t.MM, addr}, bitset: bitset, woken: make(chan struct{})}
	if f.waiters == nil {
		f.waiters = map[futexKey][]*futexWaiter{}
	}
	f.waiters[w.key] = append(f.waiters[w.key], w)
	f.mu.Unlock()

	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-w.woken:
		return nil
	case <-timeout:
	case <-t.Interrupted():
	}
	// Timed out, unless a wake-up got there first.
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.waiters[w.key]
	for i, x := range q {
		if x == w {
			f.waiters[w.key] = append(q[:i], q[i+1:]...)
			select {
			case <-t.Interrupted():
				return ERESTARTSYS
			default:
			}
			return unix.ETIMEDOUT
		}
	}
	return nil
}

// FutexWake wakes up to n waiters on addr whose bitset meets bitset, and returns how
// many it woke (FUTEX_WAKE_BITSET).
func (t *Task) FutexWake(addr uintptr, n int, bitset uint32) (int, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	key := futexKey{t.MM, addr}
	q := f.waiters[key]
	woken := 0
	kept := q[:0]
	for _, w := range q {
		if woken < n && w.bitset&bitset != 0 {
			close(w.woken)
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(f.waiters, key)
	} else {
		f.waiters[key] = kept
	}
	return woken, nil
}
