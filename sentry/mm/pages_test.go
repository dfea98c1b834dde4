package mm

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/internal/chunked"
)

// P is the address of page n, F the memory-file range of n pages from page off.
func P(n uintptr) uintptr { return 0x10000000 + n*pageSize }
func F(off, n uint64) platform.FileRange {
	return platform.FileRange{Start: off * pageSize, End: (off + n) * pageSize}
}

// R is the run of n pages at page a backed from file page off.
func R(a, n uintptr, off uint64) pageRun { return pageRun{addr: P(a), n: n, off: off * pageSize} }

// checkSet fails unless s holds exactly want (in order) and counts their pages.
func checkSet(t *testing.T, s *pageSet, want ...pageRun) {
	t.Helper()
	if !slices.Equal(s.all(), want) {
		t.Errorf("runs %v, want %v", s.all(), want)
	}
	n := 0
	for _, r := range want {
		n += int(r.n)
	}
	if s.count() != n {
		t.Errorf("count %d, want %d", s.count(), n)
	}
}

func TestPageSetInsertMerges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		insert [][2]any // {page, file range}
		want   []pageRun
	}{
		{"one run", [][2]any{{P(4), F(10, 3)}}, []pageRun{R(4, 3, 10)}},
		{"after, continuing both", [][2]any{{P(4), F(10, 3)}, {P(7), F(13, 2)}}, []pageRun{R(4, 5, 10)}},
		{"before, continuing both", [][2]any{{P(7), F(13, 2)}, {P(4), F(10, 3)}}, []pageRun{R(4, 5, 10)}},
		{"filling the gap between two", [][2]any{{P(0), F(0, 2)}, {P(4), F(4, 2)}, {P(2), F(2, 2)}}, []pageRun{R(0, 6, 0)}},
		{"adjacent in addresses only", [][2]any{{P(4), F(10, 3)}, {P(7), F(20, 1)}}, []pageRun{R(4, 3, 10), R(7, 1, 20)}},
		{"adjacent in the file only", [][2]any{{P(4), F(10, 3)}, {P(8), F(13, 1)}}, []pageRun{R(4, 3, 10), R(8, 1, 13)}},
		{"file going backwards", [][2]any{{P(4), F(10, 1)}, {P(5), F(9, 1)}}, []pageRun{R(4, 1, 10), R(5, 1, 9)}},
		{"out of order, kept sorted", [][2]any{{P(9), F(1, 1)}, {P(1), F(2, 1)}, {P(5), F(3, 1)}}, []pageRun{R(1, 1, 2), R(5, 1, 3), R(9, 1, 1)}},
		{"empty range", [][2]any{{P(4), F(10, 0)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s pageSet
			for _, in := range tc.insert {
				s.insert(in[0].(uintptr), in[1].(platform.FileRange))
			}
			checkSet(t, &s, tc.want...)
		})
	}
}

func TestPageSetLookup(t *testing.T) {
	var s pageSet
	s.insert(P(4), F(10, 3))
	s.insert(P(8), F(30, 1))
	for _, tc := range []struct {
		page uintptr
		fr   platform.FileRange
		ok   bool
	}{
		{P(3), platform.FileRange{}, false},
		{P(4), F(10, 1), true},
		{P(6), F(12, 1), true},
		{P(7), platform.FileRange{}, false},
		{P(8), F(30, 1), true},
		{P(9), platform.FileRange{}, false},
	} {
		if fr, ok := s.lookup(tc.page); fr != tc.fr || ok != tc.ok {
			t.Errorf("lookup(%#x) = %v, %v, want %v, %v", tc.page, fr, ok, tc.fr, tc.ok)
		}
	}
	for _, tc := range []struct{ page, lo, hi uintptr }{
		{P(0), 0, P(4)},
		{P(7), P(7), P(8)},
		{P(20), P(9), pageDown(^uintptr(0))},
	} {
		if lo, hi := s.gap(tc.page); lo != tc.lo || hi != tc.hi {
			t.Errorf("gap(%#x) = [%#x, %#x), want [%#x, %#x)", tc.page, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestPageSetRemove(t *testing.T) {
	// Runs: pages 0-3 (file 0-3), 6-7 (file 20-21), 10-13 (file 40-43).
	fill := func() *pageSet {
		var s pageSet
		s.insert(P(0), F(0, 4))
		s.insert(P(6), F(20, 2))
		s.insert(P(10), F(40, 4))
		return &s
	}
	for _, tc := range []struct {
		name       string
		start, end uintptr
		removed    []pageRun
		left       []pageRun
	}{
		{"nothing there", P(4), P(6), nil, []pageRun{R(0, 4, 0), R(6, 2, 20), R(10, 4, 40)}},
		{"a whole run", P(6), P(8), []pageRun{R(6, 2, 20)}, []pageRun{R(0, 4, 0), R(10, 4, 40)}},
		{"the middle of a run, splitting it", P(1), P(3), []pageRun{R(1, 2, 1)}, []pageRun{R(0, 1, 0), R(3, 1, 3), R(6, 2, 20), R(10, 4, 40)}},
		{"the start of a run", P(0), P(2), []pageRun{R(0, 2, 0)}, []pageRun{R(2, 2, 2), R(6, 2, 20), R(10, 4, 40)}},
		{"the end of a run", P(12), P(20), []pageRun{R(12, 2, 42)}, []pageRun{R(0, 4, 0), R(6, 2, 20), R(10, 2, 40)}},
		{"across runs, cutting both ends", P(2), P(11), []pageRun{R(2, 2, 2), R(6, 2, 20), R(10, 1, 40)}, []pageRun{R(0, 2, 0), R(11, 3, 41)}},
		{"everything", 0, P(100), []pageRun{R(0, 4, 0), R(6, 2, 20), R(10, 4, 40)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fill()
			if got := s.remove(tc.start, tc.end); !slices.Equal(got, tc.removed) {
				t.Errorf("removed %v, want %v", got, tc.removed)
			}
			checkSet(t, s, tc.left...)
		})
	}
}

// TestPageSetReinsertMerges: pages removed and inserted again at the same offsets make
// the same runs as before (a copy-on-write break's neighbours, mremap moving back).
func TestPageSetReinsertMerges(t *testing.T) {
	var s pageSet
	s.insert(P(0), F(0, 8))
	removed := s.remove(P(3), P(5))
	for _, r := range removed {
		s.insert(r.addr, r.file())
	}
	checkSet(t, &s, R(0, 8, 0))
}

func TestPageSetWithin(t *testing.T) {
	var s pageSet
	s.insert(P(0), F(0, 4))
	s.insert(P(6), F(20, 2))
	s.insert(P(10), F(40, 4))
	got := slices.Collect(s.within(P(2), P(11)))
	if want := []pageRun{R(2, 2, 2), R(6, 2, 20), R(10, 1, 40)}; !slices.Equal(got, want) {
		t.Errorf("within = %v, want %v", got, want)
	}
	if n := s.countWithin(P(2), P(11)); n != 5 {
		t.Errorf("countWithin = %d, want 5", n)
	}
	if got := slices.Collect(s.within(P(4), P(6))); len(got) != 0 {
		t.Errorf("within a gap = %v, want nothing", got)
	}
	// The set is unchanged.
	checkSet(t, &s, R(0, 4, 0), R(6, 2, 20), R(10, 4, 40))
}

// BenchmarkPageSetFragmented measures the slice's worst case: a copy-on-write break
// (a page removed and a new one inserted) at the low end of a set cut into n runs of
// one page, every run after it moved twice.
func BenchmarkPageSetFragmented(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 14, 1 << 18} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var s pageSet
			for i := 0; i < n; i++ {
				s.insert(P(uintptr(i)), F(uint64(2*i), 1)) // file pages apart: no merging
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.remove(P(1), P(2))
				s.insert(P(1), F(uint64(2*n), 1))
				s.remove(P(1), P(2))
				s.insert(P(1), F(2, 1))
			}
		})
	}
}

// TestPageSetAgainstAMap: random insertions and removals over a set large enough for
// many chunks leave it holding what a map from page to memory-file page holds, with
// its runs merged wherever they continue each other.
func TestPageSetAgainstAMap(t *testing.T) {
	const space = 8192 // pages
	rng := rand.New(rand.NewSource(1))
	var s pageSet
	model := map[uintptr]uint64{} // page number -> file page
	nextFile := uint64(0)
	for step := 0; step < 4000; step++ {
		a := uintptr(rng.Intn(space))
		n := uintptr(1 + rng.Intn(40))
		if rng.Intn(3) == 0 {
			s.remove(P(a), P(a+n))
			for i := a; i < a+n; i++ {
				delete(model, i)
			}
		} else {
			// Insert the unpopulated pages from a on, up to n, at fresh file pages (at
			// times continuing the last insertion's, which then merge).
			end := a
			for end < a+n && end < space {
				if _, ok := model[end]; ok {
					break
				}
				end++
			}
			if end == a {
				continue
			}
			if rng.Intn(4) != 0 {
				nextFile += uint64(1 + rng.Intn(3))
			}
			s.insert(P(a), F(nextFile, uint64(end-a)))
			for i := a; i < end; i++ {
				model[i] = nextFile + uint64(i-a)
			}
			nextFile += uint64(end - a)
		}
		if step%100 != 99 {
			continue
		}
		if s.count() != len(model) {
			t.Fatalf("step %d: count %d, want %d", step, s.count(), len(model))
		}
		for i := uintptr(0); i < space; i++ {
			fr, ok := s.lookup(P(i))
			off, want := model[i]
			if ok != want || ok && fr != F(off, 1) {
				t.Fatalf("step %d: page %d: lookup = %v, %v, want file page %d, %v", step, i, fr, ok, off, want)
			}
		}
		lo := uintptr(rng.Intn(space))
		hi := lo + uintptr(rng.Intn(space/2))
		seen := 0
		for r := range s.within(P(lo), P(hi)) {
			for i := uintptr(0); i < r.n; i++ {
				page := (r.addr-P(0))/pageSize + i
				if off, ok := model[page]; !ok || page < lo || page >= hi || off*pageSize != r.off+uint64(i)*pageSize {
					t.Fatalf("step %d: within [%d, %d) yields page %d at file %#x, want file page %d (%v)", step, lo, hi, page, r.off+uint64(i)*pageSize, off, ok)
				}
				seen++
			}
		}
		want := 0
		for page := range model {
			if page >= lo && page < hi {
				want++
			}
		}
		if seen != want {
			t.Fatalf("step %d: within [%d, %d) yields %d pages, want %d", step, lo, hi, seen, want)
		}
		runs := s.all()
		for k := 1; k < len(runs); k++ {
			if runs[k-1].end() > runs[k].addr || runs[k-1].continues(runs[k]) {
				t.Fatalf("step %d: runs %v and %v overlap or should have merged", step, runs[k-1], runs[k])
			}
		}
	}
	if n := len(s.all()); n < 4*chunked.MaxChunk {
		t.Errorf("the set ended with %d runs: the test did not exercise many chunks", n)
	}
}
