package pgalloc

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/internal/chunked"
)

// pages is the memory-file range of pages [from, to).
func pages(from, to uint64) platform.FileRange {
	return platform.FileRange{Start: from * pageSize, End: to * pageSize}
}

// run is the refRun of pages [from, to) with extra references beyond the first.
func run(from, to uint64, extra int32) refRun {
	return refRun{start: from * pageSize, end: to * pageSize, extra: extra}
}

// withRuns returns counts holding runs.
func withRuns(runs ...refRun) *refCounts {
	var rc refCounts
	end := rc.runs.Search(func(refRun) bool { return false })
	rc.runs.Replace(end, end, runs...)
	return &rc
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
			rc := withRuns(tc.start...)
			last := rc.add(tc.fr, tc.delta)
			if got := rc.runs.All(); !slices.Equal(got, tc.want) {
				t.Errorf("runs %v, want %v", got, tc.want)
			}
			if !slices.Equal(last, tc.last) {
				t.Errorf("last references %v, want %v", last, tc.last)
			}
		})
	}
}

func TestRefCountsCounts(t *testing.T) {
	rc := withRuns(run(1, 3, 1), run(4, 5, 3))
	if got, want := rc.counts(pages(0, 6)), []int{1, 2, 2, 1, 4, 1}; !slices.Equal(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if got, want := rc.counts(pages(2, 3)), []int{2}; !slices.Equal(got, want) {
		t.Errorf("counts of one page = %v, want %v", got, want)
	}
}

// TestRefCountsAgainstCounts: random IncRefs and Frees over enough pages for many
// chunks leave the counts a count per page gives; a Free returns exactly the pages it
// took the last reference of (each then taken as allocated again, with one).
func TestRefCountsAgainstCounts(t *testing.T) {
	const space = 4096 // pages
	rng := rand.New(rand.NewSource(1))
	var rc refCounts
	model := make([]int, space)
	for i := range model {
		model[i] = 1
	}
	for step := 0; step < 5000; step++ {
		a := uint64(rng.Intn(space))
		b := min(space, a+1+uint64(rng.Intn(64)))
		if rng.Intn(2) == 0 {
			rc.add(pages(a, b), 1)
			for i := a; i < b; i++ {
				model[i]++
			}
		} else {
			var want []platform.FileRange
			for i := a; i < b; i++ {
				if model[i]--; model[i] == 0 {
					model[i] = 1
					if n := len(want); n > 0 && want[n-1].End == i*pageSize {
						want[n-1].End += pageSize
					} else {
						want = append(want, pages(i, i+1))
					}
				}
			}
			if last := rc.add(pages(a, b), -1); !slices.Equal(last, want) {
				t.Fatalf("step %d: Free of %v released %v, want %v", step, pages(a, b), last, want)
			}
		}
		if step%100 == 99 {
			if got := rc.counts(pages(0, space)); !slices.Equal(got, model) {
				t.Fatalf("step %d: counts differ from the model", step)
			}
		}
	}
	if n := len(rc.runs.All()); n < 4*chunked.MaxChunk {
		t.Errorf("%d runs at the end: the test did not exercise many chunks", n)
	}
}
