package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// context is a platform.Context: one application thread, run on the stub thread that
// the calling OS thread traces in the address space it switches into.
type context struct {
	p *Platform

	// interrupted is set by Interrupt and consumed by Switch. running is the stub
	// thread a Switch is running, or 0. Interrupt sets interrupted, then reads running;
	// Switch sets running, then reads interrupted: one of them always sees the other.
	interrupted atomic.Bool
	running     atomic.Int64
	// last is the address space the last Switch ran in: Release parks the stub thread
	// the calling OS thread traces there.
	last *addressSpace
}

var _ platform.Context = (*context)(nil)

// interruptSignal stops a running stub thread. SIGSTOP can't be blocked, caught or
// ignored by anything in the stub, and a stray one (an interrupt that arrives after its
// Switch returned) is recognised by the cleared flag and discarded.
const interruptSignal = unix.SIGSTOP

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupted.Store(true)
	if tid := c.running.Load(); tid != 0 {
		unix.Tgkill(int(tid), int(tid), interruptSignal)
	}
}

// Release implements platform.Context.Release: the stub thread the calling OS thread
// traces in the address space of the last Switch becomes that address space's spare
// stub, if it has none (addressSpace.park). The task's goroutine calls it, on its
// thread, the tracer.
func (c *context) Release() {
	if a := c.last; a != nil {
		c.last = nil
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		a.park(unix.Gettid())
	}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(as platform.AddressSpace, st *arch.State) (platform.Event, error) {
	a, ok := as.(*addressSpace)
	if !ok || a.p != c.p {
		return platform.Event{}, fmt.Errorf("ptrace: Switch into a foreign address space %T", as)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if a.leftover.Load() {
		if err := a.clearLeftover(); err != nil {
			return platform.Event{}, err
		}
	}
	t, err := a.threadFor(unix.Gettid())
	if err != nil {
		return platform.Event{}, err
	}
	c.last = a
	t.mu.Lock()
	defer t.mu.Unlock()

	c.running.Store(int64(t.tid))
	defer c.running.Store(0)
	if c.interrupted.Swap(false) {
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	t.bind()
	if err := c.load(t, st); err != nil {
		return platform.Event{}, c.failed(a, t, err)
	}
	if err := ptrace(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
		return platform.Event{}, c.failed(a, t, t.lost(err))
	}
	for {
		ws, err := t.wait()
		if err != nil {
			return platform.Event{}, c.failed(a, t, err)
		}
		ev, done, err := c.classify(a, t, ws, st)
		if err != nil {
			return platform.Event{}, c.failed(a, t, err)
		}
		if done {
			if err := c.save(t, st); err != nil {
				return platform.Event{}, c.failed(a, t, err)
			}
			// A syscall instruction leaves rip in rcx and the flags in r11; a stop
			// without them is int $0x80 (or sysenter), an i386 call. (An application
			// that sets them so itself gets its int $0x80 taken for a 64-bit call, which
			// it could have made.)
			if ev.Kind == platform.EventSyscall && (st.Regs.Rcx != st.Regs.Rip || st.Regs.R11 != st.Regs.Eflags) {
				st.Regs.Rax = st.Regs.Orig_rax
				ev = legacySyscall(st)
			}
			return ev, nil
		}
		// Not for the Sentry (a stale interrupt, a stop of ours): run on.
		if err := ptrace(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
			return platform.Event{}, c.failed(a, t, t.lost(err))
		}
	}
}

// classify turns a stop into an event, or done=false for a stop to run past.
func (c *context) classify(a *addressSpace, t *thread, ws unix.WaitStatus, st *arch.State) (ev platform.Event, done bool, err error) {
	sig := ws.StopSignal()
	switch {
	case sig == unix.SIGTRAP|0x80:
		return platform.Event{Kind: platform.EventSyscall}, true, nil
	case ws.TrapCause() == unix.PTRACE_EVENT_STOP:
		// A group-stop (a stop signal from outside, already reported): run on.
		return ev, false, nil
	case sig == interruptSignal:
		if c.interrupted.Swap(false) {
			return platform.Event{Kind: platform.EventInterrupt}, true, nil
		}
		return ev, false, nil
	}
	if err := getSiginfo(t.tid, &ev.Info); err != nil {
		return ev, false, t.lost(err)
	}
	ev.Kind = platform.EventSignal
	code := ev.Info.Code
	if sig == unix.SIGSEGV && (code == arch.SEGV_MAPERR || code == arch.SEGV_ACCERR) ||
		sig == unix.SIGBUS && (code == arch.BUS_ADRERR || code == arch.BUS_OBJERR) {
		var regs arch.Registers
		if err := getRegs(t.tid, &regs); err != nil {
			return ev, false, t.lost(err)
		}
		ev.Kind = platform.EventFault
		ev.Addr = ev.Info.Addr()
		ev.Access = a.faultAccess(&ev.Info, uintptr(regs.Rip))
	}
	return ev, true, nil
}

// load puts st into the stopped stub thread t.
func (c *context) load(t *thread, st *arch.State) error {
	regs := st.Regs
	// Not in a system call as far as the host is concerned: the host must never restart
	// one on the way out (the Sentry restarts system calls itself).
	regs.Orig_rax = ^uint64(0)
	if err := setRegs(t.tid, &regs); err != nil {
		return t.lost(err)
	}
	if len(st.FP) != c.p.fpSize {
		st.FP = resizeFP(st.FP, c.p.fpSize)
	}
	if t.fpOwner == st && bytes.Equal(t.fpImage, st.FP) {
		return nil // the thread still holds exactly these FP registers
	}
	t.fpOwner = nil
	if err := setFP(t.tid, st.FP); err != nil {
		return t.lost(err)
	}
	return nil
}

// save reads the stopped stub thread t's registers into st.
func (c *context) save(t *thread, st *arch.State) error {
	if err := getRegs(t.tid, &st.Regs); err != nil {
		return t.lost(err)
	}
	if _, err := getFP(t.tid, st.FP); err != nil {
		return t.lost(err)
	}
	t.fpOwner = st
	t.fpImage = append(t.fpImage[:0], st.FP...)
	return nil
}

// failed ends a Switch that lost its stub: the address space is dead.
func (c *context) failed(a *addressSpace, t *thread, err error) error {
	if died := (*errStubDied)(nil); errors.As(err, &died) {
		return a.die(err)
	}
	// Anything else (the kernel refused the registers) leaves the stub in an unknown
	// state: it can't be trusted either.
	return a.die(fmt.Errorf("stub %d: %w", t.tid, err))
}

// resizeFP returns an XSAVE area of size n holding what f holds.
func resizeFP(f arch.FPState, n int) arch.FPState {
	if len(f) < 576 {
		return arch.NewFPStateSized(n)
	}
	g := arch.NewFPStateSized(n)
	copy(g, f)
	return g
}

// legacySyscall is the event of an i386 system call from 64-bit code (int $0x80; a
// stop past its 2-byte instruction, rax the number): the Sentry has only the x86-64
// table, so it goes as on a kernel without IA32 emulation, where the int $0x80 gate
// does not exist and the instruction raises #GP: SIGSEGV from the kernel, rip at the
// instruction. (Taking it for an x86-64 call would run another call than the one
// asked: eax 1, exit, is write there.)
func legacySyscall(st *arch.State) platform.Event {
	st.Regs.Rip -= 2
	st.Regs.Orig_rax = ^uint64(0)
	ev := platform.Event{Kind: platform.EventSignal}
	ev.Info.Signo, ev.Info.Code = int32(unix.SIGSEGV), arch.SI_KERNEL
	return ev
}
