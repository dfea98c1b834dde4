// Package pgalloc owns the sandbox's memory file: one memfd that backs every page of
// application memory, and the allocator that hands out ranges of it.
//
// The file is sized once, large and sparse (ftruncate): an unused range costs nothing.
// The Sentry maps the whole file into its own address space once (MAP_SHARED), so
// copy-in and copy-out are plain memory copies through Slice; the platform maps the same
// ranges into application address spaces, so both sides see the same bytes.
// Allocate returns zeroed pages: fresh ones never touched, or freed ones whose memory was
// returned to the host with fallocate(FALLOC_FL_PUNCH_HOLE), which also zeroes them.
//
// The allocator is first-fit over a sorted free list, falling back to the never-used
// tail of the file. It is simple on purpose; the interface (Allocate, IncRef, Free,
// Slice) is what the memory manager depends on.
//
// Pages are reference-counted: Allocate hands out pages with one reference, IncRef adds
// one to each page of a range (a shared page mapped by a second address space, held by a
// shared memory object and by each mapping of it), and Free drops one from each page,
// returning to the allocator only the pages whose count reaches zero. Only counts above
// one are stored, so memory that is never shared costs nothing for it. The memory manager
// shares private pages copy-on-write by the same counts (Refs tells it whether a page is
// still shared): fork takes one more reference, and the last holder to let go frees it.
package pgalloc

import (
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

const pageSize = platform.PageSize

// MemoryFile is the memory file and its allocator.
type MemoryFile struct {
	fd   int
	size uint64
	view []byte // the Sentry's mapping of the whole file

	mu   sync.Mutex
	free []platform.FileRange // sorted, disjoint, merged
	tail uint64               // [tail, size) has never been allocated
	used uint64               // bytes allocated
	// refs holds, for each page (by offset) with more than one reference, the count
	// less one.
	refs map[uint64]int32
}

// New creates a memory file of size bytes (rounded up to pages), named name in
// /proc/self/fd.
func New(name string, size uint64) (*MemoryFile, error) {
	size = (size + pageSize - 1) &^ (pageSize - 1)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sizing the memory file: %w", err)
	}
	view, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping the memory file: %w", err)
	}
	return &MemoryFile{fd: fd, size: size, view: view}, nil
}

// FD is the memory file's descriptor, for the platform.
func (f *MemoryFile) FD() int { return f.fd }

// Size is the file's size.
func (f *MemoryFile) Size() uint64 { return f.size }

// Used is the number of bytes allocated.
func (f *MemoryFile) Used() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

// Allocate returns length bytes (a multiple of the page size) of zeroed memory.
func (f *MemoryFile) Allocate(length uint64) (platform.FileRange, error) {
	if length == 0 || length%pageSize != 0 {
		return platform.FileRange{}, fmt.Errorf("pgalloc: bad allocation length %#x", length)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.free {
		if r.Length() < length {
			continue
		}
		fr := platform.FileRange{Start: r.Start, End: r.Start + length}
		if r.Length() == length {
			f.free = append(f.free[:i], f.free[i+1:]...)
		} else {
			f.free[i].Start += length
		}
		f.used += length
		return fr, nil
	}
	if f.size-f.tail < length {
		return platform.FileRange{}, unix.ENOMEM
	}
	fr := platform.FileRange{Start: f.tail, End: f.tail + length}
	f.tail += length
	f.used += length
	return fr, nil
}

// IncRef adds a reference to every page of fr, which must be allocated.
func (f *MemoryFile) IncRef(fr platform.FileRange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs == nil {
		f.refs = map[uint64]int32{}
	}
	for off := fr.Start; off < fr.End; off += pageSize {
		f.refs[off]++
	}
}

// Refs returns how many references each page of fr (allocated) has. The memory
// manager reads it to tell a private page shared copy-on-write (more than one) from one
// it holds alone.
func (f *MemoryFile) Refs(fr platform.FileRange) []int {
	out := make([]int, fr.Length()/pageSize)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range out {
		out[i] = int(f.refs[fr.Start+uint64(i)*pageSize]) + 1
	}
	return out
}

// Free drops a reference to every page of fr, and returns the pages no one refers to
// any more to the allocator and their memory to the host. fr must be allocated, and
// each of its pages referred to by the caller.
func (f *MemoryFile) Free(fr platform.FileRange) {
	if fr.Length() == 0 {
		return
	}
	f.mu.Lock()
	if len(f.refs) == 0 {
		f.mu.Unlock()
		f.release(fr)
		return
	}
	// Split fr into the runs of pages whose last reference this was.
	var runs []platform.FileRange
	for off := fr.Start; off < fr.End; off += pageSize {
		if n, ok := f.refs[off]; ok {
			if n == 1 {
				delete(f.refs, off)
			} else {
				f.refs[off] = n - 1
			}
			continue
		}
		if k := len(runs); k > 0 && runs[k-1].End == off {
			runs[k-1].End += pageSize
		} else {
			runs = append(runs, platform.FileRange{Start: off, End: off + pageSize})
		}
	}
	f.mu.Unlock()
	for _, r := range runs {
		f.release(r)
	}
}

// release returns fr, which no one refers to, to the allocator.
func (f *MemoryFile) release(fr platform.FileRange) {
	// Punching the hole gives the memory back and makes the range read as zeroes.
	unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fr.Start), int64(fr.Length()))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used -= fr.Length()
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].Start >= fr.End })
	// Merge with the range after, then the one before.
	if i < len(f.free) && f.free[i].Start == fr.End {
		fr.End = f.free[i].End
		f.free = append(f.free[:i], f.free[i+1:]...)
	}
	if i > 0 && f.free[i-1].End == fr.Start {
		f.free[i-1].End = fr.End
		return
	}
	f.free = append(f.free, platform.FileRange{})
	copy(f.free[i+1:], f.free[i:])
	f.free[i] = fr
}

// Data returns the parts of fr that hold data, in order: the rest are holes, which read
// as zeroes and hold no host memory (never written since allocation, or punched). It
// asks the host with lseek's SEEK_DATA and SEEK_HOLE, which count a swapped-out page as
// data, and never touches the pages (reading a hole through the mapping would allocate
// it). If the host can't tell, all of fr is data.
func (f *MemoryFile) Data(fr platform.FileRange) []platform.FileRange {
	var out []platform.FileRange
	for off := int64(fr.Start); off < int64(fr.End); {
		start, err := unix.Seek(f.fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO || err == nil && start >= int64(fr.End) {
			break // no data from off to the range's end
		}
		if err != nil {
			return []platform.FileRange{{Start: uint64(off), End: fr.End}}
		}
		end, err := unix.Seek(f.fd, start, unix.SEEK_HOLE)
		if err != nil {
			end = int64(fr.End)
		}
		end = min(end, int64(fr.End))
		out = append(out, platform.FileRange{Start: uint64(start), End: uint64(end)})
		off = end
	}
	return out
}

// Populate faults fr's pages into the Sentry's view at once, ready to be written
// (MADV_POPULATE_WRITE, Linux 5.14), instead of one fault per page as they are first
// written. It is only a hint: on an older kernel the pages fault in as before.
func (f *MemoryFile) Populate(fr platform.FileRange) {
	const madvPopulateWrite = 23
	b := f.Slice(fr)
	if len(b) > 0 {
		unix.Madvise(b, madvPopulateWrite)
	}
}

// Slice returns the Sentry's view of fr.
func (f *MemoryFile) Slice(fr platform.FileRange) []byte {
	return f.view[fr.Start:fr.End:fr.End]
}

// Close unmaps and closes the file.
func (f *MemoryFile) Close() error {
	unix.Munmap(f.view)
	return unix.Close(f.fd)
}
