// Package platform is the seam between the Sentry and the machine that runs application
// code. A platform gives the Sentry three things:
//
//   - AddressSpace: an application address space into which the Sentry maps ranges of
//     the sandbox's memory file (the memfd that backs all application memory) with a
//     protection, and from which it unmaps them. The platform holds no policy: the
//     Sentry's memory manager decides what is mapped where, and on a fault tells the
//     platform to map more.
//   - Context: one application thread's way onto the CPU. Switch loads a thread's
//     registers into the address space, runs application code until it makes a system
//     call, faults, receives a signal or is interrupted, saves the registers back and
//     returns an Event. No system call of the application is ever executed by the host:
//     each one returns from Switch as EventSyscall for the Sentry to implement.
//   - Interrupt: another goroutine makes a running Switch return promptly, or the next
//     Switch return at once, with EventInterrupt (so a wake-up is never lost).
//
// Three implementations pass the same tests: ptrace (every host; the reference), systrap
// (seccomp traps in the application's own thread) and kvm (guest ring 3). This package
// knows nothing of tasks, files or the kernel; it imports only sentry/arch.
package platform

import (
	"errors"
	"fmt"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// PageSize is the size of the pages every platform maps.
const PageSize = 4096

// Platform makes address spaces and contexts over one memory file.
type Platform interface {
	// Name is the name of the platform, as runsc's --platform flag gives it.
	Name() string

	// MinUserAddress and MaxUserAddress bound the addresses an application may map:
	// [MinUserAddress, MaxUserAddress). Above MaxUserAddress the platform keeps its own
	// pages (a stub), which the application can neither see nor touch.
	MinUserAddress() uintptr
	MaxUserAddress() uintptr

	// NewAddressSpace returns a new, empty address space.
	NewAddressSpace() (AddressSpace, error)

	// NewContext returns a context for one application thread. A context is used by one
	// goroutine at a time (see ThreadBound for which OS thread).
	NewContext() Context

	// ThreadBound reports whether the platform's contexts want to be switched into from
	// one OS thread for their whole life. Where it does, the goroutine that uses a
	// context locks itself to its thread (runtime.LockOSThread) before its first Switch
	// and stays locked, also while it waits for something else between Switches: the
	// context works, or works well, only so (ptrace: a stub thread is traced by one OS
	// thread, which alone may resume it, so each new thread of the caller's makes a new
	// stub thread; kvm: KVM records which thread runs a vCPU, and a change costs the
	// next KVM_RUN more, an RCU grace period on older kernels). Where it does not
	// (systrap: a Switch hands the application thread over through memory they share
	// and a futex, and interrupts it with a signal to that thread, from whichever OS
	// thread it is called), a Switch may be called from any OS thread, each time
	// another, and the caller need not stay on one: a goroutine that waits between
	// Switches then waits as a goroutine, not as a parked OS thread that only a wake-up
	// of that very thread (a host context switch) gets running again.
	ThreadBound() bool

	// Close releases the platform. Address spaces and contexts must be released first.
	Close() error
}

// AddressSpace is an application address space.
//
// Its methods may be called from any goroutine, including while contexts run in it;
// changes are visible to running threads once the call returns.
type AddressSpace interface {
	// MapFile maps fr of the memory file at addr with access at, replacing whatever was
	// mapped in [addr, addr+fr.Length()). addr and fr must be page-aligned and the range
	// must lie within [MinUserAddress, MaxUserAddress) and within the memory file.
	// With precommit the platform populates the mapping at once.
	MapFile(addr uintptr, fr FileRange, at AccessType, precommit bool) error

	// Unmap removes every mapping in [addr, addr+length).
	Unmap(addr, length uintptr) error

	// Protect changes the access of whatever is mapped in [addr, addr+length); holes
	// are left as they are.
	Protect(addr, length uintptr, at AccessType) error

	// Release destroys the address space, or empties it for the platform to hand out
	// again from NewAddressSpace (ptrace and systrap recycle address spaces). The
	// caller must not use it afterwards: no mapping call, no Switch into it. A second
	// Release does nothing.
	Release()
}

// FileMapping is one MapFile call: fr of the memory file at addr with access at.
type FileMapping struct {
	Addr   uintptr
	File   FileRange
	Access AccessType
}

// Protection is one Protect call: [Addr, Addr+Length) to Access.
type Protection struct {
	Addr, Length uintptr
	Access       AccessType
}

// MapBatcher is implemented by address spaces that can make many mapping changes in one
// call.
type MapBatcher interface {
	// MapFiles is MapFile of each of ms, in order; on an error, some may have been
	// made.
	MapFiles(ms []FileMapping) error

	// ProtectAll is Protect of each of ps, in order; on an error, some may have been
	// changed.
	ProtectAll(ps []Protection) error

	// Batched reports whether MapFiles costs about one MapFile call whatever the
	// number of mappings (systrap: one round trip to the address space's mapping
	// thread for up to hundreds). Where it does not, a caller that can leave mappings
	// to the faults that need them should: the memory manager maps a forked child's
	// pages at fork only where batches are cheap.
	Batched() bool
}

// Refiller is implemented by address spaces that NewAddressSpace may hand out again
// still holding a former user's mappings (ptrace, systrap and kvm recycle released ones), for
// a first user that knows at once every mapping it wants (a forked child).
type Refiller interface {
	// Refill gives a new address space the mappings ms (sorted by address, disjoint)
	// and no others: of what it holds, the same mappings (memory-file offsets and
	// access) stay and the rest goes; the mappings of ms it lacks are made now where
	// batches are cheap (MapBatcher.Batched), else left to the faults that need them.
	// It must be the first call on the address space.
	Refill(ms []FileMapping) error
}

// Context runs one application thread.
type Context interface {
	// Switch runs the thread whose state is st in as until it stops, and returns why.
	// st holds the registers and FP state on entry and on return.
	//
	// An error means the address space can no longer run code (its stub died, it was
	// released): the Sentry must treat the thread group as killed. It never means a
	// problem with the application's own code; those come back as events.
	Switch(as AddressSpace, st *arch.State) (Event, error)

	// Interrupt makes a Switch running in another goroutine return promptly with
	// EventInterrupt; if no Switch is running, the next one returns at once with it.
	Interrupt()

	// Release frees the context's resources. The kernel calls it when the task has
	// made its last Switch, and at exec, each time before it drops the address space
	// the task ran in: a platform may keep the context's host thread for that address
	// space's next context (systrap). A Switch after Release takes new resources.
	Release()
}

// EventKind says why Switch returned.
type EventKind int

// Events.
const (
	// EventSyscall: the thread made a system call, which did not execute. The registers
	// hold its number (arch.SyscallNo) and arguments; rip is past the instruction; the
	// Sentry writes the result with arch.SetReturn before switching back.
	EventSyscall EventKind = iota + 1

	// EventFault: a memory access faulted (SIGSEGV or SIGBUS). Addr and Access tell
	// where and what; Info is the signal the host raised.
	EventFault

	// EventSignal: the thread raised another synchronous signal (SIGILL, SIGFPE,
	// SIGTRAP…), or a signal was sent to the platform's process from outside. Info
	// holds it.
	EventSignal

	// EventInterrupt: Interrupt was called.
	EventInterrupt
)

func (k EventKind) String() string {
	switch k {
	case EventSyscall:
		return "syscall"
	case EventFault:
		return "fault"
	case EventSignal:
		return "signal"
	case EventInterrupt:
		return "interrupt"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what stopped a thread.
type Event struct {
	Kind   EventKind
	Info   arch.SignalInfo // EventFault, EventSignal
	Addr   uintptr         // EventFault: the faulting address
	Access AccessType      // EventFault: the access that faulted
}

// AccessType is a set of memory access kinds.
type AccessType struct {
	Read, Write, Execute bool
}

// Common access types.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	ReadWrite = AccessType{Read: true, Write: true}
	ReadExec  = AccessType{Read: true, Execute: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// Prot returns at as mmap's PROT_* bits.
func (at AccessType) Prot() int {
	p := 0
	if at.Read {
		p |= 1 // PROT_READ
	}
	if at.Write {
		p |= 2 // PROT_WRITE
	}
	if at.Execute {
		p |= 4 // PROT_EXEC
	}
	return p
}

// SupersetOf reports whether at allows everything o allows.
func (at AccessType) SupersetOf(o AccessType) bool {
	return (at.Read || !o.Read) && (at.Write || !o.Write) && (at.Execute || !o.Execute)
}

func (at AccessType) String() string {
	b := []byte("---")
	if at.Read {
		b[0] = 'r'
	}
	if at.Write {
		b[1] = 'w'
	}
	if at.Execute {
		b[2] = 'x'
	}
	return string(b)
}

// FileRange is the byte range [Start, End) of the memory file.
type FileRange struct {
	Start, End uint64
}

// Length is End-Start.
func (fr FileRange) Length() uint64 { return fr.End - fr.Start }

// Errors, wrapped with details by the platforms.
var (
	// ErrBadRange: an address or file range that is misaligned, empty, wraps, or lies
	// outside what the platform allows (the application's range, the memory file).
	ErrBadRange = errors.New("bad range")

	// ErrAddressSpaceDead: the address space can run no more code: it was released,
	// or its host side (a stub process) died or was killed from outside.
	ErrAddressSpaceDead = errors.New("address space is dead")
)
