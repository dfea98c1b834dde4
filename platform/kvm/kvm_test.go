package kvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	pt "github.com/moat-sandbox/moat/platform/internal/platformtest"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// env is a platform over a fresh memory file, with the test's own view of that file.
type env struct {
	*pt.MemFile
	p *Platform
}

// newEnv makes a platform, or skips the test where the host offers no KVM.
func newEnv(t testing.TB) *env {
	t.Helper()
	m := pt.NewMemFile(t)
	p, err := New(m.FD)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &env{MemFile: m, p: p}
}

// program maps code at pt.CodeAddr in a new address space of the platform.
func (e *env) program(t testing.TB, code []byte) (platform.AddressSpace, *arch.State, platform.FileRange) {
	t.Helper()
	return e.Program(t, e.p, code)
}

// TestStructSizes: the ioctl numbers encode these sizes.
func TestStructSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_regs", unsafe.Sizeof(kvmRegs{}), 144},
		{"kvm_sregs", unsafe.Sizeof(kvmSregs{}), 312},
		{"kvm_vcpu_events", unsafe.Sizeof(kvmVCPUEvents{}), 64},
		{"kvm_userspace_memory_region", unsafe.Sizeof(kvmUserspaceMemoryRegion{}), 32},
		{"kvm_cpuid_entry2", unsafe.Sizeof(kvmCPUIDEntry2{}), 40},
		{"kvm_xcrs", unsafe.Sizeof(kvmXCRs{}), 392},
		{"kvm_debugregs", unsafe.Sizeof(kvmDebugRegs{}), 128},
		{"kvm_run.s.regs offset", unsafe.Offsetof(kvmRun{}.Regs), 304},
		{"kvm_run.kvm_valid_regs offset", unsafe.Offsetof(kvmRun{}.ValidRegs), 288},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestSyscallFaultInterrupt runs a program that makes a system call, writes to an
// unmapped page and then loops, and checks each event and the registers at each.
func TestSyscallFaultInterrupt(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	code := pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.MovRaxToData, pt.JmpSelf)
	as, st, _ := e.program(t, code)
	c := e.p.NewContext()
	defer c.Release()
	st.Regs.Rdi, st.Regs.Rsi, st.Regs.R10 = 11, 22, 44

	ev := pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventSyscall {
		t.Fatalf("first event = %+v, want syscall (rip %#x)", ev, st.Regs.Rip)
	}
	if nr := arch.SyscallNo(&st.Regs); nr != unix.SYS_GETPID {
		t.Errorf("syscall number = %d, want %d", nr, unix.SYS_GETPID)
	}
	if a := arch.SyscallArgs(&st.Regs); a[0] != 11 || a[1] != 22 || a[3] != 44 {
		t.Errorf("syscall args = %v", a)
	}
	if want := uint64(pt.CodeAddr + len(pt.MovEax39) + len(pt.SyscallInsn)); st.Regs.Rip != want {
		t.Errorf("rip = %#x, want %#x", st.Regs.Rip, want)
	}
	arch.SetReturn(&st.Regs, 0xdeadbeef)

	ev = pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr {
		t.Fatalf("second event = %+v, want a fault at %#x", ev, pt.DataAddr)
	}
	if ev.Info.Signo != int32(unix.SIGSEGV) || ev.Info.Code != arch.SEGV_MAPERR {
		t.Errorf("fault signal = %v", &ev.Info)
	}
	if ev.Access != (platform.AccessType{Write: true}) {
		t.Errorf("access of a store fault on an unmapped page = %v", ev.Access)
	}
	faultRip := uint64(pt.CodeAddr + len(pt.MovEax39) + len(pt.SyscallInsn))
	if st.Regs.Rip != faultRip {
		t.Errorf("rip at fault = %#x, want %#x (the faulting instruction)", st.Regs.Rip, faultRip)
	}

	data := e.Alloc(1)
	if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Interrupt()
	}()
	ev = pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventInterrupt {
		t.Fatalf("third event = %+v, want interrupt", ev)
	}
	loopRip := faultRip + uint64(len(pt.MovRaxToData))
	if st.Regs.Rip != loopRip {
		t.Errorf("rip when interrupted = %#x, want %#x (the loop)", st.Regs.Rip, loopRip)
	}
	if got := binary.LittleEndian.Uint64(e.Mem[data.Start:]); got != 0xdeadbeef {
		t.Errorf("memory file holds %#x, want the syscall's return value 0xdeadbeef", got)
	}
}

// TestRegistersRoundTrip checks that every general register, the fs and gs bases and
// the vector registers reach the application and come back.
func TestRegistersRoundTrip(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	as, st, _ := e.program(t, pt.Cat(pt.MovapsXmm4Xm3, pt.SyscallInsn))
	c := e.p.NewContext()
	defer c.Release()
	r := &st.Regs
	r.Rax, r.Rbx, r.Rdx, r.Rsi, r.Rdi, r.Rbp, r.Rsp = 1, 2, 3, 4, 5, 6, 7
	r.R8, r.R9, r.R10, r.R12, r.R13, r.R14, r.R15 = 8, 9, 10, 12, 13, 14, 15
	r.Fs_base, r.Gs_base = 0x7000_0000_1000, 0x7000_0000_2000
	r.Eflags |= 0x1 | 0x400 // CF, DF: the application's flags come back
	want := *r
	pattern := []byte("0123456789abcdef")
	copy(st.FP.XMM(3), pattern)

	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event = %v, want syscall", ev.Kind)
	}
	want.Orig_rax = 1
	want.Rax = ^uint64(unix.ENOSYS) + 1
	want.Rip += uint64(len(pt.MovapsXmm4Xm3) + len(pt.SyscallInsn))
	want.Rcx = want.Rip
	want.R11 = want.Eflags
	if *r != want {
		t.Errorf("registers after syscall:\n got %+v\nwant %+v", *r, want)
	}
	if !bytes.Equal(st.FP.XMM(4), pattern) {
		t.Errorf("xmm4 = %q, want %q copied from xmm3", st.FP.XMM(4), pattern)
	}
}

// TestFaultAccessTypes checks the access reported for an instruction fetch, a write to
// a read-only page, and the other synchronous signals.
func TestFaultAccessTypes(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	c := e.p.NewContext()
	defer c.Release()

	t.Run("fetch from unmapped page", func(t *testing.T) {
		as, st, _ := e.program(t, pt.JmpSelf)
		st.Regs.Rip = 0x600000
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventFault || ev.Addr != 0x600000 || !ev.Access.Execute {
			t.Errorf("event = %+v, want an execute fault at 0x600000", ev)
		}
	})
	t.Run("write to read-only page", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovRaxToData, pt.JmpSelf))
		if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.Read, false); err != nil {
			t.Fatal(err)
		}
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr || ev.Info.Code != arch.SEGV_ACCERR || !ev.Access.Write {
			t.Errorf("event = %+v, want a write fault (SEGV_ACCERR) at %#x", ev, pt.DataAddr)
		}
	})
	t.Run("execute from non-executable page", func(t *testing.T) {
		as, st, _ := e.program(t, pt.JmpSelf)
		if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
		st.Regs.Rip = pt.DataAddr
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventFault || ev.Info.Code != arch.SEGV_ACCERR || !ev.Access.Execute {
			t.Errorf("event = %+v, want an execute fault (SEGV_ACCERR)", ev)
		}
	})
	t.Run("protect removes write, then gives it back", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovRaxToData, pt.SyscallInsn))
		if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
		if err := as.Protect(pt.DataAddr, 4*pageSize, platform.Read); err != nil {
			t.Fatal(err) // a range with holes is fine
		}
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventFault || !ev.Access.Write {
			t.Errorf("event = %+v, want a write fault after Protect", ev)
		}
		if err := as.Protect(pt.DataAddr, pageSize, platform.ReadWrite); err != nil {
			t.Fatal(err)
		}
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Errorf("event = %+v, want the store done and the syscall", ev)
		}
	})
	t.Run("no access keeps the page for Protect", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovDataToRax, pt.SyscallInsn))
		data := e.Alloc(1)
		binary.LittleEndian.PutUint64(e.Mem[data.Start:], 0x1234)
		if err := as.MapFile(pt.DataAddr, data, platform.NoAccess, false); err != nil {
			t.Fatal(err)
		}
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventFault || !ev.Access.Read {
			t.Fatalf("event = %+v, want a read fault", ev)
		}
		if err := as.Protect(pt.DataAddr, pageSize, platform.Read); err != nil {
			t.Fatal(err)
		}
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 0x1234 {
			t.Errorf("event = %+v, rax %#x, want the page's 0x1234 read", ev, st.Regs.Orig_rax)
		}
	})
	t.Run("unmap", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovRaxToData, pt.JmpSelf))
		if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
		if err := as.Unmap(pt.DataAddr, pageSize); err != nil {
			t.Fatal(err)
		}
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventFault || ev.Info.Code != arch.SEGV_MAPERR {
			t.Errorf("event = %+v, want SEGV_MAPERR after Unmap", ev)
		}
	})
	for _, tc := range []struct {
		name string
		code []byte
		sig  unix.Signal
		si   int32
	}{
		{"pt.Ud2 raises SIGILL", pt.Ud2, unix.SIGILL, illIllopn},
		{"pt.Int3 raises SIGTRAP", pt.Int3, unix.SIGTRAP, arch.SI_KERNEL},
		{"pt.Hlt raises SIGSEGV", pt.Hlt, unix.SIGSEGV, arch.SI_KERNEL},
		{"divide by zero raises SIGFPE", []byte{0x31, 0xc9, 0xf7, 0xf1}, unix.SIGFPE, fpeIntdiv}, // xor %ecx,%ecx; div %ecx
		{"out raises SIGSEGV", []byte{0xe6, 0x10}, unix.SIGSEGV, arch.SI_KERNEL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, tc.code)
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(tc.sig) || ev.Info.Code != tc.si {
				t.Errorf("event = %+v (%v), want signal %v code %d", ev, &ev.Info, tc.sig, tc.si)
			}
		})
	}
	t.Run("int $0x80 raises SIGSEGV", func(t *testing.T) {
		// A #GP on hardware virtualization, as on Linux without IA32 emulation; PVM
		// (KVM without hardware virtualization) raises #UD for it, which signalFor
		// tells from ud2 by the instruction.
		as, st, _ := e.program(t, []byte{0xcd, 0x80})
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) || ev.Info.Code != arch.SI_KERNEL || st.Regs.Rip != pt.CodeAddr {
			t.Errorf("event = %+v (%v) at %#x, want SIGSEGV from the kernel at the instruction", ev, &ev.Info, st.Regs.Rip)
		}
	})
	t.Run("single step raises SIGTRAP TRAP_TRACE", func(t *testing.T) {
		as, st, _ := e.program(t, []byte{0x90, 0x90, 0x90})
		st.Regs.Eflags |= 0x100 // TF
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGTRAP) || ev.Info.Code != trapTrace || st.Regs.Rip != pt.CodeAddr+1 {
			t.Errorf("event = %+v at %#x, want SIGTRAP TRAP_TRACE after one instruction", ev, st.Regs.Rip)
		}
	})
}

// TestInterruptBeforeSwitch: an Interrupt with no Switch running makes the next one
// return at once, so a wake-up is never lost.
func TestInterruptBeforeSwitch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	as, st, _ := e.program(t, pt.JmpSelf)
	c := e.p.NewContext()
	defer c.Release()
	c.Interrupt()
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventInterrupt {
		t.Fatalf("event = %v, want interrupt", ev.Kind)
	}
	if st.Regs.Rip != pt.CodeAddr {
		t.Errorf("rip moved to %#x though nothing ran", st.Regs.Rip)
	}
	go func() { time.Sleep(20 * time.Millisecond); c.Interrupt() }()
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventInterrupt {
		t.Fatalf("event = %v, want interrupt", ev.Kind)
	}
}

// TestManyInterrupts: interrupts racing with Switch are never lost and never end a
// Switch with anything but an interrupt (the program only loops).
func TestManyInterrupts(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	as, st, _ := e.program(t, pt.JmpSelf)
	c := e.p.NewContext()
	defer c.Release()
	for i := 0; i < 200; i++ {
		done := make(chan struct{})
		go func() {
			if i%2 == 0 {
				runtime.Gosched()
			}
			c.Interrupt()
			close(done)
		}()
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventInterrupt || st.Regs.Rip != pt.CodeAddr {
			t.Fatalf("round %d: event = %+v at %#x, want interrupt in the loop", i, ev, st.Regs.Rip)
		}
		<-done
	}
}

// TestThreadsShareAddressSpace runs several threads in one address space, each on its
// own OS thread: they see each other's memory and keep their own registers.
func TestThreadsShareAddressSpace(t *testing.T) {
	e := newEnv(t)
	// mov %rdi,(%rsi); syscall; jmp back
	code := []byte{0x48, 0x89, 0x3e, 0x0f, 0x05, 0xeb, 0xf9}
	as, _, _ := e.program(t, code)
	data := e.Alloc(1)
	if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	const threads, rounds = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, threads)
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c := e.p.NewContext()
			defer c.Release()
			st := arch.NewState()
			st.Regs.Rip = pt.CodeAddr
			for r := 0; r < rounds; r++ {
				st.Regs.Rdi = uint64(i*1000 + r)
				st.Regs.Rsi = uint64(pt.DataAddr + 8*i)
				ev, err := c.Switch(as, st)
				if err != nil {
					errs <- err
					return
				}
				if ev.Kind != platform.EventSyscall || st.Regs.Rdi != uint64(i*1000+r) {
					errs <- fmt.Errorf("wrong event or registers from another thread: thread %d round %d: %v rdi %d rip %#x", i, r, ev.Kind, st.Regs.Rdi, st.Regs.Rip)
					return
				}
				st.Regs.Rip = pt.CodeAddr
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 0; i < threads; i++ {
		if got := binary.LittleEndian.Uint64(e.Mem[data.Start+uint64(8*i):]); got != uint64(i*1000+rounds-1) {
			t.Errorf("thread %d's slot = %d, want %d", i, got, i*1000+rounds-1)
		}
	}
}

// TestUnmapReachesRunningThread: a thread that loops reading a page keeps running
// while another unmaps the page; once Unmap returns, the running thread faults on it
// (no stale TLB entry lets it read on), and remapping the address elsewhere shows the
// new page.
func TestUnmapReachesRunningThread(t *testing.T) {
	e := newEnv(t)
	// 1: mov 0x500000,%rax; mov %rax,%rbx; jmp 1b
	code := pt.Cat(pt.MovDataToRax, []byte{0x48, 0x89, 0xc3}, []byte{0xeb, 0xf3})
	as, st, _ := e.program(t, code)
	data := e.Alloc(1)
	binary.LittleEndian.PutUint64(e.Mem[data.Start:], 7)
	if err := as.MapFile(pt.DataAddr, data, platform.Read, false); err != nil {
		t.Fatal(err)
	}
	c := e.p.NewContext()
	defer c.Release()
	type result struct {
		ev  platform.Event
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ev, err := c.Switch(as, st)
		res <- result{ev, err}
	}()
	time.Sleep(50 * time.Millisecond) // the loop runs, with the page in its TLB
	if err := as.Unmap(pt.DataAddr, pageSize); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || r.ev.Kind != platform.EventFault || r.ev.Addr != pt.DataAddr {
			t.Fatalf("Switch = %+v, %v; want a fault at %#x", r.ev, r.err, pt.DataAddr)
		}
	case <-time.After(5 * time.Second):
		c.Interrupt()
		<-res
		t.Fatal("the running thread kept reading an unmapped page")
	}
	if st.Regs.Rbx != 7 {
		t.Errorf("rbx = %d, want 7 read from the page before Unmap", st.Regs.Rbx)
	}
}

// TestBadRanges: mappings outside the application's range, over the kernel area,
// misaligned or beyond the memory file are refused.
func TestBadRanges(t *testing.T) {
	e := newEnv(t)
	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	max := e.p.MaxUserAddress()
	page := platform.FileRange{Start: 0, End: pageSize}
	for _, tc := range []struct {
		name string
		addr uintptr
		fr   platform.FileRange
	}{
		{"below the minimum address", 0, page},
		{"at the maximum", max, page},
		{"the kernel area", kernelBase, page},
		{"straddling the limit", max - pageSize, platform.FileRange{Start: 0, End: 2 * pageSize}},
		{"wrapping around", ^uintptr(0) - pageSize + 1, page},
		{"misaligned address", pt.CodeAddr + 1, page},
		{"misaligned file offset", pt.CodeAddr, platform.FileRange{Start: 1, End: pageSize + 1}},
		{"empty file range", pt.CodeAddr, platform.FileRange{Start: pageSize, End: pageSize}},
		{"beyond the memory file", pt.CodeAddr, platform.FileRange{Start: pt.FileSize, End: pt.FileSize + pageSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := as.MapFile(tc.addr, tc.fr, platform.ReadWrite, false)
			if !errors.Is(err, platform.ErrBadRange) {
				t.Errorf("MapFile(%#x, %+v) = %v, want ErrBadRange", tc.addr, tc.fr, err)
			}
		})
	}
	if err := as.Unmap(max, pageSize); !errors.Is(err, platform.ErrBadRange) {
		t.Errorf("Unmap above the maximum = %v, want ErrBadRange", err)
	}
	if err := as.Protect(pt.CodeAddr, 0, platform.Read); !errors.Is(err, platform.ErrBadRange) {
		t.Errorf("Protect of nothing = %v, want ErrBadRange", err)
	}
	if tables := len(as.(*addressSpace).tables); tables != 1 {
		t.Errorf("bad calls made %d page tables", tables-1)
	}
}

// TestHostileApplication plays the application that attacks the ring-0 side: it jumps
// into and writes to the kernel area, loads the descriptor tables and CR3, loads a
// non-canonical rip before a system call, makes a system call with a hostile rsp and
// TF set, and hands the Sentry non-canonical registers. Each must end as an event for
// the Sentry (a fault, a signal, the system call) and leave the ring-0 pages intact,
// never a hang, a crash, or a write where the application points.
func TestHostileApplication(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	c := e.p.NewContext()
	defer c.Release()
	kernel := append([]byte(nil), e.p.platMem[:vcpuOff]...)
	vcpuPage := uint64(kernelBase + vcpuOff) // vCPU 0's GDT, TSS and stack

	faults := []struct {
		name string
		code []byte
	}{
		{"jump to the return stub", pt.Cat(pt.MovabsR11(kernelBase+codeOff+retFlushOff), pt.JmpR11)},
		{"write the ring-0 code", pt.Cat(pt.MovabsR11(kernelBase+codeOff), pt.StoreRaxAtR11)},
		{"write the IDT", pt.Cat(pt.MovabsR11(kernelBase+idtOff), pt.StoreRaxAtR11)},
		{"write a vCPU's GDT", pt.Cat(pt.MovabsR11(vcpuPage), pt.StoreRaxAtR11)},
		{"read a vCPU's stack", pt.Cat(pt.MovabsR11(vcpuPage+frameOff), pt.LoadR11ToRax)},
		{"read the kernel page tables", pt.Cat(pt.MovabsR11(kernelBase+kPDPTOff), pt.LoadR11ToRax)},
		{"write a page table by its guest physical address", pt.Cat(pt.MovabsR11(e.p.gpa+kernelAreaSize), pt.StoreRaxAtR11)},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, tc.code)
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventFault {
				t.Errorf("event = %+v, want a fault", ev)
			}
		})
	}
	gpSignals := []struct {
		name string
		code []byte
	}{
		{"lgdt", pt.Cat(pt.MovabsR11(pt.DataAddr), []byte{0x41, 0x0f, 0x01, 0x13})}, // lgdt (%r11)
		{"mov to cr3", []byte{0x0f, 0x22, 0xd8}},                                    // mov %rax,%cr3
		{"wrmsr", []byte{0x0f, 0x30}},
		{"cli", []byte{0xfa}},
		{"far jump to a null selector", pt.Cat(pt.MovabsR11(pt.DataAddr), []byte{0x41, 0xff, 0x2b})}, // ljmp *(%r11)
	}
	for _, tc := range gpSignals {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, tc.code)
			if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.ReadWrite, false); err != nil {
				t.Fatal(err)
			}
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
				t.Errorf("event = %+v, want SIGSEGV", ev)
			}
		})
	}
	t.Run("jump to the syscall entry", func(t *testing.T) {
		// A system call, with the registers the application chose: nothing it could
		// not do with a syscall instruction of its own.
		as, st, _ := e.program(t, pt.Cat(pt.MovabsR11(kernelBase+codeOff+syscallEntryOff), pt.JmpR11))
		st.Regs.Rcx, st.Regs.R11, st.Regs.Rax = pt.CodeAddr, 0x202, 39
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Rip != pt.CodeAddr || st.Regs.Orig_rax != 39 {
			t.Errorf("event = %+v at %#x, want the system call with the application's rcx as rip", ev, st.Regs.Rip)
		}
	})
	t.Run("iretq to ring 0", func(t *testing.T) {
		as, st, _ := e.program(t, []byte{0x48, 0xcf})
		data := e.Alloc(1)
		if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
		for i, w := range []uint64{kernelBase + codeOff + retUserOff, kernelCS, 0x2, pt.DataAddr, kernelSS} {
			binary.LittleEndian.PutUint64(e.Mem[data.Start+uint64(8*i):], w)
		}
		st.Regs.Rsp = pt.DataAddr
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
	})
	t.Run("int to an interrupt vector", func(t *testing.T) {
		as, st, _ := e.program(t, []byte{0xcd, 0x20})
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
	})
	t.Run("non-canonical rip", func(t *testing.T) {
		as, st, _ := e.program(t, pt.SyscallInsn)
		st.Regs.Rip = 0x0000_8000_0000_0000
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
		st.Regs.Rip, st.Regs.Fs_base = pt.CodeAddr, 0x1234_0000_0000_0000
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v with a non-canonical fs base, want SIGSEGV", ev)
		}
	})
	t.Run("jump to non-canonical rip", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovabsR11(0x0000_8000_0000_0000), pt.JmpR11))
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
	})
	t.Run("syscall returning to a non-canonical rip", func(t *testing.T) {
		as, st, _ := e.program(t, pt.SyscallInsn)
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Fatalf("event = %+v, want syscall", ev)
		}
		st.Regs.Rip, st.Regs.Rcx = 0xffff_0000_0000_0000, 0xffff_0000_0000_0000
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
	})
	t.Run("syscall with TF and rsp at the vCPU's page", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.SyscallInsn, pt.JmpSelf))
		st.Regs.Rsp = vcpuPage + gdtOff + 64
		st.Regs.Eflags |= 0x100
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventSyscall || st.Regs.Rip != pt.CodeAddr+2 {
			t.Errorf("event = %+v at %#x, want the system call", ev, st.Regs.Rip)
		}
	})
	t.Run("kernel flags", func(t *testing.T) {
		// IOPL 3 and IF clear asked for: the application still can't do port I/O
		// or keep interrupts off.
		as, st, _ := e.program(t, []byte{0xe6, 0x10})
		st.Regs.Eflags = 0x3002
		ev := pt.SwitchOnce(t, c, as, st)
		if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) {
			t.Errorf("event = %+v, want SIGSEGV", ev)
		}
	})
	if !bytes.Equal(kernel, e.p.platMem[:vcpuOff]) {
		t.Error("the ring-0 code, IDT or kernel tables changed")
	}
	// The vCPU still works.
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn))
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 39 {
		t.Errorf("event after the attacks = %+v", ev)
	}
}

// TestReleasedAddressSpace: Switch into a released address space fails, and mapping
// calls say it is dead.
func TestReleasedAddressSpace(t *testing.T) {
	e := newEnv(t)
	as, st, _ := e.program(t, pt.SyscallInsn)
	c := e.p.NewContext()
	defer c.Release()
	as.Release()
	if _, err := c.Switch(as, st); !errors.Is(err, platform.ErrAddressSpaceDead) {
		t.Errorf("Switch = %v, want ErrAddressSpaceDead", err)
	}
	if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.Read, false); !errors.Is(err, platform.ErrAddressSpaceDead) {
		t.Errorf("MapFile = %v, want ErrAddressSpaceDead", err)
	}
}

// BenchmarkSwitchSyscall is one system call round trip: Switch → syscall event →
// Switch, the platform's cost of a getpid. Compare with make bench's kvm_exit.
func BenchmarkSwitchSyscall(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(b)
	as, st, _ := e.program(b, pt.Cat(pt.MovEax39, pt.SyscallInsn, []byte{0xeb, 0xf7})) // loop: getpid (jmp -9, back to the mov)
	c := e.p.NewContext()
	defer c.Release()
	pt.SwitchOnce(b, c, as, st)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Switch(as, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSwitchFault is one page-fault round trip, the exit path: Switch → fault
// event → Switch, the fault left unhandled (a store through -ENOSYS).
func BenchmarkSwitchFault(b *testing.B) {
	e := newEnv(b)
	as, st, _ := e.program(b, pt.Cat(pt.MovEax39, pt.SyscallInsn, []byte{0x00, 0x00})) // add %al,(%rax)
	c := e.p.NewContext()
	defer c.Release()
	pt.SwitchOnce(b, c, as, st)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ev, err := c.Switch(as, st); err != nil || ev.Kind != platform.EventFault {
			b.Fatal(ev, err)
		}
	}
}

// TestFPAcrossFault: the vector registers survive a page fault handled in between,
// as they do a system call.
func TestFPAcrossFault(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	as, st, _ := e.program(t, pt.Cat(pt.MovDataToRax, pt.MovapsXmm4Xm3, pt.SyscallInsn))
	c := e.p.NewContext()
	defer c.Release()
	pattern := []byte("0123456789abcdef")
	copy(st.FP.XMM(3), pattern)
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventFault {
		t.Fatalf("event = %+v, want a fault", ev)
	}
	if !bytes.Equal(st.FP.XMM(3), pattern) {
		t.Errorf("xmm3 at the fault = %q, want %q", st.FP.XMM(3), pattern)
	}
	if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.Read, false); err != nil {
		t.Fatal(err)
	}
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event = %+v, want syscall", ev)
	}
	if !bytes.Equal(st.FP.XMM(4), pattern) {
		t.Errorf("xmm4 = %q, want %q copied from xmm3 after the fault", st.FP.XMM(4), pattern)
	}
}

// TestTablesReused: the page tables of released address spaces serve new ones only
// after KVM dropped what it derived from them; a new address space that reuses them
// runs its own code, not what the old tables mapped at the same address.
func TestTablesReused(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	defer func(n int, r bool) { ptReuseBatch, recycleAddressSpaces = n, r }(ptReuseBatch, recycleAddressSpaces)
	ptReuseBatch, recycleAddressSpaces = 1, false
	c := e.p.NewContext()
	defer c.Release()
	for i := uint32(0); i < 6; i++ {
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		fr := e.Alloc(1)
		copy(e.Mem[fr.Start:], pt.Cat([]byte{0xb8, byte(i), 0, 0, 0}, pt.SyscallInsn)) // mov $i,%eax; syscall
		if err := as.MapFile(pt.CodeAddr, fr, platform.ReadExec, false); err != nil {
			t.Fatal(err)
		}
		st := arch.NewState()
		st.Regs.Rip = pt.CodeAddr
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != uint64(i) {
			t.Errorf("address space %d: event %v with number %d, want syscall %d", i, ev.Kind, st.Regs.Orig_rax, i)
		}
		as.Release()
	}
	if len(e.p.ptFree)+len(e.p.ptDead) == 0 {
		t.Error("no table was released")
	}
}

// TestFileSlotsGrow: the memory file is registered with KVM in slots added as MapFile
// reaches into them; pages in the first, a middle and the last slot of a 4 GiB file
// are all reachable by the guest, and the slots stop at the file's end.
func TestFileSlotsGrow(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const size = 4 << 30
	fd, err := unix.MemfdCreate("moat-test-big", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, size); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	p, err := New(fd)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.slotEnd.Load(); got != 0 {
		t.Fatalf("registered before any MapFile: %#x, want 0", got)
	}
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	c := p.NewContext()
	defer c.Release()

	const data = pt.DataAddr
	for i, off := range []uint64{0x1000, 3<<30 + 0x5000, size - pageSize} {
		code := pt.Cat(pt.MovabsR11(data), pt.LoadR11ToRax, pt.MovabsR11(0), pt.SyscallInsn)
		copy(mem, code) // the code page is file page 0
		if err := as.MapFile(pt.CodeAddr, platform.FileRange{Start: 0, End: pageSize}, platform.ReadExec, false); err != nil {
			t.Fatal(err)
		}
		want := uint64(0x1234_0000 + i)
		le.PutUint64(mem[off:], want)
		if err := as.MapFile(data, platform.FileRange{Start: off, End: off + pageSize}, platform.Read, false); err != nil {
			t.Fatalf("MapFile of file offset %#x: %v", off, err)
		}
		st := arch.NewState()
		st.Regs.Rip = pt.CodeAddr
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != want {
			t.Fatalf("file offset %#x: event %v, value read %#x, want a system call with %#x", off, ev.Kind, st.Regs.Orig_rax, want)
		}
	}
	if got := p.slotEnd.Load(); got != size {
		t.Errorf("registered up to %#x, want the file's end %#x", got, uint64(size))
	}
	// [0,1G) [1G,2G) [2G,4G): three slots.
	if got := p.slotNext - firstFileSlot; got != 3 {
		t.Errorf("%d file slots, want 3", got)
	}
}

// BenchmarkSwitchAddressSpaces is a system call round trip that alternates between
// two address spaces on one context, so each Switch loads another CR3: what a switch
// between processes on one vCPU costs the platform over BenchmarkSwitchSyscall.
func BenchmarkSwitchAddressSpaces(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(b)
	code := pt.Cat(pt.MovEax39, pt.SyscallInsn, []byte{0xeb, 0xf7}) // loop: getpid
	as1, st1, _ := e.program(b, code)
	as2, st2, _ := e.program(b, code)
	c := e.p.NewContext()
	defer c.Release()
	pt.SwitchOnce(b, c, as1, st1)
	pt.SwitchOnce(b, c, as2, st2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		as, st := as1, st1
		if i%2 == 1 {
			as, st = as2, st2
		}
		if _, err := c.Switch(as, st); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRecycledAddressSpace: a released address space serves the next NewAddressSpace
// with its tables, and its first user sees only its own mappings: Refill keeps the
// entries it repeats, replaces those it changes (the vCPU runs the new page's code,
// not the old one KVM had derived a translation for) and removes the rest, or, where
// little is the same, starts from new tables; a first use that is a Switch or a
// mapping call finds nothing else mapped.
func TestRecycledAddressSpace(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnv(t)
	c := e.p.NewContext()
	defer c.Release()
	data := e.Alloc(3)
	e.Mem[data.Start] = 0x77
	codeA := e.Alloc(1) // reads the three data pages; the syscall's number is the first's first byte
	copy(e.Mem[codeA.Start:], pt.Cat([]byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x20, 0x50, 0x00},
		[]byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x10, 0x50, 0x00}, pt.MovDataToRax, pt.SyscallInsn))
	codeB := e.Alloc(1) // mov $0x42,%eax; syscall; mov 0x502000,%rax; syscall
	copy(e.Mem[codeB.Start:], pt.Cat([]byte{0xb8, 0x42, 0, 0, 0}, pt.SyscallInsn,
		[]byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x20, 0x50, 0x00}, pt.SyscallInsn))
	a := platform.FileMapping{Addr: pt.CodeAddr, File: codeA, Access: platform.ReadExec}
	b := platform.FileMapping{Addr: pt.CodeAddr, File: codeB, Access: platform.ReadExec}
	d3 := platform.FileMapping{Addr: pt.DataAddr, File: data, Access: platform.Read}
	d2 := platform.FileMapping{Addr: pt.DataAddr, File: platform.FileRange{Start: data.Start, End: data.Start + 2*pageSize}, Access: platform.Read}
	run := func(as platform.AddressSpace) (platform.Event, *arch.State) {
		st := arch.NewState()
		st.Regs.Rip = pt.CodeAddr
		return pt.SwitchOnce(t, c, as, st), st
	}
	var root uint64
	next := func(old platform.AddressSpace) platform.AddressSpace {
		root = old.(*addressSpace).root
		old.Release()
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		if as.(*addressSpace).root != root {
			t.Fatal("the released address space was not recycled")
		}
		return as
	}
	refill := func(as platform.AddressSpace, ms ...platform.FileMapping) {
		if err := as.(platform.Refiller).Refill(ms); err != nil {
			t.Fatal(err)
		}
	}

	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	if err := as.(*addressSpace).MapFiles([]platform.FileMapping{a, d3}); err != nil {
		t.Fatal(err)
	}
	if ev, st := run(as); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 0x77 {
		t.Fatalf("first user: event %v, number %#x, want syscall 0x77", ev.Kind, st.Regs.Orig_rax)
	}
	// The same mappings: kept.
	as = next(as)
	refill(as, a, d3)
	if as.(*addressSpace).root != root {
		t.Error("Refill of the same mappings made new tables")
	}
	if ev, st := run(as); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 0x77 {
		t.Errorf("same mappings: event %v, number %#x, want syscall 0x77", ev.Kind, st.Regs.Orig_rax)
	}
	// Mostly the same: another code page, the last data page left out.
	as = next(as)
	refill(as, b, d2)
	if as.(*addressSpace).root != root {
		t.Error("Refill of mostly the same mappings made new tables")
	}
	ev, st := run(as)
	if ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 0x42 {
		t.Errorf("new code page: event %v, number %#x, want syscall 0x42 (the old page's code ran?)", ev.Kind, st.Regs.Orig_rax)
	}
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr+2*pageSize {
		t.Errorf("data page left out: event %+v, want a fault at %#x", ev, pt.DataAddr+2*pageSize)
	}
	// Little the same: new tables.
	as = next(as)
	refill(as, a)
	if as.(*addressSpace).root == root {
		t.Error("Refill of other mappings kept the tables")
	}
	if ev, _ := run(as); ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr+2*pageSize {
		t.Errorf("other mappings: event %+v, want a fault at %#x", ev, pt.DataAddr+2*pageSize)
	}
	// A first use that is a Switch: nothing is mapped.
	as = next(as)
	if ev, _ := run(as); ev.Kind != platform.EventFault || ev.Addr != pt.CodeAddr {
		t.Errorf("switch first: event %+v, want a fault at %#x", ev, pt.CodeAddr)
	}
	// A first use that is a mapping call: only its mapping.
	as = next(as)
	if err := as.MapFile(pt.CodeAddr, codeA, platform.ReadExec, false); err != nil {
		t.Fatal(err)
	}
	if ev, _ := run(as); ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr+2*pageSize {
		t.Errorf("map first: event %+v, want a fault at %#x", ev, pt.DataAddr+2*pageSize)
	}
	as.Release()
}

// TestReleaseAfterClose: an address space released after the platform closed (a task
// exiting as the sandbox goes away) is not kept for reuse, and nothing breaks.
func TestReleaseAfterClose(t *testing.T) {
	e := newEnv(t)
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.SyscallInsn))
	c := e.p.NewContext()
	pt.SwitchOnce(t, c, as, st)
	pt.SwitchOnce(t, c, as, st) // a slot, where the host has fast system calls
	c.Release()
	e.p.Close()
	as.Release()
	if len(e.p.ready)+len(e.p.keptSlots) != 0 {
		t.Errorf("%d address spaces and %d slot sets kept after Close", len(e.p.ready), len(e.p.keptSlots))
	}
}
