package ptrace

import (
	"sort"

	"github.com/moat-sandbox/moat/platform"
)

// mappings records what is mapped in a stub address space: which memory-file offsets
// with which access, as sorted, disjoint segments; neighbours with the same access and
// contiguous offsets are merged. The platform needs it to tell the access type of a
// fault (see faultAccess), to apply Protect to mapped ranges only, and to keep what a
// recycled address space's next user maps again (refill).
type mappings struct {
	segs []segment
}

type segment struct {
	start, end uintptr
	off        uint64 // the memory-file offset mapped at start
	at         platform.AccessType
}

// cut returns the part [start, end) of s, which it overlaps.
func (s segment) cut(start, end uintptr) segment {
	lo, hi := max(s.start, start), min(s.end, end)
	return segment{lo, hi, s.off + uint64(lo-s.start), s.at}
}

// follows reports whether s continues where p ends: the same access, the next offsets.
func (s segment) follows(p segment) bool {
	return p.end == s.start && p.at == s.at && p.off+uint64(p.end-p.start) == s.off
}

// find returns the index of the first segment that ends after addr.
func (m *mappings) find(addr uintptr) int {
	return sort.Search(len(m.segs), func(i int) bool { return m.segs[i].end > addr })
}

// lookup returns the access of the mapping holding addr.
func (m *mappings) lookup(addr uintptr) (platform.AccessType, bool) {
	i := m.find(addr)
	if i < len(m.segs) && m.segs[i].start <= addr {
		return m.segs[i].at, true
	}
	return platform.AccessType{}, false
}

// remove forgets [start, end), splitting segments that straddle its ends.
func (m *mappings) remove(start, end uintptr) {
	i := m.find(start)
	j := i
	var keep []segment
	for ; j < len(m.segs) && m.segs[j].start < end; j++ {
		s := m.segs[j]
		if s.start < start {
			keep = append(keep, s.cut(s.start, start))
		}
		if s.end > end {
			keep = append(keep, s.cut(end, s.end))
		}
	}
	m.segs = append(m.segs[:i], append(keep, m.segs[j:]...)...)
}

// add records [start, end) mapping the memory file from off with at, replacing what
// was there.
func (m *mappings) add(start, end uintptr, off uint64, at platform.AccessType) {
	m.remove(start, end)
	i := m.find(start)
	s := segment{start, end, off, at}
	// Merge with the neighbours when they touch and agree.
	if i > 0 && s.follows(m.segs[i-1]) {
		i--
		s.start, s.off = m.segs[i].start, m.segs[i].off
		m.segs = append(m.segs[:i], m.segs[i+1:]...)
	}
	if i < len(m.segs) && m.segs[i].follows(s) {
		s.end = m.segs[i].end
		m.segs = append(m.segs[:i], m.segs[i+1:]...)
	}
	m.segs = append(m.segs, segment{})
	copy(m.segs[i+1:], m.segs[i:])
	m.segs[i] = s
}

// within returns the mapped parts of [start, end).
func (m *mappings) within(start, end uintptr) []segment {
	var out []segment
	for i := m.find(start); i < len(m.segs) && m.segs[i].start < end; i++ {
		out = append(out, m.segs[i].cut(start, end))
	}
	return out
}

// same returns the parts of ms (sorted by address, disjoint) that are mapped already,
// the same offsets with the same access, in order.
func (m *mappings) same(ms []platform.FileMapping) []segment {
	var out []segment
	for _, fm := range ms {
		want := segment{fm.Addr, fm.Addr + uintptr(fm.File.Length()), fm.File.Start, fm.Access}
		for _, s := range m.within(want.start, want.end) {
			if s.at == want.at && s.off == want.cut(s.start, s.end).off {
				out = append(out, s)
			}
		}
	}
	return out
}
