package mm

import (
	"iter"
	"slices"
	"sort"

	"github.com/moat-sandbox/moat/platform"
)

// pageRun is a run of populated pages contiguous both in the address space and in the
// memory file: the pages at [addr, addr+n pages) are the memory-file pages from off.
type pageRun struct {
	addr uintptr
	n    uintptr // pages
	off  uint64  // memory-file offset of the page at addr
}

func (r pageRun) end() uintptr { return r.addr + r.n*pageSize }

// file is the run's range of the memory file.
func (r pageRun) file() platform.FileRange {
	return platform.FileRange{Start: r.off, End: r.off + uint64(r.n)*pageSize}
}

// clip returns the part of r within [start, end) (page-aligned), which must overlap r.
func (r pageRun) clip(start, end uintptr) pageRun {
	if start > r.addr {
		r.off += uint64(start - r.addr)
		r.n -= (start - r.addr) / pageSize
		r.addr = start
	}
	if end < r.end() {
		r.n = (end - r.addr) / pageSize
	}
	return r
}

// continues reports whether next starts where r ends, in addresses and in the file.
func (r pageRun) continues(next pageRun) bool {
	return r.end() == next.addr && r.off+uint64(r.n)*pageSize == next.off
}

// pageSet is an address space's populated pages, kept as runs (pageRun): a fault
// populates a run of up to anonFaultAround pages from one allocation, which stays one
// entry however many pages it has, and fork, munmap and exit work run by run.
//
// The runs are a slice sorted by address, disjoint, and merged wherever one continues
// the next (so the same pages are always the same runs, whatever order they came in):
// lookup is a binary search, and insertion and removal move the runs after the place
// they change. Runs are not cut at VMA boundaries; callers clip them (within).
//
// Like the VMA set, a slice stays cheap up to a few thousand runs; an address space
// fragmented into many more (copy-on-write breaks all over a large heap) would want a
// tree.
type pageSet struct {
	runs  []pageRun
	pages int // pages in all the runs
}

// count is the number of populated pages.
func (s *pageSet) count() int { return s.pages }

// search returns the index of the first run ending after addr.
func (s *pageSet) search(addr uintptr) int {
	return sort.Search(len(s.runs), func(i int) bool { return s.runs[i].end() > addr })
}

// lookup returns the memory-file page of the populated page at addr (page-aligned).
func (s *pageSet) lookup(addr uintptr) (platform.FileRange, bool) {
	r, ok := s.runAt(addr)
	if !ok {
		return platform.FileRange{}, false
	}
	off := r.off + uint64(addr-r.addr)
	return platform.FileRange{Start: off, End: off + pageSize}, true
}

// runAt returns the run holding the page at addr.
func (s *pageSet) runAt(addr uintptr) (pageRun, bool) {
	i := s.search(addr)
	if i < len(s.runs) && s.runs[i].addr <= addr {
		return s.runs[i], true
	}
	return pageRun{}, false
}

// gap returns the unpopulated stretch [lo, hi) around addr, which is not populated:
// from the end of the run before it (or 0) to the start of the run after it (or the
// top of the address space, rounded down to a page).
func (s *pageSet) gap(addr uintptr) (lo, hi uintptr) {
	i := s.search(addr)
	lo, hi = 0, pageDown(^uintptr(0))
	if i > 0 {
		lo = s.runs[i-1].end()
	}
	if i < len(s.runs) {
		hi = s.runs[i].addr
	}
	return lo, hi
}

// insert adds the pages at [addr, addr+fr.Length()), none of which is populated, as
// the memory-file pages fr, merging them with the runs they continue.
func (s *pageSet) insert(addr uintptr, fr platform.FileRange) {
	r := pageRun{addr: addr, n: uintptr(fr.Length() / pageSize), off: fr.Start}
	if r.n == 0 {
		return
	}
	s.pages += int(r.n)
	i := s.search(addr)
	// A fork fills the child's set in address order: each insertion is then at the end,
	// moving nothing.
	mergePrev := i > 0 && s.runs[i-1].continues(r)
	mergeNext := i < len(s.runs) && r.continues(s.runs[i])
	switch {
	case mergePrev && mergeNext:
		s.runs[i-1].n += r.n + s.runs[i].n
		s.runs = append(s.runs[:i], s.runs[i+1:]...)
	case mergePrev:
		s.runs[i-1].n += r.n
	case mergeNext:
		s.runs[i].addr, s.runs[i].off = r.addr, r.off
		s.runs[i].n += r.n
	default:
		s.runs = append(s.runs, pageRun{})
		copy(s.runs[i+1:], s.runs[i:])
		s.runs[i] = r
	}
}

// remove takes the pages in [start, end) (page-aligned) out of the set and returns
// them as runs, in address order; a run straddling either end is split there.
func (s *pageSet) remove(start, end uintptr) []pageRun {
	i := s.search(start)
	j := i
	for j < len(s.runs) && s.runs[j].addr < end {
		j++
	}
	if i == j {
		return nil
	}
	out := make([]pageRun, 0, j-i)
	for _, r := range s.runs[i:j] {
		out = append(out, r.clip(start, end))
	}
	// What is left of the runs at either end: up to two pieces where there were j-i
	// runs.
	var keep [2]pageRun
	k := 0
	if first := s.runs[i]; first.addr < start {
		keep[k] = first.clip(first.addr, start)
		k++
	}
	if last := s.runs[j-1]; last.end() > end {
		keep[k] = last.clip(end, last.end())
		k++
	}
	for _, r := range out {
		s.pages -= int(r.n)
	}
	s.runs = slices.Replace(s.runs, i, j, keep[:k]...)
	return out
}

// within yields the runs overlapping [start, end), clipped to it, in address order.
// The set must not change during the iteration.
func (s *pageSet) within(start, end uintptr) iter.Seq[pageRun] {
	return func(yield func(pageRun) bool) {
		for i := s.search(start); i < len(s.runs) && s.runs[i].addr < end; i++ {
			if !yield(s.runs[i].clip(start, end)) {
				return
			}
		}
	}
}

// countWithin is the number of populated pages in [start, end).
func (s *pageSet) countWithin(start, end uintptr) int {
	n := 0
	for r := range s.within(start, end) {
		n += int(r.n)
	}
	return n
}

// fileRanges returns the memory-file ranges of runs.
func fileRanges(runs []pageRun) []platform.FileRange {
	out := make([]platform.FileRange, len(runs))
	for i, r := range runs {
		out[i] = r.file()
	}
	return out
}
