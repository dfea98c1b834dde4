package mm

import (
	"runtime"
	"testing"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// countingAS counts the calls the memory manager makes into the platform address space
// (each a stub request on ptrace and systrap; a batch is one).
type countingAS struct {
	platform.AddressSpace
	calls int
}

func (c *countingAS) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType, precommit bool) error {
	c.calls++
	return c.AddressSpace.MapFile(addr, fr, at, precommit)
}

func (c *countingAS) Unmap(addr, length uintptr) error {
	c.calls++
	return c.AddressSpace.Unmap(addr, length)
}

func (c *countingAS) Protect(addr, length uintptr, at platform.AccessType) error {
	c.calls++
	return c.AddressSpace.Protect(addr, length, at)
}

func (c *countingAS) MapFiles(ms []platform.FileMapping) error {
	c.calls++
	return c.AddressSpace.(platform.MapBatcher).MapFiles(ms)
}

func (c *countingAS) ProtectAll(ps []platform.Protection) error {
	c.calls++
	return c.AddressSpace.(platform.MapBatcher).ProtectAll(ps)
}

func (c *countingAS) Batched() bool {
	b, ok := c.AddressSpace.(platform.MapBatcher)
	return ok && b.Batched()
}

// onPlatforms runs test on ptrace and on systrap (mappings in batches).
func onPlatforms(t *testing.T, test func(t *testing.T, m *MemoryManager, p platform.Platform)) {
	for _, pl := range []struct {
		name string
		make func(int) (*ptrace.Platform, error)
	}{{"ptrace", ptrace.New}, {"systrap", ptrace.NewSystrap}} {
		t.Run(pl.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			m, p := newMMOn(t, pl.make)
			test(t, m, p)
		})
	}
}

// TestTouchingAMegabyteFaultsOnce: an application writing every page of 1 MiB of fresh
// anonymous memory (aligned) faults once, and the Sentry maps the whole of it in one
// call; mincore still shows only what was touched as resident, and munmap is one call.
func TestTouchingAMegabyteFaultsOnce(t *testing.T) {
	onPlatforms(t, func(t *testing.T, m *MemoryManager, p platform.Platform) {
		// rdi = start, rcx = count: 1: movq $7,(%rdi); add $8192,%rdi; loop 1b; syscall
		code := []byte{0x48, 0xc7, 0x07, 0x07, 0x00, 0x00, 0x00, 0x48, 0x81, 0xc7, 0x00, 0x20, 0x00, 0x00, 0xe2, 0xf0, 0x0f, 0x05}
		text, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite})
		m.CopyOut(text, code)
		if err := m.MProtect(text, pageSize, platform.ReadExec); err != nil {
			t.Fatal(err)
		}
		const size = anonFaultAround * pageSize
		data, err := m.MMap(MMapOpts{Addr: 0x40000000, Fixed: true, Length: size, Perms: platform.ReadWrite})
		if err != nil {
			t.Fatal(err)
		}
		cas := &countingAS{AddressSpace: m.as}
		m.as = cas
		st := arch.NewState()
		// Every other page: the pages between must not show as resident.
		st.Regs.Rip, st.Regs.Rdi, st.Regs.Rcx = uint64(text), uint64(data), anonFaultAround/2
		c := p.NewContext()
		defer c.Release()
		faults, calls := 0, 0 // in the data
		for {
			ev, err := c.Switch(cas.AddressSpace, st)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == platform.EventSyscall {
				break
			}
			if ev.Kind != platform.EventFault {
				t.Fatalf("event %+v", ev)
			}
			before := cas.calls
			if err := m.HandleFault(ev.Addr, ev.Access); err != nil {
				t.Fatalf("fault at %#x: %v", ev.Addr, err)
			}
			if ev.Addr >= data && ev.Addr < data+size { // not the code's first fetch
				faults++
				calls += cas.calls - before
			}
		}
		if faults != 1 || calls != 1 {
			t.Errorf("writing %d pages of 1 MiB took %d faults and %d platform calls, want 1 and 1", anonFaultAround/2, faults, calls)
		}
		res, err := m.Resident(data, size)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if want := byte(1 - i%2); r != want {
				t.Fatalf("mincore of page %d = %d, want %d (only written pages are resident)", i, r, want)
			}
		}
		cas.calls = 0
		if err := m.MUnmap(data, size); err != nil {
			t.Fatal(err)
		}
		if cas.calls != 1 {
			t.Errorf("munmap of 1 MiB took %d platform calls, want 1", cas.calls)
		}
	})
}

// TestSparseTouchIsNotOvercommitted: a fault in a huge reservation (1 TiB mapped
// PROT_NONE, then made writable) populates one bounded chunk, not the region.
func TestSparseTouchIsNotOvercommitted(t *testing.T) {
	m, _ := newMM(t)
	const size = 1 << 40
	addr, err := m.MMap(MMapOpts{Length: size, Perms: platform.NoAccess})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MProtect(addr, size, platform.ReadWrite); err != nil {
		t.Fatal(err)
	}
	used := m.mf.Used()
	if err := m.HandleFault(addr+size/2+123, platform.AccessType{Write: true}); err != nil {
		t.Fatal(err)
	}
	if got := m.mf.Used() - used; got > anonFaultAround*pageSize {
		t.Errorf("one fault in 1 TiB allocated %d bytes, want at most %d", got, anonFaultAround*pageSize)
	}
	if _, rss := m.Usage(); rss > anonFaultAround*pageSize {
		t.Errorf("RSS after one fault in 1 TiB is %d, want at most %d", rss, anonFaultAround*pageSize)
	}
}

// TestForkOfABigHeapCostsTwoCalls: forking a process with 16 MiB of written heap makes
// a bounded number of platform calls, whatever the heap's size: on systrap one batch to
// write-protect the parent and one to map the child; on ptrace one write-protection per
// run of VMAs and nothing for the child (its pages are mapped as it touches them).
func TestForkOfABigHeapCostsTwoCalls(t *testing.T) {
	onPlatforms(t, func(t *testing.T, m *MemoryManager, p platform.Platform) {
		const size = 16 << 20
		heap, _ := m.MMap(MMapOpts{Length: size, Perms: platform.ReadWrite})
		for a := heap; a < heap+size; a += pageSize {
			if _, err := m.CopyOut(a, []byte{1}); err != nil {
				t.Fatal(err)
			}
		}
		pas := &countingAS{AddressSpace: m.as}
		m.as = pas
		as, err := p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		cas := &countingAS{AddressSpace: as}
		c, err := m.Fork(cas, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		want := 1 // the child's batch
		if !cas.Batched() {
			want = 0
		}
		if pas.calls != 1 || cas.calls != want {
			t.Errorf("fork of a 16 MiB heap made %d calls in the parent and %d in the child, want 1 and %d", pas.calls, cas.calls, want)
		}
		if got := readByte(t, c, heap+size-pageSize); got != 1 {
			t.Errorf("child reads %d, want 1", got)
		}
	})
}
