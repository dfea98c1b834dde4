package mm

import (
	"slices"
	"testing"

	"github.com/moat-sandbox/moat/platform"
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
	if !slices.Equal(s.runs, want) {
		t.Errorf("runs %v, want %v", s.runs, want)
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
