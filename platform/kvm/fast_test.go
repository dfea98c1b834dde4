package kvm

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/platform"
	pt "github.com/moat-sandbox/moat/platform/internal/platformtest"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// fastLoop: 1: mov %rax,%rsi; add $1,%rdi; movq %rdi,%xmm5; mov $39,%eax; syscall;
// jmp 1b. Each call carries the count in rdi and xmm5 and the last answer in rsi.
var fastLoop = pt.Cat(
	[]byte{0x48, 0x89, 0xc6},                        // mov %rax,%rsi
	[]byte{0x48, 0x83, 0xc7, 0x01},                  // add $1,%rdi
	[]byte{0x66, 0x48, 0x0f, 0x6e, 0xef},            // movq %rdi,%xmm5
	pt.MovEax39, pt.SyscallInsn, []byte{0xeb, 0xeb}, // jmp 1b
)

// TestFastSyscall runs many system calls and checks that each comes once, in order,
// with its registers, FP state and fs base, and that each answer reaches the
// application; with ordinary returns (the fast path where the host has it), returns
// that are not sysret's (a new rip), page-table changes in between, and interrupts
// from another goroutine, all mixed.
func TestFastSyscall(t *testing.T) {
	e := newEnv(t)
	as, st, _ := e.program(t, fastLoop)
	other := e.Alloc(1)
	c := e.p.NewContext().(*context)
	defer c.Release()
	st.Regs.Fs_base = 0x7000_0000_1000
	stopInterrupts := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopInterrupts:
				return
			case <-time.After(200 * time.Microsecond):
				c.Interrupt()
			}
		}
	}()
	defer func() { close(stopInterrupts); wg.Wait() }()

	const rounds = 3000
	calls, fast, interrupts := uint64(0), 0, 0
	for i := 0; calls < rounds; i++ {
		ev, err := c.Switch(as, st)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if ev.Kind == platform.EventInterrupt {
			interrupts++
			continue
		}
		if ev.Kind != platform.EventSyscall {
			t.Fatalf("call %d: event %+v at %#x", calls, ev, st.Regs.Rip)
		}
		calls++
		r := &st.Regs
		if r.Rdi != calls || r.Orig_rax != 39 || r.Fs_base != 0x7000_0000_1000 ||
			binary.LittleEndian.Uint64(st.FP.XMM(5)) != calls {
			t.Fatalf("call %d: rdi %d, number %d, fs base %#x, xmm5 %x", calls, r.Rdi, r.Orig_rax, r.Fs_base, st.FP.XMM(5))
		}
		if calls > 1 && r.Rsi != 1000+calls-1 {
			t.Fatalf("call %d: the last answer reached the application as %d, want %d", calls, r.Rsi, 1000+calls-1)
		}
		if r.Rip != pt.CodeAddr+uint64(len(fastLoop)-2) || r.Rcx != r.Rip || r.R11 != r.Eflags {
			t.Fatalf("call %d: rip %#x rcx %#x r11 %#x rflags %#x", calls, r.Rip, r.Rcx, r.R11, r.Eflags)
		}
		if c.posted {
			fast++
		}
		arch.SetReturn(r, uintptr(1000+calls))
		switch calls % 50 {
		case 10: // not a sysret: the next round starts over at the loop's first instruction
			r.Rip = pt.CodeAddr
		case 20: // the page tables change in between
			if err := as.MapFile(pt.DataAddr, other, platform.Read, false); err != nil {
				t.Fatal(err)
			}
			if err := as.Unmap(pt.DataAddr, pageSize); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d calls, %d fast, %d interrupts; vCPU fast: %v", calls, fast, interrupts, c.v != nil && c.v.fast)
	if c.v != nil && c.v.fast && fast == 0 {
		t.Error("the vCPU has a fast entry, yet no call came through it")
	}
}

// TestFastSlotHostile: an application that writes its own slot (forging a posted
// call, or a state word the protocol does not know) or jumps into the fast entry's
// code with registers of its own can only end its own address space, never hang or
// crash the Sentry, and the vCPU serves the next address space.
func TestFastSlotHostile(t *testing.T) {
	e := newEnv(t)
	c, _ := fastContext(t, e)
	slot := slotVA(c.v.id)
	for _, tc := range []struct {
		name string
		code []byte
	}{
		// movl $n,(%r11) then spin
		{"forged post", pt.Cat(pt.MovabsR11(slot), []byte{0x41, 0xc7, 0x03, stateSyscall, 0, 0, 0}, pt.JmpSelf)},
		{"unknown state", pt.Cat(pt.MovabsR11(slot), []byte{0x41, 0xc7, 0x03, 0x77, 0, 0, 0}, pt.SyscallInsn, pt.JmpSelf)},
		{"garbage XSAVE header", pt.Cat(pt.MovabsR11(slot+slotXsave+512+8), []byte{0x49, 0xc7, 0x03, 0xff, 0xff, 0xff, 0xff}, // movq $-1,(%r11)
			pt.MovabsR11(kernelBase+codeOff+fastResumeOff), []byte{0x48, 0xbb}, le64(slot), pt.JmpR11)}, // movabs $slot,%rbx
		{"resume with its own rbx", pt.Cat(pt.MovabsR11(kernelBase+codeOff+fastResumeOff), pt.JmpR11)},
		{"save with its own rax", pt.Cat(pt.MovabsR11(kernelBase+codeOff+fastSaveOff), pt.JmpR11)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, st, _ := e.program(t, tc.code)
			st.Regs.Rax, st.Regs.Rbx = pt.DataAddr, pt.DataAddr
			done := make(chan struct{})
			go func() {
				select {
				case <-done:
				case <-time.After(100 * time.Millisecond):
					c.Interrupt()
				}
			}()
			for i := 0; i < 3; i++ {
				ev, err := c.Switch(as, st)
				if err != nil {
					t.Logf("Switch: %v", err)
					if !errors.Is(err, platform.ErrAddressSpaceDead) {
						t.Errorf("Switch = %v, want ErrAddressSpaceDead or an event", err)
					}
					break
				}
				t.Logf("event %v at %#x (vCPU %d)", ev.Kind, st.Regs.Rip, c.v.id)
				if ev.Kind == platform.EventInterrupt {
					break
				}
			}
			close(done)
			as.Release()
		})
	}
	// The vCPU (or a new one) still works.
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn))
	if ev := pt.SwitchOnce(t, c, as, st); ev.Kind != platform.EventSyscall || st.Regs.Orig_rax != 39 {
		t.Errorf("event after the attacks = %+v", ev)
	}
}

// TestFastSlotsReused: the slots of a released address space (their tables and pages)
// serve the next address space that needs a slot, mapped at the same addresses, with
// nothing of what the last user wrote there.
func TestFastSlotsReused(t *testing.T) {
	defer func(r bool) { recycleAddressSpaces = r }(recycleAddressSpaces)
	recycleAddressSpaces = false // the slots alone are kept
	e := newEnv(t)
	c, as := fastContext(t, e)
	as.Release()
	marker := slotVA(c.v.id) + 0x200 // a part of the slot the entry does not use
	// movabs $marker,%r11; movq $0x1234,(%r11); mov $39,%eax; syscall
	as1, st1, _ := e.program(t, pt.Cat(pt.MovabsR11(marker), []byte{0x49, 0xc7, 0x03, 0x34, 0x12, 0, 0}, pt.MovEax39, pt.SyscallInsn))
	if ev := pt.SwitchOnce(t, c, as1, st1); ev.Kind != platform.EventSyscall {
		t.Fatalf("first address space: event %+v", ev)
	}
	k := as1.(*addressSpace).slots
	if k == nil || len(k.tables) == 0 {
		t.Fatal("the first address space has no slot tables")
	}
	as1.Release()
	// movabs $marker,%r11; mov (%r11),%rdi; mov $39,%eax; syscall
	as2, st2, _ := e.program(t, pt.Cat(pt.MovabsR11(marker), []byte{0x49, 0x8b, 0x3b}, pt.MovEax39, pt.SyscallInsn))
	defer as2.Release()
	st2.Regs.Rdi = 99
	if ev := pt.SwitchOnce(t, c, as2, st2); ev.Kind != platform.EventSyscall || st2.Regs.Orig_rax != 39 {
		t.Fatalf("second address space: event %+v, number %d", ev, st2.Regs.Orig_rax)
	}
	if st2.Regs.Rdi != 0 {
		t.Errorf("the second address space read %#x in its slot, want 0 (the last user's 0x1234 cleared)", st2.Regs.Rdi)
	}
	if got := as2.(*addressSpace).slots; got != k {
		t.Errorf("the second address space's slot tables are new, want the first's kept")
	}
}

// fastContext returns a context whose vCPU has taken its fast entry (two system calls
// in a program of its own, whose address space it returns), or skips the test where the
// host gives none. The context is released when the test ends.
func fastContext(t *testing.T, e *env) (*context, platform.AddressSpace) {
	t.Helper()
	c := e.p.NewContext().(*context)
	t.Cleanup(c.Release)
	as, st, _ := e.program(t, pt.Cat(pt.MovEax39, pt.SyscallInsn, pt.SyscallInsn))
	pt.SwitchOnce(t, c, as, st)
	pt.SwitchOnce(t, c, as, st)
	if c.v == nil || !c.v.fast {
		t.Skip("skipping: no fast system calls on this host")
	}
	return c, as
}
