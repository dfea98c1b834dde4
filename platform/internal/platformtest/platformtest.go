// Package platformtest holds what the platforms' tests share: a memory file the test
// sees too, small programs mapped into a new address space, and the machine code they
// are made of.
package platformtest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// Addresses the test programs use, and the memory file's size.
const (
	CodeAddr = 0x400000
	DataAddr = 0x500000
	FileSize = 16 << 20
)

// MemFile is a fresh memory file, with the test's own view of it.
type MemFile struct {
	FD  int
	Mem []byte
	off uint64 // next free file offset
}

// NewMemFile makes a memory file, unmapped and closed when the test ends (after the
// cleanups registered later, such as the platform's Close).
func NewMemFile(t testing.TB) *MemFile {
	t.Helper()
	fd, err := unix.MemfdCreate("moat-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Ftruncate(fd, FileSize); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, FileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Munmap(mem)
		unix.Close(fd)
	})
	return &MemFile{FD: fd, Mem: mem}
}

// Alloc returns n fresh pages of the memory file.
func (m *MemFile) Alloc(n int) platform.FileRange {
	fr := platform.FileRange{Start: m.off, End: m.off + uint64(n*platform.PageSize)}
	m.off = fr.End
	return fr
}

// AddressSpaces is the part of a platform Program needs.
type AddressSpaces interface {
	NewAddressSpace() (platform.AddressSpace, error)
}

// Program maps code at CodeAddr (r-x) in a new address space of p (released when the
// test ends) and returns it with a state whose rip is at the code, and the code's page.
func (m *MemFile) Program(t testing.TB, p AddressSpaces, code []byte) (platform.AddressSpace, *arch.State, platform.FileRange) {
	t.Helper()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	fr := m.Alloc(1)
	copy(m.Mem[fr.Start:], code)
	if err := as.MapFile(CodeAddr, fr, platform.ReadExec, false); err != nil {
		t.Fatal(err)
	}
	st := arch.NewState()
	st.Regs.Rip = CodeAddr
	return as, st, fr
}

// SwitchOnce runs one Switch, failing the test on an error.
func SwitchOnce(t testing.TB, c platform.Context, as platform.AddressSpace, st *arch.State) platform.Event {
	t.Helper()
	ev, err := c.Switch(as, st)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	return ev
}

// Cat joins pieces of machine code.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Machine code pieces.
var (
	SyscallInsn   = []byte{0x0f, 0x05}
	MovEax39      = []byte{0xb8, 0x27, 0x00, 0x00, 0x00}                   // mov $39,%eax (getpid)
	MovRaxToData  = []byte{0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00} // mov %rax,0x500000
	MovDataToRax  = []byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00} // mov 0x500000,%rax
	JmpSelf       = []byte{0xeb, 0xfe}                                     // 1: jmp 1b
	JmpBack4      = []byte{0xeb, 0xfc}                                     // jmp to 4 bytes back
	Ud2           = []byte{0x0f, 0x0b}
	Int3          = []byte{0xcc}
	Hlt           = []byte{0xf4}
	MovapsXmm4Xm3 = []byte{0x0f, 0x28, 0xe3} // movaps %xmm3,%xmm4
	JmpR11        = []byte{0x41, 0xff, 0xe3} // jmp *%r11
	StoreRaxAtR11 = []byte{0x49, 0x89, 0x03} // mov %rax,(%r11)
	LoadR11ToRax  = []byte{0x49, 0x8b, 0x03} // mov (%r11),%rax
)

// MovabsR11 returns movabs $v,%r11.
func MovabsR11(v uint64) []byte {
	b := []byte{0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(b[2:], v)
	return b
}
