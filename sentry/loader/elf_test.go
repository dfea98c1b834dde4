package loader

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkAgainstDebugElf compares a parsed Binary with what debug/elf (the
// equivalent of readelf -lh) reports for the same file.
func checkAgainstDebugElf(t *testing.T, path string, got *Binary) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got.Type != f.Type {
		t.Errorf("Type = %v, debug/elf says %v", got.Type, f.Type)
	}
	if got.Entry != f.Entry {
		t.Errorf("Entry = %#x, debug/elf says %#x", got.Entry, f.Entry)
	}
	if got.Phnum != uint64(len(f.Progs)) || got.Phent != 56 {
		t.Errorf("Phnum, Phent = %d, %d; want %d, 56", got.Phnum, got.Phent, len(f.Progs))
	}
	var want []Segment
	var ptPhdr *elf.Prog
	wantExecStack := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			want = append(want, Segment{
				Vaddr: p.Vaddr, Memsz: p.Memsz, Filesz: p.Filesz, Offset: p.Off,
				Read: p.Flags&elf.PF_R != 0, Write: p.Flags&elf.PF_W != 0, Exec: p.Flags&elf.PF_X != 0,
			})
		case elf.PT_PHDR:
			ptPhdr = p
		case elf.PT_GNU_STACK:
			wantExecStack = p.Flags&elf.PF_X != 0
		}
	}
	if !slices.Equal(got.Segments, want) {
		t.Errorf("Segments =\n%+v\nwant\n%+v", got.Segments, want)
	}
	if got.ExecStack != wantExecStack {
		t.Errorf("ExecStack = %v, want %v", got.ExecStack, wantExecStack)
	}
	// Phdr must be inside a loaded segment, at the place where the file
	// bytes at e_phoff appear.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	phoff := phoffOf(raw)
	found := false
	for _, s := range got.Segments {
		if s.Vaddr <= got.Phdr && got.Phdr+got.Phnum*56 <= s.Vaddr+s.Filesz {
			found = true
			if off := got.Phdr - s.Vaddr + s.Offset; off != phoff {
				t.Errorf("Phdr %#x is at file offset %#x, e_phoff is %#x", got.Phdr, off, phoff)
			}
		}
	}
	if !found {
		t.Errorf("Phdr %#x is not inside a PT_LOAD", got.Phdr)
	}
	if ptPhdr != nil && got.Phdr != ptPhdr.Vaddr {
		t.Errorf("Phdr = %#x, PT_PHDR says %#x", got.Phdr, ptPhdr.Vaddr)
	}
	lo, hi := got.Span()
	if lo != want[0].Vaddr&^4095 || hi != (want[len(want)-1].Vaddr+want[len(want)-1].Memsz+4095)&^4095 {
		t.Errorf("Span() = %#x, %#x; segments %+v", lo, hi, want)
	}
}

func TestParseRealBinaries(t *testing.T) {
	tests := []struct {
		name       string
		path       func(*testing.T) string
		interp     bool // use ParseInterp
		wantType   elf.Type
		wantInterp string
	}{
		{"static executable is ET_EXEC without interpreter", staticBinary, false, elf.ET_EXEC, ""},
		{"static PIE is ET_DYN without interpreter", staticPIEBinary, false, elf.ET_DYN, ""},
		{"dynamic PIE names ld.so", dynamicBinary, false, elf.ET_DYN, ldso},
		{"ld.so parses as an interpreter", func(t *testing.T) string {
			if _, err := os.Stat(ldso); err != nil {
				t.Skip(err)
			}
			return ldso
		}, true, elf.ET_DYN, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			parse := Parse
			if tc.interp {
				parse = ParseInterp
			}
			b, err := parse(f, st.Size())
			if err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			if b.Type != tc.wantType {
				t.Errorf("Type = %v, want %v", b.Type, tc.wantType)
			}
			if b.Interp != tc.wantInterp {
				t.Errorf("Interp = %q, want %q", b.Interp, tc.wantInterp)
			}
			checkAgainstDebugElf(t, path, b)
		})
	}
}

func TestSpanRoundsToPages(t *testing.T) {
	b := &Binary{Segments: []Segment{
		{Vaddr: 0x401234, Memsz: 0x10},
		{Vaddr: 0x402000, Memsz: 0x1001},
	}}
	if lo, hi := b.Span(); lo != 0x401000 || hi != 0x404000 {
		t.Errorf("Span() = %#x, %#x; want 0x401000, 0x404000", lo, hi)
	}
	if lo, hi := (&Binary{}).Span(); lo != 0 || hi != 0 {
		t.Errorf("empty Span() = %#x, %#x", lo, hi)
	}
}

// corruptCase is a hand-corrupted copy of a real file.
type corruptCase struct {
	name   string
	base   func(*testing.T) []byte
	edit   func(*testing.T, []byte) []byte
	interp bool // use ParseInterp
	want   unix.Errno
}

func fileOf(path func(*testing.T) string) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return readFile(t, path(t)) }
}

var (
	static  = fileOf(staticBinary)
	dynamic = fileOf(dynamicBinary)
	ldsoRaw = func(t *testing.T) []byte { return readFile(t, ldso) }
)

func truncate(n int) func(*testing.T, []byte) []byte {
	return func(_ *testing.T, b []byte) []byte { return b[:n] }
}

func setU16(off int, v uint16) func(*testing.T, []byte) []byte {
	return func(_ *testing.T, b []byte) []byte { le.PutUint16(b[off:], v); return b }
}

func setByte(off int, v byte) func(*testing.T, []byte) []byte {
	return func(_ *testing.T, b []byte) []byte { b[off] = v; return b }
}

func phdr(typ uint32, nth int, f func(*rawPhdr)) func(*testing.T, []byte) []byte {
	return func(t *testing.T, b []byte) []byte { editPhdr(t, b, typ, nth, f); return b }
}

const (
	ptLoad   = uint32(elf.PT_LOAD)
	ptInterp = uint32(elf.PT_INTERP)
)

// withPhdrTable moves the program headers to a new table of n entries at
// the end of the file (the old ones first, then PT_NULL).
func withPhdrTable(n int) func(*testing.T, []byte) []byte {
	return func(_ *testing.T, b []byte) []byte {
		old := b[phoffOf(b) : phoffOf(b)+uint64(phnumOf(b))*phdrSize]
		off := uint64(len(b)+7) &^ 7
		nb := make([]byte, off, off+uint64(n)*phdrSize)
		copy(nb, b)
		nb = append(nb, old...)
		nb = append(nb, make([]byte, (n-phnumOf(b))*phdrSize)...)
		le.PutUint64(nb[32:], off)
		le.PutUint16(nb[56:], uint16(n))
		return nb
	}
}

func TestParseRejectsCorruptFiles(t *testing.T) {
	tests := []corruptCase{
		{"empty file is ENOEXEC", static, truncate(0), false, unix.ENOEXEC},
		{"truncated at 10 bytes is ENOEXEC", static, truncate(10), false, unix.ENOEXEC},
		{"truncated at 40 bytes is ENOEXEC", static, truncate(40), false, unix.ENOEXEC},
		{"truncated at 63 bytes is ENOEXEC", static, truncate(63), false, unix.ENOEXEC},
		{"truncated in the program headers is ENOEXEC", static, func(_ *testing.T, b []byte) []byte {
			return b[:phoffOf(b)+2*phdrSize+3]
		}, false, unix.ENOEXEC},
		{"wrong magic is ENOEXEC", static, setByte(1, 'X'), false, unix.ENOEXEC},
		{"ELFCLASS32 is ENOEXEC", static, setByte(elf.EI_CLASS, byte(elf.ELFCLASS32)), false, unix.ENOEXEC},
		{"big-endian is ENOEXEC", static, setByte(elf.EI_DATA, byte(elf.ELFDATA2MSB)), false, unix.ENOEXEC},
		{"EM_386 is ENOEXEC", static, setU16(18, uint16(elf.EM_386)), false, unix.ENOEXEC},
		{"ET_REL is ENOEXEC", static, setU16(16, uint16(elf.ET_REL)), false, unix.ENOEXEC},
		{"ET_CORE is ENOEXEC", static, setU16(16, uint16(elf.ET_CORE)), false, unix.ENOEXEC},
		{"e_phentsize 55 is ENOEXEC", static, setU16(54, 55), false, unix.ENOEXEC},
		{"zero program headers is ENOEXEC", static, setU16(56, 0), false, unix.ENOEXEC},
		{"program headers over 64 KiB is ENOEXEC", static, withPhdrTable(MaxPhdrBytes/phdrSize + 1), false, unix.ENOEXEC},
		{"program headers past EOF is ENOEXEC", static, func(_ *testing.T, b []byte) []byte {
			le.PutUint64(b[32:], uint64(len(b))-10)
			return b
		}, false, unix.ENOEXEC},
		{"no PT_LOAD is ENOEXEC", static, func(_ *testing.T, b []byte) []byte {
			for i := 0; i < phnumOf(b); i++ {
				if h := getPhdr(b, i); h.Type == ptLoad {
					h.Type = uint32(elf.PT_NULL)
					setPhdr(b, i, h)
				}
			}
			return b
		}, false, unix.ENOEXEC},
		{"p_filesz > p_memsz is EINVAL", static, phdr(ptLoad, 1, func(h *rawPhdr) { h.Filesz = h.Memsz + 1 }), false, unix.EINVAL},
		{"misaligned p_offset is EINVAL", static, phdr(ptLoad, 1, func(h *rawPhdr) { h.Offset++ }), false, unix.EINVAL},
		{"overlapping segments are EINVAL", static, func(t *testing.T, b []byte) []byte {
			first := getPhdr(b, findPhdr(b, ptLoad, 0))
			editPhdr(t, b, ptLoad, 1, func(h *rawPhdr) { h.Vaddr, h.Offset = first.Vaddr+first.Memsz-8, first.Offset+first.Memsz-8 })
			return b
		}, false, unix.EINVAL},
		{"descending segments are EINVAL", static, func(t *testing.T, b []byte) []byte {
			i, j := findPhdr(b, ptLoad, 0), findPhdr(b, ptLoad, 1)
			hi, hj := getPhdr(b, i), getPhdr(b, j)
			setPhdr(b, i, hj)
			setPhdr(b, j, hi)
			return b
		}, false, unix.EINVAL},
		{"segment bytes past EOF are EINVAL", static, func(t *testing.T, b []byte) []byte {
			editPhdr(t, b, ptLoad, 1, func(h *rawPhdr) { h.Offset = uint64(len(b)+0x10000)&^0xfff | h.Vaddr&0xfff })
			return b
		}, false, unix.EINVAL},
		{"ET_EXEC segment beyond user space is EINVAL", static, func(t *testing.T, b []byte) []byte {
			n := 0
			for findPhdr(b, ptLoad, n+1) >= 0 {
				n++
			}
			editPhdr(t, b, ptLoad, n, func(h *rawPhdr) { h.Vaddr, h.Offset, h.Filesz, h.Memsz = TaskSize-0x1000, 0, 0, 0x2000 })
			return b
		}, false, unix.EINVAL},
		{"vaddr+memsz wrapping is EINVAL", fileOf(staticPIEBinary), func(t *testing.T, b []byte) []byte {
			n := 0
			for findPhdr(b, ptLoad, n+1) >= 0 {
				n++
			}
			editPhdr(t, b, ptLoad, n, func(h *rawPhdr) { h.Memsz = ^uint64(0) - h.Vaddr + 2 })
			return b
		}, false, unix.EINVAL},
		{"ET_EXEC entry beyond user space is EINVAL", static, func(_ *testing.T, b []byte) []byte {
			le.PutUint64(b[24:], TaskSize)
			return b
		}, false, unix.EINVAL},
		{"PT_INTERP of size 0 is ENOEXEC", dynamic, phdr(ptInterp, 0, func(h *rawPhdr) { h.Filesz = 0 }), false, unix.ENOEXEC},
		{"PT_INTERP of size 1 is ENOEXEC", dynamic, phdr(ptInterp, 0, func(h *rawPhdr) { h.Filesz = 1 }), false, unix.ENOEXEC},
		{"PT_INTERP longer than PATH_MAX is ENOEXEC", dynamic, phdr(ptInterp, 0, func(h *rawPhdr) { h.Filesz = PathMax + 1 }), false, unix.ENOEXEC},
		{"PT_INTERP not NUL-terminated is ENOEXEC", dynamic, func(t *testing.T, b []byte) []byte {
			h := getPhdr(b, findPhdr(b, ptInterp, 0))
			b[h.Offset+h.Filesz-1] = 'X'
			return b
		}, false, unix.ENOEXEC},
		{"PT_INTERP past EOF is EIO", dynamic, func(t *testing.T, b []byte) []byte {
			editPhdr(t, b, ptInterp, 0, func(h *rawPhdr) { h.Offset = uint64(len(b)) - 3 })
			return b
		}, false, unix.EIO},
		{"PT_INTERP with an empty path is EACCES", dynamic, func(t *testing.T, b []byte) []byte {
			b[getPhdr(b, findPhdr(b, ptInterp, 0)).Offset] = 0
			return b
		}, false, unix.EACCES},
		{"two PT_INTERP are EINVAL", dynamic, func(t *testing.T, b []byte) []byte {
			h := getPhdr(b, findPhdr(b, ptInterp, 0))
			setPhdr(b, findPhdr(b, uint32(elf.PT_NOTE), 0), h)
			return b
		}, false, unix.EINVAL},

		{"interpreter that is not ELF is ELIBBAD", func(*testing.T) []byte {
			return []byte(strings.Repeat("#!/bin/sh\necho not an ELF file\n", 4))
		}, nil, true, unix.ELIBBAD},
		{"interpreter shorter than an ELF header is EIO", func(*testing.T) []byte { return []byte("tiny") }, nil, true, unix.EIO},
		{"interpreter ELF header truncated at 40 bytes is EIO", ldsoRaw, truncate(40), true, unix.EIO},
		{"interpreter for EM_386 is ELIBBAD", ldsoRaw, setU16(18, uint16(elf.EM_386)), true, unix.ELIBBAD},
		{"interpreter of type ET_REL is ELIBBAD", ldsoRaw, setU16(16, uint16(elf.ET_REL)), true, unix.ELIBBAD},
		{"interpreter with bad e_phentsize is ELIBBAD", ldsoRaw, setU16(54, 32), true, unix.ELIBBAD},
		{"interpreter with truncated program headers is ELIBBAD", ldsoRaw, func(_ *testing.T, b []byte) []byte {
			return b[:phoffOf(b)+phdrSize]
		}, true, unix.ELIBBAD},
		{"interpreter with its own PT_INTERP is ELIBBAD", dynamic, nil, true, unix.ELIBBAD},
		{"interpreter with p_filesz > p_memsz is EINVAL", ldsoRaw, phdr(ptLoad, 0, func(h *rawPhdr) { h.Filesz = h.Memsz + 1 }), true, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(tc.base(t))
			if tc.edit != nil {
				b = tc.edit(t, b)
			}
			parse, what := Parse, "Parse"
			if tc.interp {
				parse, what = ParseInterp, "ParseInterp"
			}
			bin, err := parse(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				t.Fatalf("%s succeeded: %+v; want %s", what, bin, unix.ErrnoName(tc.want))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v (errno %v); want %s", what, err, unix.ErrnoName(errnoOf(err)), unix.ErrnoName(tc.want))
			}
			if !strings.HasPrefix(err.Error(), "loader: ") || len(err.Error()) < 20 {
				t.Errorf("error message %q says too little", err)
			}
			t.Log(err)
		})
	}
}

func TestParseAcceptsUnusualButValidFiles(t *testing.T) {
	tests := []struct {
		name  string
		base  func(*testing.T) []byte
		edit  func(*testing.T, []byte) []byte
		check func(*testing.T, *Binary)
	}{
		{"64 KiB of program headers is accepted", static, withPhdrTable(MaxPhdrBytes / phdrSize), func(t *testing.T, b *Binary) {
			if b.Phnum != MaxPhdrBytes/phdrSize {
				t.Errorf("Phnum = %d", b.Phnum)
			}
			if b.Phdr != 0 {
				t.Errorf("Phdr = %#x, want 0 for headers outside every PT_LOAD", b.Phdr)
			}
		}},
		{"PT_INTERP with an inner NUL is cut there", dynamic, func(t *testing.T, b []byte) []byte {
			b[getPhdr(b, findPhdr(b, ptInterp, 0)).Offset+6] = 0
			return b
		}, func(t *testing.T, b *Binary) {
			if b.Interp != "/lib64" {
				t.Errorf("Interp = %q, want /lib64", b.Interp)
			}
		}},
		{"PT_GNU_STACK with PF_X gives an executable stack", static, phdr(uint32(elf.PT_GNU_STACK), 0, func(h *rawPhdr) {
			h.Flags |= uint32(elf.PF_X)
		}), func(t *testing.T, b *Binary) {
			if !b.ExecStack {
				t.Error("ExecStack = false")
			}
		}},
		{"no PT_GNU_STACK gives a non-executable stack", static, phdr(uint32(elf.PT_GNU_STACK), 0, func(h *rawPhdr) {
			h.Type = uint32(elf.PT_NULL)
		}), func(t *testing.T, b *Binary) {
			if b.ExecStack {
				t.Error("ExecStack = true")
			}
		}},
		{"segment without file bytes may have any offset", static, func(t *testing.T, b []byte) []byte {
			n := 0
			for findPhdr(b, ptLoad, n+1) >= 0 {
				n++
			}
			last := getPhdr(b, findPhdr(b, ptLoad, n))
			i := findPhdr(b, uint32(elf.PT_GNU_STACK), 0)
			setPhdr(b, i, rawPhdr{Type: ptLoad, Flags: 6, Offset: 1 << 40, Vaddr: (last.Vaddr + last.Memsz + 0x10000) &^ 0xfff, Memsz: 0x3000})
			return b
		}, func(t *testing.T, b *Binary) {
			if s := b.Segments[len(b.Segments)-1]; s.Filesz != 0 || s.Memsz != 0x3000 {
				t.Errorf("last segment %+v", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.edit(t, bytes.Clone(tc.base(t)))
			bin, err := Parse(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, bin)
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestParseReportsReadErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want unix.Errno
	}{
		{"errno from the reader is kept", unix.EISDIR, unix.EISDIR},
		{"other reader errors are EIO", errors.New("disk on fire"), unix.EIO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(failingReader{tc.err}, 4096)
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.err) {
				t.Errorf("Parse: %v; want %v wrapping %v", err, tc.want, tc.err)
			}
		})
	}
}
