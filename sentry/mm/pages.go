package mm

import (
	"iter"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/internal/chunked"
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
// The runs are sorted by address, disjoint, and merged wherever one continues the next
// (so the same pages are always the same runs, whatever order they came in), in a
// chunked.Slice: lookup is two binary searches, and an edit moves the runs of a chunk
// or two. (A flat slice moved every run after the edit: a copy-on-write break low in a
// large heap that copy-on-write breaks had cut into a run per page, a forked
// snapshotting parent's, moved megabytes.) Runs are not cut at VMA boundaries; callers
// clip them (within).
type pageSet struct {
	runs  chunked.Slice[pageRun]
	pages int // pages in all the runs
}

// count is the number of populated pages.
func (s *pageSet) count() int { return s.pages }

// search returns the position of the first run ending after addr.
func (s *pageSet) search(addr uintptr) chunked.Pos {
	return s.runs.Search(func(r pageRun) bool { return r.end() > addr })
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
	if r, ok := s.runs.At(s.search(addr)); ok && r.addr <= addr {
		return *r, true
	}
	return pageRun{}, false
}

// gap returns the unpopulated stretch [lo, hi) around addr, which is not populated:
// from the end of the run before it (or 0) to the start of the run after it (or the
// top of the address space, rounded down to a page).
func (s *pageSet) gap(addr uintptr) (lo, hi uintptr) {
	p := s.search(addr)
	lo, hi = 0, pageDown(^uintptr(0))
	if q, ok := s.runs.Prev(p); ok {
		r, _ := s.runs.At(q)
		lo = r.end()
	}
	if r, ok := s.runs.At(p); ok {
		hi = r.addr
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
	// The runs from lo up to hi are replaced by r, grown by those it continues.
	lo := s.search(addr)
	hi := lo
	if next, ok := s.runs.At(hi); ok && r.continues(*next) {
		r.n += next.n
		hi = s.runs.Next(hi)
	}
	if q, ok := s.runs.Prev(lo); ok {
		if prev, _ := s.runs.At(q); prev.continues(r) {
			r.addr, r.off = prev.addr, prev.off
			r.n += prev.n
			lo = q
		}
	}
	s.runs.Replace(lo, hi, r)
}

// remove takes the pages in [start, end) (page-aligned) out of the set and returns
// them as runs, in address order; a run straddling either end is split there.
func (s *pageSet) remove(start, end uintptr) []pageRun {
	lo := s.search(start)
	hi := lo
	var out []pageRun
	var keep []pageRun // what is left of the runs at either end
	for {
		r, ok := s.runs.At(hi)
		if !ok || r.addr >= end {
			break
		}
		if r.addr < start {
			keep = append(keep, r.clip(r.addr, start))
		}
		out = append(out, r.clip(start, end))
		s.pages -= int(out[len(out)-1].n)
		if r.end() > end {
			keep = append(keep, r.clip(end, r.end()))
		}
		hi = s.runs.Next(hi)
	}
	if len(out) > 0 {
		s.runs.Replace(lo, hi, keep...)
	}
	return out
}

// within yields the runs overlapping [start, end), clipped to it, in address order.
// The set must not change during the iteration.
func (s *pageSet) within(start, end uintptr) iter.Seq[pageRun] {
	return func(yield func(pageRun) bool) {
		for p := s.search(start); ; p = s.runs.Next(p) {
			r, ok := s.runs.At(p)
			if !ok || r.addr >= end || !yield(r.clip(start, end)) {
				return
			}
		}
	}
}

// all returns every run, in address order.
func (s *pageSet) all() []pageRun { return s.runs.All() }

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
