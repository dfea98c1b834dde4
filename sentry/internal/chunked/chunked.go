// Package chunked is a sequence kept in order in chunks of at most MaxChunk elements
// (a B-tree of height two): the memory manager's runs of populated pages (sentry/mm)
// and the memory file's runs of reference counts (sentry/pgalloc).
//
// Its users keep their elements sorted and edit them the way they would a sorted
// slice: Search for a position, read and walk from it (At, Next, Prev), and Replace the
// elements between two positions by new ones. A flat slice moves every element after
// an edit; here an edit moves the elements of the chunks it touches, and the chunk
// headers after them only when a chunk splits, empties or joins a neighbour. That keeps
// an edit cheap at hundreds of thousands of elements: a large heap that copy-on-write
// breaks after fork cut into a run per page.
package chunked

import (
	"slices"
	"sort"
)

// MaxChunk is the most elements in a chunk: a fuller one splits. A chunk left with
// fewer than a quarter of that joins a neighbour it fits in.
const MaxChunk = 128

// Slice is the sequence. The zero value is empty.
type Slice[T any] struct {
	chunks [][]T // none empty
}

// Pos is a position in a Slice: element i of chunk c. The end, past the last element,
// is chunk len(chunks), element 0. A Pos is valid until the next Replace.
type Pos struct{ c, i int }

// Search returns the position of the first element for which f is true (the end if
// none): f must be false and then true along the sequence, as sort.Search's.
func (s *Slice[T]) Search(f func(T) bool) Pos {
	c := sort.Search(len(s.chunks), func(c int) bool {
		ch := s.chunks[c]
		return f(ch[len(ch)-1])
	})
	if c == len(s.chunks) {
		return Pos{c: c}
	}
	ch := s.chunks[c]
	return Pos{c, sort.Search(len(ch), func(i int) bool { return f(ch[i]) })}
}

// At returns the element at p, which may be changed in place (keeping the order), or
// ok false at the end.
func (s *Slice[T]) At(p Pos) (e *T, ok bool) {
	if p.c >= len(s.chunks) {
		return nil, false
	}
	return &s.chunks[p.c][p.i], true
}

// Next returns the position after p, which must not be the end.
func (s *Slice[T]) Next(p Pos) Pos {
	if p.i++; p.i == len(s.chunks[p.c]) {
		return Pos{c: p.c + 1}
	}
	return p
}

// Prev returns the position before p, or ok false at the first element.
func (s *Slice[T]) Prev(p Pos) (Pos, bool) {
	switch {
	case p.i > 0:
		return Pos{p.c, p.i - 1}, true
	case p.c > 0:
		return Pos{p.c - 1, len(s.chunks[p.c-1]) - 1}, true
	}
	return p, false
}

// All returns every element, in order.
func (s *Slice[T]) All() []T {
	var out []T
	for _, ch := range s.chunks {
		out = append(out, ch...)
	}
	return out
}

// Replace replaces the elements from lo up to hi (lo at or before hi) by items.
func (s *Slice[T]) Replace(lo, hi Pos, items ...T) {
	switch {
	case len(s.chunks) == 0:
		if len(items) > 0 {
			s.chunks = [][]T{slices.Clone(items)}
			s.fix(0)
		}
	case lo.c == len(s.chunks): // at the end: append to the last chunk
		last := len(s.chunks) - 1
		s.chunks[last] = append(s.chunks[last], items...)
		s.fix(last)
	case lo.c == hi.c:
		s.chunks[lo.c] = slices.Replace(s.chunks[lo.c], lo.i, hi.i, items...)
		s.fix(lo.c)
	default:
		// lo's chunk loses its tail and gets items; the chunks between go; hi's chunk,
		// if not the end, loses its head. The higher is fixed first, so that lo.c still
		// names lo's chunk.
		if hi.c < len(s.chunks) {
			s.chunks[hi.c] = slices.Delete(s.chunks[hi.c], 0, hi.i)
		}
		s.chunks[lo.c] = append(s.chunks[lo.c][:lo.i], items...)
		s.chunks = slices.Delete(s.chunks, lo.c+1, hi.c)
		if lo.c+1 < len(s.chunks) {
			s.fix(lo.c + 1)
		}
		s.fix(lo.c)
	}
}

// fix keeps chunk c's size within bounds: empty, it goes; past MaxChunk, it splits into
// chunks of at most half that; below a quarter, it joins a neighbour it fits in.
func (s *Slice[T]) fix(c int) {
	ch := s.chunks[c]
	switch {
	case len(ch) == 0:
		s.chunks = slices.Delete(s.chunks, c, c+1)
	case len(ch) > MaxChunk:
		// Into k pieces of about the same size, at most half of MaxChunk (and so more
		// than a quarter). The first keeps ch's array; the others get their own, so
		// that growing the first never writes into them.
		k := (len(ch) + MaxChunk/2 - 1) / (MaxChunk / 2)
		size := (len(ch) + k - 1) / k
		var pieces [][]T
		for rest := ch[size:]; len(rest) > 0; {
			n := min(len(rest), size)
			pieces = append(pieces, slices.Clone(rest[:n]))
			rest = rest[n:]
		}
		s.chunks[c] = ch[:size]
		s.chunks = slices.Insert(s.chunks, c+1, pieces...)
	case len(ch) < MaxChunk/4 && c+1 < len(s.chunks) && len(ch)+len(s.chunks[c+1]) <= MaxChunk:
		s.chunks[c] = append(ch, s.chunks[c+1]...)
		s.chunks = slices.Delete(s.chunks, c+1, c+2)
	case len(ch) < MaxChunk/4 && c > 0 && len(ch)+len(s.chunks[c-1]) <= MaxChunk:
		s.chunks[c-1] = append(s.chunks[c-1], ch...)
		s.chunks = slices.Delete(s.chunks, c, c+1)
	}
}
