package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// Limits and constants of x86-64 Linux used by the loader.
const (
	// PageSize is ELF_MIN_ALIGN / ELF_EXEC_PAGESIZE on x86-64.
	PageSize = 4096
	// TaskSize is TASK_SIZE_MAX for 4-level paging: the end of user space.
	TaskSize = 0x7ffffffff000
	// MaxPhdrBytes is the largest program header table load_elf_phdrs takes.
	MaxPhdrBytes = 65536
	// PathMax is PATH_MAX, the largest PT_INTERP (with its NUL).
	PathMax = 4096

	ehdrSize = 64 // sizeof(Elf64_Ehdr)
	phdrSize = 56 // sizeof(Elf64_Phdr)
)

// Error is the error type of this package: an errno plus what was wrong.
// errors.Is(err, unix.EXXX) and errors.As(err, new(unix.Errno)) both work.
type Error struct {
	Errno unix.Errno
	Msg   string
	Err   error // underlying I/O error, if any
}

func (e *Error) Error() string {
	s := "loader: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (" + errnoName(e.Errno) + ")"
}

// Unwrap returns the errno first, so errors.As finds it, then the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Errno, e.Err}
	}
	return []error{e.Errno}
}

func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

func errorf(errno unix.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...)}
}

// Segment is one PT_LOAD: bytes [Offset, Offset+Filesz) of the file appear at
// Vaddr (plus the load bias for ET_DYN), followed by Memsz-Filesz zero bytes.
// If Filesz is 0, Offset has no meaning and nothing of the file is mapped.
type Segment struct {
	Vaddr, Memsz, Filesz, Offset uint64
	Read, Write, Exec            bool // from p_flags
}

// Binary is a parsed ELF executable or interpreter.
type Binary struct {
	Type  elf.Type // elf.ET_EXEC or elf.ET_DYN
	Entry uint64   // e_entry (unbiased)
	// Phdr is the address of the program headers in memory (unbiased):
	// PT_PHDR's p_vaddr, else computed from the PT_LOAD whose file bytes
	// contain e_phoff; 0 if the headers are not loaded.
	Phdr         uint64
	Phent, Phnum uint64    // for AT_PHENT, AT_PHNUM
	Segments     []Segment // PT_LOAD in file order (ascending Vaddr)
	Interp       string    // PT_INTERP path without the NUL, or ""
	// ExecStack is true if PT_GNU_STACK has PF_X. If there is no
	// PT_GNU_STACK it is false (the x86-64 default since Linux 5.8).
	ExecStack bool
}

// Span returns the page-rounded range [lo, hi) covered by the PT_LOAD
// segments (unbiased), as total_mapping_size does. (0, 0) if there are none.
func (b *Binary) Span() (lo, hi uint64) {
	if len(b.Segments) == 0 {
		return 0, 0
	}
	lo = ^uint64(0)
	for _, s := range b.Segments {
		lo = min(lo, s.Vaddr)
		hi = max(hi, s.Vaddr+s.Memsz)
	}
	return lo &^ (PageSize - 1), (hi + PageSize - 1) &^ (PageSize - 1)
}

// Parse reads an ELF64 little-endian x86-64 executable (ET_EXEC or ET_DYN).
// size is the file size. Errors carry the errno execve gives. See the
// package comment.
func Parse(r io.ReaderAt, size int64) (*Binary, error) {
	return parse(r, size, false)
}

// ParseInterp is Parse for the interpreter named by a PT_INTERP (ld.so). A
// file that is not a valid ELF interpreter gives ELIBBAD, and so does an
// interpreter that has a PT_INTERP itself. A file shorter than an ELF header
// gives EIO, as on Linux.
func ParseInterp(r io.ReaderAt, size int64) (*Binary, error) {
	return parse(r, size, true)
}

// readAt reads up to len(buf) bytes at off, never past size. It returns fewer
// bytes (with no error) if the file is too short. Other errors from r are
// returned as *Error with their errno, or EIO.
func readAt(r io.ReaderAt, buf []byte, off uint64, size int64, what string) (int, error) {
	if size < 0 || off >= uint64(size) {
		return 0, nil
	}
	if avail := uint64(size) - off; uint64(len(buf)) > avail {
		buf = buf[:avail]
	}
	n, err := r.ReadAt(buf, int64(off))
	if err != nil && !errors.Is(err, io.EOF) && n < len(buf) {
		errno := unix.EIO
		var e unix.Errno
		if errors.As(err, &e) {
			errno = e
		}
		return n, &Error{Errno: errno, Msg: "reading " + what, Err: err}
	}
	return n, nil
}

func parse(r io.ReaderAt, size int64, interp bool) (*Binary, error) {
	// bad is the errno for "this is not an executable we can run".
	bad, kind := unix.ENOEXEC, "executable"
	if interp {
		bad, kind = unix.ELIBBAD, "interpreter"
	}

	// The header. For the executable, Linux looks at the zero-padded
	// bprm->buf, so a short file fails one of the checks below with
	// ENOEXEC. The interpreter's header is read with elf_read, and a short
	// read is EIO.
	var hdr [ehdrSize]byte
	n, err := readAt(r, hdr[:], 0, size, "ELF header")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) {
		if interp && n < ehdrSize {
			return nil, errorf(unix.EIO, "interpreter is %d bytes, shorter than an ELF header", n)
		}
		return nil, errorf(bad, "%s has no ELF magic", kind)
	}
	if n < ehdrSize {
		if interp {
			return nil, errorf(unix.EIO, "interpreter ELF header truncated at %d bytes", n)
		}
		return nil, errorf(bad, "ELF header truncated at %d bytes", n)
	}
	if c := elf.Class(hdr[elf.EI_CLASS]); c != elf.ELFCLASS64 {
		return nil, errorf(bad, "%s class is %v, want ELFCLASS64", kind, c)
	}
	if d := elf.Data(hdr[elf.EI_DATA]); d != elf.ELFDATA2LSB {
		return nil, errorf(bad, "%s data encoding is %v, want ELFDATA2LSB", kind, d)
	}
	le := binary.LittleEndian
	typ := elf.Type(le.Uint16(hdr[16:]))
	machine := elf.Machine(le.Uint16(hdr[18:]))
	entry := le.Uint64(hdr[24:])
	phoff := le.Uint64(hdr[32:])
	phentsize := le.Uint16(hdr[54:])
	phnum := le.Uint16(hdr[56:])

	// load_elf_binary checks the type before the machine. For the
	// interpreter only the magic, machine and headers are checked before
	// the point of no return; the type is checked later in
	// load_elf_interp.
	typeOK := typ == elf.ET_EXEC || typ == elf.ET_DYN
	if !interp && !typeOK {
		return nil, errorf(bad, "ELF type is %v, want ET_EXEC or ET_DYN", typ)
	}
	if machine != elf.EM_X86_64 {
		return nil, errorf(bad, "%s machine is %v, want EM_X86_64", kind, machine)
	}

	// load_elf_phdrs.
	if phentsize != phdrSize {
		return nil, errorf(bad, "%s e_phentsize is %d, want %d", kind, phentsize, phdrSize)
	}
	tableSize := uint64(phnum) * phdrSize
	if tableSize == 0 {
		return nil, errorf(bad, "%s has no program headers", kind)
	}
	if tableSize > MaxPhdrBytes {
		return nil, errorf(bad, "%s program headers are %d bytes, more than %d", kind, tableSize, MaxPhdrBytes)
	}
	table := make([]byte, tableSize)
	n, err = readAt(r, table, phoff, size, "program headers")
	if err != nil {
		return nil, err
	}
	if n < len(table) {
		return nil, errorf(bad, "%s program headers truncated: %d of %d bytes at offset %#x in a %d-byte file", kind, n, len(table), phoff, size)
	}
	if interp && !typeOK {
		return nil, errorf(bad, "interpreter ELF type is %v, want ET_EXEC or ET_DYN", typ)
	}

	b := &Binary{
		Type:  typ,
		Entry: entry,
		Phent: phdrSize,
		Phnum: uint64(phnum),
	}
	var phdrFromPT bool
	var interpSeen bool
	for i := 0; i < int(phnum); i++ {
		p := table[i*phdrSize : (i+1)*phdrSize]
		ptype := elf.ProgType(le.Uint32(p[0:]))
		flags := elf.ProgFlag(le.Uint32(p[4:]))
		off := le.Uint64(p[8:])
		vaddr := le.Uint64(p[16:])
		filesz := le.Uint64(p[32:])
		memsz := le.Uint64(p[40:])
		switch ptype {
		case elf.PT_LOAD:
			b.Segments = append(b.Segments, Segment{
				Vaddr:  vaddr,
				Memsz:  memsz,
				Filesz: filesz,
				Offset: off,
				Read:   flags&elf.PF_R != 0,
				Write:  flags&elf.PF_W != 0,
				Exec:   flags&elf.PF_X != 0,
			})
		case elf.PT_PHDR:
			if !phdrFromPT {
				b.Phdr, phdrFromPT = vaddr, true
			}
		case elf.PT_GNU_STACK:
			b.ExecStack = flags&elf.PF_X != 0
		case elf.PT_INTERP:
			if interp {
				return nil, errorf(unix.ELIBBAD, "interpreter has a PT_INTERP itself")
			}
			if interpSeen {
				return nil, errorf(unix.EINVAL, "more than one PT_INTERP (program header %d)", i)
			}
			interpSeen = true
			path, err := readInterp(r, size, off, filesz)
			if err != nil {
				return nil, err
			}
			b.Interp = path
		}
	}

	if len(b.Segments) == 0 {
		return nil, errorf(bad, "%s has no PT_LOAD segment", kind)
	}
	for i, s := range b.Segments {
		if s.Filesz > s.Memsz {
			return nil, errorf(unix.EINVAL, "PT_LOAD %d: p_filesz %#x > p_memsz %#x", i, s.Filesz, s.Memsz)
		}
		end := s.Vaddr + s.Memsz
		if end < s.Vaddr || end > ^uint64(0)-(PageSize-1) {
			return nil, errorf(unix.EINVAL, "PT_LOAD %d: p_vaddr %#x + p_memsz %#x overflows", i, s.Vaddr, s.Memsz)
		}
		if typ == elf.ET_EXEC && end > TaskSize {
			return nil, errorf(unix.EINVAL, "PT_LOAD %d: [%#x, %#x) is beyond the end of user space %#x", i, s.Vaddr, end, uint64(TaskSize))
		}
		if s.Filesz > 0 {
			if s.Vaddr%PageSize != s.Offset%PageSize {
				return nil, errorf(unix.EINVAL, "PT_LOAD %d: p_vaddr %#x and p_offset %#x differ modulo the page size", i, s.Vaddr, s.Offset)
			}
			fend := s.Offset + s.Filesz
			if fend < s.Offset || fend > uint64(size) {
				return nil, errorf(unix.EINVAL, "PT_LOAD %d: file bytes [%#x, %#x) extend past the end of the %d-byte file", i, s.Offset, fend, size)
			}
		}
		if i > 0 {
			prev := b.Segments[i-1]
			if s.Vaddr < prev.Vaddr+prev.Memsz {
				return nil, errorf(unix.EINVAL, "PT_LOAD %d at %#x overlaps or precedes PT_LOAD %d [%#x, %#x)", i, s.Vaddr, i-1, prev.Vaddr, prev.Vaddr+prev.Memsz)
			}
		}
	}
	if lo, hi := b.Span(); hi-lo > TaskSize {
		return nil, errorf(unix.EINVAL, "PT_LOAD segments span %#x bytes, more than user space", hi-lo)
	}
	if typ == elf.ET_EXEC && entry >= TaskSize {
		return nil, errorf(unix.EINVAL, "entry point %#x is beyond the end of user space", entry)
	}

	if !phdrFromPT {
		// Linux 5.18+ (create_elf_tables' phdr_addr): the PT_LOAD whose
		// file bytes contain e_phoff.
		for _, s := range b.Segments {
			if s.Offset <= phoff && phoff < s.Offset+s.Filesz {
				b.Phdr = phoff - s.Offset + s.Vaddr
				break
			}
		}
	}
	return b, nil
}

// readInterp reads and checks the PT_INTERP path as load_elf_binary does.
func readInterp(r io.ReaderAt, size int64, off, filesz uint64) (string, error) {
	if filesz < 2 || filesz > PathMax {
		return "", errorf(unix.ENOEXEC, "PT_INTERP size %d is not in [2, %d]", filesz, PathMax)
	}
	buf := make([]byte, filesz)
	n, err := readAt(r, buf, off, size, "PT_INTERP")
	if err != nil {
		return "", err
	}
	if n < len(buf) {
		return "", errorf(unix.EIO, "PT_INTERP [%#x, %#x) extends past the end of the %d-byte file", off, off+filesz, size)
	}
	if buf[filesz-1] != 0 {
		return "", errorf(unix.ENOEXEC, "PT_INTERP %q is not NUL-terminated", buf)
	}
	// open_exec takes the C string, i.e. up to the first NUL.
	path := string(buf[:bytes.IndexByte(buf, 0)])
	if path == "" {
		return "", errorf(unix.EACCES, "PT_INTERP path is empty")
	}
	return path, nil
}
