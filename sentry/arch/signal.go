package arch

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SignalInfo is struct siginfo (128 bytes) as the kernel fills it for a signal.
type SignalInfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	// Fields is the union that follows; for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP
	// raised by a fault it starts with si_addr.
	Fields [112]byte
}

// si_code values of faults (include/uapi/asm-generic/siginfo.h); x/sys/unix lacks them.
const (
	SI_USER     = 0
	SI_KERNEL   = 0x80
	SI_TKILL    = -6
	SEGV_MAPERR = 1 // address not mapped to object
	SEGV_ACCERR = 2 // invalid permissions for mapped object
	BUS_ADRALN  = 1
	BUS_ADRERR  = 2
	BUS_OBJERR  = 3
	TRAP_BRKPT  = 1
)

// Addr is si_addr: the faulting address of a SIGSEGV or SIGBUS.
func (s *SignalInfo) Addr() uintptr { return uintptr(le.Uint64(s.Fields[0:8])) }

// SetAddr sets si_addr.
func (s *SignalInfo) SetAddr(a uintptr) { le.PutUint64(s.Fields[0:8], uint64(a)) }

// PID is si_pid of a signal sent by a process (kill, tgkill).
func (s *SignalInfo) PID() int32 { return int32(le.Uint32(s.Fields[0:4])) }

// FromKernel reports whether the kernel, not a process, raised the signal.
func (s *SignalInfo) FromKernel() bool { return s.Code > 0 }

func (s *SignalInfo) String() string {
	return fmt.Sprintf("%v code=%d addr=%#x", unix.Signal(s.Signo), s.Code, s.Addr())
}
