package mm

import (
	"slices"

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
	c := &MemoryManager{mf: m.mf, as: as, pages: make(map[uintptr]platform.FileRange, len(m.pages)),
		min: m.min, max: m.max, mmapBase: m.mmapBase, brkStart: m.brkStart, brk: m.brk,
		stackLimit: m.stackLimit, cow: true}
	c.users.Store(1)
	for _, v := range m.vmas {
		if v.dontFork {
			continue
		}
		v.locked = false // memory locks are not inherited
		c.vmas = append(c.vmas, v)
		c.incRef(&c.vmas[len(c.vmas)-1])
	}
	addrs := make([]uintptr, 0, len(m.pages))
	for a := range m.pages {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	// The pages of each VMA, and the VMAs copied whole.
	type group struct {
		v     *vma
		pages []uintptr
		copy  bool
	}
	var groups []group
	budget := copyBudget
	if m.users.Load() != 1 {
		// Another thread could write a page while it is copied, and the child would
		// see a state the writer never made: with threads, everything is shared and
		// write-protected first, so their writes wait for the fork to end.
		budget = 0
	}
	for rest := addrs; len(rest) > 0; {
		v := &m.vmas[m.find(rest[0])]
		n := 1
		for n < len(rest) && rest[n] < v.end {
			n++
		}
		g := group{v: v, pages: rest[:n]}
		rest = rest[n:]
		if v.dontFork || v.wipeOnFork {
			continue
		}
		if v.shared == nil && v.perms.Write && v.end-v.start <= copySmallVMA*pageSize && n <= budget {
			g.copy = true
			budget -= n
		}
		groups = append(groups, g)
	}
	copied := map[*vma]bool{}
	for _, g := range groups {
		if g.copy {
			copied[g.v] = true
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
	for _, g := range groups {
		v, run := g.v, g.pages
		var own []uintptr // pages the child gets a copy of
		if g.copy {
			own, run = run, nil
		} else if v.shared == nil && v.perms.Write && sp >= v.start && sp < v.end {
			own, run = splitStack(run, pageDown(sp), v.start)
		}
		if err := c.copyFrom(m, own); err != nil {
			c.Release()
			return nil, err
		}
		// One IncRef per stretch of pages contiguous in the memory file.
		for i := 0; i < len(run); {
			fr := m.pages[run[i]]
			j := i + 1
			for j < len(run) && run[j] == run[j-1]+pageSize && m.pages[run[j]].Start == fr.Start+uint64(j-i)*pageSize {
				j++
			}
			m.mf.IncRef(platform.FileRange{Start: fr.Start, End: fr.Start + uint64(j-i)*pageSize})
			for k, a := range run[i:j] {
				off := fr.Start + uint64(k)*pageSize
				c.pages[a] = platform.FileRange{Start: off, End: off + pageSize}
			}
			i = j
		}
		maps = append(maps, c.runsOf(v, g.pages)...)
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

// splitStack takes out of pages (sorted, of a VMA starting at start) the copyStack
// pages at and below sp's page that are populated, and returns them and the rest.
func splitStack(pages []uintptr, sp, start uintptr) (own, rest []uintptr) {
	lo := max(start, sp-(copyStack-1)*pageSize)
	for _, a := range pages {
		if a >= lo && a <= sp {
			own = append(own, a)
		} else {
			rest = append(rest, a)
		}
	}
	return own, rest
}

// copyFrom gives c a copy of m's pages at addrs, in one new range of the memory file:
// the parts of them that hold data are copied, and holes stay holes. The range may be
// warm pages (pgalloc.AllocateResident: the last ones freed, which the copy overwrites
// and punches), so a fork loop's children reuse their siblings' pages, at the same
// offsets: a recycled address space still maps them there (platform.Refiller).
func (c *MemoryManager) copyFrom(m *MemoryManager, addrs []uintptr) error {
	if len(addrs) == 0 {
		return nil
	}
	// One look for data (two lseeks) per run of pages contiguous in both the address
	// space and the memory file, rather than per page.
	type run struct {
		i    int // the run's first index in addrs
		old  platform.FileRange
		data []platform.FileRange
	}
	var runs []run
	full := true
	for i := 0; i < len(addrs); {
		old := m.pages[addrs[i]]
		j := i + 1
		for j < len(addrs) && addrs[j] == addrs[j-1]+pageSize && m.pages[addrs[j]].Start == old.Start+uint64(j-i)*pageSize {
			j++
		}
		old.End = old.Start + uint64(j-i)*pageSize
		data := m.mf.Data(old)
		full = full && len(data) == 1 && data[0] == old
		runs = append(runs, run{i, old, data})
		i = j
	}
	fr, err := c.mf.AllocateResident(uint64(len(addrs)) * pageSize)
	if err != nil {
		return err
	}
	for _, r := range runs {
		at := fr.Start + uint64(r.i)*pageSize
		from := r.old.Start // the source's next hole starts here
		for _, d := range r.data {
			if d.Start > from {
				c.mf.Punch(platform.FileRange{Start: at + from - r.old.Start, End: at + d.Start - r.old.Start})
			}
			copy(m.mf.Slice(platform.FileRange{Start: at + d.Start - r.old.Start, End: at + d.End - r.old.Start}), m.mf.Slice(d))
			from = d.End
		}
		if from < r.old.End {
			c.mf.Punch(platform.FileRange{Start: at + from - r.old.Start, End: at + r.old.End - r.old.Start})
		}
	}
	for k, a := range addrs {
		off := fr.Start + uint64(k)*pageSize
		c.pages[a] = platform.FileRange{Start: off, End: off + pageSize}
	}
	return nil
}

// writeProtectPrivate takes write access away from every populated page of m's
// writable private mappings but those of skip and the pages [keepLo, keepHi), in the
// platform: fork is about to share them. Consecutive VMAs whose pages end up with the
// same access are changed as one range (a read-only private VMA loses nothing; holes
// between VMAs have nothing mapped), and where the platform batches, all ranges in one
// call. What is skipped shares no page with the child; those of its pages it still
// shares with another address space are already read-only.
func (m *MemoryManager) writeProtectPrivate(skip map[*vma]bool, keepLo, keepHi uintptr) error {
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
		if v.shared == nil && !v.dontFork && !v.wipeOnFork && !skip[v] {
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
