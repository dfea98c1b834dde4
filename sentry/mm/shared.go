package mm

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
)

// Mappable is a shared memory object: every MAP_SHARED mapping of it, in any address
// space, maps the object's own memory-file pages, so all of them (and the object's
// other users, such as read(2) of a tmpfs file) see the same bytes at once. Each VMA
// that maps it holds a reference (taken when the VMA is made, split or forked, dropped
// when it is unmapped); each page an address space has populated from it holds a
// reference to that page in the memory file.
type Mappable interface {
	RefCounted
	// Page returns the memory-file page that holds the object's bytes at off (page
	// aligned), allocating it if the object has none there yet. It returns ErrPastEOF
	// for a page wholly past the object's end, which a fault turns into SIGBUS.
	Page(off uint64) (platform.FileRange, error)
}

// ErrPastEOF is Mappable.Page's error for a page past the end of the object.
var ErrPastEOF = &BusError{}

// BusError is a fault the application must get as SIGBUS (BUS_ADRERR): an access to a
// shared mapping's page past the end of its object, as mm/filemap.c:filemap_fault.
type BusError struct{ Addr uintptr }

func (e *BusError) Error() string {
	return "access past the end of the mapped object at " + hex(e.Addr)
}

// Code is the fault's si_code.
func (e *BusError) Code() int32 { return arch.BUS_ADRERR }

// Shared is an anonymous shared memory object of a fixed size: the object of a
// MAP_SHARED|MAP_ANONYMOUS mapping (Linux's shmem_zero_setup) and of a SysV shared
// memory segment. Its pages are allocated when first touched and freed when the last
// reference goes.
type Shared struct {
	mf   *pgalloc.MemoryFile
	size uint64
	refs atomic.Int64

	mu    sync.Mutex
	pages map[uint64]platform.FileRange // page offset → memory-file page
}

// NewShared returns an object of size bytes (rounded up to pages) with one reference.
func NewShared(mf *pgalloc.MemoryFile, size uint64) *Shared {
	s := &Shared{mf: mf, size: (size + pageSize - 1) &^ (pageSize - 1), pages: map[uint64]platform.FileRange{}}
	s.refs.Store(1)
	return s
}

// Size is the object's size in bytes.
func (s *Shared) Size() uint64 { return s.size }

// Resident is the number of bytes of the object that are populated.
func (s *Shared) Resident() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.pages)) * pageSize
}

// IncRef implements RefCounted.
func (s *Shared) IncRef() { s.refs.Add(1) }

// DecRef implements RefCounted: the last reference frees the pages.
func (s *Shared) DecRef() {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fr := range s.pages {
		s.mf.Free(fr)
	}
	s.pages = nil
}

// Page implements Mappable.Page.
func (s *Shared) Page(off uint64) (platform.FileRange, error) {
	if off >= s.size {
		return platform.FileRange{}, ErrPastEOF
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fr, ok := s.pages[off]; ok {
		return fr, nil
	}
	fr, err := s.mf.Allocate(pageSize)
	if err != nil {
		return platform.FileRange{}, err
	}
	s.pages[off] = fr
	return fr, nil
}

// SharedOffset returns the shared object mapped at addr and addr's offset in it, or
// ok false if addr is not in a shared mapping (what a shared futex is keyed by, as
// kernel/futex/core.c:get_futex_key keys a shared page by its inode and offset).
func (m *MemoryManager) SharedOffset(addr uintptr) (obj Mappable, off uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.lookup(addr)
	if !ok || v.shared == nil {
		return nil, 0, false
	}
	return v.shared, v.off + uint64(addr-v.start), true
}

// DetachSysV detaches the SysV shared memory segment attached at addr, as ipc/shm.c's
// shmdt: the first shmat VMA at or above addr whose offset in its segment is its
// distance from addr, then the VMAs of the same segment in the same relation that end
// within the segment's size (size returns it), rounded up to pages, of addr. EINVAL if there is none.
func (m *MemoryManager) DetachSysV(addr uintptr, size func(Mappable) uint64) error {
	if addr%pageSize != 0 {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var seg Mappable
	var end uintptr
	for i := m.find(addr); i < len(m.vmas); i++ {
		v := m.vmas[i]
		if seg == nil {
			if !v.sysv || uint64(v.start-addr) != v.off {
				continue
			}
			seg = v.shared
			end = addr + uintptr((size(seg)+pageSize-1)&^(pageSize-1))
			if end < addr {
				end = m.max
			}
		} else if v.end > end {
			break
		} else if v.shared != seg || uint64(v.start-addr) != v.off {
			continue
		}
		if err := m.unmapLocked(v.start, v.end); err != nil {
			return err
		}
		i = m.find(v.start) - 1 // the VMAs after it moved down
	}
	if seg == nil {
		return unix.EINVAL
	}
	return nil
}
