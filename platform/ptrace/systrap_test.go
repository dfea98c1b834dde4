package ptrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	pt "github.com/moat-sandbox/moat/platform/internal/platformtest"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// jumpTo is code that sets eax to nr and jumps to addr: movabs $addr,%r11; jmp *%r11.
func jumpTo(nr uint32, addr uintptr) []byte {
	b := []byte{0xb8, 0, 0, 0, 0, 0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0xff, 0xe3}
	binary.LittleEndian.PutUint32(b[1:], nr)
	binary.LittleEndian.PutUint64(b[7:], uint64(addr))
	return b
}

// storeTo is code that stores rax at addr: movabs $addr,%r11; mov %rax,(%r11).
func storeTo(addr uintptr) []byte {
	b := []byte{0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x49, 0x89, 0x03}
	binary.LittleEndian.PutUint64(b[2:], uint64(addr))
	return b
}

// TestSystrapHostileApplication plays the application that attacks its stub: it jumps
// to the stub's system call sites with registers of its choosing, writes the stub's
// code and data pages, and is sent signals from outside. Each attack must end as an
// event for the Sentry (the call trapped like any other, a fault) or the thread
// group's death (ErrAddressSpaceDead), never a host system call of the application's
// choosing and never a hang.
func TestSystrapHostileApplication(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnvOn(t, NewSystrap)
	c := e.p.NewContext()
	defer c.Release()

	// Calls the stub filter allows (at the site) but the thread filter does not: each
	// traps and reaches the Sentry as a system call, not executed by the host.
	for _, tc := range []struct {
		name string
		site uintptr
		nr   uint32
	}{
		{"mmap at the set-up site", siteSyscall, unix.SYS_MMAP},
		{"seccomp at the set-up site", siteSyscall, unix.SYS_SECCOMP},
		{"clone at the clone site", siteClone, unix.SYS_CLONE},
		{"kill at the kill site", siteKill, unix.SYS_KILL},
		{"getpid at the futex site", siteFutexWake, unix.SYS_GETPID},
		{"mmap at the sigreturn site", siteSigreturn, unix.SYS_MMAP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, jumpTo(tc.nr, stubBase+tc.site))
			st.Regs.Rdi, st.Regs.Rsi, st.Regs.R8 = pt.CodeAddr, pageSize, uint64(e.FD)
			st.Regs.R10 = unix.MAP_SHARED | unix.MAP_FIXED
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventSyscall || arch.SyscallNo(&st.Regs) != uintptr(tc.nr) {
				t.Fatalf("event = %+v (nr %d), want the system call %d trapped", ev, arch.SyscallNo(&st.Regs), tc.nr)
			}
			if want := uint64(stubBase + tc.site + syscallLen); st.Regs.Rip != want {
				t.Errorf("rip = %#x, want %#x", st.Regs.Rip, want)
			}
		})
	}

	// Writing the stub's pages faults: they are read-only in every stub.
	for _, tc := range []struct {
		name string
		addr uintptr
	}{
		{"code page", stubBase},
		{"data page (filters, handler)", stubBase + pageSize},
	} {
		t.Run("write the "+tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, storeTo(tc.addr))
			ev := pt.SwitchOnce(t, c, as, st)
			if ev.Kind != platform.EventFault || ev.Addr != tc.addr || !ev.Access.Write {
				t.Errorf("event = %+v, want a write fault at %#x", ev, tc.addr)
			}
		})
	}

	// The handler's own futex wait, with the application's registers: it sleeps on a
	// word of its own memory; an interrupt still gets the thread back.
	t.Run("futex wait at the handler's site", func(t *testing.T) {
		as, st, _ := e.program(t, jumpTo(unix.SYS_FUTEX, stubBase+siteFutexWait))
		data := e.Alloc(1)
		if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint32(e.Mem[data.Start:], stateStubWait)
		st.Regs.Rdi, st.Regs.Rsi, st.Regs.Rdx, st.Regs.R10 = pt.DataAddr, futexWaitOp, stateStubWait, 0
		go func() { time.Sleep(50 * time.Millisecond); c.Interrupt() }()
		ev, err := c.Switch(as, st)
		if err != nil && !errors.Is(err, platform.ErrAddressSpaceDead) {
			t.Fatalf("Switch = %v", err)
		}
		if err == nil && ev.Kind != platform.EventInterrupt && ev.Kind != platform.EventFault {
			t.Errorf("event = %+v, want the interrupt (or a fault past the site)", ev)
		}
	})

	// The slot is the application's to scribble on: a state the protocol does not know
	// kills the address space, and a state it knows (the Sentry asleep, with or without
	// a go given) or a forged CPU hint (the Sentry on the handler's CPU) makes it sleep
	// or yield, never hang: an interrupt still ends the Switch.
	for _, tc := range []struct {
		name string
		at   uintptr
		v    uint64
	}{
		{"corrupt the context page", 0, 0x77},
		{"forge stateAppSentryWait", 0, stateAppSentryWait},
		{"forge stateSentryWait", 0, stateSentryWait},
		{"forge the CPU hint", ctxStubCPU, uint64(cpuNumber())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The thread's slot is known once it runs (a recycled address space's
			// threads take whichever slots are free): a getpid first, then the
			// store's address is patched in.
			as, st, code := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, storeTo(0), pt.JmpSelf))
			if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
				t.Fatalf("event = %+v, want the getpid", ev)
			}
			binary.LittleEndian.PutUint64(e.Mem[code.Start+uint64(len(pt.MovEax39)+len(pt.SyscallInsn)+2):],
				uint64(c.(*trapContext).t.addr+tc.at))
			st.Regs.Rax = tc.v // stored over the word of the thread's own slot
			type result struct {
				ev  platform.Event
				err error
			}
			done := make(chan result, 1)
			go func() {
				runtime.LockOSThread()
				ev, err := c.Switch(as, st)
				done <- result{ev, err}
			}()
			// The Sentry sees the corrupt word if it looks after the store. If it was
			// already asleep waiting for the thread, the store wakes nothing, and the
			// thread, looping, is an application thread that runs on: an interrupt must
			// still end the Switch (the handler writes a state of its own).
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case r := <-done:
					if !errors.Is(r.err, platform.ErrAddressSpaceDead) &&
						(r.err != nil || r.ev.Kind != platform.EventInterrupt) {
						t.Errorf("Switch = %+v, %v; want ErrAddressSpaceDead or the interrupt", r.ev, r.err)
					}
					return
				case <-tick.C:
					c.Interrupt()
				case <-deadline:
					t.Fatal("Switch hung on a forged context page, interrupts or not")
				}
			}
		})
	}

	// The mapping thread's writable page holds only a hint and its spin budget: forging
	// them changes nothing the Sentry relies on (it trusts the thread's eventfd).
	t.Run("forge the mapping thread's hint", func(t *testing.T) {
		// movabs $-1,%rax; store it over the hint and the spin budget; then loop.
		code := pt.Cat([]byte{0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff}, storeTo(slotBase()),
			storeTo(slotBase()+ctxSpin-4), []byte{0xb8, 0x27, 0, 0, 0}, pt.SyscallInsn, pt.JmpSelf)
		as, st, _ := e.program(t, code)
		if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
			t.Fatalf("event = %+v, want the getpid after the stores", ev)
		}
		for i := 0; i < 3; i++ {
			if err := as.MapFile(pt.DataAddr+uintptr(i)*pageSize, e.Alloc(1), platform.ReadWrite, false); err != nil {
				t.Fatalf("MapFile after the hint was forged: %v", err)
			}
		}
	})

	// Signals sent to the stub from outside: the stub dies of those it does not take,
	// and the thread group with it; SIGUSR2 not from the Sentry is not an interrupt but
	// a signal from outside (EventSignal, as ptrace reports one).
	t.Run("signals from outside", func(t *testing.T) {
		as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.JmpSelf))
		pt.SwitchOnce(t, c, as, st)
		tid := c.(*trapContext).t.tid
		go func() {
			time.Sleep(20 * time.Millisecond)
			unix.Kill(tid, unix.SIGUSR2)
			time.Sleep(20 * time.Millisecond)
			unix.Kill(tid, unix.SIGTERM)
		}()
		for i := 0; ; i++ {
			ev, err := c.Switch(as, st)
			if errors.Is(err, platform.ErrAddressSpaceDead) {
				break
			}
			if err != nil || i == 3 || ev.Kind != platform.EventSignal || ev.Info.Signo != int32(unix.SIGUSR2) {
				t.Fatalf("Switch = %+v, %v; want SIGUSR2 from outside, then ErrAddressSpaceDead after SIGTERM", ev, err)
			}
		}
	})
}

// TestStubCodeSites checks the stub code against the offsets the filters pin.
func TestStubCodeSites(t *testing.T) {
	if len(stubCode) > pageSize {
		t.Fatalf("stub code is %d bytes, more than a page", len(stubCode))
	}
	for _, site := range []uintptr{siteSyscall, siteClone, siteGetpid, siteKill, siteSigreturn,
		siteFutexWake, siteYield, siteFutexWait, siteSysWait, siteSysOp, siteSysDone, siteSetMap, siteSetMapBatch,
		siteSetAltstack, siteSetMask, siteSetTid, siteSetPdeath, siteSetFilter} {
		if stubCode[site] != 0x0f || stubCode[site+1] != 0x05 {
			t.Errorf("no syscall instruction at site %#x", site)
		}
	}
	if stubCode[siteStart] != 0xcc {
		t.Errorf("no pt.Int3 at siteStart")
	}
	for _, entry := range []struct {
		at   uintptr
		code []byte
	}{
		{restorer, []byte{0xb8, 0x0f, 0, 0, 0}},       // mov $15,%eax
		{siteHandler, []byte{0x48, 0x89, 0xe3}},       // mov %rsp,%rbx
		{sysStart, []byte{0x8b, 0x4b, byte(ctxSpin)}}, // mov ctxSpin(%rbx),%ecx
		{setup, []byte{0x4c, 0x89, 0xef}},             // mov %r13,%rdi
	} {
		if !bytes.Equal(stubCode[entry.at:entry.at+uintptr(len(entry.code))], entry.code) {
			t.Errorf("unexpected code at %#x", entry.at)
		}
	}
	// The handler masks rsp with the slot size.
	if got := binary.LittleEndian.Uint32(stubCode[siteHandler+6:]); got != uint32(-slotSize&0xffffffff) {
		t.Errorf("handler masks rsp with %#x, want -%#x", got, slotSize)
	}
}

// TestReleasedThreadSlotUnmapped: a thread released from an address space that lives
// on (a thread's exit, an exec after vfork) keeps its part of the context file out of
// others' hands until its slot is unmapped there (with the next batch of memory
// calls); the address space's other threads go on.
func TestReleasedThreadSlotUnmapped(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnvOn(t, NewSystrap)
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.JmpSelf))
	c0, c1, c2 := e.p.NewContext(), e.p.NewContext(), e.p.NewContext()
	defer c2.Release()
	for _, c := range []platform.Context{c0, c1, c2} {
		s := *st
		if ev := pt.SwitchOnce(t, c, as, &s); ev.Kind != platform.EventSyscall {
			t.Fatalf("event %v, want a system call", ev.Kind)
		}
	}
	// The first thread released becomes the address space's spare (park), and the
	// next context switching in runs on it; the second is killed.
	a := as.(*addressSpace)
	spare := c0.(*trapContext).t
	c0.Release()
	if a.spareThread != spare {
		t.Fatalf("the first thread released is not the spare")
	}
	c3 := e.p.NewContext()
	s := *st
	if ev := pt.SwitchOnce(t, c3, as, &s); ev.Kind != platform.EventSyscall || c3.(*trapContext).t != spare {
		t.Fatalf("a new context after the release: event %v, on the spare: %v", ev.Kind, c3.(*trapContext).t == spare)
	}
	c3.Release() // the spare again
	addr, global := c1.(*trapContext).t.addr, c1.(*trapContext).t.global
	c1.Release()
	freed := func() bool {
		e.p.trap.mu.Lock()
		defer e.p.trap.mu.Unlock()
		for _, f := range e.p.trap.free {
			if f == global {
				return true
			}
		}
		return false
	}
	mapped := func() string {
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", a.control.tid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
			var lo, hi uint64
			if _, err := fmt.Sscanf(l, "%x-%x", &lo, &hi); err == nil && lo < uint64(addr)+slotSize && uint64(addr) < hi {
				return l
			}
		}
		return ""
	}
	if mapped() != "" && freed() {
		t.Fatalf("the released thread's context-file slot is free while still mapped at %#x", addr)
	}
	if err := as.MapFile(pt.DataAddr, e.Alloc(1), platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	if l := mapped(); l != "" {
		t.Errorf("after the next memory call, the released thread's slot is still mapped: %s", l)
	}
	if !freed() {
		t.Errorf("the released thread's context-file slot was not freed once unmapped")
	}
	s = *st
	if ev := pt.SwitchOnce(t, c2, as, &s); ev.Kind != platform.EventSyscall {
		t.Errorf("the other thread after the release: event %v", ev.Kind)
	}
}

// TestSpareReset: a thread that ran application code and was parked as its address
// space's spare is reset before the recycled address space's next user gets it:
// whatever the application did to it (here, blocking the interrupt signal through the
// stub's own rt_sigreturn with a frame of its making), the next user's thread takes
// interrupts.
func TestSpareReset(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newEnvOn(t, NewSystrap)
	le := binary.LittleEndian
	forge := pt.Cat(
		[]byte{0x48, 0xbc}, le.AppendUint64(nil, pt.DataAddr+8), // movabs $frame+8,%rsp
		pt.MovabsR11(uint64(stubBase+restorer)), pt.JmpR11)
	after := uint64(pt.CodeAddr + len(pt.MovEax39) + len(pt.SyscallInsn) + len(forge))
	code := pt.Cat(pt.MovEax39, pt.SyscallInsn, forge, pt.MovEax39, pt.SyscallInsn, pt.JmpSelf)
	as, st, _ := e.program(t, code)
	data := e.Alloc(1)
	if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	c := e.p.NewContext()
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event %v, want a system call", ev.Kind)
	}
	th := c.(*trapContext).t
	// The frame: the thread's own alternate stack, SIGUSR2 blocked, back at after.
	uc := e.Mem[data.Start+8:]
	le.PutUint64(uc[arch.UcontextStack:], uint64(th.addr+slotStackOffset))
	le.PutUint64(uc[arch.UcontextStack+16:], slotSize-slotStackOffset)
	arch.WriteSigcontext(uc[arch.UcontextMcontext:], &arch.Registers{Rip: after, Rsp: pt.DataAddr + 0x800,
		Cs: arch.UserCS, Ss: arch.UserSS, Eflags: 0x202})
	le.PutUint64(uc[arch.UcontextSigmask:], 1<<(interruptTrapSignal-1))
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Rip != after+7 {
		t.Fatalf("after the forged rt_sigreturn: event %v at %#x, want a system call at %#x", ev.Kind, st.Regs.Rip, after+7)
	}
	if blocked := sigBlocked(t, th.tid); blocked&(1<<(interruptTrapSignal-1)) == 0 {
		t.Fatalf("the forged frame did not block SIGUSR2 (SigBlk %#x)", blocked)
	}
	c.Release()
	a := as.(*addressSpace)
	if a.spareThread != th {
		t.Fatalf("the released thread is not the spare")
	}
	if recycledSpare(t, e, as) != th || th.ran {
		t.Fatalf("the recycled address space's spare is not the reset thread")
	}
	// The frame of the reset's event holds the mask the thread had at its int3.
	if blocked := le.Uint64(th.slot[th.uc+arch.UcontextSigmask:]); blocked != 0 {
		t.Errorf("the reset thread blocked signals %#x", blocked)
	}
	as2, st2 := as, nextUser(t, e, as, pt.JmpSelf)
	c2 := e.p.NewContext()
	defer c2.Release()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				c2.Interrupt()
			}
		}
	}()
	if ev := pt.SwitchOnce(t, c2, as2, st2); ev.Kind != platform.EventInterrupt || c2.(*trapContext).t != th {
		t.Errorf("the next user: event %v, on the reset thread: %v", ev.Kind, c2.(*trapContext).t == th)
	}
}

// recycledSpare releases as, waits for the platform to recycle it, and returns its
// spare thread.
func recycledSpare(t *testing.T, e *env, as platform.AddressSpace) *trapThread {
	t.Helper()
	a := as.(*addressSpace)
	as.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.p.mu.Lock()
		ready := slices.Contains(e.p.ready, a)
		e.p.mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the address space was not recycled within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	return a.spareThread
}

// nextUser maps code in new address spaces until the platform hands out as, recycled
// (it may hand out a spare it made first), and returns the state that runs it.
func nextUser(t *testing.T, e *env, as platform.AddressSpace, code []byte) *arch.State {
	t.Helper()
	for range 4 {
		if next, st, _ := e.program(t, code); next == as {
			return st
		}
	}
	t.Fatal("the recycled address space is not handed out")
	return nil
}

// sigBlocked reads thread tid's blocked signals (SigBlk in /proc).
func sigBlocked(t *testing.T, tid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no SigBlk")
	return 0
}

// TestSpareResetRunning: the application can set a parked thread running its own
// code again: its threads can write each other's state words, and wake a sleeping
// handler through the stub's own futex site. The test does that to a parked spare,
// which then runs on in the application's loop, counting, until the recycling resets
// it: then the count stops, and the next user runs on it.
func TestSpareResetRunning(t *testing.T) {
	e := newEnvOn(t, NewSystrap)
	incLoop := []byte{0x48, 0xff, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, 0xeb, 0xf6} // 1: incq 0x500000; jmp 1b
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, incLoop))
	data := e.Alloc(1)
	if err := as.MapFile(pt.DataAddr, data, platform.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 { return binary.LittleEndian.Uint64(e.Mem[data.Start:]) }
	c1 := e.p.NewContext()
	if ev := pt.SwitchOnce(t, c1, as, st); ev.Kind != platform.EventSyscall {
		t.Fatalf("event %v, want a system call", ev.Kind)
	}
	spare := c1.(*trapContext).t
	c1.Release()
	a := as.(*addressSpace)
	if a.spareThread != spare {
		t.Fatal("the released thread is not the spare")
	}
	// What another thread of the application can do: stateApp, and a wake-up.
	spare.swapState(stateApp)
	spare.futexWake()
	deadline := time.Now().Add(10 * time.Second)
	for count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the spare did not run the application's loop")
		}
		time.Sleep(time.Millisecond)
	}
	if recycledSpare(t, e, as) != spare || spare.ran {
		t.Fatalf("the recycled address space's spare is not the reset thread")
	}
	n := count()
	time.Sleep(20 * time.Millisecond)
	if m := count(); m != n {
		t.Errorf("the reset thread still runs the application's loop (%d -> %d)", n, m)
	}
	as3, st3 := as, nextUser(t, e, as, pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.JmpSelf))
	c3 := e.p.NewContext()
	defer c3.Release()
	if ev := pt.SwitchOnce(t, c3, as3, st3); ev.Kind != platform.EventSyscall || st3.Regs.Rip != pt.CodeAddr+7 || c3.(*trapContext).t != spare {
		t.Errorf("the next user: event %v at %#x, on the reset thread: %v", ev.Kind, st3.Regs.Rip, c3.(*trapContext).t == spare)
	}
}

// TestSystrapSwitchFromAnyThread: systrap's contexts are not thread-bound, ptrace's are
// (Platform.ThreadBound). One systrap context is switched into from a new OS thread each
// time: every Switch returns the program's next system call, with the registers the
// last one left; and an Interrupt stops a Switch running on yet another thread.
func TestSystrapSwitchFromAnyThread(t *testing.T) {
	if p := newEnv(t).p; !p.ThreadBound() {
		t.Errorf("ptrace: ThreadBound = false, want true")
	}
	e := newEnvOn(t, NewSystrap)
	if e.p.ThreadBound() {
		t.Fatalf("systrap: ThreadBound = true, want false")
	}
	// 1: inc %rdi; mov $39,%eax; syscall; jmp 1b
	as, st, _ := e.program(t, pt.Cat([]byte{0x48, 0xff, 0xc7}, pt.MovEax39, pt.SyscallInsn, []byte{0xeb, 0xf4}))
	c := e.p.NewContext()
	defer c.Release()
	// onNewThread runs f on a goroutine locked to its OS thread, which ends with it
	// (a goroutine that exits locked takes its thread with it), and returns the
	// thread's ID.
	onNewThread := func(f func()) int {
		tid := make(chan int)
		go func() {
			runtime.LockOSThread()
			f()
			tid <- unix.Gettid()
		}()
		return <-tid
	}
	tids := map[int]bool{}
	for i := 1; i <= 5; i++ {
		var ev platform.Event
		var err error
		tids[onNewThread(func() { ev, err = c.Switch(as, st) })] = true
		if err != nil {
			t.Fatalf("Switch %d: %v", i, err)
		}
		if ev.Kind != platform.EventSyscall || arch.SyscallNo(&st.Regs) != unix.SYS_GETPID {
			t.Fatalf("Switch %d: event %+v (nr %d), want getpid", i, ev, arch.SyscallNo(&st.Regs))
		}
		if st.Regs.Rdi != uint64(i) {
			t.Errorf("Switch %d: rdi = %d, want %d", i, st.Regs.Rdi, i)
		}
		arch.SetReturn(&st.Regs, 0)
	}
	if len(tids) < 2 {
		t.Errorf("the Switches ran on %d OS threads, want several", len(tids))
	}

	as2, st2, _ := e.program(t, pt.JmpSelf)
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Interrupt()
	}()
	var ev platform.Event
	var err error
	onNewThread(func() { ev, err = c.Switch(as2, st2) })
	if err != nil || ev.Kind != platform.EventInterrupt {
		t.Errorf("Switch into a loop, interrupted from another thread: %+v, %v; want the interrupt", ev, err)
	}
}
