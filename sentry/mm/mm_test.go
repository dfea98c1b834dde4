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
	t.Helper()
	mf, err := pgalloc.New("mm-test", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ptrace.New(mf.FD())
	if err != nil {
		t.Fatal(err)
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
