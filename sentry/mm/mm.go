// Package mm is an application address space as the Sentry keeps it: the virtual memory
// areas (VMAs) the application has mapped, the memory-file pages that back the parts it
// has touched, and the platform address space those pages are mapped into.
//
// Pages are populated on demand. When the application touches a page the platform has
// not mapped, Switch returns a fault; HandleFault finds the VMA, checks the access
// against its protection, allocates memory-file pages for a run of untouched pages around
// the fault (up to faultAround), fills them (zeroes for anonymous memory, file bytes for a
// file mapping), and maps the run into the platform in one call. Copy-in and copy-out
// go through the Sentry's own view of the memory file, populating pages the same way, and
// fail with EFAULT where the application could not access the memory itself.
//
// Populating neighbours saves a platform round trip per page. It doesn't show: an
// anonymous neighbour's page is a hole of the memory file (no host memory) until
// touched, and mincore reports a page resident only once its memory-file page holds
// data. The Sentry's own accounting (RSS in /proc) counts populated pages. A fault in
// anonymous memory populates at most anonFaultAround pages (1 MiB), clamped to its
// VMA, so a touch in a huge sparse reservation commits no more than that. The window is
// the block of that size, counted from the VMA's start, that holds the fault: a mapping
// of up to 1 MiB is populated at its first fault, whatever its alignment.
//
// Neighbours stay holes on purpose, though the host's first touch of a hole is the main
// cost left of memory that is mapped, touched and unmapped (a shmem fault allocates,
// zeroes and adds the page to the memory file: about twice an anonymous fault; on kvm
// an exit to the host per page besides). Committing the run ahead (MADV_POPULATE_WRITE,
// or reusing freed pages without punching them) would make that cheap, but it would
// hold host memory for pages the application never touches, and mincore, which reads
// residency from the holes, could no longer tell them from touched ones.
//
// Taking memory away (munmap, MADV_DONTNEED, mremap, a shared object shrinking)
// unmaps the range from the platform first, in one call, and only then frees its
// pages: a page freed while still mapped could be written by another application
// thread after its memory went back to the host and be handed out again holding
// data, and the host gives memory back faster once no page table maps it. Pages are
// freed a run of contiguous memory-file pages at a time (freeRuns): the memory file
// punches a hole per Free, which costs about as much per page as the fault that filled
// it, so a Free per page doubled the cost of memory that is mapped, touched and
// unmapped.
//
// A private mapping owns its pages: anonymous ones start zeroed, file-backed ones (from a
// FileData, such as an executable's segments) start as a copy of the file's bytes. A
// shared mapping (MAP_SHARED) maps the pages of a Mappable, a shared memory object that
// outlives any one mapping: a Shared object holds the pages of shared anonymous memory,
// of a SysV segment and of a tmpfs file (whose read and write use the same pages), and
// takes them back out of every mapping when it shrinks. A Shared made by NewCache is a
// Gofer file's page cache: it reads pages from the file when first touched and writes
// them back on Flush and when the last address space stops mapping it.
// Memory-file pages are reference-counted (pgalloc), so a page that the object and
// several address spaces hold is freed when the last lets go.
//
// # Fork and copy-on-write
//
// The child of a fork gets the parent's VMAs (not those marked MADV_DONTFORK; those
// marked MADV_WIPEONFORK without their pages) and, for every other populated page, the
// parent's memory-file page with one more reference. Two kinds of page are copied
// instead, because on the platforms a write fault costs far more than a copy: those of
// small writable private VMAs of a single-threaded parent (.data and .bss, small heaps:
// copySmallVMA pages each, copyBudget in all; the parent keeps them writable), and the
// two at the forking thread's stack pointer, which the child writes at once. A shared
// mapping's pages are meant to be shared. A private mapping's page with more than one
// reference is shared copy-on-write: whichever holder writes it first gets a copy. The
// rule needs no per-page state besides the count (pgalloc.Refs): a private page is
// copy-on-write exactly while its count is above one, and only fork raises it.
//
// In order, under the parent's lock: the parent's writable private mappings lose write
// access in the platform (one Protect per run of VMAs, before the child exists: a thread
// of the parent that keeps running can't write into a page the child will see; one that
// tries faults and waits for the lock), then the references are taken. Where the
// platform maps a batch of mappings in one round trip (systrap, platform.MapBatcher;
// kvm, where a mapping is a few page-table writes),
// the child's pages are all mapped then, read-only where copy-on-write; elsewhere
// (ptrace) the child's first touch of a page faults and maps the run of populated pages
// around it (mapRun). A platform that recycles address spaces (platform.Refiller:
// ptrace, systrap) is given the child's whole set of mappings at once, and keeps those
// the address space's last user left there the same: a fork loop's children, whose
// copies reuse their siblings' freed pages (pgalloc.AllocateResident; holes of the
// parent's are punched again), then need no mapping call and no fault for them.
//
// A write fault on a copy-on-write page (breakCOW) allocates a new page, copies the old
// one's data (only the parts that hold data: holes stay holes), drops the old reference
// and maps the copy writable. Copy-on-write neighbours that are holes (populated by
// fault-around but never written) come along at no cost, so filling memory the parent
// never wrote faults once per block, not per page. A write fault on a page whose count
// went back to one (the other holder copied it, unmapped it or exited) copies nothing: the
// run around it (on a batching platform, every such run of its block) is mapped
// writable again. The Sentry's own writes (copy-out, futex
// words) break copy-on-write the same way before writing, for every page the copy
// covers, so a syscall's result never lands in a page another process sees.
//
// mprotect adding write to a private VMA of an address space that has forked keeps the
// platform's mapping read-only (pages still shared must stay so) and lets write faults
// give it back; munmap, MADV_DONTNEED, mremap and exit just drop references, so a page is
// freed when its last holder goes (a fork-and-exit loop does not grow the memory file).
// RSS counts a page shared copy-on-write in each holder, as Linux does. vfork does not
// fork the address space: its child runs in the parent's (kernel.Task.ForkWith).
// Changes counts the changes that take access away, so the kernel tells a thread that
// faults again at one address because another thread forked from a fault that never
// resolves.
//
// # Data structures
//
// The VMA set is a sorted slice. The populated pages are runs (pageSet), sorted in a
// slice of chunks (sentry/internal/chunked, a B-tree of height two): each run is pages
// contiguous both in the address space and in the memory file, merged with its
// neighbours whenever they continue it in both. A fault's fault-around is one run
// however many pages it populates; fork takes one reference per run (pgalloc keeps the
// counts as runs too) and builds the child's set and mappings run by run; munmap,
// MADV_DONTNEED and exit remove a range (runs straddling its ends are split) and free
// what they removed a memory-file run at a time; a copy-on-write break replaces the
// pages it copies. The count of pages (RSS, its high-water mark) is kept as runs come
// and go. Runs ignore VMA boundaries: whoever walks a VMA's pages clips them to it. The
// chunks keep an edit cheap when copy-on-write breaks all over a large heap have cut it
// into a run per page; the VMA set would want a tree with many mappings.
//
// Lock order: MemoryManager.mu, then a Shared's lock, then the platform's locks; the
// memory file's lock (pgalloc) is taken last, under any of them. A
// file's or a SysV segment's locks may be taken before MemoryManager.mu (truncating a
// tmpfs file unmaps its pages from every mapping), never under it: references to them
// are dropped after MemoryManager.mu is unlocked.
package mm

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
)

const (
	pageSize = platform.PageSize
	// faultAround is the most pages one fault populates and maps in a file-backed
	// mapping (their bytes are read at once)...
	faultAround = 16
	// ...and anonFaultAround in an anonymous one. Those pages are fresh ranges of the
	// memory file, which stay holes (no host memory) until the application touches them,
	// so mapping many at once costs nothing but spares the application a fault (a
	// round trip to the Sentry and a mapping change) for each 64 KiB it touches.
	anonFaultAround = 256
)

// FileData is the source of a file-backed private mapping's bytes.
type FileData interface {
	ReadAt(p []byte, off int64) (int, error)
}

// RefCounted is implemented by FileData that must stay open while mapped: each VMA
// that reads from it holds a reference, taken when the VMA is made or split and dropped
// when it is unmapped.
type RefCounted interface {
	IncRef()
	DecRef()
}

// incRef and decRef take and drop a VMA's references: to its file if that is
// RefCounted, and to its shared object, which a Shared counts as m mapping it.
func (m *MemoryManager) incRef(v *vma) {
	if r, ok := v.file.(RefCounted); ok {
		r.IncRef()
	}
	if v.shared != nil {
		v.shared.IncRef()
		if s, ok := v.shared.(*Shared); ok {
			s.track(m, 1)
		}
	}
}

// decRef drops v's references once m.mu is unlocked (m.unlock): dropping a file's
// last reference may release it (a removed tmpfs file's last close frees its data),
// which takes the file's locks and must not find m still mapping it. m stops counting
// as a mapper of v's Shared at once.
func (m *MemoryManager) decRef(v *vma) {
	if v.shared != nil {
		if s, ok := v.shared.(*Shared); ok {
			s.track(m, -1)
		}
		m.dropLater = append(m.dropLater, v.shared)
	}
	if r, ok := v.file.(RefCounted); ok {
		m.dropLater = append(m.dropLater, r)
	}
}

// unlock unlocks m.mu, then drops the references decRef put off.
func (m *MemoryManager) unlock() {
	drop := m.dropLater
	m.dropLater = nil
	m.mu.Unlock()
	for _, r := range drop {
		r.DecRef()
	}
}

// vma is one virtual memory area: [start, end) mapped with perms.
type vma struct {
	start, end uintptr
	perms      platform.AccessType
	maxPerms   platform.AccessType // what mprotect may grant
	growsDown  bool
	// File backing: page start maps file offset off; bytes at or past fileEnd (an
	// address) read as zero (an ELF segment's bss).
	file    FileData
	off     uint64
	fileEnd uintptr
	// shared is the object of a shared mapping (MAP_SHARED): page start maps the
	// object's bytes at off. A private mapping has none.
	shared Mappable
	sysv   bool // attached by shmat
	// mayShare: a MAP_SHARED mapping made as a private copy (MMapOpts.MayShare).
	mayShare bool
	// dontFork (MADV_DONTFORK): fork leaves the VMA out of the child. wipeOnFork
	// (MADV_WIPEONFORK, private anonymous VMAs only): the child's starts empty.
	dontFork, wipeOnFork bool
	// locked (mlock, mlockall): its pages were populated and stay (VM_LOCKED); fork
	// and exec drop it.
	locked bool
	name   string
}

// MemoryManager is one application address space.
type MemoryManager struct {
	mf *pgalloc.MemoryFile
	as platform.AddressSpace

	mu    sync.Mutex
	vmas  []vma   // sorted by start, disjoint
	pages pageSet // the populated pages and their memory-file pages, in runs
	// peak is the most pages populated at once before the last time some were
	// dropped (notePeakLocked); with the count now it is the high-water mark of RSS.
	peak int
	min  uintptr // lowest mappable address
	max  uintptr // end of the mappable range
	// mmapBase is where mmap without a hint searches down from.
	mmapBase uintptr
	// brkStart is the start of the heap (end of the executable); brk its current end.
	brkStart, brk uintptr
	// stackLimit bounds the growth of grows-down mappings.
	stackLimit uintptr
	// dropLater are references to drop once mu is unlocked (decRef).
	dropLater []RefCounted
	// users counts the tasks running in the address space (threads share it).
	users atomic.Int32
	// lockFuture (mlockall MCL_FUTURE): new mappings are locked. m.mu guards it.
	lockFuture bool
	// changes counts the changes that took access away from pages (Changes).
	changes atomic.Uint64
	// cow is set once m forked or was forked: its private pages may be shared
	// copy-on-write. Until then no page needs the check.
	cow bool
}

// IncUsers adds a task to the address space (a new thread).
func (m *MemoryManager) IncUsers() { m.users.Add(1) }

// DecUsers removes a task; the last one releases the address space.
func (m *MemoryManager) DecUsers() {
	if m.users.Add(-1) == 0 {
		m.Release()
	}
}

// New returns an empty address space over mf, running on the platform address space as.
func New(mf *pgalloc.MemoryFile, p platform.Platform, as platform.AddressSpace) *MemoryManager {
	m := &MemoryManager{mf: mf, as: as, min: p.MinUserAddress(), max: p.MaxUserAddress()}
	m.users.Store(1)
	return m
}

// Release frees every page and the platform address space.
func (m *MemoryManager) Release() {
	m.mu.Lock()
	defer m.unlock()
	m.notePeakLocked()
	freeRuns(m.mf, fileRanges(m.pages.all()))
	m.pages = pageSet{}
	for i := range m.vmas {
		m.decRef(&m.vmas[i])
	}
	m.vmas = nil
	m.as.Release()
	// The platform may hand the address space out again (ptrace and systrap recycle
	// it): nothing of m may reach it any more.
	m.as = releasedAS{}
}

// releasedAS stands for a released address space: every call fails, Release is a no-op.
type releasedAS struct{}

func (releasedAS) MapFile(uintptr, platform.FileRange, platform.AccessType, bool) error {
	return platform.ErrAddressSpaceDead
}
func (releasedAS) Unmap(uintptr, uintptr) error { return platform.ErrAddressSpaceDead }
func (releasedAS) Protect(uintptr, uintptr, platform.AccessType) error {
	return platform.ErrAddressSpaceDead
}
func (releasedAS) Release() {}

// Changes counts the changes that took access away from pages the platform may have
// mapped: fork's write protection, mprotect, munmap, mremap, MADV_DONTNEED, a shared
// object shrinking. A fault repeated at one address across such a change is progress
// (a thread writing a page while another forks again and again), not a fault that
// never resolves.
func (m *MemoryManager) Changes() uint64 { return m.changes.Load() }

// AddressSpace is the platform address space tasks switch into.
func (m *MemoryManager) AddressSpace() platform.AddressSpace { return m.as }

// MaxAddress is the end of the range the application may map.
func (m *MemoryManager) MaxAddress() uintptr { return m.max }

// SetLayout sets where mmap searches from and where the heap starts.
func (m *MemoryManager) SetLayout(mmapBase, brkStart uintptr) {
	m.mu.Lock()
	defer m.unlock()
	m.mmapBase = mmapBase
	m.brkStart, m.brk = brkStart, brkStart
}

func pageDown(a uintptr) uintptr { return a &^ (pageSize - 1) }
func pageUp(a uintptr) (uintptr, bool) {
	r := (a + pageSize - 1) &^ (pageSize - 1)
	return r, r >= a
}

// find returns the index of the first VMA ending after addr.
func (m *MemoryManager) find(addr uintptr) int {
	return sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].end > addr })
}

// lookup returns the VMA containing addr.
func (m *MemoryManager) lookup(addr uintptr) (*vma, bool) {
	i := m.find(addr)
	if i < len(m.vmas) && m.vmas[i].start <= addr {
		return &m.vmas[i], true
	}
	return nil, false
}

// overlaps reports whether anything is mapped in [start, end).
func (m *MemoryManager) overlaps(start, end uintptr) bool {
	i := m.find(start)
	return i < len(m.vmas) && m.vmas[i].start < end
}

// insert adds v, which overlaps nothing.
func (m *MemoryManager) insert(v vma) {
	i := m.find(v.start)
	m.vmas = append(m.vmas, vma{})
	copy(m.vmas[i+1:], m.vmas[i:])
	m.vmas[i] = v
}

// split makes addr a VMA boundary if a VMA straddles it.
func (m *MemoryManager) split(addr uintptr) {
	v, ok := m.lookup(addr)
	if !ok || v.start == addr {
		return
	}
	hi := *v
	hi.start = addr
	if hi.file != nil || hi.shared != nil {
		hi.off += uint64(addr - v.start)
	}
	m.incRef(&hi)
	v.end = addr
	m.insert(hi)
}

// unmapLocked removes [start, end) from the VMAs, unmaps it from the platform and
// frees its pages.
//
// The platform's mapping goes first (one call for the whole range): a page freed while
// still mapped could be written by another thread of the application between the
// memory file's hole punch and the unmap, and would go back to the allocator holding
// data; and the punch itself is cheaper once no address space maps the pages (the host
// has no page table entries left to zap).
func (m *MemoryManager) unmapLocked(start, end uintptr) error {
	if !m.overlaps(start, end) {
		return nil
	}
	m.split(start)
	m.split(end)
	i := m.find(start)
	m.changes.Add(1)
	err := m.as.Unmap(start, end-start)
	j := i
	for j < len(m.vmas) && m.vmas[j].start < end {
		m.decRef(&m.vmas[j])
		j++
	}
	m.vmas = append(m.vmas[:i], m.vmas[j:]...)
	m.freePages(start, end)
	return err
}

// freePages drops the populated pages in [start, end): private pages are freed, and
// shared ones stay with their object. A munmap of what faults populated a run at a
// time gives each run back to the host in one call (freeRuns).
func (m *MemoryManager) freePages(start, end uintptr) {
	m.notePeakLocked()
	freeRuns(m.mf, fileRanges(m.pages.remove(start, end)))
}

// notePeakLocked records the pages populated now in the high-water mark, before some
// are dropped: pages are only added between two drops, so the mark, with the count at
// any moment, is the most there ever were (Linux's hiwater_rss). m.mu is held.
func (m *MemoryManager) notePeakLocked() { m.peak = max(m.peak, m.pages.count()) }

// MaxRSS is the most bytes the address space has had populated at once (getrusage's
// ru_maxrss, /proc's VmHWM).
func (m *MemoryManager) MaxRSS() uint64 {
	m.mu.Lock()
	defer m.unlock()
	return uint64(max(m.peak, m.pages.count())) * pageSize
}

// freeRuns drops a reference to each page of frs (in any order; a page may appear more
// than once), with one Free per run of pages contiguous in the memory file: a run whose
// last reference this was goes back to the host in one call, where a Free per page
// punches a hole per page (each about as costly as the fault that filled the page).
// It sorts frs.
func freeRuns(mf *pgalloc.MemoryFile, frs []platform.FileRange) {
	slices.SortFunc(frs, func(a, b platform.FileRange) int { return cmp.Compare(a.Start, b.Start) })
	for i := 0; i < len(frs); {
		run := frs[i]
		for i++; i < len(frs) && frs[i].Start == run.End; i++ {
			run.End = frs[i].End
		}
		mf.Free(run)
	}
}

// Mapping describes one VMA for /proc/[pid]/maps.
type Mapping struct {
	Start, End uintptr
	Perms      platform.AccessType
	Private    bool
	Offset     uint64
	Name       string
}

// Mappings returns the VMAs in address order.
func (m *MemoryManager) Mappings() []Mapping {
	m.mu.Lock()
	defer m.unlock()
	out := make([]Mapping, len(m.vmas))
	for i, v := range m.vmas {
		out[i] = Mapping{Start: v.start, End: v.end, Perms: v.perms, Private: v.shared == nil && !v.mayShare, Offset: v.off, Name: v.name}
	}
	return out
}

// Usage returns the bytes mapped (VmSize) and populated (VmRSS).
func (m *MemoryManager) Usage() (size, rss uint64) {
	m.mu.Lock()
	defer m.unlock()
	for _, v := range m.vmas {
		size += uint64(v.end - v.start)
	}
	return size, uint64(m.pages.count()) * pageSize
}
