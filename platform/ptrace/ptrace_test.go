package ptrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

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

func newEnv(t testing.TB) *env { return newEnvOn(t, New) }

// platforms are the platforms this package makes, for tests that run on each.
var platforms = []struct {
	name string
	make func(memfd int) (*Platform, error)
}{{"ptrace", New}, {"systrap", NewSystrap}}

// onEach runs test on each platform, in a subtest on a locked OS thread.
func onEach(t *testing.T, test func(t *testing.T, e *env)) {
	for _, pl := range platforms {
		t.Run(pl.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			test(t, newEnvOn(t, pl.make))
		})
	}
}

func newEnvOn(t testing.TB, newPlatform func(memfd int) (*Platform, error)) *env {
	t.Helper()
	m := pt.NewMemFile(t)
	p, err := newPlatform(m.FD)
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

// TestSyscallFaultInterrupt runs a program that makes a system call, writes to an
// unmapped page and then loops, and checks each event and the registers at each.
func TestSyscallFaultInterrupt(t *testing.T) { onEach(t, testSyscallFaultInterrupt) }

func testSyscallFaultInterrupt(t *testing.T, e *env) {
	code := pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.MovRaxToData, pt.JmpSelf)
	as, st, _ := e.program(t, code)
	c := e.p.NewContext()
	defer c.Release()
	st.Regs.Rdi, st.Regs.Rsi, st.Regs.R10 = 11, 22, 44

	// 1. The system call stops, unexecuted, with its number and arguments.
	ev := pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventSyscall {
		t.Fatalf("first event = %v, want syscall", ev.Kind)
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

	// 2. The store to the unmapped data page faults there.
	ev = pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr {
		t.Fatalf("second event = %+v, want a fault at %#x", ev, pt.DataAddr)
	}
	if ev.Info.Signo != int32(unix.SIGSEGV) || ev.Info.Code != arch.SEGV_MAPERR {
		t.Errorf("fault signal = %v", &ev.Info)
	}
	// ptrace can't see the page-fault error code and calls a fault on an unmapped page
	// a read; systrap reads it from the signal frame.
	if want := platform.Read; e.p.trap != nil && ev.Access != (platform.AccessType{Write: true}) ||
		e.p.trap == nil && ev.Access != want {
		t.Errorf("access of a store fault on an unmapped page = %v", ev.Access)
	}
	faultRip := uint64(pt.CodeAddr + len(pt.MovEax39) + len(pt.SyscallInsn))
	if st.Regs.Rip != faultRip {
		t.Errorf("rip at fault = %#x, want %#x (the faulting instruction)", st.Regs.Rip, faultRip)
	}

	// 3. Map the page and go on: the store lands in the memory file, then the program
	// loops until interrupted.
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

// TestRegistersRoundTrip checks that every general register and the vector registers
// reach the application and come back.
func TestRegistersRoundTrip(t *testing.T) { onEach(t, testRegistersRoundTrip) }

func testRegistersRoundTrip(t *testing.T, e *env) {
	as, st, _ := e.program(t, pt.Cat(pt.MovapsXmm4Xm3, pt.SyscallInsn))
	c := e.p.NewContext()
	r := &st.Regs
	r.Rax, r.Rbx, r.Rdx, r.Rsi, r.Rdi, r.Rbp, r.Rsp = 1, 2, 3, 4, 5, 6, 7
	r.R8, r.R9, r.R10, r.R12, r.R13, r.R14, r.R15 = 8, 9, 10, 12, 13, 14, 15
	r.Fs_base = 0x7000_0000_1000
	want := *r
	pattern := []byte("0123456789abcdef")
	copy(st.FP.XMM(3), pattern)

	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event = %v, want syscall", ev.Kind)
	}
	want.Orig_rax = 1 // the system call number: rax
	want.Rax = ^uint64(unix.ENOSYS) + 1
	want.Rip += uint64(len(pt.MovapsXmm4Xm3) + len(pt.SyscallInsn))
	want.Rcx = want.Rip // the syscall instruction puts rip in rcx and rflags in r11
	want.R11 = r.R11
	want.Eflags = r.Eflags
	if *r != want {
		t.Errorf("registers after syscall:\n got %+v\nwant %+v", *r, want)
	}
	st.LoadFP()
	if !bytes.Equal(st.FP.XMM(4), pattern) {
		t.Errorf("xmm4 = %q, want %q copied from xmm3", st.FP.XMM(4), pattern)
	}
}

// TestFPAcrossCalls runs a program that moves XMM registers between system calls, and
// checks that the FP state goes back to the thread as it left it when the Sentry did
// not look at it (systrap leaves it in the frame: arch.State.DeferFP), as the Sentry
// changed it when it did, and that a fork of the state copies it.
func TestFPAcrossCalls(t *testing.T) { onEach(t, testFPAcrossCalls) }

func testFPAcrossCalls(t *testing.T, e *env) {
	xorpsXmm3 := []byte{0x0f, 0x57, 0xdb}      // xorps %xmm3,%xmm3
	movapsXmm3Xmm4 := []byte{0x0f, 0x28, 0xdc} // movaps %xmm4,%xmm3
	as, st, _ := e.program(t, pt.Cat(pt.MovapsXmm4Xm3, pt.SyscallInsn, xorpsXmm3, pt.SyscallInsn,
		movapsXmm3Xmm4, pt.SyscallInsn, pt.JmpSelf))
	c := e.p.NewContext()
	defer c.Release()
	a, b := []byte("AAAAAAAAaaaaaaaa"), []byte("BBBBBBBBbbbbbbbb")
	zero := make([]byte, 16)
	copy(st.FP.XMM(3), a)
	xmm := func(i int) []byte { return append([]byte(nil), st.FP.XMM(i)...) }

	// 1. xmm4 = xmm3; 2. xmm3 = 0, the state untouched in between.
	for i := 0; i < 2; i++ {
		st.Regs.Rax = unix.SYS_GETPID // the next call's number
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Fatalf("event %d = %v, want syscall", i+1, ev.Kind)
		}
	}
	st.LoadFP()
	if x3, x4 := xmm(3), xmm(4); !bytes.Equal(x3, zero) || !bytes.Equal(x4, a) {
		t.Errorf("after two calls: xmm3 %q, xmm4 %q; want zero and %q", x3, x4, a)
	}
	// 3. The Sentry sets xmm4; the thread copies it to xmm3.
	copy(st.FP.XMM(4), b)
	st.Regs.Rax = unix.SYS_GETPID
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event 3 = %v, want syscall", ev.Kind)
	}
	child := st.Fork()
	if x3 := append([]byte(nil), child.FP.XMM(3)...); !bytes.Equal(x3, b) {
		t.Errorf("forked state's xmm3 = %q, want %q set by the Sentry", x3, b)
	}
	st.LoadFP()
	if x3 := xmm(3); !bytes.Equal(x3, b) {
		t.Errorf("xmm3 = %q, want %q set by the Sentry", x3, b)
	}
}

// TestFaultAccessTypes checks the access reported for an instruction fetch, a write to
// a read-only page, and the other synchronous signals.
func TestFaultAccessTypes(t *testing.T) { onEach(t, testFaultAccessTypes) }

func testFaultAccessTypes(t *testing.T, e *env) {
	c := e.p.NewContext()

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
	t.Run("protect removes write", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovRaxToData, pt.JmpSelf))
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
	}{
		{"pt.Ud2 raises SIGILL", pt.Ud2, unix.SIGILL},
		{"pt.Int3 raises SIGTRAP", pt.Int3, unix.SIGTRAP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, tc.code)
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(tc.sig) {
				t.Errorf("event = %+v, want signal %v", ev, tc.sig)
			}
		})
	}
}

// TestInterruptBeforeSwitch: an Interrupt with no Switch running makes the next one
// return at once, so a wake-up is never lost.
func TestInterruptBeforeSwitch(t *testing.T) { onEach(t, testInterruptBeforeSwitch) }

func testInterruptBeforeSwitch(t *testing.T, e *env) {
	as, st, _ := e.program(t, pt.JmpSelf)
	c := e.p.NewContext()
	c.Interrupt()
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventInterrupt {
		t.Fatalf("event = %v, want interrupt", ev.Kind)
	}
	if st.Regs.Rip != pt.CodeAddr {
		t.Errorf("rip moved to %#x though nothing ran", st.Regs.Rip)
	}
	// The flag is consumed: the next Switch runs until a new interrupt.
	go func() { time.Sleep(20 * time.Millisecond); c.Interrupt() }()
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventInterrupt {
		t.Fatalf("event = %v, want interrupt", ev.Kind)
	}
}

// TestThreadsShareAddressSpace runs several threads in one address space, each on its
// own OS thread: they see each other's memory and keep their own registers.
func TestThreadsShareAddressSpace(t *testing.T) {
	e := newEnv(t)
	// Each thread: store rdi to its slot (rsi), make a system call, loop.
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
					errs <- errors.New("wrong event or registers from another thread")
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

// TestBadRanges: mappings outside the application's range, over the stub, misaligned or
// beyond the memory file are refused, and nothing is mapped.
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
		{"over the stub", max, page},
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
		t.Errorf("Unmap of the stub = %v, want ErrBadRange", err)
	}
	if err := as.Protect(pt.CodeAddr, 0, platform.Read); !errors.Is(err, platform.ErrBadRange) {
		t.Errorf("Protect of nothing = %v, want ErrBadRange", err)
	}
	if segs := as.(*addressSpace).maps.segs; len(segs) != 0 {
		t.Errorf("bad calls left mappings: %v", segs)
	}
}

// TestStubKilledFromOutside: a stub thread killed by someone else makes Switch and the
// mapping calls fail with ErrAddressSpaceDead, without hanging; the rest of the address
// space is killed.
func TestStubKilledFromOutside(t *testing.T) { onEach(t, testStubKilledFromOutside) }

func testStubKilledFromOutside(t *testing.T, e *env) {
	as, st, _ := e.program(t, pt.Cat(pt.SyscallInsn, pt.JmpSelf))
	c := e.p.NewContext()
	pt.SwitchOnce(t, c, as, st)
	a := as.(*addressSpace)
	stub := stubOf(c, a)
	ctl := a.control.tid

	go func() { time.Sleep(50 * time.Millisecond); unix.Kill(stub, unix.SIGKILL) }()
	_, err := c.Switch(as, st)
	if !errors.Is(err, platform.ErrAddressSpaceDead) {
		t.Fatalf("Switch after the stub was killed = %v, want ErrAddressSpaceDead", err)
	}
	if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.Read, false); !errors.Is(err, platform.ErrAddressSpaceDead) {
		t.Errorf("MapFile in a dead address space = %v, want ErrAddressSpaceDead", err)
	}
	waitGone(t, ctl)
	// The platform goes on: a new address space works.
	as2, st2, _ := e.program(t, pt.SyscallInsn)
	if ev := pt.SwitchOnce(t, c, as2, st2); ev.Kind != platform.EventSyscall {
		t.Errorf("event in a new address space = %v", ev.Kind)
	}
}

// stubOf returns the stub thread that runs c in a.
func stubOf(c platform.Context, a *addressSpace) int {
	if tc, ok := c.(*trapContext); ok {
		return tc.t.tid
	}
	return a.threads[unix.Gettid()].tid
}

// TestControlStubKilled: killing the stub that serves mapping calls is seen by the next
// mapping call.
func TestControlStubKilled(t *testing.T) {
	e := newEnv(t)
	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	unix.Kill(as.(*addressSpace).control.tid, unix.SIGKILL)
	if err := as.MapFile(pt.CodeAddr, e.Alloc(1), platform.Read, false); !errors.Is(err, platform.ErrAddressSpaceDead) {
		t.Errorf("MapFile = %v, want ErrAddressSpaceDead", err)
	}
}

// TestTemplateKilled: a template stub killed from outside is replaced.
func TestTemplateKilled(t *testing.T) {
	e := newEnv(t)
	old := e.p.template.tid
	unix.Kill(old, unix.SIGKILL)
	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatalf("NewAddressSpace after the template died: %v", err)
	}
	as.Release()
	if e.p.template.tid == old {
		t.Error("template was not replaced")
	}
	waitGone(t, old) // and the dead one was reaped
}

// TestStubFilterKills: the stub's seccomp filter kills it for a system call it does not
// allow, for an allowed one made from the wrong site, and for disallowed arguments.
func TestStubFilterKills(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		site uintptr
		nr   uintptr
		args []uintptr
	}{
		{"getuid", siteSyscall, unix.SYS_GETUID, nil},
		{"openat", siteSyscall, unix.SYS_OPENAT, []uintptr{0, 0, 0}},
		{"mmap from the clone site", siteClone, unix.SYS_MMAP, []uintptr{pt.CodeAddr, pageSize, 1, unix.MAP_SHARED | unix.MAP_FIXED, uintptr(e.FD), 0}},
		{"mmap of another file", siteSyscall, unix.SYS_MMAP, []uintptr{pt.CodeAddr, pageSize, 1, unix.MAP_SHARED | unix.MAP_FIXED, uintptr(e.FD) + 1, 0}},
		{"anonymous mmap", siteSyscall, unix.SYS_MMAP, []uintptr{pt.CodeAddr, pageSize, 1, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED, ^uintptr(0), 0}},
		{"clone with other flags", siteClone, unix.SYS_CLONE, []uintptr{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND, 0}},
		{"kill with SIGKILL", siteKill, unix.SYS_KILL, []uintptr{1, uintptr(unix.SIGKILL)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := e.p.NewAddressSpace()
			if err != nil {
				t.Fatal(err)
			}
			defer as.Release()
			ctl := as.(*addressSpace).control
			e.p.factory.do(func() { _, err = ctl.syscall(tc.site, tc.nr, tc.args...) })
			var died *errStubDied
			if !errors.As(err, &died) || !died.status.Signaled() || died.status.Signal() != unix.SIGSYS {
				t.Errorf("%s: err = %v, want the stub killed by SIGSYS", tc.name, err)
			}
		})
	}
}

// TestStubHasNothingButItsRegion: a fresh stub maps only the stub region, and its only
// open file is the memory file.
func TestStubHasNothingButItsRegion(t *testing.T) {
	e := newEnv(t)
	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	pid := as.(*addressSpace).control.tid
	maps, err := os.ReadFile("/proc/" + itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(maps), []byte("\n"))
	for _, l := range lines {
		if bytes.Contains(l, []byte("[vsyscall]")) {
			continue // above the user address space; can't be unmapped
		}
		var lo, hi uint64
		if _, err := fmtSscanf(string(l), &lo, &hi); err != nil || lo < uint64(stubBase) || hi > uint64(stubBase+stubSize) {
			t.Errorf("stub maps %s outside the stub region [%#x, %#x)", l, stubBase, stubBase+stubSize)
		}
	}
	fds, err := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 1 || fds[0].Name() != itoa(e.FD) {
		t.Errorf("stub's open files = %v, want only the memory file %d", fds, e.FD)
	}
}

// TestExitKill: a stub thread dies with the OS thread that traces it. The Go runtime
// ends a thread whose goroutine exits locked to it, except the process's main thread,
// so the goroutine makes sure it is not on that one.
func TestExitKill(t *testing.T) {
	e := newEnv(t)
	as, _, _ := e.program(t, pt.SyscallInsn)
	for attempt := 0; attempt < 20; attempt++ {
		tids := make(chan int)
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				runtime.UnlockOSThread()
				tids <- 0 // the main thread: try again on another
				return
			}
			// Never unlocked: the thread ends with the goroutine.
			c := e.p.NewContext()
			st := arch.NewState()
			st.Regs.Rip = pt.CodeAddr
			if _, err := c.Switch(as, st); err != nil {
				t.Error(err)
			}
			a := as.(*addressSpace)
			a.threadsMu.Lock()
			tids <- a.threads[unix.Gettid()].tid
			a.threadsMu.Unlock()
		}()
		if tid := <-tids; tid != 0 {
			waitGone(t, tid)
			return
		}
	}
	t.Skip("every goroutine ran on the main thread")
}

func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if unix.Kill(pid, 0) == unix.ESRCH {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("process %d still exists", pid)
}

// BenchmarkSwitchSyscall is one trapped system call round trip: Switch → syscall event →
// Switch, the platform's cost of a getpid.
func BenchmarkSwitchSyscall(b *testing.B) { benchSwitchSyscall(b, New) }

// BenchmarkSystrapSwitchSyscall is BenchmarkSwitchSyscall on systrap: compare it with
// the bare seccomp trap of make bench's mechanisms.
func BenchmarkSystrapSwitchSyscall(b *testing.B) { benchSwitchSyscall(b, NewSystrap) }

func benchSwitchSyscall(b *testing.B, newPlatform func(int) (*Platform, error)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnvOn(b, newPlatform)
	as, st, _ := e.program(b, pt.Cat(pt.MovEax39, pt.SyscallInsn, []byte{0xeb, 0xf7})) // loop: getpid (jmp -9, back to the mov)
	c := e.p.NewContext()
	pt.SwitchOnce(b, c, as, st) // the first Switch makes the stub thread
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Switch(as, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNativeGetpid is the same system call made natively, for the ratio.
func BenchmarkNativeGetpid(b *testing.B) {
	for i := 0; i < b.N; i++ {
		unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	}
}

// TestRecycledAddressSpace: a released address space comes back from NewAddressSpace
// with nothing of its application left mapped, a context that ran in it before gets a
// new thread, and a loop of new address spaces each released (fork and exit) makes no
// new one past the first two (one made, one made ahead).
func TestRecycledAddressSpace(t *testing.T) { onEach(t, testRecycledAddressSpace) }

func testRecycledAddressSpace(t *testing.T, e *env) {
	c := e.p.NewContext()
	defer c.Release()
	code := e.Alloc(1)
	copy(e.Mem[code.Start:], pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.MovRaxToData, pt.JmpSelf))
	data := e.Alloc(1)
	settled := func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.p.mu.Lock()
			busy := e.p.recycling > 0 || e.p.preparing
			e.p.mu.Unlock()
			if !busy {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("address spaces still being made or recycled after 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	seen := map[platform.AddressSpace]bool{}
	for i := 0; i < 10; i++ {
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		seen[as] = true
		if err := as.MapFile(pt.CodeAddr, code, platform.ReadExec, false); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
				t.Fatal(err)
			}
		}
		st := arch.NewState()
		st.Regs.Rip = pt.CodeAddr
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Fatalf("round %d: event = %+v, want the getpid", i, ev)
		}
		if i > 0 {
			// The data page of the first round is not mapped in a recycled one.
			if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr {
				t.Fatalf("round %d: event = %+v, want a fault at %#x", i, ev, pt.DataAddr)
			}
		}
		as.Release()
		settled()
	}
	if n := e.p.made.Load(); n > 2 {
		t.Errorf("10 rounds made %d address spaces, want at most 2", n)
	}
	if len(seen) > 2 {
		t.Errorf("10 rounds used %d address spaces, want at most 2", len(seen))
	}
}

// TestRefill: a recycled address space keeps for Refill only the mappings its next user
// asks for the same (offsets and access): the others are gone, and those asked for at
// other offsets map the new pages. A first use that is not a Refill (a Switch) finds
// none of the last user's mappings.
func TestRefill(t *testing.T) { onEach(t, testRefill) }

func testRefill(t *testing.T, e *env) {
	c := e.p.NewContext()
	defer c.Release()
	code := e.Alloc(1)
	copy(e.Mem[code.Start:], pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.MovRaxToData, pt.MovEax39, pt.SyscallInsn, pt.JmpSelf))
	data, other := e.Alloc(1), e.Alloc(1)
	settled := func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.p.mu.Lock()
			busy := e.p.recycling > 0 || e.p.preparing
			e.p.mu.Unlock()
			if !busy {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("address spaces still being made or recycled after 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	codeMap := platform.FileMapping{Addr: pt.CodeAddr, File: code, Access: platform.ReadExec}
	// run switches in at the code: the getpid, then the store of its result at
	// pt.DataAddr, which must fault (wantFault) or go through to a second getpid.
	run := func(round string, as platform.AddressSpace, wantFault bool) {
		t.Helper()
		st := arch.NewState()
		st.Regs.Rip = pt.CodeAddr
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Fatalf("%s: event = %+v, want the getpid", round, ev)
		}
		st.Regs.Rax = 0x1234
		ev := pt.SwitchOnce(t, c, as, st)
		if wantFault {
			if ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr {
				t.Fatalf("%s: event = %+v, want a fault at %#x", round, ev, pt.DataAddr)
			}
			return
		}
		if ev.Kind != platform.EventSyscall {
			t.Fatalf("%s: event = %+v, want the store done and the second getpid", round, ev)
		}
	}
	recycled := func(round string, last platform.AddressSpace) platform.AddressSpace {
		t.Helper()
		settled() // the spare made ahead first, then last: NewAddressSpace takes the last ready
		last.Release()
		settled()
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		if as != last || !as.(*addressSpace).leftover.Load() {
			t.Fatalf("%s: not the last address space, recycled with its mappings", round)
		}
		return as
	}
	as, err := e.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := as.(platform.Refiller)
	if !ok {
		t.Fatal("not a platform.Refiller")
	}
	if err := r.Refill([]platform.FileMapping{codeMap, {Addr: pt.DataAddr, File: data, Access: platform.ReadWrite}}); err != nil {
		t.Fatal(err)
	}
	if e.p.trap == nil { // ptrace maps at faults
		if err := as.MapFile(pt.CodeAddr, code, platform.ReadExec, false); err != nil {
			t.Fatal(err)
		}
		if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
	}
	run("first user", as, false)

	// The second user wants the code only: the data page goes.
	as = recycled("code only", as)
	if err := as.(platform.Refiller).Refill([]platform.FileMapping{codeMap}); err != nil {
		t.Fatal(err)
	}
	if segs := as.(*addressSpace).maps.segs; len(segs) != 1 || segs[0].start != pt.CodeAddr {
		t.Fatalf("code only: mapped %+v, want the code alone", segs)
	}
	run("code only", as, true)
	if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}

	// The third wants another page at the data's address: the store lands there.
	as = recycled("other data", as)
	binary.LittleEndian.PutUint64(e.Mem[data.Start:], 0)
	if err := as.(platform.Refiller).Refill([]platform.FileMapping{codeMap, {Addr: pt.DataAddr, File: other, Access: platform.ReadWrite}}); err != nil {
		t.Fatal(err)
	}
	if e.p.trap == nil {
		if ev := func() platform.Event {
			st := arch.NewState()
			st.Regs.Rip = pt.CodeAddr
			pt.SwitchOnce(t, c, as, st)
			return pt.SwitchOnce(t, c, as, st)
		}(); ev.Kind != platform.EventFault || ev.Addr != pt.DataAddr {
			t.Fatalf("other data: event = %+v, want a fault at %#x (not the old page)", ev, pt.DataAddr)
		}
		if err := as.MapFile(pt.DataAddr, other, platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
	}
	run("other data", as, false)
	if got := binary.LittleEndian.Uint64(e.Mem[data.Start:]); got != 0 {
		t.Errorf("other data: the last user's page was written (%#x)", got)
	}
	if got := binary.LittleEndian.Uint64(e.Mem[other.Start:]); got != 0x1234 {
		t.Errorf("other data: the new page holds %#x, want the store's 0x1234", got)
	}

	// A Switch before any mapping call finds nothing of the last user's.
	as = recycled("switch first", as)
	st := arch.NewState()
	st.Regs.Rip = pt.CodeAddr
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventFault || ev.Addr != pt.CodeAddr {
		t.Fatalf("switch first: event = %+v, want a fault at the code %#x", ev, pt.CodeAddr)
	}
	as.Release()
}

// TestReleaseTwice: releasing an address space twice recycles it once: the next two
// address spaces are two.
func TestReleaseTwice(t *testing.T) {
	onEach(t, func(t *testing.T, e *env) {
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		as.Release()
		as.Release()
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.p.mu.Lock()
			busy := e.p.recycling > 0 || e.p.preparing
			e.p.mu.Unlock()
			if !busy {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("still recycling after 10s")
			}
			time.Sleep(time.Millisecond)
		}
		a1, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		defer a1.Release()
		a2, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		defer a2.Release()
		if a1 == a2 {
			t.Fatal("an address space released twice was handed out twice")
		}
	})
}

// TestInt80 runs an i386 system call (int $0x80) from 64-bit code: it raises SIGSEGV
// from the kernel with rip at the instruction and the registers unchanged, as on a
// kernel without IA32 emulation (not an x86-64 call of the same number: 20 is writev
// there, getpid in i386's table).
func TestInt80(t *testing.T) { onEach(t, testInt80) }

func testInt80(t *testing.T, e *env) {
	int80 := []byte{0xcd, 0x80} // int $0x80
	movEax20 := []byte{0xb8, 0x14, 0x00, 0x00, 0x00}
	as, st, _ := e.program(t, pt.Cat(movEax20, int80, pt.JmpSelf))
	c := e.p.NewContext()
	defer c.Release()
	st.Regs.Rcx, st.Regs.R11 = 0x1111, 0x2222
	start := st.Regs.Rip
	ev := pt.SwitchOnce(t, c, as, st)
	if ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGSEGV) || ev.Info.Code != arch.SI_KERNEL {
		t.Fatalf("event = %v signal %d code %d, want SIGSEGV from the kernel", ev.Kind, ev.Info.Signo, ev.Info.Code)
	}
	if want := start + uint64(len(movEax20)); st.Regs.Rip != want || st.Regs.Rax != 20 || st.Regs.Rcx != 0x1111 || st.Regs.R11 != 0x2222 {
		t.Errorf("at the signal: rip %#x rax %d rcx %#x r11 %#x; want rip %#x (the int), rax 20, rcx and r11 as set",
			st.Regs.Rip, st.Regs.Rax, st.Regs.Rcx, st.Regs.R11, want)
	}
}

// TestReleasedThreadReused: a context released after its last Switch leaves its
// thread to the address space (parked as its spare), and a context switching in from
// another OS thread next runs on it with nothing of the first one's state: registers
// and FP state are the new context's.
func TestReleasedThreadReused(t *testing.T) { onEach(t, testReleasedThreadReused) }

func testReleasedThreadReused(t *testing.T, e *env) {
	as, st, _ := e.program(t, pt.Cat(pt.MovapsXmm4Xm3, pt.MovEax39, pt.SyscallInsn, pt.JmpSelf))
	a := as.(*addressSpace)
	pattern := []byte("0123456789abcdef")
	copy(st.FP.XMM(3), pattern)
	c1 := e.p.NewContext()
	if ev := pt.SwitchOnce(t, c1, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event %v, want a system call", ev.Kind)
	}
	st.LoadFP()
	if !bytes.Equal(st.FP.XMM(4), pattern) {
		t.Fatalf("xmm4 = %q, want %q", st.FP.XMM(4), pattern)
	}
	var first int
	if c, ok := c1.(*trapContext); ok {
		first = c.t.tid
	} else {
		first = a.threads[unix.Gettid()].tid
	}
	c1.Release()
	a.threadsMu.Lock()
	parked := a.spareStub == first || a.spareThread != nil && a.spareThread.tid == first
	a.threadsMu.Unlock()
	if !parked {
		t.Fatalf("the released context's thread %d is not the address space's spare", first)
	}
	// Another OS thread (a new tracer on ptrace), a fresh state: xmm3 is zero.
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c2 := e.p.NewContext()
		defer c2.Release()
		st2 := arch.NewState()
		st2.Regs.Rip = pt.CodeAddr
		ev, err := c2.Switch(as, st2)
		if err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("second context: event %v, %v", ev.Kind, err)
			return
		}
		var second int
		if c, ok := c2.(*trapContext); ok {
			second = c.t.tid
		} else {
			a.threadsMu.Lock()
			second = a.threads[unix.Gettid()].tid
			a.threadsMu.Unlock()
		}
		if second != first {
			t.Errorf("second context runs on thread %d, want the parked %d", second, first)
		}
		st2.LoadFP()
		if x := st2.FP.XMM(4); !bytes.Equal(x, make([]byte, 16)) {
			t.Errorf("second context's xmm4 = %q, want zero (its own xmm3)", x)
		}
	}()
	<-done
}
