package mm

import (
	"github.com/moat-sandbox/moat/platform"
)

// Fork returns a copy of the address space in the new platform address space as, for
// fork(2), copy-on-write: the child gets the same VMAs (but those marked MADV_DONTFORK,
// and with no pages in those marked MADV_WIPEONFORK) and, for every populated page, the
// same memory-file page with one more reference. A shared mapping's pages stay shared;
// a private mapping's pages are now shared copy-on-write (see the package comment), so
// the parent's own mappings of them lose write access first, before the child exists:
// threads of the parent that keep running can't write into a page the child sees, and
// those that try fault and wait for m.mu.
//
// Two exceptions save faults that would cost more than copying: the child of a
// single-threaded process gets its own copy at once of the pages of small writable
// private VMAs (a program's and each library's .data and .bss, a small heap: at most
// copySmallVMA pages each, copyBudget in all), which the parent then keeps writable; and
// any child gets a copy of the pages at and below sp, the forking thread's stack
// pointer, which it writes first thing (a single-threaded parent keeps them writable;
// a multithreaded one's are copied once write-protected, so that no other thread is
// writing them meanwhile).
//
// Where the platform maps a batch in about the time of one mapping
// (platform.MapBatcher: systrap, kvm), the child's pages are all mapped at once, read-only where
// copy-on-write; elsewhere nothing is mapped and the child's first touch of a page maps
// the run around it (mapRun).
func (m *MemoryManager) Fork(as platform.AddressSpace, sp uintptr) (*MemoryManager, error) {
	m.mu.Lock()
	defer m.unlock()
	c := &MemoryManager{mf: m.mf, as: as, min: m.min, max: m.max, mmapBase: m.mmapBase,
		brkStart: m.brkStart, brk: m.brk, stackLimit: m.stackLimit, cow: true}
	c.users.Store(1)
	for _, v := range m.vmas {
		if v.dontFork {
			continue
		}
		v.locked = false // memory locks are not inherited
		c.vmas = append(c.vmas, v)
		c.incRef(&c.vmas[len(c.vmas)-1])
	}
	// The VMAs copied whole, by index in m.vmas.
	copied := make([]bool, len(m.vmas))
	budget := copyBudget
	if m.users.Load() != 1 {
		// Another thread could write a page while it is copied, and the child would
		// see a state the writer never made: with threads, everything is shared and
		// write-protected first, so their writes wait for the fork to end.
		budget = 0
	}
	for i, v := range m.vmas {
		if v.dontFork || v.wipeOnFork || v.shared != nil || !v.perms.Write || v.end-v.start > copySmallVMA*pageSize {
			continue
		}
		if n := m.pages.countWithin(v.start, v.end); n > 0 && n <= budget {
			copied[i] = true
			budget -= n
		}
	}
	m.changes.Add(1)
	// The stack pointer's pages are copied for the child (below); a single-threaded
	// parent, the only writer of its stack, keeps them writable.
	var keepLo, keepHi uintptr
	if v, ok := m.lookup(sp); ok && v.shared == nil && v.perms.Write && m.users.Load() == 1 {
		keepLo, keepHi = max(v.start, pageDown(sp)-(copyStack-1)*pageSize), min(v.end, pageDown(sp)+pageSize)
	}
	if err := m.writeProtectPrivate(copied, keepLo, keepHi); err != nil {
		c.Release()
		return nil, err
	}
	m.cow = true
	var maps []platform.FileMapping
	for i := range m.vmas {
		v := &m.vmas[i]
		if v.dontFork || v.wipeOnFork {
			continue
		}
		// The child gets a copy of the pages in [ownLo, ownHi): all of a small VMA's,
		// or those at the stack pointer; and the rest shared.
		var ownLo, ownHi uintptr
		if copied[i] {
			ownLo, ownHi = v.start, v.end
		} else if v.shared == nil && v.perms.Write && sp >= v.start && sp < v.end {
			ownLo, ownHi = max(v.start, pageDown(sp)-(copyStack-1)*pageSize), pageDown(sp)+pageSize
		}
		if err := c.forkPages(m, v, ownLo, ownHi); err != nil {
			c.Release()
			return nil, err
		}
		maps = append(maps, c.runsOf(v, c.pages.within(v.start, v.end))...)
	}
	// Where a batch of mappings costs about one, the child gets all its pages mapped
	// now rather than a fault for each run it touches; a recycled address space keeps
	// those its last user had the same (platform.Refiller).
	var err error
	if r, ok := as.(platform.Refiller); ok {
		err = r.Refill(maps)
	} else if b, ok := as.(platform.MapBatcher); ok && b.Batched() && len(maps) > 0 {
		err = b.MapFiles(maps)
	}
	if err != nil {
		c.Release()
		return nil, err
	}
	return c, nil
}

// What fork copies at once rather than sharing (see Fork).
const (
	copySmallVMA = 16 // pages: a writable private VMA this small is copied whole...
	copyBudget   = 64 // ...up to this many pages in all
	copyStack    = 2  // pages at and below the stack pointer
)

// forkPages gives c, m's child, the populated pages of m's VMA v: a copy of those in
// [ownLo, ownHi) (copyFrom), and the others shared, one reference more for each run.
func (c *MemoryManager) forkPages(m *MemoryManager, v *vma, ownLo, ownHi uintptr) error {
	share := func(r pageRun) {
		m.mf.IncRef(r.file())
		c.pages.insert(r.addr, r.file())
	}
	var own []pageRun
	for r := range m.pages.within(v.start, v.end) {
		if r.end() <= ownLo || ownHi <= r.addr {
			share(r)
			continue
		}
		if r.addr < ownLo {
			share(r.clip(r.addr, ownLo))
		}
		own = append(own, r.clip(max(r.addr, ownLo), min(r.end(), ownHi)))
		if ownHi < r.end() {
			share(r.clip(ownHi, r.end()))
		}
	}
	return c.copyFrom(m, own)
}

// copyFrom gives c a copy of m's pages in runs, in one new range of the memory file:
// the parts of them that hold data are copied, and holes stay holes. The range may be
// warm pages (pgalloc.AllocateResident: the last ones freed, which the copy overwrites
// and punches), so a fork loop's children reuse their siblings' pages, at the same
// offsets: a recycled address space still maps them there (platform.Refiller).
func (c *MemoryManager) copyFrom(m *MemoryManager, runs []pageRun) error {
	var n uintptr
	for _, r := range runs {
		n += r.n
	}
	if n == 0 {
		return nil
	}
	fr, err := c.mf.AllocateResident(uint64(n) * pageSize)
	if err != nil {
		return err
	}
	at := fr.Start // where the next run's copy goes
	for _, r := range runs {
		old := r.file()
		// to maps a range of the old run to the same range of its copy.
		to := func(start, end uint64) platform.FileRange {
			return platform.FileRange{Start: at + start - old.Start, End: at + end - old.Start}
		}
		from := old.Start // the source's next hole starts here
		for _, d := range m.mf.Data(old) {
			if d.Start > from {
				c.mf.Punch(to(from, d.Start))
			}
			copy(m.mf.Slice(to(d.Start, d.End)), m.mf.Slice(d))
			from = d.End
		}
		if from < old.End {
			c.mf.Punch(to(from, old.End))
		}
		c.pages.insert(r.addr, to(old.Start, old.End))
		at += old.Length()
	}
	return nil
}

// writeProtectPrivate takes write access away from every populated page of m's
// writable private mappings but those skip marks (by index) and the pages [keepLo, keepHi), in the
// platform: fork is about to share them. Consecutive VMAs whose pages end up with the
// same access are changed as one range (a read-only private VMA loses nothing; holes
// between VMAs have nothing mapped), and where the platform batches, all ranges in one
// call. What is skipped shares no page with the child; those of its pages it still
// shares with another address space are already read-only.
func (m *MemoryManager) writeProtectPrivate(skip []bool, keepLo, keepHi uintptr) error {
	var ps []platform.Protection
	add := func(start, end uintptr, at platform.AccessType) {
		if keepLo < keepHi && start < keepHi && keepLo < end {
			if start < keepLo {
				ps = append(ps, platform.Protection{Addr: start, Length: keepLo - start, Access: at})
			}
			if keepHi < end {
				ps = append(ps, platform.Protection{Addr: keepHi, Length: end - keepHi, Access: at})
			}
			return
		}
		ps = append(ps, platform.Protection{Addr: start, Length: end - start, Access: at})
	}
	var start, end uintptr
	var at platform.AccessType
	pending := false
	for i := range m.vmas {
		v := &m.vmas[i]
		want := v.perms
		if v.shared == nil && !v.dontFork && !v.wipeOnFork && !skip[i] {
			want.Write = false
		}
		if pending && want != at {
			add(start, end, at)
			pending = false
		}
		if !pending {
			if want == v.perms {
				continue // nothing to change here; start a run at a VMA that needs it
			}
			start, at, pending = v.start, want, true
		}
		end = v.end
	}
	if pending {
		add(start, end, at)
	}
	if b, ok := m.as.(platform.MapBatcher); ok && b.Batched() {
		return b.ProtectAll(ps)
	}
	for _, p := range ps {
		if err := m.as.Protect(p.Addr, p.Length, p.Access); err != nil {
			return err
		}
	}
	return nil
}
