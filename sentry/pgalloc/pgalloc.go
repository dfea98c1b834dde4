// Package pgalloc owns the sandbox's memory file: one memfd that backs every page of
// application memory, and the allocator that hands out ranges of it.
//
// The file is sized once, large and sparse (ftruncate): an unused range costs nothing.
// The Sentry maps the whole file into its own address space once (MAP_SHARED), so
// copy-in and copy-out are plain memory copies through Slice; the platform maps the same
// ranges into application address spaces, so both sides see the same bytes.
// Allocate returns zeroed pages that are holes of the file: fresh ones never touched, or
// freed ones whose memory was returned to the host with fallocate(FALLOC_FL_PUNCH_HOLE),
// which also zeroes them. A hole is what tells the memory manager that a page was never
// written (Data: mincore reports it not resident, copy-on-write copies skip it).
//
// Warm pages: the last maxWarm bytes freed keep their host memory (no hole punched),
// and AllocateResident hands them out again, most recently freed first, as they are
// (holding their last user's bytes), to a caller about to write or punch every byte
// anyway (a fork's copies, which punch the holes they copy): punching a hole and
// faulting the page back in on its next use cost the host a page free, a page
// allocation and its zeroing, and even clearing the pages first would cost a fault per
// page where the Sentry's view no longer maps them. A process that ends and its parent's next fork (a shell's
// loop) then reuse the same pages. The price is up to maxWarm bytes the host keeps for
// the sandbox while nothing uses them.
//
// The allocator is first-fit over a sorted free list, falling back to the never-used
// tail of the file. It is simple on purpose; the interface (Allocate, IncRef, Free,
// Slice) is what the memory manager depends on.
//
// Pages are reference-counted: Allocate hands out pages with one reference, IncRef adds
// one to each page of a range (a shared page mapped by a second address space, held by a
// shared memory object and by each mapping of it), and Free drops one from each page,
// returning to the allocator only the pages whose count reaches zero. Only counts above
// one are stored, so memory that is never shared costs nothing for it, and they are
// stored as runs of pages with the same count (refCounts), so sharing or freeing a
// range costs an edit of a few runs, not a map entry per page. The memory manager
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
	// refs holds the counts of the pages with more than one reference.
	refs refCounts
	// warm are freed ranges that kept their memory (see the package comment), oldest
	// first, warmBytes in all, at most warmLimit (maxWarm).
	warm      []platform.FileRange
	warmBytes uint64
	warmLimit uint64
}

// maxWarm bounds the freed memory kept warm.
const maxWarm = 4 << 20

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
	return &MemoryFile{fd: fd, size: size, view: view, warmLimit: maxWarm}, nil
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

// AllocateResident is Allocate for a caller that writes every byte at once, or
// punches what it leaves (Punch), before anything reads or maps the pages: warm pages
// if a range of them is long enough (holding host memory, and NOT zeroed: the bytes of
// whoever freed them last), else Allocate's (zeroed holes).
func (f *MemoryFile) AllocateResident(length uint64) (platform.FileRange, error) {
	if length == 0 || length%pageSize != 0 {
		return platform.FileRange{}, fmt.Errorf("pgalloc: bad allocation length %#x", length)
	}
	f.mu.Lock()
	fr, ok := f.takeWarmLocked(length)
	if ok {
		f.used += length
	}
	f.mu.Unlock()
	if !ok {
		return f.Allocate(length)
	}
	return fr, nil
}

// Punch makes fr, allocated, a hole again: its memory goes back to the host and it
// reads as zeroes (for a caller of AllocateResident that leaves parts unwritten).
func (f *MemoryFile) Punch(fr platform.FileRange) {
	unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fr.Start), int64(fr.Length()))
}

// takeWarmLocked takes length bytes from the most recently freed warm range that has
// them. f.mu is held.
func (f *MemoryFile) takeWarmLocked(length uint64) (platform.FileRange, bool) {
	for i := len(f.warm) - 1; i >= 0; i-- {
		r := f.warm[i]
		if r.Length() < length {
			continue
		}
		fr := platform.FileRange{Start: r.Start, End: r.Start + length}
		if r.Length() == length {
			f.warm = append(f.warm[:i], f.warm[i+1:]...)
		} else {
			f.warm[i].Start += length
		}
		f.warmBytes -= length
		return fr, true
	}
	return platform.FileRange{}, false
}

// IncRef adds a reference to every page of fr, which must be allocated.
func (f *MemoryFile) IncRef(fr platform.FileRange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs.add(fr, 1)
}

// Refs returns how many references each page of fr (allocated) has. The memory
// manager reads it to tell a private page shared copy-on-write (more than one) from one
// it holds alone.
func (f *MemoryFile) Refs(fr platform.FileRange) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refs.counts(fr)
}

// Free drops a reference to every page of fr, and returns the pages no one refers to
// any more to the allocator and their memory to the host. fr must be allocated, and
// each of its pages referred to by the caller.
func (f *MemoryFile) Free(fr platform.FileRange) {
	if fr.Length() == 0 {
		return
	}
	f.mu.Lock()
	last := f.refs.add(fr, -1)
	f.mu.Unlock()
	for _, r := range last {
		f.release(r)
	}
}

// release returns fr, which no one refers to, to the allocator: warm if it fits in
// warmLimit (the oldest warm ranges making room), else to the host.
func (f *MemoryFile) release(fr platform.FileRange) {
	f.mu.Lock()
	f.used -= fr.Length()
	var cold []platform.FileRange
	if fr.Length() <= f.warmLimit {
		for f.warmBytes+fr.Length() > f.warmLimit {
			cold = append(cold, f.warm[0])
			f.warmBytes -= f.warm[0].Length()
			f.warm = f.warm[1:]
		}
		if n := len(f.warm); n > 0 && f.warm[n-1].End == fr.Start {
			f.warm[n-1].End = fr.End
		} else {
			f.warm = append(f.warm, fr)
		}
		f.warmBytes += fr.Length()
	} else {
		cold = append(cold, fr)
	}
	f.mu.Unlock()
	for _, r := range cold {
		f.releaseCold(r)
	}
}

// releaseCold gives fr's memory back to the host and fr to the free list.
func (f *MemoryFile) releaseCold(fr platform.FileRange) {
	// Punching the hole gives the memory back and makes the range read as zeroes.
	unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fr.Start), int64(fr.Length()))
	f.mu.Lock()
	defer f.mu.Unlock()
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
