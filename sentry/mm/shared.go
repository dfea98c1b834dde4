package mm

import (
	"io"
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
	// aligned), allocating it if the object has none there yet, with a reference for
	// the caller. It returns ErrPastEOF for a page wholly past the object's end, which
	// a fault turns into SIGBUS.
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

// Shared is a shared memory object: the object of a MAP_SHARED|MAP_ANONYMOUS mapping
// (Linux's shmem_zero_setup), of a SysV shared memory segment, and the data of a tmpfs
// file (mm/shmem.c keeps all three in shmem inodes). Its pages are allocated when first
// touched (holes read as zeroes) and freed when the object shrinks past them or its last
// reference goes. It knows which address spaces map it, so that shrinking it or punching
// a hole takes the dropped pages out of every mapping (unmap_mapping_range): touching
// them again faults in the new state, zeroes for a hole, SIGBUS past the end.
type Shared struct {
	mf   *pgalloc.MemoryFile
	refs atomic.Int64
	// backing, if set, is the file the object caches (NewCache); writable says
	// whether it may be written back (mu guards both).
	backing  Backing
	writable bool

	mu      sync.Mutex
	size    uint64
	pages   map[uint64]platform.FileRange // page offset → memory-file page
	mappers map[*MemoryManager]int        // address spaces with VMAs of it, and how many
}

// Backing is a file that a Shared object caches for shared mappings of it (a Gofer
// file: there is no other page cache): a page is read from it when first touched, and
// Flush writes the object's pages back to it.
type Backing interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
}

// NewCache returns an object of size bytes caching b, with one reference. It holds
// pages only while mapped: when the last address space stops mapping it, its pages are
// written back to b and dropped, so a read or write of the file that bypasses the cache
// then sees the file as it is. writable says whether b may be written: a cache made
// for a description open only for reading is never written back, since no mapping of
// it can write (MAP_SHARED with PROT_WRITE, or mprotect to it, needs a description open
// for writing), until WritableBacking gives it a writable one.
func NewCache(mf *pgalloc.MemoryFile, size uint64, b Backing, writable bool) *Shared {
	s := NewShared(mf, size)
	s.backing, s.writable = b, writable
	return s
}

// Writable reports whether the cache's backing may be written back.
func (s *Shared) Writable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writable
}

// WritableBacking makes b, writable, the cache's backing, before a mapping that can
// write is made, and returns the backing it replaces (for its owner to close). The
// pages stay: they hold what both files read.
func (s *Shared) WritableBacking(b Backing) Backing {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.backing
	s.backing, s.writable = b, true
	return old
}

// Flush writes a cache's pages back to its file (msync, fsync, and before the file is
// read other than through a mapping). Pages are not tracked as dirty: every page is
// written, if any mapping could have written it.
func (s *Shared) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *Shared) flushLocked() error {
	if s.backing == nil || !s.writable {
		return nil
	}
	for off, fr := range s.pages {
		if off >= s.size {
			continue
		}
		n := min(pageSize, s.size-off)
		if _, err := s.backing.WriteAt(s.mf.Slice(fr)[:n], int64(off)); err != nil {
			return err
		}
	}
	return nil
}

// Update copies what a write to a cache's file put at off into the pages the cache
// holds there, so that mappings see it, and grows the object if the file grew.
func (s *Shared) Update(src []byte, off uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backing == nil {
		return
	}
	for done := 0; done < len(src); {
		o := off + uint64(done)
		chunk := min(len(src)-done, int(pageSize-o%pageSize))
		if fr, ok := s.pages[o&^(pageSize-1)]; ok {
			copy(s.mf.Slice(fr)[o%pageSize:], src[done:done+chunk])
		}
		done += chunk
	}
	s.size = max(s.size, off+uint64(len(src)))
}

// NewShared returns an object of size bytes with one reference.
func NewShared(mf *pgalloc.MemoryFile, size uint64) *Shared {
	s := &Shared{mf: mf, size: size, pages: map[uint64]platform.FileRange{}}
	s.refs.Store(1)
	return s
}

// Size is the object's size in bytes.
func (s *Shared) Size() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

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
	s.freeAllLocked()
	s.pages = nil
}

// freeAllLocked drops the object's reference to each of its pages (s.mu held).
func (s *Shared) freeAllLocked() {
	frs := make([]platform.FileRange, 0, len(s.pages))
	for _, fr := range s.pages {
		frs = append(frs, fr)
	}
	freeRuns(s.mf, frs)
}

// track counts a VMA of m mapping the object (delta 1) or going (-1).
func (s *Shared) track(m *MemoryManager, delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mappers == nil {
		s.mappers = map[*MemoryManager]int{}
	}
	if s.mappers[m] += delta; s.mappers[m] <= 0 {
		delete(s.mappers, m)
	}
	if len(s.mappers) == 0 && s.backing != nil && len(s.pages) > 0 {
		// A cache no one maps any more: write it back and let it go (NewCache).
		s.flushLocked()
		s.freeAllLocked()
		s.pages = map[uint64]platform.FileRange{}
	}
}

// Page implements Mappable.Page.
func (s *Shared) Page(off uint64) (platform.FileRange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.size {
		return platform.FileRange{}, ErrPastEOF
	}
	fr, err := s.pageLocked(off)
	if err != nil {
		return fr, err
	}
	s.mf.IncRef(fr)
	return fr, nil
}

// pageLocked returns the page at off, allocating it.
func (s *Shared) pageLocked(off uint64) (platform.FileRange, error) {
	if fr, ok := s.pages[off]; ok {
		return fr, nil
	}
	fr, err := s.mf.Allocate(pageSize)
	if err != nil {
		return platform.FileRange{}, err
	}
	if s.backing != nil {
		// A new page of a cache holds the file's bytes; past the file's end, zeroes.
		if _, err := s.backing.ReadAt(s.mf.Slice(fr), int64(off)); err != nil && err != io.EOF {
			s.mf.Free(fr)
			return platform.FileRange{}, unix.EIO
		}
	}
	s.pages[off] = fr
	return fr, nil
}

// ReadAt copies the object's bytes at off into dst, up to its end, and returns how
// many it copied. Holes read as zeroes and stay holes.
func (s *Shared) ReadAt(dst []byte, off uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.size {
		return 0
	}
	n := int(min(uint64(len(dst)), s.size-off))
	for done := 0; done < n; {
		o := off + uint64(done)
		chunk := dst[done:min(n, done+int(pageSize-o%pageSize))]
		if fr, ok := s.pages[o&^(pageSize-1)]; ok {
			copy(chunk, s.mf.Slice(fr)[o%pageSize:])
		} else {
			clear(chunk)
		}
		done += len(chunk)
	}
	return n
}

// WriteAt copies src into the object at off, growing it if it ends past the object's
// end. It fails only when the memory file is full, after writing what fit.
func (s *Shared) WriteAt(src []byte, off uint64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allocateRunsLocked(off, uint64(len(src)))
	done := 0
	for done < len(src) {
		o := off + uint64(done)
		fr, err := s.pageLocked(o &^ (pageSize - 1))
		if err != nil {
			s.size = max(s.size, o)
			return done, err
		}
		done += copy(s.mf.Slice(fr)[o%pageSize:], src[done:])
	}
	s.size = max(s.size, off+uint64(len(src)))
	return done, nil
}

// allocateRunsLocked gives the missing pages of [off, off+n) their memory, each run of
// them one contiguous range of the memory file, populated in one go (pgalloc.Populate):
// a large write then costs one allocation and one host call per run, not a fault and
// an allocation per page. Pages it can't allocate are left for pageLocked to report.
func (s *Shared) allocateRunsLocked(off, n uint64) {
	if n <= pageSize {
		return
	}
	end := (off + n + pageSize - 1) &^ (pageSize - 1)
	for p := off &^ (pageSize - 1); p < end; {
		if _, ok := s.pages[p]; ok {
			p += pageSize
			continue
		}
		q := p + pageSize
		for q < end {
			if _, ok := s.pages[q]; ok {
				break
			}
			q += pageSize
		}
		fr, err := s.mf.Allocate(q - p)
		if err != nil {
			return
		}
		s.mf.Populate(fr)
		for a := p; a < q; a += pageSize {
			at := fr.Start + (a - p)
			s.pages[a] = platform.FileRange{Start: at, End: at + pageSize}
		}
		p = q
	}
}

// SetSize grows or shrinks the object to n bytes: shrinking frees the pages past the
// new end, zeroes the rest of the last page, and unmaps the freed pages from every
// mapping, as shmem_setattr's truncation. The caller must not hold a memory manager's
// lock.
func (s *Shared) SetSize(n uint64) {
	s.mu.Lock()
	old := s.size
	s.size = n
	if n >= old {
		s.mu.Unlock()
		return
	}
	if fr, ok := s.pages[n&^(pageSize-1)]; ok && n%pageSize != 0 {
		clear(s.mf.Slice(fr)[n%pageSize:])
	}
	s.dropLocked((n+pageSize-1)&^(pageSize-1), ^uint64(0))
}

// PunchHole makes [off, off+length) a hole: whole pages are freed and unmapped from
// every mapping, the parts of pages at either end zeroed, as shmem_fallocate's
// FALLOC_FL_PUNCH_HOLE. The caller must not hold a memory manager's lock.
func (s *Shared) PunchHole(off, length uint64) {
	end := off + length
	s.mu.Lock()
	for o := off; o < end; {
		page := o &^ (pageSize - 1)
		next := min(page+pageSize, end)
		if fr, ok := s.pages[page]; ok && (o != page || next != page+pageSize) {
			clear(s.mf.Slice(fr)[o-page : next-page])
		}
		o = next
	}
	s.dropLocked((off+pageSize-1)&^(pageSize-1), end&^(pageSize-1))
}

// dropLocked takes the pages at offsets [from, to) out of the object and out of every
// mapping of it, unlocks s.mu and frees them.
func (s *Shared) dropLocked(from, to uint64) {
	var drop []platform.FileRange
	for off, fr := range s.pages {
		if off >= from && off < to {
			drop = append(drop, fr)
			delete(s.pages, off)
		}
	}
	mappers := make([]*MemoryManager, 0, len(s.mappers))
	for m := range s.mappers {
		mappers = append(mappers, m)
	}
	s.mu.Unlock()
	if from >= to {
		return
	}
	for _, m := range mappers {
		m.invalidate(s, from, to)
	}
	freeRuns(s.mf, drop)
}

// invalidate drops m's pages of the shared object obj at offsets [from, to) and unmaps
// them, so the next touch faults them in from the object again.
func (m *MemoryManager) invalidate(obj Mappable, from, to uint64) {
	m.mu.Lock()
	defer m.unlock()
	for i := range m.vmas {
		v := &m.vmas[i]
		if v.shared != obj {
			continue
		}
		lo, hi := max(v.off, from), min(v.off+uint64(v.end-v.start), to)
		if lo >= hi {
			continue
		}
		a0, a1 := v.start+uintptr(lo-v.off), v.start+uintptr(hi-v.off)
		m.changes.Add(1)
		m.as.Unmap(a0, a1-a0)
		m.freePages(a0, a1)
	}
}

// SharedOffset returns the shared object mapped at addr and addr's offset in it, or
// ok false if addr is not in a shared mapping (what a shared futex is keyed by, as
// kernel/futex/core.c:get_futex_key keys a shared page by its inode and offset).
func (m *MemoryManager) SharedOffset(addr uintptr) (obj Mappable, off uint64, ok bool) {
	m.mu.Lock()
	defer m.unlock()
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
	defer m.unlock()
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
