package mm

import (
	"slices"

	"github.com/moat-sandbox/moat/platform"
)

// Fork returns a copy of the address space in the new platform address space as, for
// fork(2): the same mappings, and for every populated page a new page holding a copy of
// its bytes. The copy is eager (copy-on-write is still to come), but cheap where it can
// be: each run of populated pages of one VMA gets one contiguous range of the memory
// file; only the parent's pages that hold data are copied (a page never written is a
// hole of the memory file, as is the new range: both read zero, and copying would cost
// host memory); and each run is mapped in the child at once, so the child does not
// fault its pages back one by one.
func (m *MemoryManager) Fork(as platform.AddressSpace) (*MemoryManager, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MemoryManager{mf: m.mf, as: as, pages: make(map[uintptr]platform.FileRange, len(m.pages)),
		min: m.min, max: m.max, mmapBase: m.mmapBase, brkStart: m.brkStart, brk: m.brk, stackLimit: m.stackLimit}
	c.users.Store(1)
	c.vmas = append([]vma(nil), m.vmas...)
	for _, v := range c.vmas {
		incRef(v.file)
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
