package mm

import (
	"slices"

	"github.com/moat-sandbox/moat/platform"
)

// Fork returns a copy of the address space in the new platform address space as, for
// fork(2): the same mappings; for every populated shared page the same page, with one
// more reference; and for every populated private page a new page holding a copy of its
// bytes. The private copy is eager (copy-on-write is still to come), but cheap where it
// can be: each run of populated pages of one VMA gets one contiguous range of the memory
// file; only the parent's pages that hold data are copied (a page never written is a
// hole of the memory file, as is the new range: both read zero, and copying would cost
// host memory); and each run is mapped in the child at once, so the child does not
// fault its pages back one by one.
func (m *MemoryManager) Fork(as platform.AddressSpace) (*MemoryManager, error) {
	m.mu.Lock()
	defer m.unlock()
	c := &MemoryManager{mf: m.mf, as: as, pages: make(map[uintptr]platform.FileRange, len(m.pages)),
		min: m.min, max: m.max, mmapBase: m.mmapBase, brkStart: m.brkStart, brk: m.brk, stackLimit: m.stackLimit}
	c.users.Store(1)
	c.vmas = append([]vma(nil), m.vmas...)
	for i := range c.vmas {
		c.incRef(&c.vmas[i])
	}
	addrs := make([]uintptr, 0, len(m.pages))
	for a := range m.pages {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for len(addrs) > 0 {
		// The run: consecutive pages within one VMA.
		v := &m.vmas[m.find(addrs[0])]
		n := 1
		for n < len(addrs) && addrs[n] == addrs[n-1]+pageSize && addrs[n] < v.end {
			n++
		}
		run := addrs[:n]
		addrs = addrs[n:]
		if v.shared != nil {
			if err := c.shareRun(m, run, v.perms); err != nil {
				c.Release()
				return nil, err
			}
			continue
		}
		fr, err := m.mf.Allocate(uint64(n) * pageSize)
		if err != nil {
			c.Release()
			return nil, err
		}
		for i := 0; i < n; {
			// A stretch of the run whose parent pages are contiguous in the file.
			src := m.pages[run[i]]
			j := i + 1
			for j < n && m.pages[run[j]].Start == src.Start+uint64(j-i)*pageSize {
				j++
			}
			src.End = src.Start + uint64(j-i)*pageSize
			for _, d := range m.mf.Data(src) {
				at := fr.Start + uint64(i)*pageSize + (d.Start - src.Start)
				copy(m.mf.Slice(platform.FileRange{Start: at, End: at + d.Length()}), m.mf.Slice(d))
			}
			i = j
		}
		for i, a := range run {
			off := fr.Start + uint64(i)*pageSize
			c.pages[a] = platform.FileRange{Start: off, End: off + pageSize}
		}
		if err := as.MapFile(run[0], fr, v.perms, false); err != nil {
			c.Release()
			return nil, err
		}
	}
	return c, nil
}

// shareRun gives c the pages of m at run (addresses of a shared VMA), one more reference
// each, and maps them, a stretch of contiguous file pages at a time.
func (c *MemoryManager) shareRun(m *MemoryManager, run []uintptr, at platform.AccessType) error {
	for i := 0; i < len(run); {
		start := m.pages[run[i]]
		j := i + 1
		for j < len(run) && m.pages[run[j]].Start == start.Start+uint64(j-i)*pageSize {
			j++
		}
		for _, a := range run[i:j] {
			fr := m.pages[a]
			m.mf.IncRef(fr)
			c.pages[a] = fr
		}
		fr := platform.FileRange{Start: start.Start, End: start.Start + uint64(j-i)*pageSize}
		if err := c.as.MapFile(run[i], fr, at, false); err != nil {
			return err
		}
		i = j
	}
	return nil
}
