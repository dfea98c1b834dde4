package pgalloc

import (
	"slices"
	"sort"

	"github.com/moat-sandbox/moat/platform"
)

// refRun is a range of pages that all have the same number of references beyond the
// first.
type refRun struct {
	start, end uint64
	extra      int32 // > 0
}

// refCounts holds the reference counts of the pages that have more than one, as runs
// of pages with the same count: sorted, disjoint, and merged wherever two touch with
// the same count. A page in no run has one reference. A fork shares its parent's pages
// a run of the memory manager's at a time, so a count change is an edit of a few runs,
// not of every page.
type refCounts struct {
	runs []refRun
}

// add adds delta (1 or -1) to the count of every page of fr. With -1 it returns the
// parts of fr whose last reference that was (pages in no run), in order.
func (rc *refCounts) add(fr platform.FileRange, delta int32) (last []platform.FileRange) {
	i := sort.Search(len(rc.runs), func(i int) bool { return rc.runs[i].end > fr.Start })
	j := i
	for j < len(rc.runs) && rc.runs[j].start < fr.End {
		j++
	}
	// The runs [lo, hi) are replaced by pieces: those overlapping fr, changed, and
	// their neighbours on either side, which the changed ones may merge with.
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
	lo, hi := i, j
	if i > 0 {
		lo = i - 1
		put(rc.runs[lo])
	}
	at := fr.Start // fr's pages before at are done
	for _, r := range rc.runs[i:j] {
		put(refRun{start: r.start, end: fr.Start, extra: r.extra}) // before fr
		gap(at, r.start)
		put(refRun{start: max(r.start, fr.Start), end: min(r.end, fr.End), extra: r.extra + delta})
		put(refRun{start: fr.End, end: r.end, extra: r.extra}) // after fr
		at = min(r.end, fr.End)
	}
	gap(at, fr.End)
	if j < len(rc.runs) {
		put(rc.runs[j])
		hi = j + 1
	}
	rc.runs = slices.Replace(rc.runs, lo, hi, pieces...)
	return last
}

// counts returns the number of references of each page of fr.
func (rc *refCounts) counts(fr platform.FileRange) []int {
	out := make([]int, fr.Length()/pageSize)
	for i := range out {
		out[i] = 1
	}
	k := sort.Search(len(rc.runs), func(k int) bool { return rc.runs[k].end > fr.Start })
	for ; k < len(rc.runs) && rc.runs[k].start < fr.End; k++ {
		r := rc.runs[k]
		for off := max(r.start, fr.Start); off < min(r.end, fr.End); off += pageSize {
			out[(off-fr.Start)/pageSize] = int(r.extra) + 1
		}
	}
	return out
}
