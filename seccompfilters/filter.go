package seccompfilters

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Action is the value a seccomp program returns: a SECCOMP_RET_* action in
// the high 16 bits and action data (SECCOMP_RET_DATA) in the low 16 bits.
type Action uint32

// Actions. ActionKillThread is SECCOMP_RET_KILL_THREAD (which is 0) with a
// non-zero data field: the kernel ignores the data of kill actions, and this
// keeps the zero Action free to mean "unset" (see Rule.Action and
// Filter.Default).
const (
	ActionAllow       Action = unix.SECCOMP_RET_ALLOW
	ActionKillProcess Action = unix.SECCOMP_RET_KILL_PROCESS
	ActionKillThread  Action = unix.SECCOMP_RET_KILL_THREAD | 1
	// ActionTrap delivers SIGSYS to the thread (the Go runtime treats an
	// unexpected SIGSYS as fatal).
	ActionTrap Action = unix.SECCOMP_RET_TRAP
	// ActionTrace notifies a ptrace tracer (PTRACE_EVENT_SECCOMP); without
	// one the syscall fails with ENOSYS.
	ActionTrace Action = unix.SECCOMP_RET_TRACE
	// ActionLog allows the syscall and logs it.
	ActionLog Action = unix.SECCOMP_RET_LOG
)

// ActionErrno makes the syscall fail with errno (SECCOMP_RET_ERRNO | errno)
// without executing it. errno must be at most 4095 (MAX_ERRNO); Build checks.
func ActionErrno(errno unix.Errno) Action {
	return Action(unix.SECCOMP_RET_ERRNO | uint32(errno))
}

func (a Action) kind() uint32 { return uint32(a) & unix.SECCOMP_RET_ACTION_FULL }
func (a Action) data() uint32 { return uint32(a) & unix.SECCOMP_RET_DATA }

// String returns the Linux name of the action, with its data if any.
func (a Action) String() string {
	names := map[uint32]string{
		unix.SECCOMP_RET_ALLOW:        "SECCOMP_RET_ALLOW",
		unix.SECCOMP_RET_KILL_PROCESS: "SECCOMP_RET_KILL_PROCESS",
		unix.SECCOMP_RET_KILL_THREAD:  "SECCOMP_RET_KILL_THREAD",
		unix.SECCOMP_RET_TRAP:         "SECCOMP_RET_TRAP",
		unix.SECCOMP_RET_ERRNO:        "SECCOMP_RET_ERRNO",
		unix.SECCOMP_RET_USER_NOTIF:   "SECCOMP_RET_USER_NOTIF",
		unix.SECCOMP_RET_TRACE:        "SECCOMP_RET_TRACE",
		unix.SECCOMP_RET_LOG:          "SECCOMP_RET_LOG",
	}
	name, ok := names[a.kind()]
	if !ok {
		return fmt.Sprintf("Action(%#x)", uint32(a))
	}
	if a.data() != 0 && a != ActionKillThread {
		return fmt.Sprintf("%s|%d", name, a.data())
	}
	return name
}

// validate rejects unknown actions and out-of-range errnos.
func (a Action) validate() error {
	switch a.kind() {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_KILL_PROCESS, unix.SECCOMP_RET_KILL_THREAD,
		unix.SECCOMP_RET_TRAP, unix.SECCOMP_RET_TRACE, unix.SECCOMP_RET_LOG:
		return nil
	case unix.SECCOMP_RET_ERRNO:
		if a.data() > 4095 {
			return fmt.Errorf("errno %d in %v exceeds MAX_ERRNO", a.data(), a)
		}
		return nil
	}
	return fmt.Errorf("unsupported action %v", a)
}

// Match matches one 64-bit value x (a syscall argument or the instruction
// pointer): it holds when x&Mask == Value. The zero Match matches any value.
// Value must not have bits outside Mask (Build checks).
type Match struct {
	Mask, Value uint64
}

// Any matches any value; it is the zero Match.
func Any() Match { return Match{} }

// Eq matches exactly v.
func Eq(v uint64) Match { return Match{Mask: ^uint64(0), Value: v} }

// MaskedEq matches x when x&mask == v.
func MaskedEq(mask, v uint64) Match { return Match{Mask: mask, Value: v} }

// Rule is one condition on a syscall: it matches if every Args[i] matches
// the i-th argument and IP matches the instruction pointer (the address
// after the syscall instruction).
type Rule struct {
	Args [6]Match
	IP   Match
	// Action is returned when the rule matches. The zero value means
	// ActionAllow, so allow-list rules need not set it.
	Action Action
}

func (r Rule) action() Action {
	if r.Action == 0 {
		return ActionAllow
	}
	return r.Action
}

// Filter is a seccomp policy for x86-64. For each syscall number in
// Syscalls the rules are tried in order and the first matching rule's
// action is returned; a syscall listed with no (nil or empty) rules is
// allowed unconditionally. A syscall that is not listed, or whose rules all
// fail to match, gets Default. Calls made with another arch (i386) get OtherArch,
// and those with the x32 bit set get X32 (both ActionKillProcess unless set).
type Filter struct {
	Syscalls map[uintptr][]Rule
	// Default must be set; the zero value is rejected by Build.
	Default Action
	// X32 is the action for a call with the x32 bit set (no rule can match one),
	// and OtherArch for a call of another arch (i386's int $0x80); zero means
	// ActionKillProcess. A filter that traps what it does not allow may trap these
	// too (ActionTrap), so that whoever handles the trap answers them (ENOSYS, or
	// SIGSEGV for int $0x80, as a kernel without x32 and IA32 emulation) instead of
	// the process dying.
	X32, OtherArch Action
}

// orKill is a, or ActionKillProcess when a is unset.
func orKill(a Action) Action {
	if a == 0 {
		return ActionKillProcess
	}
	return a
}

// Add lists nr in f. With no rules nr is allowed whatever its arguments, and
// stays so whatever is added later; otherwise the rules nr does not have yet are
// appended to those it has, unless nr is allowed unconditionally already. Filters built from parts
// (the Sentry's: the Go runtime's, the platform's, runsc's) add each part's
// rules this way, so that a part can widen a syscall another part pinned but
// can never narrow one another part allows outright.
func (f *Filter) Add(nr uintptr, rules ...Rule) {
	if f.Syscalls == nil {
		f.Syscalls = map[uintptr][]Rule{}
	}
	old, listed := f.Syscalls[nr]
	switch {
	case listed && len(old) == 0:
	case len(rules) == 0:
		f.Syscalls[nr] = nil
	default:
		merged := old[:len(old):len(old)]
		for _, r := range rules {
			if !slices.Contains(merged, r) {
				merged = append(merged, r)
			}
		}
		f.Syscalls[nr] = merged
	}
}

// Merge adds every syscall of s to f as Add does.
func (f *Filter) Merge(s map[uintptr][]Rule) {
	for nr, rules := range s {
		f.Add(nr, rules...)
	}
}

// ArgIn returns one rule per value, each matching when argument i equals it:
// the rules of a syscall allowed with any of a few values of one argument
// (an ioctl request, a fcntl command, an madvise advice).
func ArgIn(i int, values ...uint64) []Rule {
	rules := make([]Rule, len(values))
	for j, v := range values {
		rules[j].Args[i] = Eq(v)
	}
	return rules
}

// Evaluate returns the action f's program returns for an x86-64 system call nr made
// with args from the instruction pointer ip: the semantics Build compiles, computed
// directly. Tests of filters assembled from parts use it to check what a given call
// gets without installing anything.
func (f *Filter) Evaluate(nr uintptr, ip uint64, args [6]uint64) Action {
	rules, ok := f.Syscalls[nr]
	if !ok {
		return f.Default
	}
	if len(rules) == 0 {
		return ActionAllow
	}
	for _, r := range rules {
		ok := ip&r.IP.Mask == r.IP.Value
		for i, m := range r.Args {
			ok = ok && args[i]&m.Mask == m.Value
		}
		if ok {
			return r.action()
		}
	}
	return f.Default
}

// seccomp_data layout (include/uapi/linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offIP   = 8
	offArgs = 16

	x32Bit = 0x40000000 // __X32_SYSCALL_BIT
)

// Build validates f and compiles it to a classic BPF program, ready for
// Install. It fails if the program would exceed BPF_MAXINSNS instructions.
func (f *Filter) Build() ([]unix.SockFilter, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	insns, err := f.compile()
	if err != nil {
		return nil, err
	}
	if len(insns) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccompfilters: program has %d instructions, more than BPF_MAXINSNS (%d)", len(insns), unix.BPF_MAXINSNS)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("seccompfilters: %w", err)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}

func (f *Filter) validate() error {
	if f.Default == 0 {
		return fmt.Errorf("seccompfilters: Filter.Default is not set")
	}
	if err := f.Default.validate(); err != nil {
		return fmt.Errorf("seccompfilters: Default: %w", err)
	}
	for nr, rules := range f.Syscalls {
		if nr&x32Bit != 0 || nr > 0xffffffff {
			return fmt.Errorf("seccompfilters: syscall %#x is not an x86-64 syscall number", nr)
		}
		for i, r := range rules {
			if err := r.action().validate(); err != nil {
				return fmt.Errorf("seccompfilters: syscall %d rule %d: %w", nr, i, err)
			}
			for j, m := range r.Args {
				if m.Value&^m.Mask != 0 {
					return fmt.Errorf("seccompfilters: syscall %d rule %d: Args[%d] value %#x has bits outside mask %#x", nr, i, j, m.Value, m.Mask)
				}
			}
			if r.IP.Value&^r.IP.Mask != 0 {
				return fmt.Errorf("seccompfilters: syscall %d rule %d: IP value %#x has bits outside mask %#x", nr, i, r.IP.Value, r.IP.Mask)
			}
		}
	}
	return nil
}

// linearMax is the largest run of syscall numbers dispatched with a
// sequence of jeq instead of a further jge split.
const linearMax = 4

func (f *Filter) compile() ([]bpf.Instruction, error) {
	nrs := make([]uint32, 0, len(f.Syscalls))
	for nr := range f.Syscalls {
		nrs = append(nrs, uint32(nr))
	}
	slices.Sort(nrs)

	a := &assembler{}

	// 1. arch must be x86-64.
	archOK := a.newLabel()
	a.load(offArch)
	a.jumpIf(bpf.JumpEqual, unix.AUDIT_ARCH_X86_64, archOK, next)
	a.ret(orKill(f.OtherArch))
	a.bind(archOK)

	// 2. No x32 syscalls. A keeps nr for the dispatch below.
	nrOK := a.newLabel()
	a.load(offNr)
	a.jumpIf(bpf.JumpBitsSet, x32Bit, next, nrOK)
	a.ret(orKill(f.X32))
	a.bind(nrOK)

	// 3. Dispatch on nr.
	blocks := make(map[uint32]label, len(nrs))
	for _, nr := range nrs {
		blocks[nr] = a.newLabel()
	}
	var dispatch func(nrs []uint32)
	dispatch = func(nrs []uint32) {
		if len(nrs) <= linearMax {
			for _, nr := range nrs {
				a.jumpIf(bpf.JumpEqual, nr, blocks[nr], next)
			}
			a.ret(f.Default)
			return
		}
		mid := len(nrs) / 2
		upper := a.newLabel()
		a.jumpIf(bpf.JumpGreaterOrEqual, nrs[mid], upper, next)
		dispatch(nrs[:mid])
		a.bind(upper)
		dispatch(nrs[mid:])
	}
	dispatch(nrs)

	// 4. Per-syscall rule blocks.
	for _, nr := range nrs {
		a.bind(blocks[nr])
		rules := f.Syscalls[uintptr(nr)]
		if len(rules) == 0 {
			a.ret(ActionAllow)
			continue
		}
		unconditional := false
		for _, r := range rules {
			fail := a.newLabel()
			checks := 0
			for i, m := range r.Args {
				checks += a.match(offArgs+8*uint32(i), m, fail)
			}
			checks += a.match(offIP, r.IP, fail)
			a.ret(r.action())
			if checks == 0 {
				// Later rules and Default are unreachable.
				unconditional = true
				break
			}
			a.bind(fail)
		}
		if !unconditional {
			a.ret(f.Default)
		}
	}
	return a.assemble()
}

// match emits the checks of m against the 64-bit value at off, jumping to
// fail on mismatch and falling through on match. It returns the number of
// 32-bit halves checked.
func (a *assembler) match(off uint32, m Match, fail label) int {
	checks := 0
	for half := range uint32(2) {
		mask := uint32(m.Mask >> (32 * half))
		val := uint32(m.Value >> (32 * half))
		if mask == 0 {
			continue // val is 0 too (validated): always matches
		}
		a.load(off + 4*half)
		if mask != 0xffffffff {
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		a.jumpIf(bpf.JumpEqual, val, next, fail)
		checks++
	}
	return checks
}
