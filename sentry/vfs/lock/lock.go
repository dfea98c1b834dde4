// Package lock is advisory file locking: flock(2) locks and fcntl(2) record locks
// (POSIX locks and open file description locks), as fs/locks.c keeps them.
//
// A Manager holds the locks of every file, keyed by the file's inode. Each lock has an
// owner, which the caller chooses: for flock and OFD locks the open file description,
// for POSIX locks the FD table (Linux's files_struct) with the process ID that F_GETLK
// reports. flock locks and record locks are independent of each other; POSIX and OFD
// record locks share one set of ranges and conflict with each other.
//
// Record locks cover byte ranges [Start, End] (End is MaxInt64 for "to the end of the
// file and beyond"). Setting a lock replaces the owner's locks over its range: locks of
// the same type that overlap or touch it are merged into one, locks of the other type
// are cut back or split, F_UNLCK removes. A request that conflicts with another owner's
// lock (a write lock conflicts with any lock) fails with EAGAIN, or waits: a wait ends
// when the file's locks change, or with ERESTARTSYS when the caller is interrupted.
// Before a POSIX lock waits, the chain of owners that wait for each other is followed
// (at most 10 steps, as posix_locks_deadlock): a chain that comes back to the caller
// is EDEADLK.
//
// flock upgrades and downgrades are not atomic: the old lock is dropped first, as
// flock_lock_inode does. The Manager's one mutex guards everything.
package lock

import (
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// Lock types (F_RDLCK, F_WRLCK, F_UNLCK).
const (
	Read   = unix.F_RDLCK
	Write  = unix.F_WRLCK
	Unlock = unix.F_UNLCK
)

// EOF is the End of a lock that reaches to the end of the file and beyond.
const EOF = math.MaxInt64

// Context is what a waiting request needs from the caller: a channel closed when it
// must stop waiting.
type Context interface {
	Interrupted() <-chan struct{}
}

// sleeper is vfs.Sleeper (this package is below vfs): a Context told when its wait
// begins and ends (a task lets go of its OS thread meanwhile).
type sleeper interface {
	SleepStart()
	SleepFinish()
}

// ERESTARTSYS is what an interrupted wait returns.
const ERESTARTSYS = unix.Errno(512)

// maxDeadlockSteps bounds the deadlock search (MAX_DEADLK_ITERATIONS).
const maxDeadlockSteps = 10

// Range is a record lock: its type, bytes and owner's process ID (-1 for OFD locks).
type Range struct {
	Type       int16
	Start, End int64
	PID        int32
}

type record struct {
	Range
	owner any
}

// fileLocks are one file's locks.
type fileLocks struct {
	flocks  map[any]int16 // flock locks by owner
	records []record      // grouped by owner, in order of each owner's first lock; sorted by Start within
	changed chan struct{}
}

// Manager holds the locks of all files.
type Manager struct {
	mu    sync.Mutex
	files map[any]*fileLocks
	// waiting maps a POSIX owner that waits to the owner of the lock it waits for.
	waiting map[any]any
}

func (m *Manager) fileLocked(key any) *fileLocks {
	if m.files == nil {
		m.files = map[any]*fileLocks{}
		m.waiting = map[any]any{}
	}
	f := m.files[key]
	if f == nil {
		f = &fileLocks{flocks: map[any]int16{}, changed: make(chan struct{})}
		m.files[key] = f
	}
	return f
}

// changedLocked wakes the file's waiters, and forgets a file with no locks left.
func (m *Manager) changedLocked(key any, f *fileLocks) {
	close(f.changed)
	f.changed = make(chan struct{})
	if len(f.flocks) == 0 && len(f.records) == 0 {
		delete(m.files, key)
	}
}

// wait waits for a change of f's locks; m.mu is held and released while waiting.
func (m *Manager) wait(ctx Context, f *fileLocks) error {
	ch := f.changed
	m.mu.Unlock()
	defer m.mu.Lock()
	if s, ok := ctx.(sleeper); ok {
		s.SleepStart()
		defer s.SleepFinish()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Interrupted():
		return ERESTARTSYS
	}
}

// Flock takes (Read, Write) or drops (Unlock) owner's flock lock on file key, as
// flock(2): EWOULDBLOCK if another owner's lock conflicts and !block.
func (m *Manager) Flock(ctx Context, key, owner any, typ int16, block bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fileLocked(key)
	if old, ok := f.flocks[owner]; ok {
		if old == typ {
			return nil
		}
		delete(f.flocks, owner)
		m.changedLocked(key, f)
		f = m.fileLocked(key)
	}
	if typ == Unlock {
		if len(f.flocks) == 0 && len(f.records) == 0 {
			delete(m.files, key)
		}
		return nil
	}
	for {
		conflict := false
		for o, t := range f.flocks {
			if o != owner && (t == Write || typ == Write) {
				conflict = true
				break
			}
		}
		if !conflict {
			break
		}
		if !block {
			return unix.EWOULDBLOCK
		}
		if err := m.wait(ctx, f); err != nil {
			return err
		}
		f = m.fileLocked(key)
	}
	f.flocks[owner] = typ
	return nil
}

func conflicts(a, b Range) bool {
	return (a.Type == Write || b.Type == Write) && a.Start <= b.End && b.Start <= a.End
}

// conflictLocked returns the first lock of another owner that conflicts with r.
func (f *fileLocks) conflictLocked(owner any, r Range) (record, bool) {
	for _, l := range f.records {
		if l.owner != owner && conflicts(l.Range, r) {
			return l, true
		}
	}
	return record{}, false
}

// Test returns the first lock of another owner that conflicts with r, as F_GETLK; false
// if there is none. r of type Unlock asks instead for the first of owner's own locks
// that overlaps it (F_OFD_GETLK's F_UNLCK, as posix_test_locks_conflict).
func (m *Manager) Test(key, owner any, r Range) (Range, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[key]
	if f == nil {
		return Range{}, false
	}
	if r.Type == Unlock {
		for _, l := range f.records {
			if l.owner == owner && l.Start <= r.End && r.Start <= l.End {
				return l.Range, true
			}
		}
		return Range{}, false
	}
	l, ok := f.conflictLocked(owner, r)
	return l.Range, ok
}

// Set sets r (Unlock: removes) for owner on file key, as F_SETLK, or with block as
// F_SETLKW. posix says owner is a POSIX owner, whose waits are checked for deadlocks.
func (m *Manager) Set(ctx Context, key, owner any, r Range, block, posix bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fileLocked(key)
	if r.Type != Unlock {
		for {
			l, ok := f.conflictLocked(owner, r)
			if !ok {
				break
			}
			if !block {
				if len(f.flocks) == 0 && len(f.records) == 0 {
					delete(m.files, key)
				}
				return unix.EAGAIN
			}
			if posix && m.deadlockLocked(owner, l.owner) {
				return unix.EDEADLK
			}
			if posix {
				m.waiting[owner] = l.owner
			}
			err := m.wait(ctx, f)
			delete(m.waiting, owner)
			if err != nil {
				return err
			}
			f = m.fileLocked(key)
		}
	}
	f.setLocked(owner, r)
	m.changedLocked(key, f)
	return nil
}

// deadlockLocked reports whether the owners waiting from blocker lead back to owner.
func (m *Manager) deadlockLocked(owner, blocker any) bool {
	o := blocker
	for range maxDeadlockSteps {
		next, ok := m.waiting[o]
		if !ok {
			return false
		}
		if next == owner {
			return true
		}
		o = next
	}
	return false
}

// setLocked replaces owner's locks over r's range with r (see the package comment).
func (f *fileLocks) setLocked(owner any, r Range) {
	ns, ne := r.Start, r.End
	var mine []record
	at := -1 // where owner's group is in f.records
	rest := f.records[:0:0]
	for _, l := range f.records {
		if l.owner != owner {
			rest = append(rest, l)
			continue
		}
		if at < 0 {
			at = len(rest)
		}
		switch {
		case r.Type != Unlock && l.Type == r.Type && l.End >= ns-1 && l.Start-1 <= ne:
			ns, ne = min(ns, l.Start), max(ne, l.End) // merged
		case l.End < r.Start || l.Start > r.End:
			mine = append(mine, l)
		default: // cut back or split
			if l.Start < r.Start {
				mine = append(mine, record{Range{l.Type, l.Start, r.Start - 1, l.PID}, owner})
			}
			if l.End > r.End {
				mine = append(mine, record{Range{l.Type, r.End + 1, l.End, l.PID}, owner})
			}
		}
	}
	if r.Type != Unlock {
		mine = append(mine, record{Range{r.Type, ns, ne, r.PID}, owner})
	}
	// Sort by start (few locks: insertion sort).
	for i := 1; i < len(mine); i++ {
		for j := i; j > 0 && mine[j].Start < mine[j-1].Start; j-- {
			mine[j], mine[j-1] = mine[j-1], mine[j]
		}
	}
	if at < 0 {
		at = len(rest)
	}
	out := make([]record, 0, len(rest)+len(mine))
	out = append(out, rest[:at]...)
	out = append(out, mine...)
	f.records = append(out, rest[at:]...)
}

// ReleaseRecords drops owner's record locks on file key (a POSIX owner closing the
// file).
func (m *Manager) ReleaseRecords(key, owner any) { m.release(key, owner, false) }

// ReleaseDescription drops the flock and OFD locks of owner, an open file description,
// on file key (its last close).
func (m *Manager) ReleaseDescription(key, owner any) { m.release(key, owner, true) }

func (m *Manager) release(key, owner any, flocks bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[key]
	if f == nil {
		return
	}
	if flocks {
		delete(f.flocks, owner)
	}
	f.setLocked(owner, Range{Type: Unlock, Start: 0, End: EOF})
	m.changedLocked(key, f)
}
