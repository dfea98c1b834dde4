package mm

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// MRemap resizes or moves [oldAddr, oldAddr+oldSize), as mremap(2) (mm/mremap.c). The
// sizes are already page-aligned and non-zero. With mayMove it may move the mapping; with
// fixed it moves it to newAddr (replacing what is there); with dontUnmap the old range
// stays mapped, empty. The moved pages keep their memory-file pages: nothing is copied.
// An old size of zero maps the same part of a shared mapping's object again.
func (m *MemoryManager) MRemap(oldAddr, oldSize, newSize uintptr, mayMove, fixed, dontUnmap bool, newAddr uintptr) (uintptr, error) {
	m.mu.Lock()
	defer m.unlock()
	oldEnd := oldAddr + oldSize
	if oldEnd < oldAddr || oldEnd > m.max {
		return 0, unix.EINVAL
	}
	// The old range must lie in one VMA.
	v, ok := m.lookup(oldAddr)
	if !ok || v.end < oldEnd {
		return 0, unix.EFAULT
	}
	if oldSize == 0 && v.shared == nil {
		return 0, unix.EINVAL // only a shared mapping can be duplicated (vma_to_resize)
	}
	if fixed {
		if newAddr%pageSize != 0 || newAddr < m.min || newAddr+newSize < newAddr || newAddr+newSize > m.max {
			return 0, unix.EINVAL
		}
		if newAddr < oldEnd && oldAddr < newAddr+newSize {
			return 0, unix.EINVAL // overlapping ranges
		}
		if err := m.unmapLocked(newAddr, newAddr+newSize); err != nil {
			return 0, err
		}
		if oldSize == 0 {
			return m.duplicate(oldAddr, newSize, newAddr), nil
		}
		return m.move(oldAddr, oldSize, newSize, newAddr, dontUnmap)
	}
	if oldSize == 0 {
		if !mayMove {
			return 0, unix.ENOMEM
		}
		dst, ok := m.findGap(newSize)
		if !ok {
			return 0, unix.ENOMEM
		}
		return m.duplicate(oldAddr, newSize, dst), nil
	}
	if newSize <= oldSize && !dontUnmap {
		if newSize < oldSize {
			if err := m.unmapLocked(oldAddr+newSize, oldEnd); err != nil {
				return 0, err
			}
		}
		return oldAddr, nil
	}
	// Grow in place when the VMA ends at the old range and nothing follows.
	if !dontUnmap && v.end == oldEnd && oldAddr+newSize <= m.max && oldAddr+newSize > oldAddr &&
		!m.overlaps(oldEnd, oldAddr+newSize) {
		v.end = oldAddr + newSize
		return oldAddr, nil
	}
	if !mayMove {
		return 0, unix.ENOMEM
	}
	dst, ok := m.findGap(newSize)
	if !ok {
		return 0, unix.ENOMEM
	}
	return m.move(oldAddr, oldSize, newSize, dst, dontUnmap)
}

// duplicate maps, at dst and for size bytes, the shared object mapped at addr from the
// offset addr maps: mremap with an old size of zero, which leaves the old mapping.
func (m *MemoryManager) duplicate(addr, size, dst uintptr) uintptr {
	v, _ := m.lookup(addr)
	nv := *v
	nv.start, nv.end = dst, dst+size
	nv.off = v.off + uint64(addr-v.start)
	m.incRef(&nv)
	m.insert(nv)
	return dst
}

// move moves [oldAddr, oldAddr+oldSize) to dst, grown or shrunk to newSize.
func (m *MemoryManager) move(oldAddr, oldSize, newSize, dst uintptr, dontUnmap bool) (uintptr, error) {
	oldEnd := oldAddr + oldSize
	m.split(oldAddr)
	m.split(oldEnd)
	i := m.find(oldAddr)
	src := m.vmas[i] // the one VMA of the old range
	nv := src
	nv.start, nv.end = dst, dst+newSize
	m.incRef(&nv)
	// Move the populated pages that fit in the new size.
	m.notePeakLocked()
	var dropped []platform.FileRange
	for _, r := range m.pages.remove(oldAddr, oldEnd) {
		if r.addr < oldAddr+newSize {
			moved := r.clip(r.addr, min(r.end(), oldAddr+newSize))
			m.pages.insert(dst+(moved.addr-oldAddr), moved.file())
		}
		if r.end() > oldAddr+newSize {
			dropped = append(dropped, r.clip(max(r.addr, oldAddr+newSize), r.end()).file())
		}
	}
	m.changes.Add(1)
	// The pages that don't fit are freed once no longer mapped (see unmapLocked).
	err := m.as.Unmap(oldAddr, oldSize)
	freeRuns(m.mf, dropped)
	if err != nil {
		return 0, err
	}
	if !dontUnmap {
		m.decRef(&src)
		m.vmas = append(m.vmas[:i], m.vmas[i+1:]...)
	}
	m.insert(nv)
	return dst, nil
}

// MAdviseDontNeed drops the pages of [addr, addr+length): anonymous memory reads back as
// zeroes, file mappings as the file's bytes (MADV_DONTNEED). ENOMEM if part of the range
// is unmapped, after dropping the rest, as Linux.
func (m *MemoryManager) MAdviseDontNeed(addr, length uintptr) error {
	m.mu.Lock()
	defer m.unlock()
	end := addr + length
	hole := m.holes(addr, end)
	m.changes.Add(1)
	// Unmapped in the platform before they are freed, as munmap's (unmapLocked).
	var err error
	for _, s := range m.mapped(addr, end) {
		if err = m.as.Unmap(s[0], s[1]-s[0]); err != nil {
			break
		}
	}
	m.freePages(addr, end)
	if err != nil {
		return err
	}
	if hole {
		return unix.ENOMEM
	}
	return nil
}

// ForkAdvice is how fork treats a range (madvise's fork advice).
type ForkAdvice int

// Fork advice, as madvise(2)'s.
const (
	DontFork   ForkAdvice = iota + 1 // MADV_DONTFORK: the child doesn't get the range
	DoFork                           // MADV_DOFORK: undoes DontFork
	WipeOnFork                       // MADV_WIPEONFORK: the child gets it empty
	KeepOnFork                       // MADV_KEEPONFORK: undoes WipeOnFork
)

// MAdviseFork sets how fork treats the VMAs of [addr, addr+length) (page-aligned, not
// empty), as mm/madvise.c's madvise_walk_vmas: the VMAs are split at the range's ends
// and changed in address order; WipeOnFork on a VMA that is not private anonymous memory
// stops there with EINVAL (madvise_vma_behavior); a range that is not all mapped gives
// ENOMEM once the mapped parts are changed.
func (m *MemoryManager) MAdviseFork(addr, length uintptr, advice ForkAdvice) error {
	end := addr + length
	m.mu.Lock()
	defer m.unlock()
	if !m.overlaps(addr, end) {
		return unix.ENOMEM
	}
	hole := m.holes(addr, end)
	m.split(addr)
	m.split(end)
	for i := m.find(addr); i < len(m.vmas) && m.vmas[i].start < end; i++ {
		v := &m.vmas[i]
		switch advice {
		case DontFork:
			v.dontFork = true
		case DoFork:
			v.dontFork = false
		case WipeOnFork:
			if v.file != nil || v.shared != nil || v.mayShare {
				return unix.EINVAL
			}
			v.wipeOnFork = true
		case KeepOnFork:
			v.wipeOnFork = false
		}
	}
	if hole {
		return unix.ENOMEM
	}
	return nil
}

// CheckMapped returns ENOMEM unless all of [addr, addr+length) is mapped.
func (m *MemoryManager) CheckMapped(addr, length uintptr) error {
	m.mu.Lock()
	defer m.unlock()
	if m.holes(addr, addr+length) {
		return unix.ENOMEM
	}
	return nil
}

// Sync writes back the page caches (NewCache) that [addr, addr+length) maps, as msync:
// ENOMEM if part of the range is unmapped. The caches are flushed after m.mu is let go.
func (m *MemoryManager) Sync(addr, length uintptr) error {
	m.mu.Lock()
	if m.holes(addr, addr+length) {
		m.unlock()
		return unix.ENOMEM
	}
	var caches []*Shared
	for i := m.find(addr); i < len(m.vmas) && m.vmas[i].start < addr+length; i++ {
		if s, ok := m.vmas[i].shared.(*Shared); ok && s.backing != nil && !slices.Contains(caches, s) {
			s.IncRef()
			caches = append(caches, s)
		}
	}
	m.unlock()
	var err error
	for _, s := range caches {
		if e := s.Flush(); e != nil && err == nil {
			err = unix.EIO
		}
		s.DecRef()
	}
	return err
}

// Resident reports, page by page, whether [addr, addr+length) is populated (mincore).
// ENOMEM if part of it is unmapped.
func (m *MemoryManager) Resident(addr, length uintptr) ([]byte, error) {
	m.mu.Lock()
	defer m.unlock()
	if m.holes(addr, addr+length) {
		return nil, unix.ENOMEM
	}
	// A populated page is resident if its memory-file page holds data: fault-around
	// populates neighbours that stay holes (no host memory) until touched, and a
	// touched page, even only read, has data, as the page Linux maps on a fault.
	out := make([]byte, length/pageSize)
	for r := range m.pages.within(addr, addr+uintptr(len(out))*pageSize) {
		i := int((r.addr - addr) / pageSize)
		for _, d := range m.mf.Data(r.file()) {
			for off := d.Start &^ (pageSize - 1); off < d.End; off += pageSize {
				out[i+int((off-r.off)/pageSize)] = 1
			}
		}
	}
	return out, nil
}

// holes reports whether any of [start, end) is not in a VMA.
func (m *MemoryManager) holes(start, end uintptr) bool {
	a := start
	for i := m.find(start); i < len(m.vmas) && a < end; i++ {
		if m.vmas[i].start > a {
			return true
		}
		a = m.vmas[i].end
	}
	return a < end
}

// mapped returns the mapped pieces of [start, end).
func (m *MemoryManager) mapped(start, end uintptr) [][2]uintptr {
	var out [][2]uintptr
	for i := m.find(start); i < len(m.vmas) && m.vmas[i].start < end; i++ {
		out = append(out, [2]uintptr{max(m.vmas[i].start, start), min(m.vmas[i].end, end)})
	}
	return out
}
