package pgalloc

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

func newFile(t *testing.T, size uint64) *MemoryFile {
	t.Helper()
	f, err := New("test", size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestAllocateFreeReuse(t *testing.T) {
	f := newFile(t, 16*pageSize)
	f.warmLimit = 0 // every freed range goes back to the host
	a, _ := f.Allocate(2 * pageSize)
	b, _ := f.Allocate(pageSize)
	if a.Start != 0 || b.Start != 2*pageSize {
		t.Fatalf("allocations %v %v, want consecutive from 0", a, b)
	}
	f.Slice(a)[0] = 7
	f.Free(a)
	c, _ := f.Allocate(pageSize)
	if c.Start != 0 {
		t.Errorf("freed range not reused first-fit: got %v", c)
	}
	if f.Slice(c)[0] != 0 {
		t.Error("reused page is not zeroed")
	}
	if got := f.Used(); got != 2*pageSize {
		t.Errorf("Used = %d, want %d", got, 2*pageSize)
	}
}

func TestFreeMergesNeighbours(t *testing.T) {
	f := newFile(t, 16*pageSize)
	f.warmLimit = 0 // every freed range goes back to the host
	var rs []platform.FileRange
	for i := 0; i < 3; i++ {
		r, _ := f.Allocate(pageSize)
		rs = append(rs, r)
	}
	f.Free(rs[0])
	f.Free(rs[2])
	f.Free(rs[1])
	if len(f.free) != 1 || f.free[0] != (platform.FileRange{Start: 0, End: 3 * pageSize}) {
		t.Errorf("free list = %v, want one merged range", f.free)
	}
}

func TestAllocateErrors(t *testing.T) {
	f := newFile(t, 4*pageSize)
	if _, err := f.Allocate(0); err == nil {
		t.Error("Allocate(0) succeeded")
	}
	if _, err := f.Allocate(100); err == nil {
		t.Error("Allocate of a partial page succeeded")
	}
	if _, err := f.Allocate(8 * pageSize); err != unix.ENOMEM {
		t.Errorf("Allocate beyond the file = %v, want ENOMEM", err)
	}
}

func TestSharedPageFreedOnce(t *testing.T) {
	f := newFile(t, 16*pageSize)
	a, _ := f.Allocate(3 * pageSize)
	mid := platform.FileRange{Start: a.Start + pageSize, End: a.Start + 2*pageSize}
	f.IncRef(mid) // the middle page is shared by a second holder
	f.Slice(mid)[0] = 9
	f.Free(a)
	if got := f.Used(); got != pageSize {
		t.Fatalf("after the first holder frees, %d bytes used, want the shared page's %d", got, pageSize)
	}
	if f.Slice(mid)[0] != 9 {
		t.Fatal("the shared page lost its bytes when its first holder freed it")
	}
	f.Free(mid)
	if got := f.Used(); got != 0 {
		t.Fatalf("after the last holder frees, %d bytes used, want 0", got)
	}
}

// TestRefs: Refs counts each page's holders; a page is freed with the last.
func TestRefs(t *testing.T) {
	f := newFile(t, 16*pageSize)
	a, _ := f.Allocate(3 * pageSize)
	f.IncRef(platform.FileRange{Start: a.Start + pageSize, End: a.End})
	f.IncRef(platform.FileRange{Start: a.Start + 2*pageSize, End: a.End})
	if got := f.Refs(a); got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("Refs = %v, want [1 2 3]", got)
	}
	f.Free(a)
	if got := f.Refs(platform.FileRange{Start: a.Start + pageSize, End: a.End}); got[0] != 1 || got[1] != 2 {
		t.Fatalf("Refs after one Free = %v, want [1 2]", got)
	}
	if f.Used() != 2*pageSize {
		t.Fatalf("Used = %d after freeing the page held once, want %d", f.Used(), 2*pageSize)
	}
	f.Free(platform.FileRange{Start: a.Start + pageSize, End: a.End})
	f.Free(platform.FileRange{Start: a.Start + 2*pageSize, End: a.End})
	if f.Used() != 0 {
		t.Fatalf("Used = %d once every holder let go, want 0", f.Used())
	}
}

// TestWarmReuse: freed pages keep their memory (no hole) up to the limit and
// AllocateResident hands them out again, most recently freed first, with their memory
// (Allocate never: its pages are holes); past the limit the oldest go back to the host.
func TestWarmReuse(t *testing.T) {
	f := newFile(t, 64*pageSize)
	f.warmLimit = 4 * pageSize
	a, _ := f.Allocate(2 * pageSize)
	b, _ := f.Allocate(3 * pageSize)
	f.Slice(a)[0], f.Slice(b)[pageSize] = 7, 8
	f.Free(a)
	if d := f.Data(a); len(d) == 0 {
		t.Fatal("a warm range lost its memory (a hole was punched)")
	}
	if got := f.Used(); got != 3*pageSize {
		t.Fatalf("Used = %d with a range warm, want %d", got, 3*pageSize)
	}
	c, _ := f.AllocateResident(2 * pageSize)
	if c != a {
		t.Fatalf("Allocate = %v, want the warm range %v", c, a)
	}
	if d := f.Data(c); len(d) != 1 || d[0] != (platform.FileRange{Start: c.Start, End: c.Start + pageSize}) {
		t.Fatalf("a reused warm range holds data %v, want its written first page (no hole punched)", d)
	}
	f.Slice(c)[0] = 7
	f.Free(c)
	f.Free(b) // 2+3 pages: a's go back to the host to make room
	if d := f.Data(a); len(d) != 0 {
		t.Fatalf("the oldest warm range kept its memory past the limit: data %v", d)
	}
	if f.warmBytes != 3*pageSize || len(f.warm) != 1 || f.warm[0] != b {
		t.Fatalf("warm = %v (%d bytes), want only %v", f.warm, f.warmBytes, b)
	}
	if len(f.free) != 1 || f.free[0] != a {
		t.Fatalf("free list = %v, want the cold range %v", f.free, a)
	}
	if got := f.Used(); got != 0 {
		t.Fatalf("Used = %d once all is freed, want 0", got)
	}
	if h, _ := f.Allocate(pageSize); h.Start >= b.Start && h.Start < b.End || len(f.Data(h)) != 0 {
		t.Fatalf("Allocate = %v (data %v), want a hole, not the warm %v", h, f.Data(h), b)
	}
	if d, _ := f.AllocateResident(pageSize); d.Start != b.Start {
		t.Fatalf("AllocateResident(1 page) = %v, want the start of the warm range %v", d, b)
	}
}
