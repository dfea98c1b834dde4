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
// those that try fault and wait for m.mu. Nothing is copied and nothing is mapped in the
// child: its first touch of a page maps the run of pages around it (mapRun).
func (m *MemoryManager) Fork(as platform.AddressSpace) (*MemoryManager, error) {
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
		c.vmas = append(c.vmas, v)
		c.incRef(&c.vmas[len(c.vmas)-1])
	}
	m.changes.Add(1)
	if err := m.writeProtectPrivate(); err != nil {
		c.Release()
		return nil, err
	}
	m.cow = true
	addrs := make([]uintptr, 0, len(m.pages))
	for a := range m.pages {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for len(addrs) > 0 {
		// The pages of one VMA.
		v := &m.vmas[m.find(addrs[0])]
		n := 1
		for n < len(addrs) && addrs[n] < v.end {
			n++
		}
		run := addrs[:n]
		addrs = addrs[n:]
		if v.dontFork || v.wipeOnFork {
			continue
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
	}
	return c, nil
}

// writeProtectPrivate takes write access away from every populated page of m's
// writable private mappings, in the platform: fork is about to share them. Consecutive
// VMAs whose pages end up with the same access are changed in one call (a read-only
// private VMA loses nothing; holes between VMAs have nothing mapped).
func (m *MemoryManager) writeProtectPrivate() error {
	var start, end uintptr
	var at platform.AccessType
	pending := false
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		return m.as.Protect(start, end-start, at)
	}
	for i := range m.vmas {
		v := &m.vmas[i]
		want := v.perms
		if v.shared == nil && !v.dontFork && !v.wipeOnFork {
			want.Write = false
		}
		if pending && want != at {
			if err := flush(); err != nil {
				return err
			}
		}
		if !pending {
			if want == v.perms {
				continue // nothing to change here; start a run at a VMA that needs it
			}
			start, at, pending = v.start, want, true
		}
		end = v.end
	}
	return flush()
}
