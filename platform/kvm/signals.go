package kvm

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// Exception vectors.
const (
	vecDE = 0  // divide error
	vecDB = 1  // debug
	vecBP = 3  // int3
	vecOF = 4  // into
	vecBR = 5  // bound
	vecUD = 6  // invalid opcode
	vecTS = 10 // invalid TSS
	vecNP = 11 // segment not present
	vecSS = 12 // stack segment
	vecGP = 13 // general protection
	vecPF = 14 // page fault
	vecMF = 16 // x87 floating point
	vecAC = 17 // alignment check
	vecXM = 19 // SIMD floating point
)

// si_codes x/sys/unix and arch lack (include/uapi/asm-generic/siginfo.h).
const (
	fpeIntdiv  = 1
	fpeFltdiv  = 3
	fpeFltovf  = 4
	fpeFltund  = 5
	fpeFltres  = 6
	fpeFltinv  = 7
	illIllopn  = 2
	trapTrace  = 2
	trapHwbkpt = 4
)

// Page-fault error code bits.
const (
	pfPresent = 1 << 0
	pfWrite   = 1 << 1
	pfRsvd    = 1 << 3
	pfInstr   = 1 << 4
)

// hasErrorCode reports whether the CPU pushes an error code for the vector.
func hasErrorCode(v int) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

func signal(sig unix.Signal, code int32, addr uint64) platform.Event {
	ev := platform.Event{Kind: platform.EventSignal}
	ev.Info.Signo, ev.Info.Code = int32(sig), code
	ev.Info.SetAddr(uintptr(addr))
	return ev
}

// sigsegvKernel is a #GP's signal: SIGSEGV from the kernel, no address.
func sigsegvKernel() platform.Event { return signal(unix.SIGSEGV, arch.SI_KERNEL, 0) }

// signalFor turns an exception in ring 3 into the event Linux's handler for it would
// raise (arch/x86/kernel/traps.c, arch/x86/mm/fault.c). st holds the registers at the
// exception, its FP state included.
func (v *vcpu) signalFor(vector int, errCode uint64, st *arch.State) (platform.Event, error) {
	rip := st.Regs.Rip
	switch vector {
	case vecPF:
		if errCode&pfRsvd != 0 {
			return platform.Event{}, fmt.Errorf("kvm: vCPU %d: reserved bit in a page-table entry for %#x", v.id, v.run.Sregs.CR2)
		}
		addr := v.run.Sregs.CR2
		ev := platform.Event{Kind: platform.EventFault, Addr: uintptr(addr), Access: platform.Read}
		switch {
		case errCode&pfInstr != 0:
			ev.Access = platform.AccessType{Execute: true}
		case errCode&pfWrite != 0:
			ev.Access = platform.AccessType{Write: true}
		}
		ev.Info.Signo, ev.Info.Code = int32(unix.SIGSEGV), arch.SEGV_MAPERR
		if errCode&pfPresent != 0 {
			ev.Info.Code = arch.SEGV_ACCERR
		}
		ev.Info.SetAddr(uintptr(addr))
		return ev, nil
	case vecDE: // do_error_trap(..., SIGFPE, FPE_INTDIV, the instruction)
		return signal(unix.SIGFPE, fpeIntdiv, rip), nil
	case vecDB:
		return v.debugTrap(rip)
	case vecBP: // do_int3_user: force_sig(SIGTRAP)
		return signal(unix.SIGTRAP, arch.SI_KERNEL, 0), nil
	case vecOF, vecBR, vecTS, vecGP:
		return sigsegvKernel(), nil
	case vecNP, vecSS:
		return signal(unix.SIGBUS, arch.SI_KERNEL, 0), nil
	case vecUD:
		// PVM raises #UD for int $n with a DPL 0 gate (n ≥ 32, int $0x80 among them),
		// where the hardware raises #GP: give what Linux gives (a kernel without IA32
		// emulation for int $0x80), a SIGSEGV.
		if a := v.loadedAS; a != nil {
			if b, ok := a.userByte(rip); ok && b == 0xcd { // int imm8
				return sigsegvKernel(), nil
			}
		}
		return signal(unix.SIGILL, illIllopn, rip), nil
	case vecAC:
		return signal(unix.SIGBUS, arch.BUS_ADRALN, 0), nil
	case vecMF, vecXM:
		return signal(unix.SIGFPE, mathErrorCode(vector, st.FP), rip), nil
	}
	return platform.Event{}, fmt.Errorf("kvm: vCPU %d: exception %d (error code %#x) at %#x", v.id, vector, errCode, rip)
}

// mathErrorCode is fpu__exception_code: the si_code of an x87 (#MF) or SIMD (#XM)
// exception, from the status bits its control word does not mask. Zero when none is
// pending, where Linux raises no signal either.
func mathErrorCode(vector int, fp arch.FPState) int32 {
	if len(fp) < 32 {
		return 0
	}
	var err uint32
	if vector == vecMF {
		cwd, swd := uint32(le.Uint16(fp[0:])), uint32(le.Uint16(fp[2:]))
		err = swd &^ cwd
	} else {
		mxcsr := le.Uint32(fp[24:])
		err = ^(mxcsr >> 7) & mxcsr
	}
	switch {
	case err&0x001 != 0:
		return fpeFltinv
	case err&0x004 != 0:
		return fpeFltdiv
	case err&0x008 != 0:
		return fpeFltovf
	case err&0x012 != 0:
		return fpeFltund
	case err&0x020 != 0:
		return fpeFltres
	}
	return 0
}

// debugTrap is exc_debug_user: SIGTRAP with the si_code DR6 tells (a single step,
// a hardware breakpoint, else icebp), at the instruction. DR6 is reset for the next.
func (v *vcpu) debugTrap(rip uint64) (platform.Event, error) {
	var d kvmDebugRegs
	if _, err := ioctl(v.fd, kvmGetDebugRegs, unsafe.Pointer(&d)); err != nil {
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: KVM_GET_DEBUGREGS: %v", v.id, err)
	}
	code := int32(arch.TRAP_BRKPT)
	switch {
	case d.DR6&(1<<14) != 0: // BS
		code = trapTrace
	case d.DR6&0xf != 0: // B0-B3
		code = trapHwbkpt
	}
	d.DR6 = 0xffff0ff0
	if _, err := ioctl(v.fd, kvmSetDebugRegs, unsafe.Pointer(&d)); err != nil {
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: KVM_SET_DEBUGREGS: %v", v.id, err)
	}
	return signal(unix.SIGTRAP, code, rip), nil
}

// userByte reads the byte at va as the application would: from a present user page
// of a's page tables (false if there is none).
func (a *addressSpace) userByte(va uint64) (byte, bool) {
	var b byte
	var ok bool
	page := va &^ (pageSize - 1)
	a.walk(page, page+pageSize, false, func(e *uint64, _ uint64) {
		cur := atomic.LoadUint64(e)
		if cur&ptePresent == 0 || cur&pteUser == 0 {
			return
		}
		if off := cur&pteAddr + va&(pageSize-1); off < uint64(len(a.p.fileMem)) {
			b, ok = a.p.fileMem[off], true
		}
	})
	return b, ok
}
