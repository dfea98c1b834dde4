package kvm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The KVM API (include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h), which
// x/sys/unix does not carry. Each ioctl's number encodes its argument's size, so the
// structures below must keep the kernel's layout exactly (kvm_test.go checks sizes).
const (
	kvmGetAPIVersion       = 0xae00
	kvmCreateVM            = 0xae01
	kvmCheckExtension      = 0xae03
	kvmGetVCPUMmapSize     = 0xae04
	kvmGetSupportedCPUID   = 0xc008ae05
	kvmCreateVCPU          = 0xae41
	kvmSetUserMemoryRegion = 0x4020ae46
	kvmRunIoctl            = 0xae80
	kvmSetRegs             = 0x4090ae82
	kvmGetRegs             = 0x8090ae81
	kvmGetSregs            = 0x8138ae83
	kvmSetSregs            = 0x4138ae84
	kvmSetMSRs             = 0x4008ae89
	kvmSetCPUID2           = 0x4008ae90
	kvmGetDebugRegs        = 0x8080aea1
	kvmSetDebugRegs        = 0x4080aea2
	kvmGetXsave            = 0x9000aea4
	kvmSetXsave            = 0x5000aea5
	kvmSetXCRs             = 0x4188aea7
	kvmGetXsave2           = 0x9000aecf

	kvmCapMaxVCPUs  = 66
	kvmCapSyncRegs  = 74
	kvmCapImmExit   = 136
	kvmCapXsave2    = 208
	kvmCapMaxVCPUID = 128

	kvmSyncRegs   = 1 << 0 // KVM_SYNC_X86_REGS
	kvmSyncSregs  = 1 << 1
	kvmSyncEvents = 1 << 2

	// Exit reasons.
	exitUnknown       = 0
	exitException     = 1
	exitIO            = 2
	exitDebug         = 4
	exitHlt           = 5
	exitMMIO          = 6
	exitShutdown      = 8
	exitFailEntry     = 9
	exitIntr          = 10
	exitInternalError = 17
)

// kvmRegs is struct kvm_regs.
type kvmRegs struct {
	Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	Rip, Rflags                            uint64
}

// kvmSegment is struct kvm_segment.
type kvmSegment struct {
	Base                                 uint64
	Limit                                uint32
	Selector                             uint16
	Type, Present, DPL, DB, S, L, G, AVL uint8
	Unusable, _                          uint8
}

// kvmDtable is struct kvm_dtable.
type kvmDtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// kvmSregs is struct kvm_sregs.
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS, TR, LDT kvmSegment
	GDT, IDT                        kvmDtable
	CR0, CR2, CR3, CR4, CR8, EFER   uint64
	APICBase                        uint64
	InterruptBitmap                 [4]uint64
}

// kvmVCPUEvents is the start of struct kvm_vcpu_events: what the vCPU is in the middle
// of delivering.
type kvmVCPUEvents struct {
	ExcInjected, ExcNr, ExcHasErrorCode, ExcPending uint8
	ExcErrorCode                                    uint32
	IntInjected, IntNr, IntSoft, IntShadow          uint8
	NMIInjected, NMIPending, NMIMasked, _           uint8
	_                                               [48]byte
}

// kvmRun is struct kvm_run up to and including the sync registers.
type kvmRun struct {
	RequestInterruptWindow uint8
	ImmediateExit          uint8
	_                      [6]uint8
	ExitReason             uint32
	_                      [4]uint8
	_                      uint64 // cr8
	_                      uint64 // apic_base
	Exit                   [256]byte
	ValidRegs              uint64
	DirtyRegs              uint64
	Regs                   kvmRegs
	Sregs                  kvmSregs
	Events                 kvmVCPUEvents
}

// kvmUserspaceMemoryRegion is struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot, Flags               uint32
	GuestPhysAddr, MemorySize uint64
	UserspaceAddr             uint64
}

// kvmCPUIDEntry2 is struct kvm_cpuid_entry2.
type kvmCPUIDEntry2 struct {
	Function, Index, Flags uint32
	Eax, Ebx, Ecx, Edx     uint32
	_                      [3]uint32
}

// maxCPUIDEntries bounds KVM_GET_SUPPORTED_CPUID's answer.
const maxCPUIDEntries = 256

// kvmCPUID2 is struct kvm_cpuid2 with room for maxCPUIDEntries entries.
type kvmCPUID2 struct {
	Nent    uint32
	_       uint32
	Entries [maxCPUIDEntries]kvmCPUIDEntry2
}

// kvmMSREntry is struct kvm_msr_entry.
type kvmMSREntry struct {
	Index uint32
	_     uint32
	Data  uint64
}

// kvmMSRs is struct kvm_msrs with room for a few entries.
type kvmMSRs struct {
	Nmsrs   uint32
	_       uint32
	Entries [8]kvmMSREntry
}

// kvmXCRs is struct kvm_xcrs.
type kvmXCRs struct {
	NrXCRs uint32
	Flags  uint32
	XCRs   [16]struct {
		XCR   uint32
		_     uint32
		Value uint64
	}
	_ [16]uint64
}

// kvmDebugRegs is struct kvm_debugregs.
type kvmDebugRegs struct {
	DB    [4]uint64
	DR6   uint64
	DR7   uint64
	Flags uint64
	_     [9]uint64
}

// ioctl makes an ioctl whose argument is a pointer (or nil). The structures are Go
// values that hold no Go pointers, so the kernel may read and write them directly.
func ioctl(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return r, e
	}
	return r, nil
}

// ioctlInt makes an ioctl whose argument is an integer.
func ioctlInt(fd int, req, arg uintptr) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return r, e
	}
	return r, nil
}

// runVCPU is KVM_RUN. It returns the errno (EINTR when a signal or immediate_exit
// stopped it).
func runVCPU(fd int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmRunIoctl, 0)
	return e
}

// runOf views a vCPU's mmapped kvm_run.
func runOf(b []byte) *kvmRun { return (*kvmRun)(unsafe.Pointer(&b[0])) }

// setImmediateExit sets or clears kvm_run.immediate_exit from any goroutine: the first
// four bytes of kvm_run are request_interrupt_window (always 0 here), immediate_exit
// and padding, so one aligned 32-bit store does it atomically.
func setImmediateExit(r *kvmRun, on bool) {
	v := uint32(0)
	if on {
		v = 1 << 8
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(r)), v)
}

// setMemoryRegion registers [gpa, gpa+len(mem)) of guest physical memory, backed by mem.
func setMemoryRegion(vm int, slot uint32, gpa uint64, mem []byte) error {
	return setMemoryRegionSize(vm, slot, gpa, mem, uint64(len(mem)))
}

// setMemoryRegionSize is setMemoryRegion with the size given: 0 deletes the slot.
func setMemoryRegionSize(vm int, slot uint32, gpa uint64, mem []byte, size uint64) error {
	r := kvmUserspaceMemoryRegion{Slot: slot, GuestPhysAddr: gpa, MemorySize: size,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	_, err := ioctl(vm, kvmSetUserMemoryRegion, unsafe.Pointer(&r))
	return err
}

// pte returns the page-table entry at byte offset off of mem, for atomic access: the
// guest's MMU walks the tables while the Sentry edits them.
func pte(mem []byte, off uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(&mem[off]))
}

// frameWord returns the 64-bit word at byte offset off of mem (a vCPU's stack).
func frameWord(mem []byte, off uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(&mem[off]))
}

// futex(2) operations the Sentry's seccomp filter allows (runsc/boot/filter.go).
const (
	futexWaitPrivate = 128
	futexWakePrivate = 129
)

// futexWait sleeps while *w is val (or until a signal or a spurious wake-up).
func futexWait(w *atomic.Uint32, val uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitPrivate, uintptr(val), 0, 0, 0)
}

// futexWake wakes the thread sleeping on w, if any.
func futexWake(w *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakePrivate, 1, 0, 0, 0)
}

// slotWord returns the 32-bit word at byte offset off of mem, for atomic access: the
// guest reads and writes the slot's state word while the Sentry does.
func slotWord(mem []byte, off uint64) *uint32 {
	return (*uint32)(unsafe.Pointer(&mem[off]))
}
