package strace

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// fakeMemory is a task's memory made of regions: address → bytes. Reads
// behave as the Sentry's memory manager: CopyIn fails with EFAULT past the
// end of a region, CopyInString with ENAMETOOLONG for a string longer than
// max.
type fakeMemory map[uintptr][]byte

// region returns the bytes readable from addr on.
func (m fakeMemory) region(addr uintptr) []byte {
	for base, b := range m {
		if addr >= base && addr-base < uintptr(len(b)) {
			return b[addr-base:]
		}
	}
	return nil
}

func (m fakeMemory) CopyIn(addr uintptr, dst []byte) (int, error) {
	n := copy(dst, m.region(addr))
	if n < len(dst) {
		return n, unix.EFAULT
	}
	return n, nil
}

func (m fakeMemory) CopyInString(addr uintptr, max int) (string, error) {
	b := m.region(addr)
	i := bytes.IndexByte(b, 0)
	switch {
	case i > max || (i < 0 && len(b) > max):
		return "", unix.ENAMETOOLONG
	case i < 0:
		return "", unix.EFAULT
	}
	return string(b[:i]), nil
}

// failingMemory fails every read, as an address space with nothing mapped.
type failingMemory struct{}

func (failingMemory) CopyIn(uintptr, []byte) (int, error)       { return 0, unix.EFAULT }
func (failingMemory) CopyInString(uintptr, int) (string, error) { return "", unix.EFAULT }

// noiseMemory maps every address to pseudo-random bytes, so decoders run on
// garbage whatever the arguments. It fails the test's reads that are larger
// than the package's bound.
type noiseMemory struct{ seed uint64 }

func (m noiseMemory) byteAt(addr uintptr) byte {
	x := (uint64(addr) + m.seed) * 0x9e3779b97f4a7c15
	x ^= x >> 29
	b := byte(x >> 32)
	if b < 0x20 { // Plenty of NULs and small values, for strings and counts.
		return 0
	}
	return b
}

func (m noiseMemory) CopyIn(addr uintptr, dst []byte) (int, error) {
	if len(dst) > maxRead {
		panic(fmt.Sprintf("CopyIn of %d bytes", len(dst)))
	}
	for i := range dst {
		dst[i] = m.byteAt(addr + uintptr(i))
	}
	return len(dst), nil
}

func (m noiseMemory) CopyInString(addr uintptr, max int) (string, error) {
	var b []byte
	for i := 0; i <= max; i++ {
		c := m.byteAt(addr + uintptr(i))
		if c == 0 {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", unix.ENAMETOOLONG
}

// Encoding helpers for building structures in fake memory.

func u64s(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

// put returns b with v written at off, growing it as needed.
func put(b []byte, off int, v []byte) []byte {
	if len(b) < off+len(v) {
		b = append(b, make([]byte, off+len(v)-len(b))...)
	}
	copy(b[off:], v)
	return b
}

// cstr returns s NUL-terminated.
func cstr(s string) []byte { return append([]byte(s), 0) }

// neg returns -v as a register value.
func neg(v int) uintptr { return uintptr(-v) }
