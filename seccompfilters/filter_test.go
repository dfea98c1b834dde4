package seccompfilters

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

// packet encodes d for bpf.VM. The VM's 32-bit LoadAbsolute reads big
// endian while the kernel loads native (little-endian) words, so each 32-bit
// word of struct seccomp_data is written big endian: a load at a given
// offset then yields the same value the kernel would see.
func (d seccompData) packet() []byte {
	words := []uint32{d.nr, d.arch, uint32(d.ip), uint32(d.ip >> 32)}
	for _, a := range d.args {
		words = append(words, uint32(a), uint32(a>>32))
	}
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

func x86(nr uintptr, args ...uint64) seccompData {
	d := seccompData{nr: uint32(nr), arch: unix.AUDIT_ARCH_X86_64}
	copy(d.args[:], args)
	return d
}

func (d seccompData) withIP(ip uint64) seccompData { d.ip = ip; return d }

// newVM converts a built program back into x/net/bpf instructions.
func newVM(t testing.TB, prog []unix.SockFilter) *bpf.VM {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(prog))
	for i, p := range prog {
		raw[i] = bpf.RawInstruction{Op: p.Code, Jt: p.Jt, Jf: p.Jf, K: p.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program contains instructions x/net/bpf cannot decode:\n%v", insns)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return vm
}

func runVM(t testing.TB, vm *bpf.VM, d seccompData) Action {
	t.Helper()
	r, err := vm.Run(d.packet())
	if err != nil {
		t.Fatalf("vm.Run: %v", err)
	}
	return Action(r)
}

func mustBuild(t testing.TB, f *Filter) []unix.SockFilter {
	t.Helper()
	prog, err := f.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return prog
}

// reference evaluates f on d directly from the documented semantics
// (Filter.Evaluate, for the x86-64 calls it covers).
func reference(f *Filter, d seccompData) Action {
	if d.arch != unix.AUDIT_ARCH_X86_64 {
		if f.OtherArch != 0 {
			return f.OtherArch
		}
		return ActionKillProcess
	}
	if d.nr&x32Bit != 0 {
		if f.X32 != 0 {
			return f.X32
		}
		return ActionKillProcess
	}
	return f.Evaluate(uintptr(d.nr), d.ip, d.args)
}

const (
	hi = uint64(1) << 32 // a bit in the high word
	ip = uint64(0x7f12_3456_7000)
)

func TestSemantics(t *testing.T) {
	policy := &Filter{
		Default: ActionErrno(unix.ENOSYS),
		Syscalls: map[uintptr][]Rule{
			unix.SYS_READ:  nil,
			unix.SYS_WRITE: {},
			unix.SYS_MMAP: {
				{Args: [6]Match{Eq(0x1234_5678_9abc_def0)}},
			},
			unix.SYS_IOCTL: {
				{Args: [6]Match{Any(), MaskedEq(0xff00, 0x5400)}},
				{Args: [6]Match{Any(), MaskedEq(0xff_0000_0000, 0x12_0000_0000)}, Action: ActionErrno(unix.ENOTTY)},
			},
			unix.SYS_FUTEX: {
				{Args: [6]Match{Eq(1), Any(), Eq(3), Any(), Any(), Eq(6)}},
			},
			unix.SYS_GETPID: {
				{IP: Eq(ip)},
			},
			unix.SYS_KILL: {
				{Args: [6]Match{Eq(1)}, Action: ActionErrno(unix.EPERM)},
				{Args: [6]Match{MaskedEq(1, 1)}, Action: ActionErrno(unix.EACCES)},
				{Action: ActionTrap},
				{Action: ActionKillProcess}, // unreachable
			},
			unix.SYS_TKILL: {
				{Args: [6]Match{Eq(2)}, Action: ActionKillThread},
				{Args: [6]Match{Eq(3)}, Action: ActionTrace},
				{Args: [6]Match{Eq(4)}, Action: ActionLog},
			},
		},
	}
	empty := &Filter{Default: ActionKillProcess}
	trapping := &Filter{Default: ActionTrap, X32: ActionTrap, Syscalls: map[uintptr][]Rule{unix.SYS_READ: nil}}
	trapArch := &Filter{Default: ActionTrap, OtherArch: ActionTrap, Syscalls: map[uintptr][]Rule{unix.SYS_READ: nil}}

	tests := []struct {
		name   string
		filter *Filter
		data   seccompData
		want   Action
	}{
		{"wrong arch kills process", policy, seccompData{nr: unix.SYS_READ, arch: unix.AUDIT_ARCH_I386}, ActionKillProcess},
		{"zero arch kills process", policy, seccompData{nr: unix.SYS_READ}, ActionKillProcess},
		{"x32 bit kills process", policy, x86(x32Bit | unix.SYS_READ), ActionKillProcess},
		{"negative nr has x32 bit and kills process", policy, x86(0xffffffff), ActionKillProcess},
		{"x32 bit gets X32 where set", trapping, x86(x32Bit | unix.SYS_READ), ActionTrap},
		{"negative nr gets X32 where set", trapping, x86(0xffffffff), ActionTrap},
		{"wrong arch kills process whatever X32", trapping, seccompData{nr: unix.SYS_READ, arch: unix.AUDIT_ARCH_I386}, ActionKillProcess},
		{"wrong arch gets OtherArch where set", trapArch, seccompData{nr: unix.SYS_READ, arch: unix.AUDIT_ARCH_I386}, ActionTrap},
		{"x32 bit kills process whatever OtherArch", trapArch, x86(x32Bit | unix.SYS_READ), ActionKillProcess},
		{"listed with nil rules is allowed", policy, x86(unix.SYS_READ), ActionAllow},
		{"listed with empty rules is allowed", policy, x86(unix.SYS_WRITE, 1, 2, 3), ActionAllow},
		{"unlisted gets default", policy, x86(unix.SYS_OPENAT), ActionErrno(unix.ENOSYS)},
		{"unlisted above all listed gets default", policy, x86(1000), ActionErrno(unix.ENOSYS)},
		{"unlisted with high bit set gets default", policy, x86(0x80000000), ActionErrno(unix.ENOSYS)},
		{"empty filter returns default", empty, x86(unix.SYS_READ), ActionKillProcess},
		{"empty filter still kills wrong arch", &Filter{Default: ActionAllow}, seccompData{arch: unix.AUDIT_ARCH_I386}, ActionKillProcess},
		{"arg equal on both halves matches", policy, x86(unix.SYS_MMAP, 0x1234_5678_9abc_def0), ActionAllow},
		{"arg differing only in high half does not match", policy, x86(unix.SYS_MMAP, 0x1234_5679_9abc_def0), ActionErrno(unix.ENOSYS)},
		{"arg differing only in low half does not match", policy, x86(unix.SYS_MMAP, 0x1234_5678_9abc_def1), ActionErrno(unix.ENOSYS)},
		{"arg equal to low half only does not match", policy, x86(unix.SYS_MMAP, 0x9abc_def0), ActionErrno(unix.ENOSYS)},
		{"unconstrained args are ignored", policy, x86(unix.SYS_MMAP, 0x1234_5678_9abc_def0, 7, 7, 7, 7, 7), ActionAllow},
		{"masked equality ignores bits outside mask", policy, x86(unix.SYS_IOCTL, 99, 0xffff_ffff_0000_54ab), ActionAllow},
		{"masked equality rejects bits inside mask", policy, x86(unix.SYS_IOCTL, 0, 0x5500), ActionErrno(unix.ENOSYS)},
		{"masked equality on high half matches", policy, x86(unix.SYS_IOCTL, 0, 0xab12_0000_ffff), ActionErrno(unix.ENOTTY)},
		{"masked equality on high half rejects", policy, x86(unix.SYS_IOCTL, 0, 0x13_0000_0000), ActionErrno(unix.ENOSYS)},
		{"all constrained args match", policy, x86(unix.SYS_FUTEX, 1, 2, 3, 4, 5, 6), ActionAllow},
		{"one mismatched arg fails the rule", policy, x86(unix.SYS_FUTEX, 1, 2, 3, 4, 5, 6+hi), ActionErrno(unix.ENOSYS)},
		{"first arg mismatch fails the rule", policy, x86(unix.SYS_FUTEX, 0, 2, 3, 4, 5, 6), ActionErrno(unix.ENOSYS)},
		{"pinned IP matches", policy, x86(unix.SYS_GETPID).withIP(ip), ActionAllow},
		{"IP differing in low half does not match", policy, x86(unix.SYS_GETPID).withIP(ip + 2), ActionErrno(unix.ENOSYS)},
		{"IP differing in high half does not match", policy, x86(unix.SYS_GETPID).withIP(ip + hi), ActionErrno(unix.ENOSYS)},
		{"first matching rule wins", policy, x86(unix.SYS_KILL, 1), ActionErrno(unix.EPERM)},
		{"second rule matches when first does not", policy, x86(unix.SYS_KILL, 3), ActionErrno(unix.EACCES)},
		{"unconditional rule catches the rest", policy, x86(unix.SYS_KILL, 2), ActionTrap},
		{"rule with zero action allows", policy, x86(unix.SYS_MMAP, 0x1234_5678_9abc_def0), ActionAllow},
		{"kill thread action", policy, x86(unix.SYS_TKILL, 2), ActionKillThread},
		{"trace action", policy, x86(unix.SYS_TKILL, 3), ActionTrace},
		{"log action", policy, x86(unix.SYS_TKILL, 4), ActionLog},
		{"no rule matching gets default", policy, x86(unix.SYS_TKILL, 5), ActionErrno(unix.ENOSYS)},
	}
	vms := map[*Filter]*bpf.VM{}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			vm, ok := vms[tc.filter]
			if !ok {
				vm = newVM(t, mustBuild(t, tc.filter))
				vms[tc.filter] = vm
			}
			if got := runVM(t, vm, tc.data); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if ref := reference(tc.filter, tc.data); ref != tc.want {
				t.Errorf("reference evaluator says %v, test wants %v", ref, tc.want)
			}
		})
	}
}

func TestActionValues(t *testing.T) {
	tests := []struct {
		name string
		got  Action
		want uint32
	}{
		{"allow is SECCOMP_RET_ALLOW", ActionAllow, 0x7fff0000},
		{"kill process is SECCOMP_RET_KILL_PROCESS", ActionKillProcess, 0x80000000},
		{"kill thread is SECCOMP_RET_KILL_THREAD with ignored data", ActionKillThread, 0x00000001},
		{"trap is SECCOMP_RET_TRAP", ActionTrap, 0x00030000},
		{"errno is SECCOMP_RET_ERRNO or errno", ActionErrno(unix.EPERM), 0x00050001},
		{"errno keeps large errno", ActionErrno(unix.EHWPOISON), 0x00050000 | 133},
		{"trace is SECCOMP_RET_TRACE", ActionTrace, 0x7ff00000},
		{"log is SECCOMP_RET_LOG", ActionLog, 0x7ffc0000},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			if uint32(tc.got) != tc.want {
				t.Errorf("got %#x, want %#x", uint32(tc.got), tc.want)
			}
		})
	}
	if got, want := ActionErrno(unix.EPERM).String(), "SECCOMP_RET_ERRNO|1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := ActionKillThread.String(), "SECCOMP_RET_KILL_THREAD"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestProgramLayout pins the documented program shape on a small filter.
func TestProgramLayout(t *testing.T) {
	f := &Filter{
		Default: ActionKillProcess,
		Syscalls: map[uintptr][]Rule{
			unix.SYS_WRITE: nil,
			unix.SYS_READ: {
				{Args: [6]Match{Eq(0)}, IP: MaskedEq(0xffff_f000_0000_0000, 0)},
			},
		},
	}
	const arch = unix.AUDIT_ARCH_X86_64
	want := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},                                  // 0: A = arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: arch, SkipTrue: 1},            // 1
		bpf.RetConstant{Val: uint32(ActionKillProcess)},                    // 2
		bpf.LoadAbsolute{Off: 0, Size: 4},                                  // 3: A = nr
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32Bit, SkipFalse: 1},       // 4: x32 bit?
		bpf.RetConstant{Val: uint32(ActionKillProcess)},                    // 5
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_READ, SkipTrue: 2},   // 6: dispatch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_WRITE, SkipTrue: 10}, // 7
		bpf.RetConstant{Val: uint32(ActionKillProcess)},                    // 8: unlisted
		bpf.LoadAbsolute{Off: 16, Size: 4},                                 // 9: read: args[0] lo
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 6},              // 10
		bpf.LoadAbsolute{Off: 20, Size: 4},                                 // 11: args[0] hi
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 4},              // 12
		bpf.LoadAbsolute{Off: 12, Size: 4},                                 // 13: ip hi only
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xffff_f000},              // 14
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1},              // 15
		bpf.RetConstant{Val: uint32(ActionAllow)},                          // 16
		bpf.RetConstant{Val: uint32(ActionKillProcess)},                    // 17: read: no rule matched
		bpf.RetConstant{Val: uint32(ActionAllow)},                          // 18: write
	}
	got, err := f.compile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("program mismatch\ngot:\n%s\nwant:\n%s", listing(got), listing(want))
	}
}

func listing(insns []bpf.Instruction) string {
	var b strings.Builder
	for i, in := range insns {
		fmt.Fprintf(&b, "%3d: %v\n", i, in)
	}
	return b.String()
}

func TestBuildIsDeterministic(t *testing.T) {
	f := largeFilter(50)
	first := mustBuild(t, f)
	for range 5 {
		if got := mustBuild(t, f); !slices.Equal(got, first) {
			t.Fatal("two builds of the same filter differ")
		}
	}
}

// largeFilter returns a filter of n syscalls (numbers 3*i, leaving gaps)
// with several rules each.
func largeFilter(n int) *Filter {
	f := &Filter{Default: ActionKillProcess, Syscalls: map[uintptr][]Rule{}}
	for i := range n {
		nr := uintptr(3 * i)
		f.Syscalls[nr] = []Rule{
			{Args: [6]Match{Eq(uint64(nr)*7 + hi)}},
			{Args: [6]Match{Any(), MaskedEq(0xff00, uint64(i%256)<<8)}, Action: ActionErrno(unix.Errno(i%100 + 1))},
			{IP: Eq(ip + uint64(nr)), Action: ActionTrap},
		}
	}
	return f
}

func TestLargeFilterNeedsFarJumps(t *testing.T) {
	const n = 200
	f := largeFilter(n)
	prog := mustBuild(t, f)
	farJumps := 0
	for _, p := range prog {
		if p.Code == unix.BPF_JMP|unix.BPF_JA && p.K > 255 {
			farJumps++
		}
	}
	t.Logf("%d syscalls: %d instructions, %d far jumps", n, len(prog), farJumps)
	if farJumps == 0 {
		t.Fatal("filter is too small to exercise far jumps")
	}
	vm := newVM(t, prog)
	for i := range n + 2 {
		nr := uintptr(3 * i)
		cases := []struct {
			name string
			data seccompData
		}{
			{"rule 0 matches", x86(nr, uint64(nr)*7+hi)},
			{"rule 0 high half differs", x86(nr, uint64(nr)*7)},
			{"rule 1 matches", x86(nr, 0, 0xdead_0000_0000_0000|uint64(i%256)<<8|0xff)},
			{"rule 1 mismatch", x86(nr, 0, uint64(i%256+1)<<8)},
			{"rule 2 matches", x86(nr, 0, 1).withIP(ip + uint64(nr))},
			{"nothing matches", x86(nr, 1, 1).withIP(ip)},
			{"unlisted neighbour", x86(nr+1, uint64(nr)*7+hi)},
		}
		for _, c := range cases {
			got, want := runVM(t, vm, c.data), reference(f, c.data)
			if got != want {
				t.Errorf("nr %d, %s: got %v, want %v", nr, c.name, got, want)
			}
		}
	}
}

// TestRandomFiltersMatchReference compares the VM against the reference
// evaluator on random filters, with inputs drawn mostly from rule values so
// that matches, near misses (one half or one bit off) and defaults all
// occur.
func TestRandomFiltersMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 0xffffffff, hi, hi + 1, ^uint64(0), 0x8000_0000_0000_0000, 0x1234_5678_9abc_def0}
	randMatch := func() Match {
		switch rng.IntN(4) {
		case 0, 1:
			return Any()
		case 2:
			return Eq(values[rng.IntN(len(values))])
		default:
			mask := values[rng.IntN(len(values))] | rng.Uint64()&0xff00ff00ff00ff00
			return MaskedEq(mask, rng.Uint64()&mask)
		}
	}
	actions := []Action{ActionAllow, ActionKillProcess, ActionErrno(unix.EPERM), ActionErrno(unix.EINVAL), ActionTrap, 0}
	for iter := range 100 {
		f := &Filter{Default: actions[rng.IntN(len(actions)-1)], Syscalls: map[uintptr][]Rule{}}
		nsys := rng.IntN(100)
		for range nsys {
			var rules []Rule
			for range rng.IntN(5) {
				r := Rule{Action: actions[rng.IntN(len(actions))], IP: randMatch()}
				for i := range r.Args {
					if rng.IntN(3) == 0 {
						r.Args[i] = randMatch()
					}
				}
				rules = append(rules, r)
			}
			f.Syscalls[uintptr(rng.IntN(500))] = rules
		}
		prog, err := f.Build()
		if err != nil {
			t.Fatalf("iteration %d: Build: %v", iter, err)
		}
		vm := newVM(t, prog)
		for range 200 {
			d := x86(uintptr(rng.IntN(520)))
			pick := func(m Match) uint64 {
				switch rng.IntN(4) {
				case 0:
					return rng.Uint64()
				case 1:
					return m.Value ^ 1<<rng.IntN(64)
				default:
					return m.Value | rng.Uint64()&^m.Mask
				}
			}
			if rules := f.Syscalls[uintptr(d.nr)]; len(rules) > 0 {
				r := rules[rng.IntN(len(rules))]
				for i := range d.args {
					d.args[i] = pick(r.Args[i])
				}
				d.ip = pick(r.IP)
			}
			if got, want := runVM(t, vm, d), reference(f, d); got != want {
				t.Fatalf("iteration %d: %+v: got %v, want %v", iter, d, got, want)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tooBig := &Filter{Default: ActionKillProcess, Syscalls: map[uintptr][]Rule{}}
	for nr := range uintptr(2000) {
		tooBig.Syscalls[nr] = nil
	}
	tests := []struct {
		name    string
		filter  *Filter
		wantErr string
	}{
		{"unset default", &Filter{}, "Default is not set"},
		{"unknown default action", &Filter{Default: 0x12340000}, "unsupported action"},
		{"user notification is not supported", &Filter{Default: unix.SECCOMP_RET_USER_NOTIF}, "unsupported action"},
		{"errno above MAX_ERRNO", &Filter{Default: ActionErrno(4096)}, "exceeds MAX_ERRNO"},
		{"unknown rule action", &Filter{Default: ActionAllow, Syscalls: map[uintptr][]Rule{1: {{Action: 0x00010000}}}}, "unsupported action"},
		{"x32 syscall number", &Filter{Default: ActionAllow, Syscalls: map[uintptr][]Rule{x32Bit | 1: nil}}, "not an x86-64 syscall number"},
		{"syscall number above 32 bits", &Filter{Default: ActionAllow, Syscalls: map[uintptr][]Rule{1 << 32: nil}}, "not an x86-64 syscall number"},
		{"arg value outside mask", &Filter{Default: ActionAllow, Syscalls: map[uintptr][]Rule{1: {{Args: [6]Match{Any(), MaskedEq(0xf0, 0x0f)}}}}}, "Args[1] value 0xf has bits outside mask"},
		{"IP value outside mask", &Filter{Default: ActionAllow, Syscalls: map[uintptr][]Rule{1: {{IP: MaskedEq(0, 1)}}}}, "IP value 0x1 has bits outside mask"},
		{"too many instructions", tooBig, "more than BPF_MAXINSNS"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			prog, err := tc.filter.Build()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Build() = %d instructions, error %v; want error containing %q", len(prog), err, tc.wantErr)
			}
		})
	}
}

func TestInstallRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name  string
		prog  []unix.SockFilter
		flags uint
	}{
		{"empty program", nil, 0},
		{"program above BPF_MAXINSNS", make([]unix.SockFilter, unix.BPF_MAXINSNS+1), 0},
		{"new listener flag", make([]unix.SockFilter, 1), unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			if err := Install(tc.prog, tc.flags); err == nil {
				t.Fatal("Install succeeded")
			}
		})
	}
}

// TestAdd: parts added together widen a syscall, never narrow one allowed outright.
func TestAdd(t *testing.T) {
	f := &Filter{Default: ActionKillProcess}
	f.Add(unix.SYS_READ)
	f.Add(unix.SYS_READ, Rule{Args: [6]Match{Eq(1)}})
	f.Add(unix.SYS_IOCTL, ArgIn(1, 0x5401, 0x5413)...)
	f.Merge(map[uintptr][]Rule{unix.SYS_IOCTL: ArgIn(1, 0xae80), unix.SYS_WRITE: nil})
	f.Add(unix.SYS_FCNTL, ArgIn(1, 3)...)
	f.Add(unix.SYS_FCNTL)
	f.Add(unix.SYS_KILL, ArgIn(1, 9)...)
	f.Add(unix.SYS_KILL, ArgIn(1, 9, 15)...)
	if n := len(f.Syscalls[unix.SYS_KILL]); n != 2 {
		t.Errorf("kill has %d rules after adding one twice and another, want 2", n)
	}
	tests := []struct {
		name string
		nr   uintptr
		args [6]uint64
		want Action
	}{
		{"unconditional stays unconditional", unix.SYS_READ, [6]uint64{7}, ActionAllow},
		{"first part's value", unix.SYS_IOCTL, [6]uint64{0, 0x5413}, ActionAllow},
		{"second part's value", unix.SYS_IOCTL, [6]uint64{0, 0xae80}, ActionAllow},
		{"neither part's value", unix.SYS_IOCTL, [6]uint64{0, 0x5412}, ActionKillProcess},
		{"merged unconditional", unix.SYS_WRITE, [6]uint64{9}, ActionAllow},
		{"unconditional added after rules wins", unix.SYS_FCNTL, [6]uint64{0, 4}, ActionAllow},
		{"unlisted", unix.SYS_OPENAT, [6]uint64{}, ActionKillProcess},
	}
	vm := newVM(t, mustBuild(t, f))
	for _, tc := range tests {
		d := x86(tc.nr, tc.args[:]...)
		if got := runVM(t, vm, d); got != tc.want {
			t.Errorf("%s: program says %v, want %v", tc.name, got, tc.want)
		}
		if got := f.Evaluate(tc.nr, 0, tc.args); got != tc.want {
			t.Errorf("%s: Evaluate says %v, want %v", tc.name, got, tc.want)
		}
	}
}
