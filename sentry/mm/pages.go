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
// The runs are sorted by address, disjoint, and merged wherever one continues the next
// (so the same pages are always the same runs, whatever order they came in). They are
// kept in chunks of at most chunkRuns runs, the chunks in a slice (a B-tree of height
// two): lookup is two binary searches, and an insertion or a removal moves the runs of
// one chunk and, when a chunk splits, empties or joins its neighbour, the chunks after
// it. A flat slice moved every run after the change: a copy-on-write break at the low
// end of a large heap that copy-on-write breaks had cut into a run per page (a forked
// snapshotting parent) moved megabytes. Runs are not cut at VMA boundaries; callers clip
// them (within).
type pageSet struct {
	chunks [][]pageRun // each sorted and not empty; one after the other in address order
	pages  int         // pages in all the runs
}

// chunkRuns is the most runs in a chunk: a fuller one splits in two. A chunk left with
// fewer than a quarter of that joins a neighbour they fit in.
const chunkRuns = 128

// pagePos is the place of a run in a pageSet: run i of chunk c. Past the last run, c is
// the number of chunks.
type pagePos struct{ c, i int }

// count is the number of populated pages.
func (s *pageSet) count() int { return s.pages }

// search returns the place of the first run ending after addr.
func (s *pageSet) search(addr uintptr) pagePos {
	c := sort.Search(len(s.chunks), func(c int) bool {
		ch := s.chunks[c]
		return ch[len(ch)-1].end() > addr
	})
	if c == len(s.chunks) {
		return pagePos{c: c}
	}
	ch := s.chunks[c]
	return pagePos{c, sort.Search(len(ch), func(i int) bool { return ch[i].end() > addr })}
}

// at returns the run at p, if p is not past the last.
func (s *pageSet) at(p pagePos) (*pageRun, bool) {
	if p.c >= len(s.chunks) {
		return nil, false
	}
	return &s.chunks[p.c][p.i], true
}

// next and prev return the place after and before p (prev: ok false at the first).
func (s *pageSet) next(p pagePos) pagePos {
	if p.i++; p.i == len(s.chunks[p.c]) {
		p = pagePos{c: p.c + 1}
	}
	return p
}

func (s *pageSet) prev(p pagePos) (pagePos, bool) {
	switch {
	case p.i > 0:
		return pagePos{p.c, p.i - 1}, true
	case p.c > 0:
		return pagePos{p.c - 1, len(s.chunks[p.c-1]) - 1}, true
	}
	return p, false
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
	if r, ok := s.at(s.search(addr)); ok && r.addr <= addr {
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
	if q, ok := s.prev(p); ok {
		r, _ := s.at(q)
		lo = r.end()
	}
	if r, ok := s.at(p); ok {
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
	p := s.search(addr)
	next, hasNext := s.at(p)
	mergeNext := hasNext && r.continues(*next)
	if q, ok := s.prev(p); ok {
		if prev, _ := s.at(q); prev.continues(r) {
			prev.n += r.n
			if mergeNext {
				prev.n += next.n
				s.set(p.c, slices.Delete(s.chunks[p.c], p.i, p.i+1))
			}
			return
		}
	}
	if mergeNext {
		next.addr, next.off = r.addr, r.off
		next.n += r.n
		return
	}
	if len(s.chunks) == 0 {
		s.chunks = [][]pageRun{{r}}
		return
	}
	if p.c == len(s.chunks) { // after the last run
		p = pagePos{p.c - 1, len(s.chunks[p.c-1])}
	}
	s.set(p.c, slices.Insert(s.chunks[p.c], p.i, r))
}

// set makes ch chunk c, and keeps the chunks' sizes within bounds: an empty chunk
// goes, a full one splits, and a small one joins a neighbour it fits in.
func (s *pageSet) set(c int, ch []pageRun) {
	switch {
	case len(ch) == 0:
		s.chunks = slices.Delete(s.chunks, c, c+1)
	case len(ch) > chunkRuns:
		// The upper half gets its own array: the lower keeps ch's, which it may grow into.
		half := len(ch) / 2
		s.chunks[c] = ch[:half]
		s.chunks = slices.Insert(s.chunks, c+1, slices.Clone(ch[half:]))
	case len(ch) < chunkRuns/4 && c+1 < len(s.chunks) && len(ch)+len(s.chunks[c+1]) <= chunkRuns:
		s.chunks[c] = append(ch, s.chunks[c+1]...)
		s.chunks = slices.Delete(s.chunks, c+1, c+2)
	case len(ch) < chunkRuns/4 && c > 0 && len(ch)+len(s.chunks[c-1]) <= chunkRuns:
		s.chunks[c-1] = append(s.chunks[c-1], ch...)
		s.chunks = slices.Delete(s.chunks, c, c+1)
	default:
		s.chunks[c] = ch
	}
}

// remove takes the pages in [start, end) (page-aligned) out of the set and returns
// them as runs, in address order; a run straddling either end is split there.
func (s *pageSet) remove(start, end uintptr) []pageRun {
	var out []pageRun
	for {
		// The runs of one chunk at a time: those from p up to the first at or past end.
		p := s.search(start)
		if r, ok := s.at(p); !ok || r.addr >= end {
			return out
		}
		ch := s.chunks[p.c]
		i, j := p.i, p.i
		for j < len(ch) && ch[j].addr < end {
			out = append(out, ch[j].clip(start, end))
			s.pages -= int(out[len(out)-1].n)
			j++
		}
		// What is left of the runs at either end: up to two pieces.
		var keep [2]pageRun
		k := 0
		if first := ch[i]; first.addr < start {
			keep[k] = first.clip(first.addr, start)
			k++
		}
		last := ch[j-1]
		if last.end() > end {
			keep[k] = last.clip(end, last.end())
			k++
		}
		s.set(p.c, slices.Replace(ch, i, j, keep[:k]...))
		if last.end() >= end {
			return out
		}
	}
}

// within yields the runs overlapping [start, end), clipped to it, in address order.
// The set must not change during the iteration.
func (s *pageSet) within(start, end uintptr) iter.Seq[pageRun] {
	return func(yield func(pageRun) bool) {
		for p := s.search(start); ; p = s.next(p) {
			r, ok := s.at(p)
			if !ok || r.addr >= end || !yield(r.clip(start, end)) {
				return
			}
		}
	}
}

// all returns every run, in address order.
func (s *pageSet) all() []pageRun {
	out := make([]pageRun, 0, len(s.chunks))
	for _, ch := range s.chunks {
		out = append(out, ch...)
	}
	return out
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
