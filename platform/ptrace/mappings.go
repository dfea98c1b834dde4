package ptrace

import (
	"sort"

	"github.com/moat-sandbox/moat/platform"
)

// mappings records what is mapped in a stub address space and with which access, as
// sorted, disjoint segments; neighbours with the same access are merged, so the count
// stays near the number of distinct protections. The platform needs it to tell the
// access type of a fault (see faultAccess) and to apply Protect to mapped ranges only.
type mappings struct {
	segs []segment
}

type segment struct {
	start, end uintptr
	at         platform.AccessType
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
			keep = append(keep, segment{s.start, start, s.at})
		}
		if s.end > end {
			keep = append(keep, segment{end, s.end, s.at})
		}
	}
	m.segs = append(m.segs[:i], append(keep, m.segs[j:]...)...)
}

// add records [start, end) mapped with at, replacing what was there.
func (m *mappings) add(start, end uintptr, at platform.AccessType) {
	m.remove(start, end)
	i := m.find(start)
	s := segment{start, end, at}
	// Merge with the neighbours when they touch and agree.
	if i > 0 && m.segs[i-1].end == start && m.segs[i-1].at == at {
		i--
		s.start = m.segs[i].start
		m.segs = append(m.segs[:i], m.segs[i+1:]...)
	}
	if i < len(m.segs) && m.segs[i].start == end && m.segs[i].at == at {
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
		s := m.segs[i]
		s.start, s.end = max(s.start, start), min(s.end, end)
		out = append(out, s)
	}
	return out
}
