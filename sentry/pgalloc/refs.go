package pgalloc

import (
	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/internal/chunked"
)

// refRun is a range of pages that all have the same number of references beyond the
// first.
type refRun struct {
	start, end uint64
	extra      int32 // > 0
}

// refCounts holds the reference counts of the pages that have more than one, as runs
// of pages with the same count: sorted, disjoint, and merged wherever two touch with
// the same count, in a chunked.Slice. A page in no run has one reference. A fork
// shares its parent's pages a run of the memory manager's at a time, so a count change
// is an edit of a few runs, not of every page; and an edit stays cheap when
// copy-on-write breaks have cut a large shared heap into a run per page.
type refCounts struct {
	runs chunked.Slice[refRun]
}

// add adds delta (1 or -1) to the count of every page of fr. With -1 it returns the
// parts of fr whose last reference that was (pages in no run), in order.
func (rc *refCounts) add(fr platform.FileRange, delta int32) (last []platform.FileRange) {
	// The runs from lo up to hi are replaced by pieces: those overlapping fr, changed,
	// and their neighbours on either side, which the changed ones may merge with.
	lo := rc.runs.Search(func(r refRun) bool { return r.end > fr.Start })
	var pieces []refRun
	put := func(r refRun) {
		if r.start >= r.end || r.extra == 0 {
			return
		}
		if n := len(pieces); n > 0 && pieces[n-1].end == r.start && pieces[n-1].extra == r.extra {
			pieces[n-1].end = r.end
			return
		}
		pieces = append(pieces, r)
	}
	gap := func(start, end uint64) { // pages of fr with a single reference
		if start >= end {
			return
		}
		if delta < 0 {
			last = append(last, platform.FileRange{Start: start, End: end})
			return
		}
		put(refRun{start: start, end: end, extra: delta})
	}
	hi := lo
	if q, ok := rc.runs.Prev(lo); ok {
		lo = q
		r, _ := rc.runs.At(q)
		put(*r)
	}
	at := fr.Start // fr's pages before at are done
	for {
		r, ok := rc.runs.At(hi)
		if !ok || r.start >= fr.End {
			break
		}
		put(refRun{start: r.start, end: fr.Start, extra: r.extra}) // before fr
		gap(at, r.start)
		put(refRun{start: max(r.start, fr.Start), end: min(r.end, fr.End), extra: r.extra + delta})
		put(refRun{start: fr.End, end: r.end, extra: r.extra}) // after fr
		at = min(r.end, fr.End)
		hi = rc.runs.Next(hi)
	}
	gap(at, fr.End)
	if r, ok := rc.runs.At(hi); ok {
		put(*r)
		hi = rc.runs.Next(hi)
	}
	rc.runs.Replace(lo, hi, pieces...)
	return last
}

// counts returns the number of references of each page of fr.
func (rc *refCounts) counts(fr platform.FileRange) []int {
	out := make([]int, fr.Length()/pageSize)
	for i := range out {
		out[i] = 1
	}
	for p := rc.runs.Search(func(r refRun) bool { return r.end > fr.Start }); ; p = rc.runs.Next(p) {
		r, ok := rc.runs.At(p)
		if !ok || r.start >= fr.End {
			return out
		}
		for off := max(r.start, fr.Start); off < min(r.end, fr.End); off += pageSize {
			out[(off-fr.Start)/pageSize] = int(r.extra) + 1
		}
	}
}
