package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Futexes: the kernel's table of tasks waiting on futex words, keyed by address space
// and address, except a shared futex (no FUTEX_PRIVATE_FLAG) in a shared mapping, which
// is keyed by the shared object and the offset in it, so processes that map the object
// at different addresses meet on it.
//
// Every operation runs under the table's lock, and reads or changes the word with the
// CPU's atomic instructions (mm's UpdateUint32 and friends): a waiter checks the word
// and queues itself under the lock, so a wake-up made after the application changed
// the word can't be missed (the FUTEX_WAIT contract).
//
// Priority-inheritance futexes (FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI) keep
// Linux's protocol in the word: the owner's TID, FUTEX_WAITERS when someone waits in
// the kernel, FUTEX_OWNER_DIED when the owner died holding it. Unlocking hands the
// lock to the first waiter, as kernel/futex/pi.c:wake_futex_pi does. There is no
// priority boosting: the Sentry has no priorities to lend.
//
// Robust lists (set_robust_list) are walked when a thread exits or execs, as
// kernel/futex/core.c:exit_robust_list: each futex the thread still owns gets
// FUTEX_OWNER_DIED and one waiter is woken (or, for a PI futex, given the lock).
//
// Lock order: Futexes.mu, then Kernel.mu, then the memory manager's.

// The futex word's bits (include/uapi/linux/futex.h).
const (
	futexWaiters    = 0x80000000
	futexOwnerDied  = 0x40000000
	futexTIDMask    = 0x3fffffff
	robustListLimit = 2048 // ROBUST_LIST_LIMIT
)

// futexKey names a futex. As in Linux, a private futex (FUTEX_PRIVATE_FLAG) and a
// shared one at the same address are different futexes.
type futexKey struct {
	mm      any
	addr    uintptr
	private bool
}

type futexWaiter struct {
	key    futexKey // changed by requeue
	bitset uint32
	woken  chan struct{}
	// pi is set for FUTEX_LOCK_PI waiters; tid is then the TID to hand the lock to.
	pi  bool
	tid int32
	// requeuePI is set for FUTEX_WAIT_REQUEUE_PI waiters not yet requeued: the PI
	// futex they expect to be moved to (and become pi waiters of). requeued tells the
	// waiter it was moved.
	requeuePI *futexKey
	requeued  bool
}

// special reports whether w may not be woken or requeued as a plain waiter.
func (w *futexWaiter) special() bool { return w.pi || w.requeuePI != nil }

// Futexes is a futex table.
type Futexes struct {
	mu      sync.Mutex
	waiters map[futexKey][]*futexWaiter
}

func (f *Futexes) queueLocked(w *futexWaiter) {
	if f.waiters == nil {
		f.waiters = map[futexKey][]*futexWaiter{}
	}
	f.waiters[w.key] = append(f.waiters[w.key], w)
}

// removeLocked takes w out of its queue and reports whether it was queued (it was not
// if a wake-up or a hand-over got there first).
func (f *Futexes) removeLocked(w *futexWaiter) bool {
	q := f.waiters[w.key]
	for i, x := range q {
		if x == w {
			if len(q) == 1 {
				delete(f.waiters, w.key)
			} else {
				f.waiters[w.key] = append(q[:i:i], q[i+1:]...)
			}
			return true
		}
	}
	return false
}

// wakeLocked wakes waiters on key whose bitset meets bitset, as futex_wake: it stops
// once it has woken n, and wakes one even when n is 0 or less (Linux counts after
// waking). EINVAL if a PI waiter is met.
func (f *Futexes) wakeLocked(key futexKey, n int, bitset uint32) (int, error) {
	woken := 0
	for _, w := range append([]*futexWaiter(nil), f.waiters[key]...) {
		if w.special() {
			return woken, unix.EINVAL
		}
		if w.bitset&bitset == 0 {
			continue
		}
		f.removeLocked(w)
		close(w.woken)
		if woken++; woken >= n {
			break
		}
	}
	return woken, nil
}

// firstPILocked returns the first PI waiter on key, or nil.
func (f *Futexes) firstPILocked(key futexKey) *futexWaiter {
	for _, w := range f.waiters[key] {
		if w.pi {
			return w
		}
	}
	return nil
}

// block waits until w is woken, deadline (if not zero) passes, or t is interrupted. It
// returns nil if woken, ETIMEDOUT, or intrErr.
func (t *Task) futexBlock(w *futexWaiter, deadline time.Time, intrErr error) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	t.SleepStart()
	select {
	case <-w.woken:
		t.SleepFinish()
		return nil
	case <-timeout:
	case <-t.Interrupted():
	}
	t.SleepFinish()
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.removeLocked(w) {
		return nil // woken (or handed the lock) first
	}
	select {
	case <-t.Interrupted():
		return intrErr
	default:
	}
	return unix.ETIMEDOUT
}

func (t *Task) futexKey(addr uintptr, private bool) (futexKey, error) {
	if addr%4 != 0 {
		return futexKey{}, unix.EINVAL
	}
	if !private {
		if obj, off, ok := t.MM.SharedOffset(addr); ok {
			return futexKey{obj, uintptr(off), false}, nil
		}
	}
	return futexKey{t.MM, addr, private}, nil
}

// FutexWait blocks until the word at addr is woken, as FUTEX_WAIT_BITSET: EAGAIN if the
// word does not hold val, ETIMEDOUT if deadline (if not zero) passes first.
func (t *Task) FutexWait(addr uintptr, private bool, val uint32, bitset uint32, deadline time.Time) error {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	w := &futexWaiter{key: key, bitset: bitset, woken: make(chan struct{})}
	if err := t.futexQueue(addr, val, w); err != nil {
		return err
	}
	return t.futexBlock(w, deadline, ERESTARTSYS)
}

// futexQueue queues w if the word at addr holds val (EAGAIN if not), both under the
// table's lock, so that no wake between the check and the queueing is lost.
func (t *Task) futexQueue(addr uintptr, val uint32, w *futexWaiter) error {
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := t.MM.LoadUint32(addr)
	if err != nil {
		return err
	}
	if cur != val {
		return unix.EAGAIN
	}
	f.queueLocked(w)
	return nil
}

// FutexWake wakes up to n waiters on addr whose bitset meets bitset, and returns how
// many it woke (FUTEX_WAKE_BITSET).
func (t *Task) FutexWake(addr uintptr, private bool, n int, bitset uint32) (int, error) {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wakeLocked(key, n, bitset)
}

// FutexRequeue wakes up to nWake waiters on addr and moves up to nRequeue more to
// addr2, as FUTEX_REQUEUE, or FUTEX_CMP_REQUEUE when cmp is not nil: EAGAIN then if the
// word at addr does not hold *cmp. It returns how many it woke and moved
// (kernel/futex/requeue.c:futex_requeue).
func (t *Task) FutexRequeue(addr, addr2 uintptr, private bool, nWake, nRequeue int, cmp *uint32) (int, error) {
	if nWake < 0 || nRequeue < 0 {
		return 0, unix.EINVAL
	}
	key1, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	if cmp != nil {
		cur, err := t.MM.LoadUint32(addr)
		if err != nil {
			return 0, err
		}
		if cur != *cmp {
			return 0, unix.EAGAIN
		}
	}
	count := 0
	for _, w := range append([]*futexWaiter(nil), f.waiters[key1]...) {
		if count-nWake >= nRequeue {
			break
		}
		if w.special() {
			return count, unix.EINVAL
		}
		count++
		f.removeLocked(w)
		if count <= nWake {
			close(w.woken)
			continue
		}
		w.key = key2
		f.queueLocked(w)
	}
	return count, nil
}

// FUTEX_WAKE_OP's operations and comparisons (include/uapi/linux/futex.h).
const (
	futexOpSet        = 0
	futexOpAdd        = 1
	futexOpOr         = 2
	futexOpAndn       = 3
	futexOpXor        = 4
	futexOpOpargShift = 8
	futexOpCmpEq      = 0
	futexOpCmpNe      = 1
	futexOpCmpLt      = 2
	futexOpCmpLe      = 3
	futexOpCmpGt      = 4
	futexOpCmpGe      = 5
)

// FutexWakeOp is FUTEX_WAKE_OP: it changes the word at addr2 by the operation encoded
// in op, wakes up to nWake waiters on addr, and, if the word's old value passes op's
// comparison, up to nWake2 on addr2 (kernel/futex/waitwake.c:futex_wake_op and
// futex_atomic_op_inuser). An unknown operation is ENOSYS before the word changes; an
// unknown comparison is ENOSYS after it changed.
func (t *Task) FutexWakeOp(addr, addr2 uintptr, private bool, nWake, nWake2 int, op uint32) (int, error) {
	key1, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	kind := (op >> 28) & 7
	cmp := (op >> 24) & 15
	oparg := int32(op<<8) >> 20 // bits 12..23, sign-extended
	cmparg := int32(op<<20) >> 20
	if op&(futexOpOpargShift<<28) != 0 {
		oparg = 1 << (uint32(oparg) & 31) // Linux warns and masks a shift out of 0..31
	}
	if kind > futexOpXor {
		return 0, unix.ENOSYS
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	old, err := t.MM.UpdateUint32(addr2, func(v uint32) uint32 {
		switch kind {
		case futexOpSet:
			return uint32(oparg)
		case futexOpAdd:
			return v + uint32(oparg)
		case futexOpOr:
			return v | uint32(oparg)
		case futexOpAndn:
			return v &^ uint32(oparg)
		}
		return v ^ uint32(oparg)
	})
	if err != nil {
		return 0, err
	}
	o := int32(old)
	var pass bool
	switch cmp {
	case futexOpCmpEq:
		pass = o == cmparg
	case futexOpCmpNe:
		pass = o != cmparg
	case futexOpCmpLt:
		pass = o < cmparg
	case futexOpCmpLe:
		pass = o <= cmparg
	case futexOpCmpGt:
		pass = o > cmparg
	case futexOpCmpGe:
		pass = o >= cmparg
	default:
		return 0, unix.ENOSYS
	}
	woken, err := f.wakeAnyLocked(key1, nWake)
	if err != nil || !pass {
		return woken, err
	}
	woken2, err := f.wakeAnyLocked(key2, nWake2)
	return woken + woken2, err
}

// wakeAnyLocked is wakeLocked for every bitset.
func (f *Futexes) wakeAnyLocked(key futexKey, n int) (int, error) {
	return f.wakeLocked(key, n, ^uint32(0))
}

// FutexLockPI takes the PI futex at addr for t, as FUTEX_LOCK_PI (or FUTEX_TRYLOCK_PI
// with try): a word with no owner is taken at once (keeping FUTEX_OWNER_DIED); else
// FUTEX_WAITERS is set and t waits until the owner hands it over, or deadline (if not
// zero) passes. EDEADLK if t owns it already, ESRCH if the owner is no live thread,
// EAGAIN for a trylock that would wait (kernel/futex/pi.c:futex_lock_pi).
func (t *Task) FutexLockPI(addr uintptr, private bool, deadline time.Time, try bool) error {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	f := &t.k.futexes
	f.mu.Lock()
	got, err := f.lockPIAtomicLocked(t, key, t.ThreadID(), false)
	if got || err != nil {
		f.mu.Unlock()
		return err
	}
	if try {
		f.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: key, woken: make(chan struct{}), pi: true, tid: t.ThreadID()}
	f.queueLocked(w)
	f.mu.Unlock()
	return t.futexBlock(w, deadline, ERESTARTNOINTR)
}

// lockPIAtomicLocked tries to take the PI futex key for thread tid, as
// kernel/futex/pi.c:futex_lock_pi_atomic: a word with no owner becomes tid (keeping
// FUTEX_OWNER_DIED; FUTEX_WAITERS if there are waiters or setWaiters); an owned one
// gets FUTEX_WAITERS and reports false. EDEADLK if tid owns it, ESRCH if its owner is
// no live thread. t's memory holds the word.
func (f *Futexes) lockPIAtomicLocked(t *Task, key futexKey, tid int32, setWaiters bool) (bool, error) {
	for {
		uval, err := t.MM.LoadUint32(key.addr)
		if err != nil {
			return false, err
		}
		if uval&futexTIDMask == uint32(tid) {
			return false, unix.EDEADLK
		}
		if uval&futexTIDMask == 0 {
			nv := uval&futexOwnerDied | uint32(tid)
			if setWaiters || f.firstPILocked(key) != nil {
				nv |= futexWaiters
			}
			found, err := t.MM.CompareAndSwapUint32(key.addr, uval, nv)
			if err != nil {
				return false, err
			}
			if found != uval {
				continue
			}
			return true, nil
		}
		if uval&futexWaiters == 0 {
			found, err := t.MM.CompareAndSwapUint32(key.addr, uval, uval|futexWaiters)
			if err != nil {
				return false, err
			}
			if found != uval {
				continue
			}
		}
		if owner := t.Proc.ns.TaskWithID(int32(uval & futexTIDMask)); owner == nil || owner.futexDead {
			return false, unix.ESRCH
		}
		return false, nil
	}
}

// FutexWaitRequeuePI waits on the futex at addr, as FUTEX_WAIT_REQUEUE_PI, for
// FUTEX_CMP_REQUEUE_PI to give it the PI futex at addr2 or to move it there, where it
// waits to be handed the lock. It returns nil once t owns addr2: EINVAL if the
// addresses are the same, EAGAIN if addr does not hold val; ETIMEDOUT at deadline (if
// not zero); if interrupted, ERESTARTNOINTR before the move and EAGAIN after it
// (kernel/futex/requeue.c:futex_wait_requeue_pi).
func (t *Task) FutexWaitRequeuePI(addr, addr2 uintptr, private bool, val uint32, deadline time.Time) error {
	if addr == addr2 {
		return unix.EINVAL
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return err
	}
	w := &futexWaiter{key: key, bitset: ^uint32(0), woken: make(chan struct{}), tid: t.ThreadID(), requeuePI: &key2}
	if err := t.futexQueue(addr, val, w); err != nil {
		return err
	}
	f := &t.k.futexes
	err = t.futexBlock(w, deadline, ERESTARTNOINTR)
	if err == ERESTARTNOINTR {
		f.mu.Lock()
		if w.requeued {
			err = unix.EAGAIN
		}
		f.mu.Unlock()
	}
	return err
}

// FutexCmpRequeuePI is FUTEX_CMP_REQUEUE_PI: if the word at addr holds cmp (EAGAIN),
// the first FUTEX_WAIT_REQUEUE_PI waiter on addr is given the PI futex at addr2 if it
// is free, and up to nRequeue waiters (one more if the lock was not free) are moved
// to wait for it. nWake must be 1 (EINVAL), the addresses must differ, and every waiter
// met must be waiting for addr2 (EINVAL). It returns how many it woke and moved.
func (t *Task) FutexCmpRequeuePI(addr, addr2 uintptr, private bool, nWake, nRequeue int, cmp uint32) (int, error) {
	if nWake < 0 || nRequeue < 0 || addr == addr2 || nWake != 1 {
		return 0, unix.EINVAL
	}
	key1, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := t.MM.LoadUint32(addr)
	if err != nil {
		return 0, err
	}
	if cur != cmp {
		return 0, unix.EAGAIN
	}
	count := 0
	q := append([]*futexWaiter(nil), f.waiters[key1]...)
	if len(q) > 0 {
		top := q[0]
		if top.requeuePI == nil || *top.requeuePI != key2 {
			return 0, unix.EINVAL
		}
		got, err := f.lockPIAtomicLocked(t, key2, top.tid, true)
		if err != nil {
			return 0, err
		}
		if got {
			f.removeLocked(top)
			top.requeuePI = nil
			close(top.woken)
			count++
			q = q[1:]
		}
	}
	for _, w := range q {
		if count-nWake >= nRequeue {
			break
		}
		if w.requeuePI == nil || *w.requeuePI != key2 {
			return count, unix.EINVAL
		}
		f.removeLocked(w)
		w.key, w.requeuePI, w.pi, w.requeued = key2, nil, true, true
		f.queueLocked(w)
		count++
	}
	return count, nil
}

// FutexUnlockPI releases the PI futex at addr, as FUTEX_UNLOCK_PI: EPERM unless t owns
// it. The first waiter gets it (its TID and FUTEX_WAITERS), else the word becomes 0.
func (t *Task) FutexUnlockPI(addr uintptr, private bool) error {
	// As futex_unlock_pi: the word is read and its owner checked before the address's
	// alignment.
	var uval uint32
	if err := t.CopyInObj(addr, &uval); err != nil {
		return unix.EFAULT
	}
	if uval&futexTIDMask != uint32(t.ThreadID()) {
		return unix.EPERM
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		uval, err := t.MM.LoadUint32(addr)
		if err != nil {
			return err
		}
		if uval&futexTIDMask != uint32(t.ThreadID()) {
			return unix.EPERM
		}
		if f.handOverLocked(t, key, uval) {
			return nil
		}
		found, err := t.MM.CompareAndSwapUint32(addr, uval, 0)
		if err != nil {
			return err
		}
		if found == uval {
			return nil
		}
	}
}

// handOverLocked gives the PI futex key, whose word holds uval, to its first waiter:
// the word becomes the waiter's TID with FUTEX_WAITERS (FUTEX_OWNER_DIED goes, as
// wake_futex_pi). It reports whether there was a waiter and the word still held uval.
func (f *Futexes) handOverLocked(t *Task, key futexKey, uval uint32) bool {
	w := f.firstPILocked(key)
	if w == nil {
		return false
	}
	nv := uint32(w.tid) | futexWaiters
	found, err := t.MM.CompareAndSwapUint32(key.addr, uval, nv)
	if err != nil || found != uval {
		return false
	}
	f.removeLocked(w)
	close(w.woken)
	return true
}

// futexExit releases what t holds in futexes as it exits (exit) or replaces its
// address space (exec): its robust list is walked, and, on exit, each PI futex of its
// address space that it owns, or that the walk left ownerless, goes to its first
// waiter with FUTEX_OWNER_DIED kept (kernel/futex/core.c:futex_cleanup).
func (t *Task) futexExit(exiting bool) {
	t.exitRobustList()
	if !exiting {
		return
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	t.futexDead = true
	for key, q := range f.waiters {
		if key.mm != any(t.MM) || len(q) == 0 || f.firstPILocked(key) == nil {
			continue
		}
		uval, err := t.MM.LoadUint32(key.addr)
		if err != nil {
			continue
		}
		if owner := uval & futexTIDMask; owner != uint32(t.ThreadID()) && owner != 0 {
			continue
		}
		w := f.firstPILocked(key)
		nv := uint32(w.tid) | futexWaiters | uval&futexOwnerDied
		if found, err := t.MM.CompareAndSwapUint32(key.addr, uval, nv); err == nil && found == uval {
			f.removeLocked(w)
			close(w.woken)
		}
	}
}

// exitRobustList walks t's robust list, as exit_robust_list: at most robustListLimit
// entries; a fault ends the walk. The entry the list's list_op_pending names is done
// last. An entry's low bit marks a PI futex.
func (t *Task) exitRobustList() {
	head := t.RobustList
	if head == 0 {
		return
	}
	t.RobustList = 0
	var first, pending uint64
	var offset int64
	if t.CopyInObj(head, &first) != nil || t.CopyInObj(head+8, &offset) != nil ||
		t.CopyInObj(head+16, &pending) != nil {
		return
	}
	entry, pi := uintptr(first&^1), first&1 != 0
	pendingEntry, pendingPI := uintptr(pending&^1), pending&1 != 0
	for limit := robustListLimit; entry != head; {
		var next uint64
		rc := t.CopyInObj(entry, &next)
		if entry != pendingEntry {
			if !t.futexDeath(uintptr(int64(entry)+offset), pi, false) {
				return
			}
		}
		if rc != nil {
			return
		}
		entry, pi = uintptr(next&^1), next&1 != 0
		if limit--; limit == 0 {
			break
		}
	}
	if pendingEntry != 0 {
		t.futexDeath(uintptr(int64(pendingEntry)+offset), pendingPI, true)
	}
}

// futexDeath marks the robust futex at addr as its owner's death leaves it, as
// handle_futex_death: if t owns it, FUTEX_OWNER_DIED replaces t's TID (FUTEX_WAITERS
// kept) and, for a non-PI futex with waiters, one is woken. A pending non-PI futex
// that is 0 (t died between taking and listing it, or just after releasing it) gets a
// wake-up too. It reports false if the walk must stop.
func (t *Task) futexDeath(addr uintptr, pi, pending bool) bool {
	if addr%4 != 0 {
		return false
	}
	f := &t.k.futexes
	f.mu.Lock()
	defer f.mu.Unlock()
	key, _ := t.futexKey(addr, false) // robust futexes are woken as shared ones
	for {
		uval, err := t.MM.LoadUint32(addr)
		if err != nil {
			return false
		}
		if pending && !pi && uval == 0 {
			f.wakeAnyLocked(key, 1)
			return true
		}
		if uval&futexTIDMask != uint32(t.ThreadID()) {
			return true
		}
		mval := uval&futexWaiters | futexOwnerDied
		found, err := t.MM.CompareAndSwapUint32(addr, uval, mval)
		if err != nil {
			return false
		}
		if found != uval {
			continue
		}
		if !pi && uval&futexWaiters != 0 {
			f.wakeAnyLocked(key, 1)
		}
		return true
	}
}
