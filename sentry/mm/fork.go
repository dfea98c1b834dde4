package mm

import (
	"github.com/moat-sandbox/moat/platform"
)

// Fork returns a copy of the address space in the new platform address space as, for
// fork(2): the same mappings, and for every populated page a new page holding a copy of
// its bytes. The copy is eager; copy-on-write comes with the fork work's second step.
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
	for a, fr := range m.pages {
		nfr, err := m.mf.Allocate(pageSize)
		if err != nil {
			c.Release()
			return nil, err
		}
		copy(m.mf.Slice(nfr), m.mf.Slice(fr))
		c.pages[a] = nfr
	}
	return c, nil
}
