package chunked

import (
	"math/rand"
	"slices"
	"testing"
)

// pos returns the position of element i of s, walking from the first.
func pos(s *Slice[int], i int) Pos {
	p := s.Search(func(int) bool { return true })
	for ; i > 0; i-- {
		p = s.Next(p)
	}
	return p
}

// check fails unless s holds want, in chunks within bounds.
func check(t *testing.T, step int, s *Slice[int], want []int) {
	t.Helper()
	if got := s.All(); !slices.Equal(got, want) {
		t.Fatalf("step %d: %d elements %v, want %d %v", step, len(got), got, len(want), want)
	}
	for c, ch := range s.chunks {
		if len(ch) == 0 || len(ch) > MaxChunk {
			t.Fatalf("step %d: chunk %d holds %d elements", step, c, len(ch))
		}
	}
}

// TestReplaceAgainstASlice: random replacements, of nothing to spans of many chunks, by
// nothing up to several chunks' worth, leave the same elements as on a plain slice.
func TestReplaceAgainstASlice(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var s Slice[int]
	var want []int
	next := 0
	for step := 0; step < 3000; step++ {
		lo := rng.Intn(len(want) + 1)
		hi := lo + rng.Intn(min(len(want)-lo, 300)+1)
		if rng.Intn(4) == 0 {
			hi = lo // an insertion
		}
		items := make([]int, rng.Intn(300))
		if len(want) > 4000 {
			items = items[:min(len(items), rng.Intn(3))] // keep the size around a few thousand
		}
		for i := range items {
			items[i] = next
			next++
		}
		s.Replace(pos(&s, lo), pos(&s, hi), items...)
		want = slices.Replace(want, lo, hi, items...)
		check(t, step, &s, want)
	}
	if len(s.chunks) < 10 {
		t.Errorf("only %d chunks: the test did not exercise many", len(s.chunks))
	}
}

func TestSearchAndWalk(t *testing.T) {
	var s Slice[int]
	for i := 0; i < 1000; i++ {
		s.Replace(pos(&s, i), pos(&s, i), 2*i) // appended: 0, 2, 4, ...
	}
	for _, v := range []int{-1, 0, 1, 2, 255, 256, 1997, 1998} {
		p := s.Search(func(e int) bool { return e >= v })
		e, ok := s.At(p)
		want := (v + 1) / 2 * 2
		if v < 0 {
			want = 0
		}
		if !ok || *e != want {
			t.Errorf("Search(>= %d) at %v, want %d", v, e, want)
		}
		if q, ok := s.Prev(p); ok {
			if e, _ := s.At(q); *e != want-2 {
				t.Errorf("before the element %d: %d, want %d", want, *e, want-2)
			}
		} else if want != 0 {
			t.Errorf("no element before %d", want)
		}
	}
	if _, ok := s.At(s.Search(func(e int) bool { return e >= 1999 })); ok {
		t.Error("Search past the last element found one")
	}
	n := 0
	for p := pos(&s, 0); ; p = s.Next(p) {
		e, ok := s.At(p)
		if !ok {
			break
		}
		if *e != 2*n {
			t.Fatalf("element %d is %d, want %d", n, *e, 2*n)
		}
		n++
	}
	if n != 1000 {
		t.Errorf("walked %d elements, want 1000", n)
	}
}
