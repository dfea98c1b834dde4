// Package arch is the x86-64 machine as the Sentry sees an application thread: its
// general registers, its floating-point and vector state, and the signal information
// the hardware's traps produce.
//
// The layouts are the kernel's. Registers are struct user_regs_struct (unix.PtraceRegs),
// which ptrace reads and writes whole and which the signal frame code will translate to
// and from a ucontext. The FP state is an XSAVE area in the standard (non-compacted)
// format, the layout of ptrace's NT_X86_XSTATE register set and of the signal frame's
// fpstate, so it moves between the platforms and the application without conversion.
//
// Every platform (ptrace, systrap, kvm) saves a thread's state into a State when the
// thread stops and loads it back when the thread resumes; nothing else of the platform
// leaks into the Sentry. A platform may leave the FP state where the stopped thread
// keeps it (systrap: in the signal frame its handler was given, kilobytes that most
// system calls never look at) and say so with DeferFP: State.FP is then stale until
// LoadFP, which every reader of FP in this package calls first.
package arch

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Registers are the general registers of one thread, as struct user_regs_struct.
type Registers = unix.PtraceRegs

// State is the user-visible CPU state of one application thread.
type State struct {
	Regs Registers
	// FP is the FP state, stale while fpSource holds it (LoadFP).
	FP FPState

	fpSource FPSource
}

// FPSource is a platform's thread that holds a State's FP state in its place.
type FPSource interface {
	// LoadFP copies the FP state it holds for st into st.FP (of the platform's size).
	LoadFP(st *State)
}

// DeferFP says that src holds s's FP state: s.FP is stale until LoadFP.
func (s *State) DeferFP(src FPSource) { s.fpSource = src }

// DeferredFP is the source holding s's FP state, or nil when s.FP is current.
func (s *State) DeferredFP() FPSource { return s.fpSource }

// LoadFP makes s.FP current, fetching it from the platform that holds it.
func (s *State) LoadFP() {
	if src := s.fpSource; src != nil {
		s.fpSource = nil
		src.LoadFP(s)
	}
}

// NewState returns the state of a thread that has not run yet: zero registers, the
// user code and stack segments, and the FP state a new process starts with (see
// NewFPState).
func NewState() *State {
	s := &State{FP: NewFPState()}
	s.Regs.Cs = UserCS
	s.Regs.Ss = UserSS
	s.Regs.Eflags = EflagsDefault
	return s
}

// Fork returns a copy of s that shares no memory with it.
func (s *State) Fork() *State {
	s.LoadFP()
	return &State{Regs: s.Regs, FP: s.FP.Fork()}
}

// Segment selectors of 64-bit user mode (arch/x86/include/asm/segment.h: __USER_CS,
// __USER_DS).
const (
	UserCS = 0x33
	UserSS = 0x2b
)

// EflagsDefault is the flags register of a new thread: only the reserved bit 1 and IF.
const EflagsDefault = 0x202

// Syscall decoding, from the registers at a system-call stop: the number is in orig_rax
// (rax is already -ENOSYS there), the arguments in rdi, rsi, rdx, r10, r8, r9.

// SyscallNo returns the system-call number of a thread stopped at a system call: the
// low 32 bits of orig_rax, sign-extended, as do_syscall_64 takes it (an int), so that
// 1<<32|39 is getpid and -1 is no call at all.
func SyscallNo(r *Registers) uintptr { return uintptr(int64(int32(r.Orig_rax))) }

// SyscallArgs returns the six arguments of a thread stopped at a system call.
func SyscallArgs(r *Registers) [6]uintptr {
	return [6]uintptr{uintptr(r.Rdi), uintptr(r.Rsi), uintptr(r.Rdx),
		uintptr(r.R10), uintptr(r.R8), uintptr(r.R9)}
}

// SetReturn stores a system call's return value (or -errno) in rax.
func SetReturn(r *Registers, v uintptr) { r.Rax = uint64(v) }

// le is the byte order of every structure this package lays out.
var le = binary.LittleEndian
