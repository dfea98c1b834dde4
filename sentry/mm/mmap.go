package mm

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// MMapOpts describes a new mapping.
type MMapOpts struct {
	Addr, Length uintptr
	Perms        platform.AccessType
	// NoWrite: mprotect may never add write access (a read-only shared file mapping,
	// as a VMA without VM_MAYWRITE).
	NoWrite   bool
	Fixed     bool // MAP_FIXED: replace whatever is there
	NoReplace bool // MAP_FIXED_NOREPLACE: EEXIST if anything is there
	GrowsDown bool
	File      FileData // nil: anonymous
	Offset    uint64
	FileSize  uint64 // bytes of File from Offset that exist; the rest reads as zero
	// Shared, if not nil, makes the mapping shared: it maps Shared's bytes from Offset
	// (File, if set too, is only held open while mapped).
	Shared Mappable
	// SysV marks a SysV shared memory attachment (shmat), which shmdt detaches.
	SysV bool
	// MayShare marks a MAP_SHARED mapping made as a private copy (a read-only one of a
	// file without a shared object): /proc/PID/maps shows it shared, as VM_MAYSHARE.
	MayShare bool
	Name     string
}

// MMap creates a mapping and returns its address. Length must already be non-zero; it is
// rounded up to pages. Without Fixed, Addr is a hint.
func (m *MemoryManager) MMap(o MMapOpts) (uintptr, error) {
	length, ok := pageUp(o.Length)
	if o.Length == 0 || !ok {
		return 0, unix.ENOMEM
	}
	m.mu.Lock()
	defer m.unlock()
	addr := o.Addr
	switch {
	case o.Fixed || o.NoReplace:
		if addr%pageSize != 0 {
			return 0, unix.EINVAL
		}
		if addr < m.min || addr+length < addr || addr+length > m.max {
			return 0, unix.ENOMEM
		}
		if o.NoReplace && m.overlaps(addr, addr+length) {
			return 0, unix.EEXIST
		}
		if err := m.unmapLocked(addr, addr+length); err != nil {
			return 0, err
		}
	default:
		hint := pageDown(addr)
		if hint >= m.min && hint+length > hint && hint+length <= m.max && !m.overlaps(hint, hint+length) {
			addr = hint
		} else if addr, ok = m.findGap(length); !ok {
			return 0, unix.ENOMEM
		}
	}
	v := vma{start: addr, end: addr + length, perms: o.Perms, maxPerms: platform.AnyAccess,
		growsDown: o.GrowsDown, mayShare: o.MayShare, name: o.Name, locked: m.lockFuture}
	if o.NoWrite {
		v.maxPerms.Write = false
	}
	switch {
	case o.Shared != nil:
		// A file given too is only held open (RefCounted): the bytes are Shared's.
		v.shared, v.off, v.sysv, v.file = o.Shared, o.Offset, o.SysV, o.File
	case o.File != nil:
		v.file, v.off = o.File, o.Offset
		v.fileEnd = addr + uintptr(min(o.FileSize, uint64(length)))
	}
	m.incRef(&v)
	m.insert(v)
	return addr, nil
}

// findGap finds length free bytes, searching down from mmapBase as Linux's top-down
// allocator does, then up from it.
func (m *MemoryManager) findGap(length uintptr) (uintptr, bool) {
	top := m.mmapBase
	if top == 0 || top > m.max {
		top = m.max
	}
	// Walk the VMAs below top from the highest, looking at the gap above each.
	i := m.find(top) // first VMA ending after top
	end := top
	if i < len(m.vmas) && m.vmas[i].start < end {
		end = m.vmas[i].start
	}
	for j := i - 1; ; j-- {
		lo := m.min
		if j >= 0 {
			lo = m.vmas[j].end
		}
		if end >= lo && end-lo >= length {
			return end - length, true
		}
		if j < 0 {
			break
		}
		end = m.vmas[j].start
	}
	// Nothing below: try above mmapBase.
	start := top
	for k := i; k <= len(m.vmas); k++ {
		hi := m.max
		if k < len(m.vmas) {
			hi = m.vmas[k].start
		}
		if hi > start && hi-start >= length {
			return start, true
		}
		if k < len(m.vmas) && m.vmas[k].end > start {
			start = m.vmas[k].end
		}
	}
	return 0, false
}

// MUnmap removes the mappings in [addr, addr+length), as munmap(2).
func (m *MemoryManager) MUnmap(addr, length uintptr) error {
	end, ok := pageUp(addr + length)
	if addr%pageSize != 0 || length == 0 || !ok || addr+length < addr {
		return unix.EINVAL
	}
	if addr < m.min || end > m.max {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.unlock()
	return m.unmapLocked(addr, end)
}

// MProtect changes the protection of [addr, addr+length), as mprotect(2): ENOMEM if
// any of it is unmapped (Linux changes the part before the hole; so does this).
func (m *MemoryManager) MProtect(addr, length uintptr, perms platform.AccessType) error {
	if addr%pageSize != 0 {
		return unix.EINVAL
	}
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	if length == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.unlock()
	m.split(addr)
	m.split(end)
	for a := addr; a < end; {
		v, ok := m.lookup(a)
		if !ok || v.start > a {
			return unix.ENOMEM
		}
		if !v.maxPerms.SupersetOf(perms) {
			return unix.EACCES
		}
		if v.perms != perms {
			v.perms = perms
			m.changes.Add(1)
			at := perms
			if m.cow && v.shared == nil {
				// Some pages may be shared copy-on-write and must stay read-only;
				// the others get write access back at their first write fault.
				at.Write = false
			}
			if err := m.as.Protect(v.start, v.end-v.start, at); err != nil {
				return err
			}
		}
		a = v.end
	}
	return nil
}

// Brk moves the end of the heap to addr, as brk(2): it returns the new end, or the old
// one when addr is below the heap's start or the heap can't grow there.
func (m *MemoryManager) Brk(addr uintptr) uintptr {
	m.mu.Lock()
	defer m.unlock()
	if addr < m.brkStart {
		return m.brk
	}
	oldEnd, _ := pageUp(m.brk)
	newEnd, ok := pageUp(addr)
	if !ok || newEnd > m.max {
		return m.brk
	}
	switch {
	case newEnd > oldEnd:
		if m.overlaps(oldEnd, newEnd) {
			return m.brk
		}
		m.insert(vma{start: oldEnd, end: newEnd, perms: platform.ReadWrite,
			maxPerms: platform.AnyAccess, name: "[heap]", locked: m.lockFuture})
	case newEnd < oldEnd:
		if err := m.unmapLocked(newEnd, oldEnd); err != nil {
			return m.brk
		}
	}
	m.brk = addr
	return m.brk
}

// Overlaps reports whether anything is mapped in [addr, addr+length).
func (m *MemoryManager) Overlaps(addr, length uintptr) bool {
	m.mu.Lock()
	defer m.unlock()
	return m.overlaps(addr, addr+length)
}
