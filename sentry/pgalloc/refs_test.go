package pgalloc

import (
	"slices"
	"testing"

	"github.com/moat-sandbox/moat/platform"
)

// pages is the memory-file range of pages [from, to).
func pages(from, to uint64) platform.FileRange {
	return platform.FileRange{Start: from * pageSize, End: to * pageSize}
}

// run is the refRun of pages [from, to) with extra references beyond the first.
func run(from, to uint64, extra int32) refRun {
	return refRun{start: from * pageSize, end: to * pageSize, extra: extra}
}

func TestRefCountsAdd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start []refRun
		fr    platform.FileRange
		delta int32
		want  []refRun
		last  []platform.FileRange
	}{
		{"share a range held once", nil, pages(2, 5), 1, []refRun{run(2, 5, 1)}, nil},
		{"share it again", []refRun{run(2, 5, 1)}, pages(2, 5), 1, []refRun{run(2, 5, 2)}, nil},
		{"share the middle of a run, splitting it", []refRun{run(2, 8, 1)}, pages(4, 6), 1,
			[]refRun{run(2, 4, 1), run(4, 6, 2), run(6, 8, 1)}, nil},
		{"share across a run and the gaps beside it", []refRun{run(4, 6, 1)}, pages(2, 8), 1,
			[]refRun{run(2, 4, 1), run(4, 6, 2), run(6, 8, 1)}, nil},
		{"share next to a run with the same count: merged", []refRun{run(2, 4, 1)}, pages(4, 6), 1,
			[]refRun{run(2, 6, 1)}, nil},
		{"share between two runs: all merged", []refRun{run(0, 2, 1), run(4, 6, 1)}, pages(2, 4), 1,
			[]refRun{run(0, 6, 1)}, nil},
		{"free pages held once: their last reference", []refRun{run(4, 6, 1)}, pages(0, 2), -1,
			[]refRun{run(4, 6, 1)}, []platform.FileRange{pages(0, 2)}},
		{"free across shared and unshared pages", []refRun{run(2, 4, 1), run(6, 8, 2)}, pages(0, 10), -1,
			[]refRun{run(6, 8, 1)}, []platform.FileRange{pages(0, 2), pages(4, 6), pages(8, 10)}},
		{"free the middle of a run: the ends merge back", []refRun{run(0, 2, 1), run(2, 4, 2), run(4, 6, 1)}, pages(2, 4), -1,
			[]refRun{run(0, 6, 1)}, nil},
		{"free part of a run", []refRun{run(0, 6, 1)}, pages(2, 4), -1,
			[]refRun{run(0, 2, 1), run(4, 6, 1)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := refCounts{runs: slices.Clone(tc.start)}
			last := rc.add(tc.fr, tc.delta)
			if !slices.Equal(rc.runs, tc.want) {
				t.Errorf("runs %v, want %v", rc.runs, tc.want)
			}
			if !slices.Equal(last, tc.last) {
				t.Errorf("last references %v, want %v", last, tc.last)
			}
		})
	}
}

func TestRefCountsCounts(t *testing.T) {
	rc := refCounts{runs: []refRun{run(1, 3, 1), run(4, 5, 3)}}
	if got, want := rc.counts(pages(0, 6)), []int{1, 2, 2, 1, 4, 1}; !slices.Equal(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if got, want := rc.counts(pages(2, 3)), []int{2}; !slices.Equal(got, want) {
		t.Errorf("counts of one page = %v, want %v", got, want)
	}
}
