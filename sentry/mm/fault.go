package mm

import (
	"errors"
	"io"
	"iter"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// SegvError is a fault the application must get as SIGSEGV, with its si_code.
type SegvError struct {
	Addr uintptr
	Code int32 // arch.SEGV_MAPERR or arch.SEGV_ACCERR
}

func (e *SegvError) Error() string {
	if e.Code == arch.SEGV_ACCERR {
		return "access not permitted at " + hex(e.Addr)
	}
	return "nothing mapped at " + hex(e.Addr)
}

// HandleFault resolves an application fault at addr for access at: it populates and
// maps the page (and its untouched neighbours), or returns a *SegvError.
func (m *MemoryManager) HandleFault(addr uintptr, at platform.AccessType) error {
	m.mu.Lock()
	defer m.unlock()
	v, ok := m.lookupOrGrow(addr)
	if !ok {
		return &SegvError{Addr: addr, Code: arch.SEGV_MAPERR}
	}
	if !v.perms.SupersetOf(at) {
		return &SegvError{Addr: addr, Code: arch.SEGV_ACCERR}
	}
	page := pageDown(addr)
	if fr, ok := m.pages.lookup(page); ok {
		if at.Write && m.isCOW(v, fr) {
			return m.breakCOW(v, page, page+pageSize)
		}
		// Populated but not mapped (a forked child's first touch, a page copy-in
		// populated), or mapped without write access by fork while this address
		// space now holds it alone.
		return m.mapRun(v, page)
	}
	err := m.populate(v, page, true)
	if err == ErrPastEOF {
		return &BusError{Addr: addr}
	}
	return err
}

// populate allocates, fills and (with mapIt) maps the run of unpopulated pages around
// page within v, at most faultAround pages (anonFaultAround in anonymous memory), in
// blocks of that many from v's start (unpopulatedRun).
func (m *MemoryManager) populate(v *vma, page uintptr, mapIt bool) error {
	if v.shared != nil {
		return m.populateShared(v, page, mapIt)
	}
	span := uintptr(faultAround * pageSize)
	if v.file == nil {
		span = anonFaultAround * pageSize
	}
	start, end := m.unpopulatedRun(v, page, span)
	fr, err := m.mf.Allocate(uint64(end - start))
	if err != nil {
		return err
	}
	if v.file != nil {
		if err := m.fill(v, start, m.mf.Slice(fr)); err != nil {
			m.mf.Free(fr)
			return err
		}
	}
	if mapIt {
		if err := m.as.MapFile(start, fr, v.perms, false); err != nil {
			m.mf.Free(fr)
			return err
		}
	}
	m.pages.insert(start, fr)
	return nil
}

// populateShared populates the run of unpopulated pages around page within the shared
// mapping v (at most faultAround, in blocks from v's start) with its object's pages,
// each taking a reference, and maps them. It returns ErrPastEOF if page itself is past
// the object's end; the run stops before any other such page.
func (m *MemoryManager) populateShared(v *vma, page uintptr, mapIt bool) error {
	start, end := m.unpopulatedRun(v, page, faultAround*pageSize)
	// Take the object's pages in address order, mapping each run of pages that are
	// contiguous in the memory file in one call.
	var run platform.FileRange
	var runAddr uintptr
	flush := func() error {
		if run.Length() == 0 || !mapIt {
			return nil
		}
		return m.as.MapFile(runAddr, run, v.perms, false)
	}
	for a := start; a < end; a += pageSize {
		fr, err := v.shared.Page(v.off + uint64(a-v.start))
		if err != nil {
			if a <= page {
				return err // offsets grow with addresses: page itself has none
			}
			break
		}
		m.pages.insert(a, fr)
		if run.Length() != 0 && run.End == fr.Start && runAddr+uintptr(run.Length()) == a {
			run.End = fr.End
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		run, runAddr = fr, a
	}
	return flush()
}

// isCOW reports whether fr, a populated page of v, is shared copy-on-write: a private
// mapping's page that another address space (or another place of this one, after
// fork) still refers to. Such a page is mapped without write access in the platform.
func (m *MemoryManager) isCOW(v *vma, fr platform.FileRange) bool {
	return m.cow && v.shared == nil && m.mf.Refs(fr)[0] > 1
}

// mapRun maps into the platform the populated page at page and its populated
// neighbours that follow it in the memory file and share its state (copy-on-write or
// not), within v and the anonFaultAround-aligned block that holds page: with v's
// access, less write for copy-on-write pages. Where the platform batches mappings, the
// other runs of the block in the same state come along in the same call (a parent
// writing again after its child exited gets write access back for the whole block).
func (m *MemoryManager) mapRun(v *vma, page uintptr) error {
	span := uintptr(anonFaultAround * pageSize)
	lo, hi := max(v.start, page&^(span-1)), min(v.end, (page&^(span-1))+span)
	if b, ok := m.as.(platform.MapBatcher); ok && b.Batched() {
		runs := m.runsOf(v, m.pages.within(lo, hi))
		var want platform.AccessType
		for _, r := range runs {
			if r.Addr <= page && page < r.Addr+uintptr(r.File.Length()) {
				want = r.Access
			}
		}
		ms := runs[:0]
		for _, r := range runs {
			if r.Access == want {
				ms = append(ms, r)
			}
		}
		return b.MapFiles(ms)
	}
	r, _ := m.pages.runAt(page)
	for _, fm := range m.runsOf(v, m.pages.within(max(lo, r.addr), min(hi, r.end()))) {
		if fm.Addr <= page && page < fm.Addr+uintptr(fm.File.Length()) {
			return m.as.MapFile(fm.Addr, fm.File, fm.Access, false)
		}
	}
	return nil
}

// runsOf returns the mappings of v's populated pages in runs (within v, in address
// order): one per stretch of a run whose pages are all copy-on-write or all not, with
// the access the platform gives them (v's, less write where copy-on-write).
func (m *MemoryManager) runsOf(v *vma, runs iter.Seq[pageRun]) []platform.FileMapping {
	var out []platform.FileMapping
	for r := range runs {
		run := r.file()
		if !m.cow || v.shared != nil {
			out = append(out, platform.FileMapping{Addr: r.addr, File: run, Access: v.perms})
			continue
		}
		refs := m.mf.Refs(run)
		for k := 0; k < len(refs); {
			cow := refs[k] > 1
			l := k + 1
			for l < len(refs) && (refs[l] > 1) == cow {
				l++
			}
			at := v.perms
			at.Write = at.Write && !cow
			out = append(out, platform.FileMapping{Addr: r.addr + uintptr(k)*pageSize,
				File: platform.FileRange{Start: run.Start + uint64(k)*pageSize, End: run.Start + uint64(l)*pageSize}, Access: at})
			k = l
		}
	}
	return out
}

// breakCOW gives v its own copy of the copy-on-write page at page, and of the pages
// after it up to hi that are copy-on-write too (a copy-out writes them all), in one new
// range of the memory file, and maps it with v's access. The copy-on-write pages next
// to that run, within the faultAround-aligned block, that hold no data (holes of the
// memory file, never written) cost nothing to copy and come along: a process that
// fills memory its parent reserved but never wrote then faults once per block, not
// once per page. Each old page loses this address space's reference.
func (m *MemoryManager) breakCOW(v *vma, page, hi uintptr) error {
	cowAt := func(a uintptr) bool {
		fr, ok := m.pages.lookup(a)
		return ok && m.isCOW(v, fr)
	}
	hole := func(a uintptr) bool {
		fr, _ := m.pages.lookup(a)
		return len(m.mf.Data(fr)) == 0
	}
	span := uintptr(faultAround * pageSize)
	lo, blockHi := max(v.start, page&^(span-1)), min(v.end, (page&^(span-1))+span)
	start, end := page, page+pageSize
	for end < min(hi, v.end) && cowAt(end) {
		end += pageSize
	}
	for start > lo && cowAt(start-pageSize) && hole(start-pageSize) {
		start -= pageSize
	}
	for end < blockHi && cowAt(end) && hole(end) {
		end += pageSize
	}
	nfr, err := m.mf.Allocate(uint64(end - start))
	if err != nil {
		return err
	}
	// The old pages, run by run (all populated: each is copy-on-write).
	for _, r := range m.pages.remove(start, end) {
		old := r.file()
		at := nfr.Start + uint64(r.addr-start)
		for _, d := range m.mf.Data(old) {
			// Only the parts with data: reading a hole through the Sentry's view would
			// give it memory.
			copy(m.mf.Slice(platform.FileRange{Start: at + d.Start - old.Start, End: at + d.End - old.Start}), m.mf.Slice(d))
		}
		m.mf.Free(old)
	}
	m.pages.insert(start, nfr)
	return m.as.MapFile(start, nfr, v.perms, false)
}

// unpopulatedRun returns the run of unpopulated pages around page within v and within
// the block of span bytes that holds page, blocks counted from v's start: a mapping of
// at most span bytes is one block whatever its alignment, so touching all of it faults
// once (blocks aligned to span would split most such mappings in two).
func (m *MemoryManager) unpopulatedRun(v *vma, page, span uintptr) (start, end uintptr) {
	lo := v.start + (page-v.start)&^(span-1)
	hi := min(v.end, lo+span)
	gapLo, gapHi := m.pages.gap(page)
	return max(lo, gapLo), min(hi, gapHi)
}

// fill reads v's file bytes for the pages at start into dst; past v.fileEnd stays zero.
func (m *MemoryManager) fill(v *vma, start uintptr, dst []byte) error {
	n := uintptr(len(dst))
	if start >= v.fileEnd {
		return nil
	}
	if start+n > v.fileEnd {
		n = v.fileEnd - start
	}
	_, err := v.file.ReadAt(dst[:n], int64(v.off+uint64(start-v.start)))
	if err != nil && !errors.Is(err, io.EOF) {
		return unix.EIO
	}
	return nil
}

func hex(a uintptr) string {
	const digits = "0123456789abcdef"
	b := []byte("0x0000000000000000")
	for i := 17; i >= 2; i-- {
		b[i] = digits[a&0xf]
		a >>= 4
	}
	return string(b)
}

// stackGuardGap is how much room a grows-down mapping keeps from the one below it
// (mm/mmap.c: stack_guard_gap, 256 pages).
const stackGuardGap = 256 * pageSize

// lookupOrGrow returns the VMA holding addr; if there is none but the VMA above is a
// grows-down stack that may reach addr, the stack grows down to it first, as
// expand_stack: within the stack limit, and keeping the guard gap to the VMA below.
func (m *MemoryManager) lookupOrGrow(addr uintptr) (*vma, bool) {
	i := m.find(addr)
	if i < len(m.vmas) && m.vmas[i].start <= addr {
		return &m.vmas[i], true
	}
	if i == len(m.vmas) || !m.vmas[i].growsDown {
		return nil, false
	}
	v := &m.vmas[i]
	start := pageDown(addr)
	limit := m.stackLimit
	if limit == 0 {
		limit = 8 << 20
	}
	if v.end-start > limit || start < m.min {
		return nil, false
	}
	if i > 0 && m.vmas[i-1].end+stackGuardGap > start {
		return nil, false
	}
	v.start = start
	return v, true
}

// SetStackLimit sets how far grows-down mappings may grow (RLIMIT_STACK).
func (m *MemoryManager) SetStackLimit(limit uint64) {
	m.mu.Lock()
	defer m.unlock()
	m.stackLimit = uintptr(min(limit, 1<<40))
}
