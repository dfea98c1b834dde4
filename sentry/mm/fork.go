package mm

import (
	"github.com/moat-sandbox/moat/platform"
)

// Fork returns a copy of the address space in the new platform address space as, for
// fork(2): the same mappings; for every populated private page a new page holding a copy
// of its bytes (eagerly: there is no copy-on-write yet), and for every populated shared
// page the same page, with one more reference.
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
	for a, fr := range m.pages {
		if v, ok := m.lookup(a); ok && v.shared != nil {
			m.mf.IncRef(fr)
			c.pages[a] = fr
			continue
		}
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
