package mm

import (
	"golang.org/x/sys/unix"
)

// Memory locks (mlock, mlock2, munlock, mlockall, munlockall, MAP_LOCKED). Locking a
// VMA marks it (Linux's VM_LOCKED) and the caller populates its pages (Populate),
// unless asked to lock them as they are touched (MLOCK_ONFAULT, MCL_ONFAULT). The
// Sentry never takes an application's populated pages back, so what a lock promises,
// that touching the memory takes no major fault, holds for every populated page; the
// lock itself is kept for the accounting RLIMIT_MEMLOCK limits and /proc shows
// (VmLck). Fork and exec drop locks, as on Linux.

// lockRange checks that [addr, end) is mapped without a hole and sets the locked flag
// of its VMAs, split at the range's ends. m.mu is held.
func (m *MemoryManager) lockRange(addr, end uintptr, lock bool) error {
	for a := addr; a < end; {
		v, ok := m.lookup(a)
		if !ok || v.start > a {
			return unix.ENOMEM
		}
		a = v.end
	}
	m.split(addr)
	m.split(end)
	for a := addr; a < end; {
		v, _ := m.lookup(a)
		v.locked = lock
		a = v.end
	}
	return nil
}

// MLock locks (or with lock false unlocks) the pages of [addr, addr+length), page
// aligned by the caller: ENOMEM if part of it is not mapped, and then nothing changes;
// EINVAL if it wraps around.
func (m *MemoryManager) MLock(addr, length uintptr, lock bool) error {
	end := addr + length
	if end < addr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.unlock()
	return m.lockRange(addr, end, lock)
}

// LockedIn returns how many bytes of [addr, addr+length) are locked already
// (count_mm_mlocked_page_nr), so that locking them again costs no more of the limit.
func (m *MemoryManager) LockedIn(addr, length uintptr) uint64 {
	m.mu.Lock()
	defer m.unlock()
	var n uint64
	for _, v := range m.vmas {
		if v.locked {
			if lo, hi := max(v.start, addr), min(v.end, addr+length); lo < hi {
				n += uint64(hi - lo)
			}
		}
	}
	return n
}

// Locked returns the bytes locked (locked_vm; /proc's VmLck).
func (m *MemoryManager) Locked() uint64 { return m.LockedIn(0, ^uintptr(0)) }

// LocksFuture reports whether new mappings are locked (mlockall's MCL_FUTURE).
func (m *MemoryManager) LocksFuture() bool {
	m.mu.Lock()
	defer m.unlock()
	return m.lockFuture
}

// MLockAll applies mlockall's flags: current locks every VMA there is, future every
// one made from now on (brk's too); both false is munlockall, which unlocks all.
func (m *MemoryManager) MLockAll(current, future bool) {
	m.mu.Lock()
	defer m.unlock()
	m.lockFuture = future
	if current || !future {
		for i := range m.vmas {
			m.vmas[i].locked = current
		}
	}
}

// Total returns the bytes mapped (total_vm), which mlockall(MCL_CURRENT) checks
// against the limit.
func (m *MemoryManager) Total() uint64 {
	size, _ := m.Usage()
	return size
}

// Populate touches the pages of [addr, addr+length) as their VMAs allow, as
// mm_populate: writable ones for writing (breaking copy-on-write), readable ones for
// reading. It goes on past holes and pages it cannot touch (inaccessible ones, a
// fault's SIGBUS), and returns EFAULT if it met one (what __mm_populate tells mlock).
func (m *MemoryManager) Populate(addr, length uintptr) error {
	end := addr + length
	if end < addr {
		end = ^uintptr(0)
	}
	var err error
	for a := pageDown(addr); a < end; {
		m.mu.Lock()
		v, ok := m.lookup(a)
		if !ok {
			// The next VMA after a, if any.
			i := m.find(a)
			if i >= len(m.vmas) || m.vmas[i].start >= end {
				m.unlock()
				return err
			}
			a = m.vmas[i].start
			m.unlock()
			continue
		}
		at, vend := v.perms, v.end
		_, present := m.pages.lookup(a)
		m.unlock()
		switch {
		case !at.Read && !at.Write && !at.Execute:
			err = unix.EFAULT
		case !present || at.Write:
			at.Execute = false
			if m.HandleFault(a, at) != nil {
				err = unix.EFAULT
			}
		}
		if next := a + pageSize; next < a || next >= min(vend, end) {
			a = vend
		} else {
			a = next
		}
	}
	return err
}
