package strace

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// A name gives a value's symbolic name.
type name struct {
	val  uint64
	name string
}

// names is an enumeration: commands, codes, resources.
type names []name

// lookup returns v's name.
func (n names) lookup(v uint64) (string, bool) {
	for _, e := range n {
		if e.val == v {
			return e.name, true
		}
	}
	return "", false
}

// format returns v's name, or v in decimal.
func (n names) format(v uint64) string {
	if s, ok := n.lookup(v); ok {
		return s
	}
	return strconv.FormatInt(int64(v), 10)
}

// enum makes an arg of an int-sized enumeration, unnamed values decimal.
func enum(n names) arg {
	return func(c *call, i int) string {
		v := int64(int32(c.args[i]))
		if s, ok := n.lookup(uint64(v)); ok {
			return s
		}
		return strconv.FormatInt(v, 10)
	}
}

// hexEnum makes an arg of an enumeration whose unnamed values print in hex
// (ioctl requests, arch_prctl codes).
func hexEnum(n names) arg {
	return func(c *call, i int) string {
		v := uint64(uint32(c.args[i]))
		if s, ok := n.lookup(v); ok {
			return s
		}
		return hexC(v)
	}
}

// A flagSet names the bits of a flags word. Values of several bits (O_SYNC,
// O_TMPFILE, STATX_ALL) are matched before the single bits they contain, and
// printed instead of them; the output keeps the table's order. Bits without a
// name print as one hexadecimal number at the end.
type flagSet struct {
	// mask selects a field printed first by its value's name, as open's
	// access mode (O_ACCMODE) or mmap's mapping type (MAP_TYPE).
	mask  uint64
	field names

	flags []name
	zero  string // printed when nothing else is: "0", "PROT_NONE"
	wide  []int  // indices of flags, most bits first
}

// newFlags returns the flag set of flags, printing zero when empty.
func newFlags(zero string, flags ...name) *flagSet {
	f := &flagSet{flags: flags, zero: zero}
	for i := range flags {
		f.wide = append(f.wide, i)
	}
	slices.SortStableFunc(f.wide, func(a, b int) int {
		return bits.OnesCount64(flags[b].val) - bits.OnesCount64(flags[a].val)
	})
	return f
}

// withField adds a field printed before the flags.
func (f *flagSet) withField(mask uint64, field names) *flagSet {
	f.mask, f.field = mask, field
	return f
}

// format returns v as FLAG|FLAG|0x40.
func (f *flagSet) format(v uint64) string {
	var parts []string
	if f.mask != 0 {
		if s, ok := f.field.lookup(v & f.mask); ok {
			parts = append(parts, s)
			v &^= f.mask
		}
	}
	matched := make([]bool, len(f.flags))
	for _, i := range f.wide {
		if b := f.flags[i].val; b != 0 && v&b == b {
			matched[i] = true
			v &^= b
		}
	}
	for i, m := range matched {
		if m {
			parts = append(parts, f.flags[i].name)
		}
	}
	if v != 0 {
		parts = append(parts, hexC(v))
	}
	if len(parts) == 0 {
		return f.zero
	}
	return strings.Join(parts, "|")
}

// arg makes an arg of an int-sized flags argument.
func (f *flagSet) arg() arg {
	return func(c *call, i int) string { return f.format(uint64(uint32(c.args[i]))) }
}

// arg64 makes an arg of a long-sized flags argument.
func (f *flagSet) arg64() arg {
	return func(c *call, i int) string { return f.format(uint64(c.args[i])) }
}
