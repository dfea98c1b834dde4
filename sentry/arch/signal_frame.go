package arch

import (
	"encoding/binary"
	"errors"
)

// The x86-64 signal frame, as arch/x86/kernel/signal.c builds it (rt_sigframe):
//
//	(high)  [the interrupted stack, less the 128-byte red zone]
//	        XSAVE area (64-byte aligned), FP_XSTATE_MAGIC2 after it
//	        siginfo (128 bytes)
//	        ucontext: flags, link, stack_t, sigcontext (256 bytes), sigmask
//	 sp ->  return address: sa_restorer (the handler's "ret" lands there)
//
// so that at the handler's entry (sp+8) is 16-byte aligned, as after a call.

// Frame sizes and offsets.
const (
	ucontextSize   = 8 + 8 + 24 + sigcontextSize + 8
	sigcontextSize = 256
	siginfoSize    = 128
	frameSize      = 8 + ucontextSize + siginfoSize
	redZone        = 128

	ucStack    = 16 // offset of uc_stack in ucontext
	ucMcontext = 40 // of uc_mcontext
	ucSigmask  = ucMcontext + sigcontextSize

	// Offsets in struct sigcontext (arch/x86/include/uapi/asm/sigcontext.h): r8…r15,
	// rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip at 8-byte steps from 0, then these.
	scEflags  = 136
	scCS      = 144 // u16; gs, fs and ss follow
	scSS      = 150
	scErr     = 152
	scTrapno  = 160
	scOldmask = 168
	scCR2     = 176
	scFPState = 184

	fpXstateMagic1 = 0x46505853
	fpXstateMagic2 = 0x46505845
	ucFPXstate     = 0x1
	ucSigcontextSS = 0x2

	// flagsUserMask are the flags the application may set (FIX_EFLAGS: CF PF AF ZF SF
	// TF DF OF NT RF AC).
	flagsUserMask = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x10000 | 0x40000
)

// The layout of the kernel's own frames, for a platform that reads them (systrap):
// offsets in struct ucontext and struct sigcontext, and the XSAVE area's magic.
const (
	UcontextStack     = ucStack
	UcontextMcontext  = ucMcontext
	UcontextSigmask   = ucSigmask
	SigcontextErr     = scErr
	SigcontextTrapno  = scTrapno
	SigcontextFPState = scFPState
	FPXstateMagic1    = fpXstateMagic1
)

// sigcontextRegs are the registers struct sigcontext holds first, in its order.
func sigcontextRegs(r *Registers) [18]*uint64 {
	return [18]*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp, &r.Rip, &r.Eflags}
}

// ReadSigcontext reads the general registers, flags and code and stack segments of
// the struct sigcontext sc into r, as they are (no checks: see RestoreSignalFrame).
func ReadSigcontext(sc []byte, r *Registers) {
	for i, p := range sigcontextRegs(r) {
		*p = le.Uint64(sc[8*i:])
	}
	r.Cs = uint64(le.Uint16(sc[scCS:]))
	r.Ss = uint64(le.Uint16(sc[scSS:]))
}

// WriteSigcontext writes r's general registers, flags and code and stack segments
// into the struct sigcontext sc.
func WriteSigcontext(sc []byte, r *Registers) {
	for i, p := range sigcontextRegs(r) {
		le.PutUint64(sc[8*i:], *p)
	}
	le.PutUint16(sc[scCS:], uint16(r.Cs))
	le.PutUint16(sc[scSS:], uint16(r.Ss))
}

// SignalStack is stack_t: an alternate signal stack.
type SignalStack struct {
	Sp    uint64
	Flags int32
	Size  uint64
}

// Stack flags.
const (
	SS_ONSTACK = 1
	SS_DISABLE = 2
)

// Contains reports whether sp is on the stack.
func (s SignalStack) Contains(sp uint64) bool {
	return s.Flags&SS_DISABLE == 0 && sp > s.Sp && sp <= s.Sp+s.Size
}

// SignalFrame is a frame to write at Addr, and the registers that run the handler.
type SignalFrame struct {
	Addr uint64
	Data []byte
}

// BuildSignalFrame lays out the frame for a handler of sig on the stack whose top is
// stackTop (the interrupted rsp less the red zone, or the top of the alternate stack),
// saving st and mask (the mask to restore at sigreturn). It changes st to run the
// handler: rip, rsp, rdi (sig), rsi (&siginfo), rdx (&ucontext).
func BuildSignalFrame(st *State, stackTop uint64, sig int, info *SignalInfo, handler, restorer uint64, mask uint64, alt SignalStack) SignalFrame {
	le := binary.LittleEndian
	st.LoadFP()
	fpSize := uint64(len(st.FP))
	fpAddr := (stackTop - fpSize - 4) &^ 63
	frame := ((fpAddr - frameSize) &^ 15) - 8
	size := stackTop - frame
	data := make([]byte, size)
	// The FP state, marked as an extended XSAVE area.
	fp := data[fpAddr-frame:]
	copy(fp, st.FP)
	le.PutUint32(fp[464:], fpXstateMagic1)
	le.PutUint32(fp[468:], uint32(fpSize+4)) // extended_size
	le.PutUint64(fp[472:], le.Uint64(st.FP[512:]))
	le.PutUint32(fp[480:], uint32(fpSize)) // xstate_size
	le.PutUint32(fp[fpSize:], fpXstateMagic2)

	f := data
	le.PutUint64(f[0:], restorer)
	uc := f[8:]
	le.PutUint64(uc[0:], ucFPXstate|ucSigcontextSS)
	le.PutUint64(uc[ucStack:], alt.Sp)
	le.PutUint32(uc[ucStack+8:], uint32(alt.Flags))
	le.PutUint64(uc[ucStack+16:], alt.Size)
	r := &st.Regs
	sc := uc[ucMcontext:]
	WriteSigcontext(sc, r)
	le.PutUint64(sc[scOldmask:], mask)
	if info.Signo == 11 || info.Signo == 7 {
		le.PutUint64(sc[scCR2:], uint64(info.Addr()))
	}
	le.PutUint64(sc[scFPState:], fpAddr)
	le.PutUint64(uc[ucSigmask:], mask)
	infoAddr := frame + 8 + ucontextSize
	ib := f[8+ucontextSize:]
	le.PutUint32(ib[0:], uint32(info.Signo))
	le.PutUint32(ib[4:], uint32(info.Errno))
	le.PutUint32(ib[8:], uint32(info.Code))
	copy(ib[16:], info.Fields[:])

	r.Rip, r.Rsp = handler, frame
	r.Rdi, r.Rsi, r.Rdx, r.Rax = uint64(sig), infoAddr, frame+8, 0
	r.Eflags &^= 0x100 | 0x400 // TF, DF: the handler starts with them clear
	r.Orig_rax = ^uint64(0)
	return SignalFrame{Addr: frame, Data: data}
}

// ErrBadFrame is a signal frame rt_sigreturn can't restore.
var ErrBadFrame = errors.New("bad signal frame")

// RestoreSignalFrame restores st from the ucontext at uc (read into data, with the FP
// area read by readFP), as rt_sigreturn: the segment registers stay user ones, only
// the flags the application may set change, and the FP state must carry its magic.
// It returns the saved signal mask and alternate stack.
func RestoreSignalFrame(st *State, data []byte, readFP func(addr uint64, dst []byte) error) (mask uint64, alt SignalStack, err error) {
	if len(data) < ucontextSize {
		return 0, alt, ErrBadFrame
	}
	st.LoadFP() // its size, and what stays of it when the frame has none
	le := binary.LittleEndian
	sc := data[ucMcontext:]
	r := &st.Regs
	regs := sigcontextRegs(r)
	for i, p := range regs[:17] { // not eflags: only its user bits, below
		*p = le.Uint64(sc[8*i:])
	}
	flags := le.Uint64(sc[scEflags:])
	r.Eflags = r.Eflags&^flagsUserMask | flags&flagsUserMask
	r.Cs, r.Ss = UserCS, UserSS
	r.Orig_rax = ^uint64(0)
	if fpAddr := le.Uint64(sc[scFPState:]); fpAddr != 0 {
		fp := make([]byte, len(st.FP)+4)
		if err := readFP(fpAddr, fp); err != nil {
			return 0, alt, err
		}
		if le.Uint32(fp[464:]) != fpXstateMagic1 || le.Uint32(fp[len(st.FP):]) != fpXstateMagic2 {
			// Only the legacy area is valid: restore it, reset the rest.
			n := NewFPStateSized(len(st.FP))
			copy(n[:464], fp[:464])
			st.FP = n
		} else {
			copy(st.FP, fp[:len(st.FP)])
			clear(st.FP[464:512])
		}
	}
	st.FP.Sanitize()
	alt = SignalStack{Sp: le.Uint64(data[ucStack:]), Flags: int32(le.Uint32(data[ucStack+8:])), Size: le.Uint64(data[ucStack+16:])}
	return le.Uint64(data[ucSigmask:]), alt, nil
}

// UcontextSize is the size of the ucontext rt_sigreturn reads.
const UcontextSize = ucontextSize

// RedZone is the area below rsp a signal frame must not touch.
const RedZone = redZone
