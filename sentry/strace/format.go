package strace

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

const (
	// maxString is how many bytes of a string or buffer are shown, as
	// strace's default -s 32.
	maxString = 32

	// maxArray is how many elements of an array are shown.
	maxArray = 32

	// maxRead bounds any single read of the task's memory.
	maxRead = 64 << 10
)

// An arg formats argument i of a call, or returns "" to leave it out.
type arg func(c *call, i int) string

// A result formats a successful call's return value.
type result func(c *call) string

// A signature says how to print one system call.
type signature struct {
	args   []arg
	result result // nil: decimal
}

// args returns a signature with the given arguments and a decimal result.
func args(a ...arg) signature {
	if a == nil {
		a = []arg{} // A known call without arguments.
	}
	return signature{args: a}
}

// returning sets the signature's result format.
func (s signature) returning(r result) signature {
	s.result = r
	return s
}

// unknown is the signature of a system call without one.
var unknown = args(hex, hex, hex, hex, hex, hex)

// Memory access. Every read is bounded and reports failure rather than
// returning partial data, so decoders never see short buffers.

// read copies n bytes at addr, reporting whether all of them were readable.
func (c *call) read(addr uintptr, n int) ([]byte, bool) {
	if n < 0 || n > maxRead {
		return nil, false
	}
	b := make([]byte, n)
	if n == 0 {
		return b, true
	}
	got, err := c.mem.CopyIn(addr, b)
	if err != nil || got != n {
		return nil, false
	}
	return b, true
}

// readString reads the NUL-terminated string at addr, keeping at most
// maxString bytes; cut reports that there were more.
func (c *call) readString(addr uintptr) (s string, cut, ok bool) {
	s, err := c.mem.CopyInString(addr, maxString+1)
	if err == nil {
		if len(s) > maxString {
			return s[:maxString], true, true
		}
		return s, false, true
	}
	// Too long for CopyInString (or running into unreadable memory): show
	// the start if maxString bytes are readable.
	b := make([]byte, maxString)
	n, _ := c.mem.CopyIn(addr, b)
	n = max(0, min(n, len(b)))
	if i := bytes.IndexByte(b[:n], 0); i >= 0 {
		return string(b[:i]), false, true
	}
	if n < len(b) {
		return "", false, false
	}
	return string(b), true, true
}

// le decodes little-endian fields of a structure read from memory. Callers
// read the structure whole first, so offsets are always in range.
type le []byte

func (b le) u16(off int) uint16  { return binary.LittleEndian.Uint16(b[off:]) }
func (b le) u32(off int) uint32  { return binary.LittleEndian.Uint32(b[off:]) }
func (b le) u64(off int) uint64  { return binary.LittleEndian.Uint64(b[off:]) }
func (b le) i16(off int) int16   { return int16(b.u16(off)) }
func (b le) i32(off int) int32   { return int32(b.u32(off)) }
func (b le) i64(off int) int64   { return int64(b.u64(off)) }
func (b le) dec(off int) string  { return strconv.FormatInt(b.i64(off), 10) }
func (b le) udec(off int) string { return strconv.FormatUint(b.u64(off), 10) }

// Text.

// quote returns b in double quotes with Go's escapes, byte by byte, and
// "..." after the closing quote if cut.
func quote(b []byte, cut bool) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch c {
		case '"':
			s.WriteString(`\"`)
		case '\\':
			s.WriteString(`\\`)
		case '\a':
			s.WriteString(`\a`)
		case '\b':
			s.WriteString(`\b`)
		case '\f':
			s.WriteString(`\f`)
		case '\n':
			s.WriteString(`\n`)
		case '\r':
			s.WriteString(`\r`)
		case '\t':
			s.WriteString(`\t`)
		case '\v':
			s.WriteString(`\v`)
		default:
			if c >= 0x20 && c < 0x7f {
				s.WriteByte(c)
			} else {
				s.WriteString(`\x`)
				s.WriteByte("0123456789abcdef"[c>>4])
				s.WriteByte("0123456789abcdef"[c&0xf])
			}
		}
	}
	s.WriteByte('"')
	if cut {
		s.WriteString("...")
	}
	return s.String()
}

// hexC formats v as C's %#x does: "0" for zero, "0x1f" otherwise.
func hexC(v uint64) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// pointer formats an address: NULL or 0x7ffc0000.
func pointer(addr uintptr) string {
	if addr == 0 {
		return "NULL"
	}
	return "0x" + strconv.FormatUint(uint64(addr), 16)
}

// octal formats a mode as strace does (C's %#03o): 0644, 022, 000.
func octal(v uint64) string {
	s := strconv.FormatUint(v, 8)
	if v != 0 {
		s = "0" + s
	}
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// list joins elements in brackets, with "..." if more were left out.
func list(elems []string, more bool) string {
	if more {
		elems = append(elems, "...")
	}
	return "[" + strings.Join(elems, ", ") + "]"
}

// Scalar arguments.

func hex(c *call, i int) string  { return hexC(uint64(c.args[i])) }
func ptr(c *call, i int) string  { return pointer(c.args[i]) }
func num(c *call, i int) string  { return strconv.FormatInt(int64(int32(c.args[i])), 10) }
func long(c *call, i int) string { return strconv.FormatInt(int64(c.args[i]), 10) }
func size(c *call, i int) string { return strconv.FormatUint(uint64(c.args[i]), 10) }
func mode(c *call, i int) string { return octal(uint64(uint32(c.args[i]))) }
func skip(*call, int) string     { return "" }

func unsigned(c *call, i int) string {
	return strconv.FormatUint(uint64(uint32(c.args[i])), 10)
}

// Aliases that say what an argument is.
var (
	fd  = num  // A file descriptor.
	off = long // A file offset (loff_t).
)

// dirfd formats the directory descriptor of an *at call.
func dirfd(c *call, i int) string {
	if int32(c.args[i]) == atFDCWD {
		return "AT_FDCWD"
	}
	return num(c, i)
}

// path formats a NUL-terminated string argument.
func path(c *call, i int) string { return c.cstring(c.args[i]) }

// str is a string argument that is not a path (a name, a label).
var str = path

// Combinators.

// out wraps the formatter of an argument the call writes: before the call
// returns, and if it fails, the argument prints as an address.
func out(a arg) arg {
	return func(c *call, i int) string {
		if !c.ok() {
			return pointer(c.args[i])
		}
		return a(c, i)
	}
}

// beforeExec wraps the formatter of an argument that a successful execve
// takes away with the old memory: after it, the argument prints as an
// address.
func beforeExec(a arg) arg {
	return func(c *call, i int) string {
		if c.ok() {
			return pointer(c.args[i])
		}
		return a(c, i)
	}
}

// A decoder formats what argument i, the non-null address addr, points to,
// or reports that it cannot.
type decoder func(c *call, i int, addr uintptr) (string, bool)

// pointee makes an arg of a decoder: NULL for a null pointer, the address if
// the decoder cannot read it.
func pointee(d decoder) arg {
	return func(c *call, i int) string {
		addr := c.args[i]
		if addr == 0 {
			return "NULL"
		}
		if s, ok := d(c, i, addr); ok {
			return s
		}
		return pointer(addr)
	}
}

// object makes an arg for a pointer to a structure of the given size,
// formatted by f.
func object(size int, f func(c *call, b le) string) arg {
	return pointee(func(c *call, _ int, addr uintptr) (string, bool) {
		b, ok := c.read(addr, size)
		if !ok {
			return "", false
		}
		return f(c, b), true
	})
}

// Buffers.

// buffer formats n bytes at addr, of which maxString are shown.
func (c *call) buffer(addr uintptr, n uint64) string {
	if addr == 0 {
		return "NULL"
	}
	b, ok := c.read(addr, int(min(n, maxString)))
	if !ok {
		return pointer(addr)
	}
	return quote(b, n > maxString)
}

// inBuf is a buffer the call reads, whose length is the next argument
// (write's).
func inBuf(c *call, i int) string {
	if i+1 >= len(c.args) {
		return pointer(c.args[i])
	}
	return c.buffer(c.args[i], uint64(c.args[i+1]))
}

// outBuf is a buffer the call fills with as many bytes as it returns
// (read's).
var outBuf = out(func(c *call, i int) string {
	return c.buffer(c.args[i], uint64(c.ret))
})

// outString is a buffer the call fills with a NUL-terminated string
// (getcwd's).
var outString = out(path)
