package mm

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
)

func newMM(t *testing.T) (*MemoryManager, platform.Platform) {
	return newMMOn(t, ptrace.New)
}

// newMMOn is newMM on the platform newPlatform makes (systrap: mappings in batches).
func newMMOn(t *testing.T, newPlatform func(int) (*ptrace.Platform, error)) (*MemoryManager, platform.Platform) {
	t.Helper()
	mf, err := pgalloc.New("mm-test", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlatform(mf.FD())
	if err != nil {
		mf.Close()
		t.Skip(err)
	}
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	m := New(mf, p, as)
	m.SetLayout(0x7f0000000000, 0x600000)
	t.Cleanup(func() { m.Release(); p.Close(); mf.Close() })
	return m, p
}

func TestCopyOutInRoundTrip(t *testing.T) {
	m, _ := newMM(t)
	addr, err := m.MMap(MMapOpts{Length: 3 * pageSize, Perms: platform.ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("moat"), 2000) // spans pages
	if n, err := m.CopyOut(addr+100, msg); err != nil || n != len(msg) {
		t.Fatalf("CopyOut = %d, %v", n, err)
	}
	got := make([]byte, len(msg))
	if _, err := m.CopyIn(addr+100, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("CopyIn = %v, data equal %v", err, bytes.Equal(got, msg))
	}
}

func TestCopyFaults(t *testing.T) {
	m, _ := newMM(t)
	ro, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.Read})
	rw, _ := m.MMap(MMapOpts{Addr: ro + pageSize, Length: pageSize, Perms: platform.ReadWrite, Fixed: true})
	for _, tc := range []struct {
		name string
		err  error
		n    int
		call func() (int, error)
	}{
		{"read unmapped", unix.EFAULT, 0, func() (int, error) { return m.CopyIn(0x10000, make([]byte, 8)) }},
		{"write read-only", unix.EFAULT, 0, func() (int, error) { return m.CopyOut(ro, []byte{1}) }},
		{"write past the end", unix.EFAULT, 8, func() (int, error) { return m.CopyOut(rw+pageSize-8, make([]byte, 16)) }},
		{"wrap around", unix.EFAULT, 0, func() (int, error) { return m.CopyIn(^uintptr(0)-4, make([]byte, 16)) }},
	} {
		n, err := tc.call()
		if !errors.Is(err, tc.err) || n != tc.n {
			t.Errorf("%s: (%d, %v), want (%d, %v)", tc.name, n, err, tc.n, tc.err)
		}
	}
}

func TestCopyInString(t *testing.T) {
	m, _ := newMM(t)
	addr, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite})
	m.CopyOut(addr+pageSize-6, []byte("hello\x00"))
	if s, err := m.CopyInString(addr+pageSize-6, 255); err != nil || s != "hello" {
		t.Errorf("string ending at a page end: %q, %v", s, err)
	}
	m.CopyOut(addr, bytes.Repeat([]byte("x"), 20))
	if _, err := m.CopyInString(addr, 10); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Errorf("too long: %v, want ENAMETOOLONG", err)
	}
	m.CopyOut(addr+pageSize-3, []byte("abc"))
	if _, err := m.CopyInString(addr+pageSize-3, 255); !errors.Is(err, unix.EFAULT) {
		t.Errorf("unterminated before unmapped page: %v, want EFAULT", err)
	}
}

func TestMMapErrors(t *testing.T) {
	m, _ := newMM(t)
	a, _ := m.MMap(MMapOpts{Addr: 0x1000000, Length: pageSize, Perms: platform.Read, Fixed: true})
	for _, tc := range []struct {
		name string
		o    MMapOpts
		want error
	}{
		{"zero length", MMapOpts{Length: 0}, unix.ENOMEM},
		{"fixed misaligned", MMapOpts{Addr: 0x1000001, Length: pageSize, Fixed: true}, unix.EINVAL},
		{"fixed beyond the top", MMapOpts{Addr: m.max, Length: pageSize, Fixed: true}, unix.ENOMEM},
		{"noreplace over a mapping", MMapOpts{Addr: a, Length: pageSize, NoReplace: true}, unix.EEXIST},
	} {
		if _, err := m.MMap(tc.o); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := m.MUnmap(0x1000001, pageSize); !errors.Is(err, unix.EINVAL) {
		t.Errorf("munmap misaligned: %v", err)
	}
	if err := m.MUnmap(0x1000000, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("munmap of 0 bytes: %v", err)
	}
	if err := m.MProtect(0x2000000, pageSize, platform.Read); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("mprotect of unmapped: %v", err)
	}
}

func TestMMapHintAndGaps(t *testing.T) {
	m, _ := newMM(t)
	a, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.Read})
	b, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.Read})
	if a == b || b != a-pageSize {
		t.Errorf("top-down allocation gave %#x then %#x", a, b)
	}
	h, _ := m.MMap(MMapOpts{Addr: 0x3000000, Length: pageSize, Perms: platform.Read})
	if h != 0x3000000 {
		t.Errorf("free hint not taken: %#x", h)
	}
	h2, _ := m.MMap(MMapOpts{Addr: 0x3000000, Length: pageSize, Perms: platform.Read})
	if h2 == 0x3000000 {
		t.Error("occupied hint reused")
	}
}

func TestBrk(t *testing.T) {
	m, _ := newMM(t)
	if got := m.Brk(0); got != 0x600000 {
		t.Errorf("brk(0) = %#x", got)
	}
	if got := m.Brk(0x600000 + 3*pageSize + 5); got != 0x600000+3*pageSize+5 {
		t.Errorf("grow: %#x", got)
	}
	if _, err := m.CopyOut(0x600000+3*pageSize, []byte{1, 2, 3}); err != nil {
		t.Errorf("heap not writable: %v", err)
	}
	if got := m.Brk(0x500000); got != 0x600000+3*pageSize+5 {
		t.Errorf("below start: %#x, want unchanged", got)
	}
	m.Brk(0x600000 + pageSize)
	if _, err := m.CopyOut(0x600000+2*pageSize, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("shrunk heap still writable: %v", err)
	}
}

// TestDemandPaging runs code that writes across a fresh anonymous mapping and checks
// each fault is resolved, and that one fault maps its neighbours too.
func TestDemandPaging(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, p := newMM(t)
	// rdi = start, rcx = count: 1: movq $7,(%rdi); add $4096,%rdi; loop 1b; syscall
	code := []byte{0x48, 0xc7, 0x07, 0x07, 0x00, 0x00, 0x00, 0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0xe2, 0xf0, 0x0f, 0x05}
	text, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite})
	m.CopyOut(text, code)
	if err := m.MProtect(text, pageSize, platform.ReadExec); err != nil {
		t.Fatal(err)
	}
	data, _ := m.MMap(MMapOpts{Length: 64 * pageSize, Perms: platform.ReadWrite})
	st := arch.NewState()
	st.Regs.Rip, st.Regs.Rdi, st.Regs.Rcx = uint64(text), uint64(data), 64
	c := p.NewContext()
	faults := 0
	for {
		ev, err := c.Switch(m.AddressSpace(), st)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == platform.EventSyscall {
			break
		}
		if ev.Kind != platform.EventFault {
			t.Fatalf("event %+v", ev)
		}
		faults++
		if err := m.HandleFault(ev.Addr, ev.Access); err != nil {
			t.Fatalf("fault at %#x: %v", ev.Addr, err)
		}
	}
	if faults > 64/faultAround+2 {
		t.Errorf("%d faults for 64 pages; fault-around should make it about %d", faults, 64/faultAround+1)
	}
	for i := 0; i < 64; i++ {
		b := make([]byte, 1)
		m.CopyIn(data+uintptr(i)*pageSize, b)
		if b[0] != 7 {
			t.Fatalf("page %d holds %d, want 7", i, b[0])
		}
	}
}

// forkMM forks m into a new address space of p, released with the test.
func forkMM(t *testing.T, m *MemoryManager, p platform.Platform) *MemoryManager {
	t.Helper()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Fork(as, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release) // a second Release does nothing
	return c
}

func readByte(t *testing.T, m *MemoryManager, addr uintptr) byte {
	t.Helper()
	b := make([]byte, 1)
	if _, err := m.CopyIn(addr, b); err != nil {
		t.Fatalf("CopyIn(%#x): %v", addr, err)
	}
	return b[0]
}

// TestForkSharesThenCopies: fork copies nothing; the first write of either side to a
// page gets it a copy, and the other side keeps the old bytes; once a side holds a page
// alone, writing it copies nothing.
func TestForkSharesThenCopies(t *testing.T) {
	m, p := newMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 32 * pageSize, Perms: platform.ReadWrite}) // not copied whole
	for i := uintptr(0); i < 8; i++ {
		m.CopyOut(addr+i*pageSize, []byte{byte(i + 1)})
	}
	before := m.mf.Used()
	c := forkMM(t, m, p)
	if used := m.mf.Used(); used != before {
		t.Errorf("fork allocated %d bytes, want none", used-before)
	}
	fr := pageOf(m, addr)
	if n := m.mf.Refs(fr)[0]; n != 2 {
		t.Errorf("a private page after fork has %d references, want 2", n)
	}
	if _, err := c.CopyOut(addr+pageSize, []byte{42}); err != nil {
		t.Fatal(err)
	}
	if got := readByte(t, m, addr+pageSize); got != 2 {
		t.Errorf("parent sees %d after the child's write, want 2", got)
	}
	if got := readByte(t, c, addr+pageSize); got != 42 {
		t.Errorf("child sees %d after its write, want 42", got)
	}
	if got := readByte(t, c, addr+2*pageSize); got != 3 {
		t.Errorf("child sees %d in a page it did not write, want 3", got)
	}
	if pageOf(c, addr+pageSize) == pageOf(m, addr+pageSize) {
		t.Error("the child's written page is still the parent's")
	}
	if n := m.mf.Refs(pageOf(m, addr+pageSize))[0]; n != 1 {
		t.Errorf("the parent's page has %d references after the child copied it, want 1", n)
	}
	// The parent now holds that page alone: writing it copies nothing.
	used := m.mf.Used()
	old := pageOf(m, addr+pageSize)
	m.CopyOut(addr+pageSize, []byte{43})
	if pageOf(m, addr+pageSize) != old || m.mf.Used() != used {
		t.Error("writing a page held alone copied it")
	}
	if got := readByte(t, c, addr+pageSize); got != 42 {
		t.Errorf("child sees %d after the parent's write, want 42", got)
	}
}

// TestForkFreesWithTheLastHolder: pages are freed when the last address space that
// holds them goes, whichever it is, and a fork-and-exit loop does not grow the memory
// file.
func TestForkFreesWithTheLastHolder(t *testing.T) {
	m, p := newMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 64 * pageSize, Perms: platform.ReadWrite})
	for i := uintptr(0); i < 64; i++ {
		m.CopyOut(addr+i*pageSize, []byte{1})
	}
	base := m.mf.Used()
	for i := 0; i < 50; i++ {
		c := forkMM(t, m, p)
		for j := uintptr(0); j < 64; j += 3 {
			c.CopyOut(addr+j*pageSize, []byte{2})
		}
		m.CopyOut(addr+uintptr(i%64)*pageSize, []byte{3})
		c.Release()
	}
	if used := m.mf.Used(); used != base {
		t.Errorf("after 50 forks and exits the memory file holds %d more bytes", int64(used)-int64(base))
	}
	// The parent goes first: the child's pages survive it.
	c := forkMM(t, m, p)
	m.Release() // (newMM's cleanup releases it again: that does nothing)
	if got := readByte(t, c, addr+60*pageSize); got != 1 {
		t.Errorf("child sees %d after the parent went, want 1", got)
	}
	if n := c.mf.Refs(pageOf(c, addr))[0]; n != 1 {
		t.Errorf("the child's page has %d references once the parent went, want 1", n)
	}
	c.Release()
	if used := c.mf.Used(); used != 0 {
		t.Errorf("%d bytes still allocated once both went", used)
	}
}

// TestForkKeepsSharedMemoryShared: a shared mapping's pages are the same in both.
func TestForkKeepsSharedMemoryShared(t *testing.T) {
	m, p := newMM(t)
	obj := NewShared(m.mf, 2*pageSize)
	defer obj.DecRef()
	addr, err := m.MMap(MMapOpts{Length: 2 * pageSize, Perms: platform.ReadWrite, Shared: obj})
	if err != nil {
		t.Fatal(err)
	}
	m.CopyOut(addr, []byte{1})
	c := forkMM(t, m, p)
	c.CopyOut(addr, []byte{9})
	c.CopyOut(addr+pageSize, []byte{8})
	if got := readByte(t, m, addr); got != 9 {
		t.Errorf("parent sees %d in shared memory the child wrote, want 9", got)
	}
	if got := readByte(t, m, addr+pageSize); got != 8 {
		t.Errorf("parent sees %d in a shared page the child populated, want 8", got)
	}
}

// TestForkAdvice: MADV_DONTFORK leaves a range out of the child, MADV_WIPEONFORK gives
// it to the child empty; only private anonymous memory can be wiped.
func TestForkAdvice(t *testing.T) {
	m, p := newMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 4 * pageSize, Perms: platform.ReadWrite})
	for i := uintptr(0); i < 4; i++ {
		m.CopyOut(addr+i*pageSize, []byte{7})
	}
	if err := m.MAdviseFork(addr, pageSize, DontFork); err != nil {
		t.Fatal(err)
	}
	if err := m.MAdviseFork(addr+2*pageSize, pageSize, WipeOnFork); err != nil {
		t.Fatal(err)
	}
	c := forkMM(t, m, p)
	if _, err := c.CopyIn(addr, make([]byte, 1)); !errors.Is(err, unix.EFAULT) {
		t.Errorf("a DONTFORK page in the child: %v, want EFAULT", err)
	}
	if got := readByte(t, c, addr+2*pageSize); got != 0 {
		t.Errorf("a WIPEONFORK page in the child holds %d, want 0", got)
	}
	if got := readByte(t, c, addr+3*pageSize); got != 7 {
		t.Errorf("an ordinary page in the child holds %d, want 7", got)
	}
	if got := readByte(t, m, addr+2*pageSize); got != 7 {
		t.Errorf("the parent's WIPEONFORK page holds %d, want 7", got)
	}
	obj := NewShared(m.mf, pageSize)
	defer obj.DecRef()
	sh, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite, Shared: obj})
	if err := m.MAdviseFork(sh, pageSize, WipeOnFork); !errors.Is(err, unix.EINVAL) {
		t.Errorf("WIPEONFORK on shared memory: %v, want EINVAL", err)
	}
	m.MUnmap(addr+3*pageSize, pageSize)
	if err := m.MAdviseFork(addr+2*pageSize, 2*pageSize, KeepOnFork); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("KEEPONFORK over a hole: %v, want ENOMEM", err)
	}
}

// TestForkWriteProtectsTheParent runs code in the parent after a fork that writes
// every page of a mapping: each write must fault (the parent's mapping is read-only)
// and get the parent its own page, so the child keeps the bytes of the fork.
func TestForkWriteProtectsTheParent(t *testing.T) {
	for _, pl := range []struct {
		name string
		make func(int) (*ptrace.Platform, error)
	}{{"ptrace", ptrace.New}, {"systrap", ptrace.NewSystrap}} {
		t.Run(pl.name, func(t *testing.T) { testForkWriteProtectsTheParent(t, pl.make) })
	}
}

func testForkWriteProtectsTheParent(t *testing.T, newPlatform func(int) (*ptrace.Platform, error)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, p := newMMOn(t, newPlatform)
	// rdi = start, rcx = count: 1: movq $7,(%rdi); add $4096,%rdi; loop 1b; syscall
	code := []byte{0x48, 0xc7, 0x07, 0x07, 0x00, 0x00, 0x00, 0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0xe2, 0xf0, 0x0f, 0x05}
	text, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite})
	m.CopyOut(text, code)
	m.MProtect(text, pageSize, platform.ReadExec)
	data, _ := m.MMap(MMapOpts{Length: 64 * pageSize, Perms: platform.ReadWrite})
	run := func() int {
		st := arch.NewState()
		st.Regs.Rip, st.Regs.Rdi, st.Regs.Rcx = uint64(text), uint64(data), 64
		ctx := p.NewContext()
		defer ctx.Release()
		faults := 0
		for {
			ev, err := ctx.Switch(m.AddressSpace(), st)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == platform.EventSyscall {
				return faults
			}
			faults++
			if err := m.HandleFault(ev.Addr, ev.Access); err != nil {
				t.Fatalf("fault at %#x: %v", ev.Addr, err)
			}
		}
	}
	run() // populates and maps the pages writable
	for i := uintptr(0); i < 64; i++ {
		m.CopyOut(data+i*pageSize, []byte{1})
	}
	c := forkMM(t, m, p)
	if faults := run(); faults < 4 {
		t.Errorf("%d faults writing 64 pages after fork; the parent's mapping stayed writable?", faults)
	}
	for i := uintptr(0); i < 64; i++ {
		if got := readByte(t, c, data+i*pageSize); got != 1 {
			t.Fatalf("child's page %d holds %d after the parent wrote, want 1", i, got)
		}
		if got := readByte(t, m, data+i*pageSize); got != 7 {
			t.Fatalf("parent's page %d holds %d, want 7", i, got)
		}
	}
	// A second child writes too (its pages are mapped at fork where the platform
	// batches): the parent keeps its own bytes.
	m.CopyOut(data, []byte{1})
	c2 := forkMM(t, m, p)
	m, c2 = c2, m // run the same code in the child
	run()
	m, c2 = c2, m
	if got := readByte(t, m, data); got != 1 {
		t.Errorf("parent's page holds %d after the child wrote, want 1", got)
	}
	if got := readByte(t, c2, data+63*pageSize); got != 7 {
		t.Errorf("child's page holds %d after it wrote, want 7", got)
	}
}

// TestForkCopiesSmallMappingsAndTheStack: a single-threaded parent's small writable
// mappings and the pages at its stack pointer are copied at fork, not shared; a
// multithreaded parent's small mappings are shared like the rest.
func TestForkCopiesSmallMappingsAndTheStack(t *testing.T) {
	m, p := newMM(t)
	small, _ := m.MMap(MMapOpts{Length: 4 * pageSize, Perms: platform.ReadWrite})
	stack, _ := m.MMap(MMapOpts{Length: 64 * pageSize, Perms: platform.ReadWrite})
	for i := uintptr(0); i < 4; i++ {
		m.CopyOut(small+i*pageSize, []byte{1})
	}
	for i := uintptr(0); i < 64; i++ {
		m.CopyOut(stack+i*pageSize, []byte{2})
	}
	as, _ := p.NewAddressSpace()
	sp := stack + 40*pageSize + 100
	c, err := m.Fork(as, sp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	for i := uintptr(0); i < 4; i++ {
		if pageOf(c, small+i*pageSize) == pageOf(m, small+i*pageSize) || m.mf.Refs(pageOf(m, small+i*pageSize))[0] != 1 {
			t.Errorf("small mapping's page %d is shared after fork", i)
		}
	}
	for i := uintptr(0); i < 64; i++ {
		shared := pageOf(c, stack+i*pageSize) == pageOf(m, stack+i*pageSize)
		if want := i != 40 && i != 39; shared != want {
			t.Errorf("stack page %d shared %v, want %v", i, shared, want)
		}
	}
	if got := readByte(t, c, stack+40*pageSize); got != 2 {
		t.Errorf("child's copy of the stack page holds %d, want 2", got)
	}
	m.IncUsers() // a second thread
	defer m.users.Add(-1)
	as2, _ := p.NewAddressSpace()
	c2, err := m.Fork(as2, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Release()
	if pageOf(c2, small) != pageOf(m, small) {
		t.Error("a multithreaded parent's small mapping was copied at fork")
	}
}

// TestForkCopiesReuseFreedPagesKeepingHoles: a fork's copies of small mappings reuse the
// pages the last child freed (warm, at the same offsets: a recycled address space
// still maps them there), and a page the parent never wrote (a hole of the memory file)
// is a hole in the copy too, not the sibling's old bytes.
func TestForkCopiesReuseFreedPagesKeepingHoles(t *testing.T) {
	m, p := newMM(t)
	small, _ := m.MMap(MMapOpts{Length: 4 * pageSize, Perms: platform.ReadWrite})
	m.CopyOut(small, []byte{1})
	m.CopyOut(small+2*pageSize, []byte{3})
	if err := m.HandleFault(small+pageSize, platform.Read); err != nil { // populated, never written
		t.Fatal(err)
	}
	fork := func() *MemoryManager {
		as, _ := p.NewAddressSpace()
		c, err := m.Fork(as, 0)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := fork()
	first := pageOf(c, small)
	if first == pageOf(m, small) {
		t.Fatal("the small mapping was not copied")
	}
	c.CopyOut(small+pageSize, []byte{7}) // the child writes the parent's hole
	c.Release()
	c = fork()
	defer c.Release()
	if pageOf(c, small) != first {
		t.Errorf("the second child's copy is at %v, want the first's freed page %v", pageOf(c, small), first)
	}
	if pg, ok := c.pages.lookup(small + pageSize); ok && len(c.mf.Data(pg)) != 0 {
		t.Errorf("the copy of a hole holds data %v", c.mf.Data(pg))
	}
	if got := readByte(t, c, small+pageSize); got != 0 { // (this read gives the hole memory)
		t.Errorf("the second child reads %d where the parent never wrote, want 0", got)
	}
	if readByte(t, c, small) != 1 || readByte(t, c, small+2*pageSize) != 3 {
		t.Error("the second child's copy lost the parent's bytes")
	}
}

// pageOf returns the memory-file page of m's populated page at addr (a zero range if
// it is not populated).
func pageOf(m *MemoryManager, addr uintptr) platform.FileRange {
	fr, _ := m.pages.lookup(addr)
	return fr
}

// TestMRemapMovesPopulatedRuns: mremap moving and shrinking a range whose run of pages
// MADV_DONTNEED split keeps the bytes of the pages that fit, frees the others, and
// counts RSS by the pages left.
func TestMRemapMovesPopulatedRuns(t *testing.T) {
	m, _ := newMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 8 * pageSize, Perms: platform.ReadWrite})
	for i := uintptr(0); i < 8; i++ {
		m.CopyOut(addr+i*pageSize, []byte{byte(i + 1)}) // the first populates all 8
	}
	if err := m.MAdviseDontNeed(addr+3*pageSize, pageSize); err != nil {
		t.Fatal(err)
	}
	used := m.mf.Used()
	dst := addr + 64*pageSize
	if got, err := m.MRemap(addr, 8*pageSize, 6*pageSize, true, true, false, dst); err != nil || got != dst {
		t.Fatalf("MRemap = %#x, %v, want %#x", got, err, dst)
	}
	if _, rss := m.Usage(); rss != 5*pageSize {
		t.Errorf("RSS after the move is %d pages, want 5", rss/pageSize)
	}
	if freed := used - m.mf.Used(); freed != 2*pageSize {
		t.Errorf("the move freed %d pages, want the 2 past the new size", freed/pageSize)
	}
	for i := uintptr(0); i < 6; i++ {
		want := byte(i + 1)
		if i == 3 {
			want = 0
		}
		if got := readByte(t, m, dst+i*pageSize); got != want {
			t.Errorf("moved page %d holds %d, want %d", i, got, want)
		}
	}
	if peak := m.MaxRSS(); peak < 8*pageSize {
		t.Errorf("MaxRSS = %d pages, want at least 8", peak/pageSize)
	}
}
