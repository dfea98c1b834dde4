// Package seccompfilters builds classic-BPF seccomp programs for x86-64 and
// installs them.
//
// A Filter maps syscall numbers to lists of Rules. Build turns it into a
// program that the kernel runs on every system call with a struct
// seccomp_data as input:
//
//	struct seccomp_data {
//		int   nr;                  // offset 0
//		__u32 arch;                // offset 4
//		__u64 instruction_pointer; // offset 8
//		__u64 args[6];             // offset 16 + 8*i
//	};
//
// Every generated program has the same shape:
//
//  1. Load arch; unless it is AUDIT_ARCH_X86_64 return Filter.OtherArch,
//     SECCOMP_RET_KILL_PROCESS unless set (an i386 int $0x80 call from a 64-bit
//     process has a different syscall table and must never be matched against
//     x86-64 numbers).
//  2. Load nr; if it has the x32 bit (0x40000000) set, return Filter.X32,
//     SECCOMP_RET_KILL_PROCESS unless set (x32 calls share the x86-64 arch
//     value; negative numbers have the bit too).
//  3. Dispatch on nr with a binary search over the sorted listed numbers
//     (jge splits, then a short run of jeq at the leaves). A number that is
//     not listed returns Filter.Default.
//  4. One block per listed syscall, in ascending order. A syscall with no
//     rules is a single "ret SECCOMP_RET_ALLOW". Otherwise each rule in turn
//     loads and checks its constrained values, failing over to the next
//     rule, and returns the rule's Action if all checks pass; the block ends
//     with "ret Default".
//
// Classic BPF registers are 32 bits wide, so a 64-bit value (an argument or
// the instruction pointer) is checked as two 32-bit words. x86-64 is little
// endian: the low word is at the lower offset (args[i] low at 16+8*i, high at
// 20+8*i). A Match{Mask, Value} holds when (x & Mask) == Value, which is
// checked as (lo & uint32(Mask)) == uint32(Value) followed by
// (hi & uint32(Mask>>32)) == uint32(Value>>32). A half whose mask is zero is
// not loaded at all and a half whose mask is all ones skips the "and", so
// Eq(v) costs four instructions and the zero Match (any value) costs none.
// A value differing from v only in its high word therefore does not match
// Eq(v).
//
// Conditional jumps in classic BPF have 8-bit offsets. The code generator
// works with labels and, when a conditional target is more than 255
// instructions away, has the condition jump to an adjacent unconditional
// "ja" (32-bit offset) that reaches the target; this is repeated until all
// offsets fit, so programs of any size up to BPF_MAXINSNS are valid. Output
// is deterministic for a given Filter.
//
// A filter can be assembled from parts: Filter.Add and Filter.Merge list a
// syscall with more rules, and a syscall any part allows outright stays
// allowed outright. The Sentry's list is built so (runsc/boot's filter.go, with
// each platform's part from its package); the Gofer's is in gofer/box.go and the
// stubs' in platform/ptrace/filter.go. Filter.Evaluate says what a filter
// returns for a given call without building or installing it.
//
// Install sets PR_SET_NO_NEW_PRIVS and calls seccomp(SECCOMP_SET_MODE_FILTER).
// A seccomp filter is a property of a thread: without flags it applies to the
// calling thread only (and to threads that thread creates later). In Go,
// where goroutines migrate between threads and the runtime starts threads
// on its own, that is only meaningful for a goroutine that has called
// runtime.LockOSThread, e.g. a thread that is about to exec or that stays
// locked forever. To filter a whole, already multi-threaded, Go process pass
// unix.SECCOMP_FILTER_FLAG_TSYNC, which makes the kernel apply the filter
// (and no_new_privs) to every thread of the process atomically, or fail.
package seccompfilters
