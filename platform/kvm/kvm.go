// Package kvm is the KVM platform: the application runs in ring 3 of a KVM
// virtual machine, on page tables the Sentry builds over the memory file; its system
// calls and faults enter a few instructions of guest ring-0 code that exit to the
// Sentry. There is no stub process and no host mmap per mapping change. The Sentry
// itself never runs in the guest (gVisor's KVM platform does, and hangs under nested
// virtualization on the machines we measured): everything but the application and
// those few instructions stays an ordinary host process, so the platform works
// wherever /dev/kvm opens, nested inside a cloud VM included.
//
// # The machine
//
// One VM per Platform, with no in-kernel interrupt controller, and these memory slots:
//
//   - the memory file, mapped MAP_SHARED into the Sentry at guest physical address 0,
//     so memory-file offset o is guest physical address o (the file is sized once,
//     large and sparse: see sentry/pgalloc). It is registered in slots that double in
//     size, [0, 1 GiB) in slot 3, [1, 2 GiB) in slot 4, [2, 4 GiB) in slot 5 and so on,
//     each added the first time MapFile reaches into it (ensureFileSlots): KVM sets up
//     its bookkeeping for a slot (reverse maps, large-page information) when the slot
//     is added, in proportion to its size, which for the whole 64 GiB file took about
//     35 ms under shadow paging, most of a sandbox's start. Slot 0 is not used;
//   - slot 1, at platformGPA (above the file, 1 GiB aligned): the platform's own pages,
//     anonymous memory of the Sentry's. Its first kernelAreaSize bytes are the ring-0
//     code page (ring0.go, testdata/ring0.S), the IDT, the page tables of the kernel
//     area, and one page per vCPU holding its GDT, its TSS and its ring-0 stack; the
//     rest is a pool of pages for the address spaces' page tables and fast
//     system-call slots (fast.go);
//   - slot 2: one page, never mapped, which zapAll deletes and adds back.
//
// The kernel area is mapped at kernelBase (the top GiB of the canonical upper half):
// the code page read-only and executable (for ring 3 too, see ring0.go), the IDT
// read-only and the vCPU pages read-write and not executable for ring 0 only, the page
// tables not at all. The pool is never mapped (the CPU walks it by physical address),
// but for the pages given to fast system-call slots.
// So the application can reach only what its own page tables map, which is only
// memory-file pages the Sentry mapped for it, its fast system-call slots, and the
// code page.
//
// # Address spaces
//
// Each AddressSpace is a 4-level page-table root (CR3) whose upper entry 511 points at
// the shared kernel tables, and whose upper entry 510 maps the fast system-call slots
// of the vCPUs that ran it (fast.go), pages of its own. MapFile writes leaf entries (file offset, present, user,
// writable unless read-only, NX unless executable; a mapping with no access keeps its
// offset in a not-present entry, so Protect can bring it back). Entries are written
// with atomic stores; a new table is filled before it is linked.
//
// TLB and KVM's copies: a change that removes or narrows a present entry (Unmap,
// Protect, MapFile over a present page) ends with madvise(MADV_DONTNEED) of the
// Sentry's view of the pages it unmapped, which keeps their data but makes KVM zap
// every translation it derived from them and flush every vCPU's TLB before the call
// returns (see shootdown). KVM has to be told: it tracks the guest's own writes to its
// page tables, not the Sentry's, and under shadow paging (PVM, KVM without hardware
// virtualization, as on the machine this was written on) it would go on using what
// it derived from the old entries, across a reload of CR3 too. For the same reason a
// released address space's table pages serve other tables only after KVM dropped all
// it derived (zapAll). Two reuses keep the pages in their roles instead, so that what
// KVM derived stays true and is used again (a fork loop's child then builds no shadow
// page and leaves none to zap): a released address space is recycled whole
// (Platform.recycle, up to maxReady), its mappings left in its tables until its
// next user's first call, which removes them (with the shootdowns above) or, for a
// forked child's Refill, keeps those the child repeats, the same page with the same
// access; and the tables and pages of the fast system-call slots (under upper entry
// 510), only ever added to, go whole to the next address space that needs a slot
// (keepSlots). Slot pages are cleared first. Each address space also has a
// generation, bumped by those changes;
// a vCPU entering from ring 0 goes through retFlush, which reloads CR3, when it last
// ran another address space or an older generation, and through retUser, a bare
// iretq, otherwise.
//
// # A Switch
//
// One vCPU per Context, taken from a pool on first use (KVM cannot destroy a vCPU, so
// released ones are reused). A Switch runs the vCPU on its own thread (locked to the
// goroutine for the call): it loads the state, calls KVM_RUN until an event and
// returns it, as the exit path below. Each vCPU also has a thread of its own, which
// runs it while the application makes fast system calls (below), since the vCPU must
// keep running while the Sentry works; a Switch hands that thread a request through a
// word both sides can sleep on (vcpu.ctl: a futex, each side spinning first only
// where the fast system call does), and the thread runs it and posts the result. Which
// thread runs the vCPU changes only between runs (vcpu.runMu), and costs nothing
// measurable on the kernel this was written on (6.18: KVM_RUN from another thread
// was ~7.5 µs, a bare exit; older kernels waited for an RCU grace period there).
//
// The exit path, which every Switch takes but the fast system call's: the Switch
// loads the FP state (KVM_SET_XSAVE, skipped when the Sentry left the state of the last
// exit as it was), writes an iretq frame (rip, the user code segment, sanitized
// rflags, rsp, the user stack segment) on the vCPU's ring-0 stack, puts the general
// registers with rip at retUser or retFlush in kvm_run's synchronized registers (which
// KVM_RUN loads first), sets CR3 and the fs and gs bases when they changed (in the
// synchronized sregs, which KVM_RUN loads as KVM_SET_SREGS would, an ioctl fewer),
// and calls KVM_RUN. The guest returns to ring 3 with iretq and runs
// until:
//
//   - syscall: EFER.SCE is on and LSTAR points at syscallEntry, a hlt. The exit
//     (KVM_EXIT_HLT) leaves every register as the application had it, with rip in rcx
//     and rflags in r11; Switch returns EventSyscall with the registers as ptrace shows
//     them (number in orig_rax, -ENOSYS in rax, rip past the instruction). Under PVM
//     the syscall reaches syscallEntry still in ring 3, where the hlt raises #GP
//     instead, which Switch takes for the same system call (ring0.go); from then on
//     the vCPU takes system calls the fast way (below).
//   - an exception: every IDT gate switches to IST1, the vCPU's ring-0 stack, and
//     lands on a hlt of its own; the host reads the frame the CPU pushed there. #PF is
//     EventFault (address from CR2, access from the error code); the others are
//     EventSignal with the signal, si_code and si_addr Linux gives (see signalFor).
//   - a kick (see Interrupt below): KVM_RUN returns EINTR.
//
// Exit state comes back in kvm_run's synchronized registers (KVM_CAP_SYNC_REGS: regs,
// sregs, events), and the FP state with KVM_GET_XSAVE.
//
// # Fast system calls
//
// An exit costs far more than a system call should: on the PVM host this was written
// on, a bare exit from ring 0 (kvm_exit) is ~7 µs, and a system call through the exit
// path ~45 µs, as ring 3 to ring 0 and back (iretq, hlt, the #GP of a ring-3 syscall)
// are each trapped and emulated by the host; KVM_GET_XSAVE adds ~6 µs. Measured inside
// the guest, a syscall that goes to LSTAR in ring 3 and jumps straight back costs
// ~1.2 µs, and one through #GP to ring 0 and iretq back ~13 µs. So where syscall
// reaches LSTAR in ring 3, the system call stays in ring 3: the vCPU's LSTAR is set
// to its own fast entry (fastEntry + id×48 in the code page, for the first
// maxFastVCPUs vCPUs), and what runs there is the application's own privilege:
//
//   - The entry stores the application's rax to an absolute address, vCPU id's slot
//     (slotBase + id×slotSize in the upper half: pages of the pool, mapped
//     user-writable and not executable, a slot of its own in each address space the
//     vCPU ran), then every other general register, the fs and gs bases (RDFSBASE)
//     and the XSAVE state; it exchanges stateSyscall into the slot's state word. If
//     it found stateApp (the Sentry spins) it spins for the answer, up to the budget
//     the Sentry wrote in the slot, in PAUSEs; otherwise, or when the budget is spent
//     (moving the word to stateExiting), it executes hlt: a #GP in ring 3, an exit.
//   - Where the vCPU's thread runs the vCPU, the Sentry (Switch, waiting for the
//     thread's result) sees stateSyscall, reads the call from the slot and returns
//     EventSyscall, while the vCPU spins. On the next Switch, if the answer returns
//     as sysret would (rip = rcx, rflags = r11, no TF or RF), to the same address
//     space with the same page-table generation, it writes the registers, bases and
//     FP state (made loadable: the header as XRSTOR takes it, MXCSR's reserved bits
//     clear) into the slot and exchanges stateApp in: the entry loads them (XRSTOR,
//     WRFSBASE, popfq from a few bytes of the slot) and jumps to rcx. No exit, no
//     ioctl, no FP state through KVM. If the entry had exited, the vCPU is re-entered
//     at fastResume (the same loads). Anything else (a new rip, a signal frame, exec,
//     another address space, page tables that shrank) stops the vCPU and takes the
//     exit path.
//   - Where the Switch runs the vCPU itself, the slot's state is stateSleep: the
//     entry exits at once (the #GP of its hlt in ring 3), and the Switch takes the
//     call from the slot. That is an exit, like the ordinary system call's, but the
//     FP state stays in the guest (the entry's XSAVE, fastResume's XRSTOR), with no
//     KVM_GET_XSAVE or KVM_SET_XSAVE.
//   - Which thread: the Switch's own, unless the application's last quickCalls
//     system calls were each answered within quickCall and the entry's spin has
//     lately won (the answer came while it spun; context.handOver): then the Switch
//     hands the vCPU to its thread with the answer, and the calls that follow stay
//     in the guest until one is slow. A call the Sentry blocks in (futex, a pipe's
//     read, wait) makes the entry give up spinning and exit, and its answer runs on
//     the Switch's thread, so a blocking call costs what it did without the fast
//     system call, not that and two thread wake-ups. Where the spin lately lost, a
//     hand-over is tried again once in betRetry chances.
//   - Sleeping: the Sentry spins for about as long as the application has lately
//     taken between calls, then moves stateApp to stateSleep and sleeps on the
//     thread's word; a call posted then finds stateSleep and exits at once, and the
//     thread wakes the Sentry. The entry's budget is, likewise, about as long as the
//     Sentry has lately taken (at most maxGuestSpin, since a guest cannot yield its
//     CPU); the thread spins for the Sentry's next request only after a call it
//     posted while the Sentry slept. On one CPU nobody spins and the Switch's thread
//     runs the vCPU.
//
// The fast entry is never set where syscall enters ring 0 (hardware virtualization:
// there the code would run in ring 0 and jump to the application's rcx): it is set
// only after the vCPU's first system call was seen to reach syscallEntry in ring 3,
// and it begins by checking CS's privilege level, exiting at fastRing0 (fatal) if it
// is 0. RDFSBASE needs CR4.FSGSBASE where the guest's ring 3 really runs, which under
// PVM is the host's; KVM does not always offer FSGSBASE to the guest, so it is
// tried: a #UD at the entry's RDFSBASE turns fast calls off for the platform and the
// call goes on the exit path.
//
// # Interrupt
//
// Interrupt sets the context's flag; if a Switch is running it also sets the vCPU's
// stop flag, sets kvm_run.immediate_exit and sends SIGURG (which Go's runtime ignores
// when it did not ask for it) to the thread that last ran the vCPU (vcpu.tid, set
// before each run), so KVM_RUN returns EINTR at once,
// whether it was running or about to run. Switch clears the stop flag and then reads
// the interrupt flag, so a wake-up is never lost. An EINTR without the stop flag (Go's
// own preemption signal, a Release's kick) just re-enters: as-is if the vCPU was in
// ring 3, with the state loaded again if it was on its way there or had not taken the
// registers yet. An EINTR while the vCPU was delivering an exception or sat on an
// exit's hlt resumes as-is, since those complete in ring 0 without touching
// application memory. A stop in ring 3 inside the fast entry is not an application
// state: where it was saving a call, the call is reported as made (the registers from
// the slot and those the entry had not touched yet); where it had posted it or was
// spinning, the slot's state word tells, when the Sentry takes the thread's result,
// whether the slot holds an answer the entry has not taken (bit 0: it is re-entered
// at fastResume) or a call (taken from the slot, unless the Sentry took it already
// while spinning); where it was loading an answer, the answer (which the Sentry still
// holds) is the state.
//
// A released address space may still hold a vCPU spinning in a fast entry (the
// Sentry got the call and let its thread exit, or exec'd): Release marks it dead,
// then kicks every vCPU that runs it and waits until its thread is out of KVM_RUN
// (the thread checks the address space before each entry), so its tables and slots
// are never reused under a running vCPU.
//
// # What the application can do
//
// Ring 3 reaches only its pages, its slots and the code page (read and execute, which
// gives it nothing: ring0.go); the IDT, the vCPU pages and the page tables are
// supervisor-only or unmapped, hlt and in/out and the descriptor-table loads are
// privileged, int $n for n ≥ 32 is a #GP (DPL 0 gates; PVM raises #UD, which
// signalFor tells from ud2: a SIGSEGV, as Linux gives for int $0x80 without IA32
// emulation), and every exception runs on a known stack (IST), so not even syscall
// with a hostile rsp and TF set makes ring 0 write where the application points. What it hands the Sentry (rip, rflags, fs base through wrfsbase)
// is checked before it is loaded: a non-canonical rip or base is a SIGSEGV, as a
// failed iret is on Linux; rflags keep only the bits Linux lets a process set. Any
// exit the platform does not expect (an exception in ring 0, a triple fault, a failed
// entry, an internal error, I/O or MMIO) kills the address space with an error naming
// it: Switch returns it and the Sentry kills the thread group; the vCPU is retired.
//
// The slot is the application's to write, like systrap's context page: the Sentry
// reads registers from it only as the application's own (it can post a call it did
// not make, or change the answer before the entry loads it, which is no more than it
// could do with its own instructions), never trusts it to say whether the vCPU has
// stopped (that is the thread's word, which only the Sentry writes), and copies out
// of it only fixed offsets. The entry's code runs in ring 3 with the application's
// privilege, so jumping into it, or handing it a slot that faults (a bad XSAVE area),
// harms only the application: an exception inside the entry kills its address space
// with an error saying the slot was tampered with (the vCPU is kept). Threads of one
// address space can write each other's slots, as they can each other's memory.
//
// # Where it differs from Linux, and what it costs
//
//   - int $0x80 is a SIGSEGV (SIGILL under PVM), as on Linux without IA32 emulation,
//     not a 32-bit system call.
//   - The application's cpuid shows what KVM supports (plus XSAVE, see initCPU), and
//     rdtsc may count from the VM's creation (KVM's TSC offset), not the host's boot.
//   - A system call the fast way is a few µs where a CPU is free for each side
//     (BenchmarkSwitchSyscall: 4.4-8 µs on the 2-CPU PVM machine this was written
//     on, against ~7 µs for kvm_exit's bare exit and ~45 µs through the exit path).
//     It needs both sides running at once: with one of the 2 CPUs taken by another
//     busy process, the entry's spin loses, the hand-over is tried only once in a
//     while, and a system call costs about what the exit path does (40-55 µs). What
//     does not stay in the guest (faults, signals, exec, calls the Sentry blocks in,
//     every call under hardware virtualization) runs on the Switch's own thread as
//     before the fast system call, with no hand-over: in alternating runs against the
//     runsc without it, futex_pingpong, pipe_256m and mmap_touch_munmap_1m came out
//     alike (0.9-1.1x), fork+wait and fork+exec+wait 0.9-1.15x (each new address
//     space also gets its slot: a page and three tables, those of a released
//     address space where one was kept). Without the fast entry
//     (hardware virtualization, whose syscall lands in ring 0 with the application's
//     rsp, or a vCPU beyond maxFastVCPUs) every system call is an exit; keeping those
//     in the guest would need a trusted ring-0 stack (swapgs and a per-vCPU area) and
//     is not done. The first system call of each vCPU takes the exit path.
//   - A call whose answer is not a plain return (signal delivery, sigreturn, execve)
//     re-enters through the exit path; where the vCPU's thread ran the vCPU, that
//     answer, and one after which the page tables narrowed (munmap, mprotect), first
//     stops it (a kick).
//
// Lock order: vcpu.runMu (held by the thread that runs a vCPU, while it may run it),
// addressSpace.mu, Platform.ptMu; Platform.mu alone.
package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// ErrUnavailable: the host offers no usable KVM (no /dev/kvm, no permission, or it
// refuses to create a VM). New wraps it with what failed.
var ErrUnavailable = errors.New("KVM is not available")

// Guest layout.
const (
	pageSize = platform.PageSize

	kernelBase     = 0xffff_ffff_c000_0000 // PML4 511, PDPT 511
	kernelAreaSize = 4 << 20               // two page tables' worth
	ptPoolSize     = 1 << 30               // page tables of the address spaces

	// Offsets in the kernel area.
	codeOff  = 0x0000
	idtOff   = 0x1000
	kPDPTOff = 0x2000
	kPDOff   = 0x3000
	kPT0Off  = 0x4000 // two page tables: kPT0Off, kPT0Off+pageSize
	vcpuOff  = 0x6000 // vCPU i's page: vcpuOff + i*pageSize
	maxVCPUs = (kernelAreaSize - vcpuOff) / pageSize

	// In a vCPU's page.
	gdtOff    = 0x00
	gdtLimit  = 10*8 - 1
	tssOff    = 0x80
	tssLimit  = 0x67
	stackTop  = pageSize      // IST1 and RSP0
	frameOff  = stackTop - 40 // the iretq frame: rip, cs, rflags, rsp, ss
	errCodeAt = frameOff - 8  // the error code, for the vectors that push one

	// Segment selectors (Linux's layout: sysret needs user CS = STAR.base+16 and
	// user SS = STAR.base+8).
	kernelCS  = 0x10
	kernelSS  = 0x18
	userBase  = 0x23 // STAR[63:48]
	tssSel    = 0x40
	userCS    = arch.UserCS
	userSS    = arch.UserSS
	minUser   = 0x10000
	maxUser   = 0x7fff_ffff_f000 // Linux's TASK_SIZE_MAX
	canonical = 1 << 47
)

// Page-table entry bits.
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteUser    = 1 << 2
	pteAcc     = 1 << 5
	pteDirty   = 1 << 6
	pteMapped  = 1 << 9 // software: a mapping, present or not (no access)
	pteNX      = 1 << 63
	pteAddr    = 0x000f_ffff_ffff_f000
)

// Control registers and MSRs.
const (
	cr0PE, cr0MP, cr0ET, cr0NE, cr0WP, cr0AM, cr0PG = 1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 16, 1 << 18, 1 << 31
	cr4PAE, cr4OSFXSR, cr4OSXMMEXCPT                = 1 << 5, 1 << 9, 1 << 10
	cr4FSGSBASE, cr4OSXSAVE, cr4SMAP                = 1 << 16, 1 << 18, 1 << 21
	eferSCE, eferLME, eferLMA, eferNXE              = 1 << 0, 1 << 8, 1 << 10, 1 << 11

	msrSTAR   = 0xc0000081
	msrLSTAR  = 0xc0000082
	msrCSTAR  = 0xc0000083
	msrSFMASK = 0xc0000084

	// Flags syscall clears on the way into ring 0: TF, IF, DF, IOPL, NT, AC.
	sfmask = 0x100 | 0x200 | 0x400 | 0x3000 | 0x4000 | 0x40000
	// Flags the application may hold (CF PF AF ZF SF TF DF OF NT RF AC ID); IF is
	// always set and IOPL always 0.
	userFlags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x10000 | 0x40000 | 0x200000
)

// Platform is a KVM virtual machine over one memory file.
type Platform struct {
	kvm, vm  int
	runSize  int
	fileSize uint64
	fileMem  []byte // the memory file, as the guest's physical memory below fileSize
	slotMu   sync.Mutex
	slotEnd  atomic.Uint64 // the file below this is registered (see ensureFileSlots)
	slotNext uint32        // the slot the next part of the file goes in
	platMem  []byte        // slot 1: the kernel area, then the page-table pool
	gpa      uint64        // platMem's guest physical address
	zapMem   []byte        // slot 2 (see zapAll)
	zapGPA   uint64

	cpuid     *kvmCPUID2
	cr4       uint64
	xcr0      uint64
	xsaveSize int
	xsaveIoc  uintptr // KVM_GET_XSAVE or KVM_GET_XSAVE2
	maxVCPUs  int
	fpSize    int
	noFast    atomic.Bool // the fast system call does not work here (fast.go)

	mu    sync.Mutex
	vcpus []*vcpu // every vCPU made, by id
	free  []*vcpu // released, for reuse

	ptMu   sync.Mutex
	ptFree []uint64 // pool pages (offsets in platMem) free for reuse
	ptDead []uint64 // pool pages released, not yet free (see allocTable)
	ptNext uint64   // pool pages from here on were never used
	ptPop  uint64   // pool pages below this were populated (see allocTable)

	keptSlots []*slotTables   // released address spaces' slots, for reuse (fast.go), under ptMu
	ready     []*addressSpace // recycled address spaces (see recycle), under ptMu
	closed    bool            // Close began: nothing more is kept for reuse (under ptMu)
}

var _ platform.Platform = (*Platform)(nil)

// New returns a KVM platform whose address spaces map ranges of memfd. It fails with an
// error wrapping ErrUnavailable, naming what is missing, where /dev/kvm cannot be
// opened or will not make a VM.
func New(memfd int) (*Platform, error) {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kvm platform: %w: opening /dev/kvm: %v", ErrUnavailable, err)
	}
	return NewFromFD(fd, memfd)
}

// Available reports whether this host can run the platform: nil, or an error wrapping
// ErrUnavailable that names what is missing. Tests use it to skip.
func Available() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("kvm platform: %w: opening /dev/kvm: %v", ErrUnavailable, err)
	}
	defer unix.Close(fd)
	vm, err := ioctlInt(fd, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("kvm platform: %w: KVM_CREATE_VM: %v", ErrUnavailable, err)
	}
	unix.Close(int(vm))
	return nil
}

// NewFromFD is New with /dev/kvm already open as kvmFD (opened before the sandbox
// dropped its access to /dev); the platform owns kvmFD from then on.
func NewFromFD(kvmFD, memfd int) (*Platform, error) {
	p := &Platform{kvm: kvmFD, vm: -1}
	if err := p.init(memfd); err != nil {
		p.Close()
		return nil, fmt.Errorf("kvm platform: %w", err)
	}
	return p, nil
}

func (p *Platform) init(memfd int) error {
	if v, err := ioctlInt(p.kvm, kvmGetAPIVersion, 0); err != nil {
		return fmt.Errorf("%w: /dev/kvm is not KVM: KVM_GET_API_VERSION: %v", ErrUnavailable, err)
	} else if v != 12 {
		return fmt.Errorf("%w: /dev/kvm has API version %d, want 12", ErrUnavailable, v)
	}
	vm, err := ioctlInt(p.kvm, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_CREATE_VM: %v", ErrUnavailable, err)
	}
	p.vm = int(vm)
	if n, _ := ioctlInt(p.kvm, kvmCheckExtension, kvmCapImmExit); n == 0 {
		return fmt.Errorf("%w: no KVM_CAP_IMMEDIATE_EXIT (Linux 4.11)", ErrUnavailable)
	}
	n, err := ioctlInt(p.kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %v", err)
	}
	p.runSize = int(n)
	want := uintptr(kvmSyncRegs | kvmSyncSregs | kvmSyncEvents)
	if s, _ := ioctlInt(p.vm, kvmCheckExtension, kvmCapSyncRegs); s&want != want {
		return fmt.Errorf("%w: no KVM_CAP_SYNC_REGS for regs, sregs and events (Linux 4.16)", ErrUnavailable)
	}
	p.maxVCPUs = maxVCPUs
	for _, c := range []uintptr{kvmCapMaxVCPUs, kvmCapMaxVCPUID} {
		if m, err := ioctlInt(p.vm, kvmCheckExtension, c); err == nil && m > 0 && int(m) < p.maxVCPUs {
			p.maxVCPUs = int(m)
		}
	}
	if err := p.initCPU(); err != nil {
		return err
	}

	// Slot 0: the memory file.
	var st unix.Stat_t
	if err := unix.Fstat(memfd, &st); err != nil {
		return fmt.Errorf("memory file: %v", err)
	}
	p.fileSize = uint64(st.Size) &^ (pageSize - 1)
	if p.fileSize == 0 {
		return fmt.Errorf("the memory file is empty")
	}
	p.gpa = (p.fileSize + (1<<30 - 1)) &^ (1<<30 - 1)
	if top := p.gpa + kernelAreaSize + ptPoolSize + pageSize; top > 1<<p.physBits() {
		return fmt.Errorf("%w: the guest needs %d bits of physical address for a %d-byte memory file, KVM offers %d",
			ErrUnavailable, bitsFor(top), p.fileSize, p.physBits())
	}
	if p.fileMem, err = unix.Mmap(memfd, 0, int(p.fileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE); err != nil {
		return fmt.Errorf("mapping the memory file: %v", err)
	}
	p.slotNext = firstFileSlot
	// Slot 1: the platform's pages.
	if p.platMem, err = unix.Mmap(-1, 0, kernelAreaSize+ptPoolSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE); err != nil {
		return fmt.Errorf("mapping the platform's pages: %v", err)
	}
	if err := setMemoryRegion(p.vm, 1, p.gpa, p.platMem); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION (platform pages): %v", err)
	}
	// Slot 2: one page, never mapped, deleted and re-added by zapAll.
	if p.zapMem, err = unix.Mmap(-1, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("mapping the zap page: %v", err)
	}
	p.zapGPA = p.gpa + kernelAreaSize + ptPoolSize
	if err := setMemoryRegion(p.vm, 2, p.zapGPA, p.zapMem); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION (zap page): %v", err)
	}
	p.ptNext = kernelAreaSize
	p.buildKernelArea()
	p.fpSize = arch.FPStateSize()
	return nil
}

// physBits is the guest's physical address width (CPUID 0x80000008 EAX[7:0]).
func (p *Platform) physBits() uint {
	if e := p.cpuidEntry(0x80000008, 0); e != nil && e.Eax&0xff >= 32 {
		return uint(e.Eax & 0xff)
	}
	return 36
}

func bitsFor(x uint64) int {
	n := 0
	for ; x > 1; x >>= 1 {
		n++
	}
	return n + 1
}

// initCPU reads what KVM supports and decides the guest's CR4 and XCR0.
func (p *Platform) initCPU() error {
	p.cpuid = &kvmCPUID2{Nent: maxCPUIDEntries}
	if _, err := ioctl(p.kvm, kvmGetSupportedCPUID, unsafe.Pointer(p.cpuid)); err != nil {
		return fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %v", err)
	}
	p.cr4 = cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT
	if e := p.cpuidEntry(7, 0); e != nil {
		if e.Ebx&(1<<0) != 0 {
			p.cr4 |= cr4FSGSBASE
		}
		if e.Ebx&(1<<20) != 0 {
			p.cr4 |= cr4SMAP
		}
	}
	p.xsaveIoc, p.xsaveSize = kvmGetXsave, 4096
	// The guest's FP state must hold every register the application can use. Where
	// the application's instructions run on the host CPU with the host's XCR0 and
	// CPUID (PVM, KVM without hardware virtualization, which hides XSAVE from its
	// supported CPUID), a guest without XSAVE would lose the upper halves of the
	// vector registers at every exit: glibc, seeing AVX2 in CPUID, fails in its
	// string functions. So XSAVE is offered to the guest whenever the host enabled it.
	if _, _, ecx, _ := arch.CPUID(1, 0); ecx&(1<<27) != 0 {
		if e := p.cpuidEntry(1, 0); e != nil {
			e.Ecx |= 1 << 26
		}
	}
	if e := p.cpuidEntry(1, 0); e != nil && e.Ecx&(1<<26) != 0 { // XSAVE
		_, _, ecx, _ := arch.CPUID(1, 0)
		if ecx&(1<<27) == 0 {
			return fmt.Errorf("%w: the host supports XSAVE but did not enable it", ErrUnavailable)
		}
		lo, hi := arch.XGETBV()
		host := uint64(hi)<<32 | uint64(lo)
		var supported uint64 = 3
		if d := p.cpuidEntry(0xd, 0); d != nil {
			supported = uint64(d.Edx)<<32 | uint64(d.Eax)
		}
		p.xcr0 = host & supported
		p.cr4 |= cr4OSXSAVE
		if n, _ := ioctlInt(p.vm, kvmCheckExtension, kvmCapXsave2); n > 4096 {
			p.xsaveIoc, p.xsaveSize = kvmGetXsave2, int(n)
		}
	}
	return nil
}

func (p *Platform) cpuidEntry(fn, index uint32) *kvmCPUIDEntry2 {
	for i := 0; i < int(p.cpuid.Nent) && i < maxCPUIDEntries; i++ {
		if e := &p.cpuid.Entries[i]; e.Function == fn && e.Index == index {
			return e
		}
	}
	return nil
}

// buildKernelArea writes the ring-0 code, the IDT and the kernel area's page tables.
func (p *Platform) buildKernelArea() {
	m := p.platMem
	copy(m[codeOff:], ring0Code)
	// IDT: interrupt gates (IF cleared on entry), IST1, kernel CS; DPL 3 only for #BP
	// and #OF, which int3 and into raise from ring 3 as Linux allows.
	for v := 0; v < 256; v++ {
		target := uint64(kernelBase + codeOff + unexpectedOff)
		if v < 32 {
			target = kernelBase + codeOff + vectorsOff + uint64(vectorStride*v)
		}
		attr := uint64(0x8e)
		if v == 3 || v == 4 {
			attr = 0xee
		}
		lo := target&0xffff | kernelCS<<16 | 1<<32 | attr<<40 | (target>>16&0xffff)<<48
		le.PutUint64(m[idtOff+16*v:], lo)
		le.PutUint64(m[idtOff+16*v+8:], target>>32)
	}
	// The kernel area's tables: PDPT[511] → PD; PD[0], PD[1] → PT0, PT1.
	// The upper levels allow user access so that the code page can (see
	// syscallEntryOff); every other leaf is supervisor-only.
	le.PutUint64(m[kPDPTOff+8*511:], (p.gpa+kPDOff)|ptePresent|pteWrite|pteUser|pteAcc)
	for i := uint64(0); i < kernelAreaSize>>21; i++ {
		le.PutUint64(m[kPDOff+8*i:], (p.gpa+kPT0Off+i*pageSize)|ptePresent|pteWrite|pteUser|pteAcc)
	}
	for off := uint64(0); off < kernelAreaSize; off += pageSize {
		var e uint64
		switch {
		case off == codeOff:
			e = ptePresent | pteUser | pteAcc
		case off == idtOff:
			e = ptePresent | pteAcc | pteNX
		case off >= vcpuOff:
			e = ptePresent | pteWrite | pteAcc | pteDirty | pteNX
		default:
			continue // the page tables themselves: not mapped
		}
		le.PutUint64(m[kPT0Off+8*(off/pageSize):], (p.gpa+off)|e)
	}
}

// Name implements platform.Platform.Name.
func (*Platform) Name() string { return "kvm" }

// MinUserAddress implements platform.Platform.MinUserAddress.
func (*Platform) MinUserAddress() uintptr { return minUser }

// MaxUserAddress implements platform.Platform.MaxUserAddress: the top of the lower
// canonical half, less a guard page, as Linux's TASK_SIZE_MAX.
func (*Platform) MaxUserAddress() uintptr { return maxUser }

// ThreadBound implements platform.Platform.ThreadBound: yes. A Switch's exit path runs
// the vCPU on the calling thread (runHere locks it for the call), and KVM keeps the
// thread that last ran a vCPU (vcpu->pid) and updates it when another runs it, which
// older kernels do by waiting for an RCU grace period (see "A Switch"). A caller
// locked to its thread keeps each vCPU on two threads, that one and the vCPU's own,
// where one moving from thread to thread would take it to every thread it lands on.
func (*Platform) ThreadBound() bool { return true }

// NewContext implements platform.Context.NewContext. The vCPU is taken on first Switch.
func (p *Platform) NewContext() platform.Context {
	// A first guess of the application's time from a go to its next call (the
	// entry's way in after a wake-up is some 15 µs under PVM), so that the first
	// hand-overs are not given up before the vCPU entered.
	return &context{p: p, appTime: 15 * time.Microsecond, appWakeTime: 15 * time.Microsecond, won: 100}
}

// stopVCPUsIn makes sure no vCPU runs in a, which is dead: each that may is kicked,
// and waited for until it left KVM_RUN (its thread checks a's death before entering).
func (p *Platform) stopVCPUsIn(a *addressSpace) {
	p.mu.Lock()
	vs := append([]*vcpu(nil), p.vcpus...)
	p.mu.Unlock()
	for _, v := range vs {
		if v.curAS.Load() != a {
			continue
		}
		if v.runMu.TryLock() {
			// Not running, and a run that begins now sees a dead. (A kick would
			// stay set in kvm_run and cost the vCPU's next user an entry.)
			v.runMu.Unlock()
			continue
		}
		v.kick()
		v.runMu.Lock()
		v.runMu.Unlock()
	}
}

// Close implements platform.Platform.Close.
func (p *Platform) Close() error {
	p.ptMu.Lock()
	p.closed = true
	p.ready, p.keptSlots = nil, nil
	p.ptMu.Unlock()
	p.mu.Lock()
	for _, v := range p.vcpus {
		v.quit()
		v.close()
	}
	p.vcpus, p.free = nil, nil
	p.mu.Unlock()
	if p.vm >= 0 {
		unix.Close(p.vm)
		p.vm = -1
	}
	if p.kvm >= 0 {
		unix.Close(p.kvm)
		p.kvm = -1
	}
	if p.fileMem != nil {
		unix.Munmap(p.fileMem)
		p.fileMem = nil
	}
	if p.platMem != nil {
		unix.Munmap(p.platMem)
		p.platMem = nil
	}
	if p.zapMem != nil {
		unix.Munmap(p.zapMem)
		p.zapMem = nil
	}
	return nil
}

// allocTable returns a zeroed page of the pool, as an offset in platMem.
func (p *Platform) allocTable() (uint64, error) {
	p.ptMu.Lock()
	defer p.ptMu.Unlock()
	if len(p.ptFree) == 0 && (len(p.ptDead) >= ptReuseBatch || p.ptNext+pageSize > uint64(len(p.platMem))) {
		if err := p.zapAll(); err != nil {
			return 0, err
		}
		p.ptFree, p.ptDead = p.ptDead, nil
	}
	if n := len(p.ptFree); n > 0 {
		off := p.ptFree[n-1]
		p.ptFree = p.ptFree[:n-1]
		clear(p.platMem[off : off+pageSize])
		return off, nil
	}
	if p.ptNext+pageSize > uint64(len(p.platMem)) {
		return 0, fmt.Errorf("kvm: the page-table pool (%d bytes) is full", ptPoolSize)
	}
	off := p.ptNext
	p.ptNext += pageSize
	if off >= p.ptPop {
		p.populate(off)
	}
	return off, nil
}

// ptPopulate is how many bytes of never-used pool pages populate makes present at once.
const ptPopulate = 64 * pageSize

// populate makes the never-used pool pages from off on present and writable in the
// Sentry's view, ptPopulate bytes at a time, with one madvise(MADV_POPULATE_WRITE).
// Without it, the first access to a fresh table is the walk's read of an entry, which
// maps the shared zero page, and its first store then replaces that page: a second
// fault, and a TLB flush of every CPU the Sentry runs on (IPIs, which are dear in a
// VM). Where the host lacks MADV_POPULATE_WRITE (Linux < 5.14) the pages fault as
// before. Called with ptMu held.
func (p *Platform) populate(off uint64) {
	end := min(off+ptPopulate, uint64(len(p.platMem)))
	p.ptPop = end
	unix.Madvise(p.platMem[off:end], unix.MADV_POPULATE_WRITE)
}

// freeTables takes back the tables of a released address space. They are not reused at
// once: KVM may keep shadow page tables derived from their contents (it tracks the
// guest's writes to its page tables, not the Sentry's), so a table page serves another
// address space only after zapAll has made KVM drop everything it derived.
func (p *Platform) freeTables(offs []uint64) {
	p.ptMu.Lock()
	p.ptDead = append(p.ptDead, offs...)
	p.ptMu.Unlock()
}

// ptReuseBatch is how many released table pages wait for one zapAll.
var ptReuseBatch = 4096

// zapAll makes KVM drop every translation it derived from the guest's page tables, by
// deleting and re-adding a one-page memory slot: on x86 the deletion of a slot zaps
// all of the VM's shadow and nested page tables (KVM_X86_QUIRK_SLOT_ZAP_ALL, on by
// default). Called with ptMu held.
func (p *Platform) zapAll() error {
	if err := setMemoryRegionSize(p.vm, 2, p.zapGPA, p.zapMem, 0); err != nil {
		return fmt.Errorf("kvm: deleting the zap slot: %v", err)
	}
	if err := setMemoryRegion(p.vm, 2, p.zapGPA, p.zapMem); err != nil {
		return fmt.Errorf("kvm: adding the zap slot: %v", err)
	}
	return nil
}

// firstFileSlot is the slot of the memory file's first GiB; fileSlot0Size is its size.
const (
	firstFileSlot = 3
	fileSlot0Size = 1 << 30
)

// ensureFileSlots registers the memory file below end with KVM if it is not yet: each
// new slot starts where the last ended and is as large as all before it together (the
// first 1 GiB), up to the file's size. Slots are only added, never changed, so vCPUs
// running meanwhile are not disturbed.
func (p *Platform) ensureFileSlots(end uint64) error {
	if end <= p.slotEnd.Load() {
		return nil
	}
	p.slotMu.Lock()
	defer p.slotMu.Unlock()
	for start := p.slotEnd.Load(); start < end; start = p.slotEnd.Load() {
		size := max(start, fileSlot0Size)
		size = min(size, p.fileSize-start)
		if err := setMemoryRegion(p.vm, p.slotNext, start, p.fileMem[start:start+size]); err != nil {
			return fmt.Errorf("kvm: KVM_SET_USER_MEMORY_REGION (memory file [%#x, %#x)): %v", start, start+size, err)
		}
		p.slotNext++
		p.slotEnd.Store(start + size)
	}
	return nil
}

// checkFileRange checks that fr is a page-aligned, non-empty range of the file.
func (p *Platform) checkFileRange(fr platform.FileRange) error {
	if fr.Start%pageSize != 0 || fr.End%pageSize != 0 || fr.End <= fr.Start || fr.End > p.fileSize {
		return fmt.Errorf("kvm: %w: file range [%#x, %#x) (file size %#x)", platform.ErrBadRange, fr.Start, fr.End, p.fileSize)
	}
	return nil
}

// isCanonical reports whether a is a canonical 48-bit address.
func isCanonical(a uint64) bool { return a < canonical || a >= 0xffff_8000_0000_0000 }

// tid is the calling thread's ID, for signals to it.
func tid() int32 { return int32(unix.Gettid()) }

var pid = os.Getpid()

var le = binary.LittleEndian
