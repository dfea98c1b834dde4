package ptrace

import (
	"reflect"
	"testing"

	"github.com/moat-sandbox/moat/platform"
)

// TestMappingsSame: same finds the parts of the wanted mappings recorded with the same
// offsets and access, and subtract the rest, each part with its offset.
func TestMappingsSame(t *testing.T) {
	rw, r := platform.ReadWrite, platform.Read
	var m mappings
	m.add(0x10000, 0x14000, 0x0, rw)    // offsets 0x0..0x4000
	m.add(0x14000, 0x16000, 0x4000, rw) // merged with the first: contiguous offsets
	m.add(0x20000, 0x22000, 0x9000, r)  // not contiguous: its own
	m.add(0x22000, 0x23000, 0x20000, r) // likewise
	if len(m.segs) != 3 || m.segs[0] != (segment{0x10000, 0x16000, 0, rw}) {
		t.Fatalf("segs = %+v, want the first two merged", m.segs)
	}
	want := []platform.FileMapping{
		{Addr: 0x11000, File: platform.FileRange{Start: 0x1000, End: 0x3000}, Access: rw},  // same
		{Addr: 0x13000, File: platform.FileRange{Start: 0x7000, End: 0x8000}, Access: rw},  // other offset
		{Addr: 0x20000, File: platform.FileRange{Start: 0x9000, End: 0xb000}, Access: rw},  // other access
		{Addr: 0x22000, File: platform.FileRange{Start: 0x20000, End: 0x21000}, Access: r}, // same
		{Addr: 0x30000, File: platform.FileRange{Start: 0x30000, End: 0x31000}, Access: r}, // not mapped
	}
	same := m.same(want)
	if exp := []segment{{0x11000, 0x13000, 0x1000, rw}, {0x22000, 0x23000, 0x20000, r}}; !reflect.DeepEqual(same, exp) {
		t.Fatalf("same = %+v, want %+v", same, exp)
	}
	gone := subtract(m.segs, same)
	exp := []segment{{0x10000, 0x11000, 0, rw}, {0x13000, 0x16000, 0x3000, rw}, {0x20000, 0x22000, 0x9000, r}}
	if !reflect.DeepEqual(gone, exp) {
		t.Fatalf("subtract = %+v, want %+v", gone, exp)
	}
}
