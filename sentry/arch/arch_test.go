package arch

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSignalInfoIsSiginfoSized(t *testing.T) {
	if got, want := unsafe.Sizeof(SignalInfo{}), unsafe.Sizeof(unix.Siginfo{}); got != want {
		t.Fatalf("SignalInfo is %d bytes, siginfo is %d", got, want)
	}
}

func TestFPStateSizeCoversLegacyAndHeader(t *testing.T) {
	if n := FPStateSize(); n < 576 || n%64 != 0 {
		t.Fatalf("FPStateSize() = %d, want a multiple of 64 of at least 576", n)
	}
}

func TestNewFPStateIsResetState(t *testing.T) {
	f := NewFPState()
	if got := f.MXCSR(); got != 0x1f80 {
		t.Errorf("MXCSR = %#x, want 0x1f80", got)
	}
	if got := le.Uint16(f[0:]); got != 0x037f {
		t.Errorf("FCW = %#x, want 0x37f", got)
	}
	g := f.Fork()
	g[160] = 1
	if f[160] != 0 {
		t.Error("Fork shares memory with the original")
	}
}

func TestSyscallDecoding(t *testing.T) {
	var r Registers
	r.Orig_rax, r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = 39, 1, 2, 3, 4, 5, 6
	if SyscallNo(&r) != 39 {
		t.Errorf("SyscallNo = %d", SyscallNo(&r))
	}
	if a := SyscallArgs(&r); a != [6]uintptr{1, 2, 3, 4, 5, 6} {
		t.Errorf("SyscallArgs = %v", a)
	}
}
