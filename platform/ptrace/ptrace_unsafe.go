package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// Thin wrappers over ptrace(2) requests. Each must be called by the tracer thread of
// tid, with tid in a ptrace-stop.
//
// Safe: every pointer passed to the kernel is to a live Go value of the size the
// request writes (user_regs_struct, siginfo, an iovec over a byte slice).

func ptrace(req int, tid int, addr, data uintptr) error {
	if _, _, e := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0); e != 0 {
		return e
	}
	return nil
}

func getRegs(tid int, r *arch.Registers) error {
	return ptrace(unix.PTRACE_GETREGS, tid, 0, uintptr(unsafe.Pointer(r)))
}

func setRegs(tid int, r *arch.Registers) error {
	return ptrace(unix.PTRACE_SETREGS, tid, 0, uintptr(unsafe.Pointer(r)))
}

// getFP reads the XSAVE area into buf and returns how many bytes the kernel wrote.
func getFP(tid int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	err := ptrace(unix.PTRACE_GETREGSET, tid, unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov)))
	return int(iov.Len), err
}

func setFP(tid int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	return ptrace(unix.PTRACE_SETREGSET, tid, unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov)))
}

func getSiginfo(tid int, si *arch.SignalInfo) error {
	return ptrace(unix.PTRACE_GETSIGINFO, tid, 0, uintptr(unsafe.Pointer(si)))
}

// currentCPU returns the CPU the calling thread runs on (getcpu(2)).
func currentCPU() (int, bool) {
	var cpu uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	return int(cpu), e == 0
}

// rseqConfig is struct ptrace_rseq_configuration.
type rseqConfig struct {
	Pointer   uint64
	Size      uint32
	Signature uint32
	Flags     uint32
	_         uint32
}

// ptraceGetRseqConfiguration is PTRACE_GET_RSEQ_CONFIGURATION (Linux 5.13).
const ptraceGetRseqConfiguration = 0x420f

// getRseq returns the rseq area the thread has registered (Pointer 0 if none).
func getRseq(tid int) (rseqConfig, error) {
	var c rseqConfig
	err := ptrace(ptraceGetRseqConfiguration, tid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, err
}
