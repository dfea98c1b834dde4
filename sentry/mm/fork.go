package mm

import (
	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
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
		vmaps, err := c.forkPages(m, v, ownLo, ownHi)
		if err != nil {
			c.Release()
			return nil, err
		}
		maps = append(maps, vmaps...)
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
// [ownLo, ownHi), all in one new range of the memory file (copyPages), and the others
// shared, one reference more per run. It returns the child's mappings of them, in
// address order: with v's access, less write where shared copy-on-write.
//
// The copies may be warm pages (pgalloc.AllocateResident: the last ones freed, which
// copyPages overwrites or punches), so a fork loop's children reuse their siblings'
// pages, at the same offsets: a recycled address space still maps them there
// (platform.Refiller).
func (c *MemoryManager) forkPages(m *MemoryManager, v *vma, ownLo, ownHi uintptr) ([]platform.FileMapping, error) {
	var copies platform.FileRange // where the next copy goes, from its start
	if n := m.pages.countWithin(ownLo, ownHi); n > 0 {
		fr, err := c.mf.AllocateResident(uint64(n) * pageSize)
		if err != nil {
			return nil, err
		}
		copies = fr
	}
	cow := v.perms
	if v.shared == nil {
		cow.Write = false
	}
	var maps []platform.FileMapping
	add := func(addr uintptr, fr platform.FileRange, at platform.AccessType) {
		c.pages.insert(addr, fr)
		maps = append(maps, platform.FileMapping{Addr: addr, File: fr, Access: at})
	}
	share := func(r pageRun) {
		m.mf.IncRef(r.file())
		add(r.addr, r.file(), cow)
	}
	for r := range m.pages.within(v.start, v.end) {
		if r.end() <= ownLo || ownHi <= r.addr {
			share(r)
			continue
		}
		if r.addr < ownLo {
			share(r.clip(r.addr, ownLo))
		}
		own := r.clip(max(r.addr, ownLo), min(r.end(), ownHi))
		dst := platform.FileRange{Start: copies.Start, End: copies.Start + own.file().Length()}
		copies.Start = dst.End
		copyPages(m.mf, own.file(), dst)
		add(own.addr, dst, v.perms)
		if ownHi < r.end() {
			share(r.clip(ownHi, r.end()))
		}
	}
	return maps, nil
}

// copyPages copies the memory-file pages src to dst, of the same length: the parts of
// src that hold data are copied, and dst is punched where src has holes, so holes stay
// holes (and bytes dst held before, warm pages of another process, are gone).
func copyPages(mf *pgalloc.MemoryFile, src, dst platform.FileRange) {
	// to maps a range of src to the same range of dst.
	to := func(start, end uint64) platform.FileRange {
		return platform.FileRange{Start: dst.Start + start - src.Start, End: dst.Start + end - src.Start}
	}
	from := src.Start // the source's next hole starts here
	for _, d := range mf.Data(src) {
		if d.Start > from {
			mf.Punch(to(from, d.Start))
		}
		copy(mf.Slice(to(d.Start, d.End)), mf.Slice(d))
		from = d.End
	}
	if from < src.End {
		mf.Punch(to(from, src.End))
	}
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
