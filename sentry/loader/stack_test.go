package loader

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// decodedStack is a stack image read back the way a process reads it.
type decodedStack struct {
	argc     uint64
	argvPtrs []uint64
	argv     []string
	envPtrs  []uint64
	envv     []string
	auxv     []AuxEntry
	auxvEnd  uint64 // address just past AT_NULL
}

// decodeStack reads data, the bytes of [sp, sp+len(data)), starting at sp.
func decodeStack(t *testing.T, data []byte, sp uint64) decodedStack {
	t.Helper()
	top := sp + uint64(len(data))
	word := func(addr uint64) uint64 {
		if addr < sp || addr+8 > top {
			t.Fatalf("word at %#x outside [%#x, %#x)", addr, sp, top)
		}
		return le.Uint64(data[addr-sp:])
	}
	cstr := func(addr uint64) string {
		if addr < sp || addr >= top {
			t.Fatalf("string at %#x outside [%#x, %#x)", addr, sp, top)
		}
		s := data[addr-sp:]
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			t.Fatalf("string at %#x has no NUL", addr)
		}
		return string(s[:i])
	}
	var d decodedStack
	a := sp
	d.argc = word(a)
	a += 8
	for ; word(a) != 0; a += 8 {
		d.argvPtrs = append(d.argvPtrs, word(a))
		d.argv = append(d.argv, cstr(word(a)))
	}
	for a += 8; word(a) != 0; a += 8 {
		d.envPtrs = append(d.envPtrs, word(a))
		d.envv = append(d.envv, cstr(word(a)))
	}
	for a += 8; ; a += 16 {
		e := AuxEntry{word(a), word(a + 8)}
		d.auxv = append(d.auxv, e)
		if e.Key == AT_NULL {
			d.auxvEnd = a + 16
			break
		}
	}
	return d
}

func auxVal(auxv []AuxEntry, key uint64) (uint64, bool) {
	for _, e := range auxv {
		if e.Key == key {
			return e.Val, true
		}
	}
	return 0, false
}

// checkStack checks everything about img that holds for any input.
func checkStack(t *testing.T, img *StackImage, top uint64, argv, envv []string, execfn string, random [16]byte, auxv []AuxEntry, platform string) decodedStack {
	t.Helper()
	if len(argv) == 0 {
		argv = []string{""}
	}
	if img.SP%16 != 0 {
		t.Errorf("SP %#x is not 16-byte aligned", img.SP)
	}
	if img.SP+uint64(len(img.Data)) != top {
		t.Fatalf("SP %#x + %d bytes != top %#x", img.SP, len(img.Data), top)
	}
	d := decodeStack(t, img.Data, img.SP)
	at := func(addr uint64, n int) []byte { return img.Data[addr-img.SP : addr-img.SP+uint64(n)] }

	if d.argc != uint64(len(argv)) {
		t.Errorf("argc = %d, want %d", d.argc, len(argv))
	}
	if !slices.Equal(d.argv, argv) {
		t.Errorf("argv = %q, want %q", d.argv, argv)
	}
	if !slices.Equal(d.envv, envv) {
		t.Errorf("envp = %q, want %q", d.envv, envv)
	}
	// Auxv: the caller's entries in order, then AT_RANDOM, AT_EXECFN,
	// (AT_PLATFORM), AT_NULL; and StackImage.Auxv is what was written.
	if !slices.Equal(d.auxv, img.Auxv) {
		t.Errorf("auxv on the stack %v != StackImage.Auxv %v", d.auxv, img.Auxv)
	}
	if len(d.auxv) < len(auxv)+3 || !slices.Equal(d.auxv[:len(auxv)], auxv) {
		t.Fatalf("auxv = %v, want to start with %v", d.auxv, auxv)
	}
	added := []uint64{}
	for _, e := range d.auxv[len(auxv):] {
		added = append(added, e.Key)
	}
	wantAdded := []uint64{AT_RANDOM, AT_EXECFN, AT_NULL}
	if platform != "" {
		wantAdded = []uint64{AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL}
	}
	if !slices.Equal(added, wantAdded) {
		t.Errorf("added auxv keys = %v, want %v", added, wantAdded)
	}
	if last := d.auxv[len(d.auxv)-1]; last != (AuxEntry{AT_NULL, 0}) {
		t.Errorf("auxv ends with %v", last)
	}
	randAddr, _ := auxVal(d.auxv, AT_RANDOM)
	if !bytes.Equal(at(randAddr, 16), random[:]) {
		t.Errorf("AT_RANDOM %#x points at %x, want %x", randAddr, at(randAddr, 16), random)
	}
	if randAddr < d.auxvEnd || randAddr >= d.auxvEnd+16 {
		t.Errorf("AT_RANDOM %#x is not within 16 bytes above the auxv end %#x", randAddr, d.auxvEnd)
	}
	execfnAddr, _ := auxVal(d.auxv, AT_EXECFN)
	if got := at(execfnAddr, len(execfn)+1+8); !bytes.Equal(got, append([]byte(execfn), make([]byte, 9)...)) {
		t.Errorf("AT_EXECFN %#x: %q, want %q then 9 NULs at the top", execfnAddr, got, execfn)
	}
	if execfnAddr+uint64(len(execfn))+1+8 != top {
		t.Errorf("execfn ends at %#x, want top-8 = %#x", execfnAddr+uint64(len(execfn))+1, top-8)
	}
	if platform != "" {
		p, _ := auxVal(d.auxv, AT_PLATFORM)
		if got := string(at(p, len(platform)+1)); got != platform+"\x00" {
			t.Errorf("AT_PLATFORM points at %q", got)
		}
		if p != randAddr+16 || (p+uint64(len(platform))+1)%16 != 0 {
			t.Errorf("AT_PLATFORM %#x, AT_RANDOM %#x: want the platform right above the random bytes, ending 16-aligned", p, randAddr)
		}
	} else if (randAddr+16)%16 != 0 {
		t.Errorf("random bytes end at %#x, not 16-aligned", randAddr+16)
	}

	// Linux's string order: argv strings lowest, then envp strings, then
	// execfn, each packed with no padding.
	want := img.ArgvStart
	for i, p := range d.argvPtrs {
		if p != want {
			t.Errorf("argv[%d] at %#x, want %#x", i, p, want)
		}
		want += uint64(len(argv[i])) + 1
	}
	if img.ArgvEnd != want || img.EnvvStart != want {
		t.Errorf("ArgvEnd, EnvvStart = %#x, %#x; want %#x", img.ArgvEnd, img.EnvvStart, want)
	}
	for i, p := range d.envPtrs {
		if p != want {
			t.Errorf("envp[%d] at %#x, want %#x", i, p, want)
		}
		want += uint64(len(envv[i])) + 1
	}
	if img.EnvvEnd != want || execfnAddr != want {
		t.Errorf("EnvvEnd = %#x, AT_EXECFN = %#x; want %#x", img.EnvvEnd, execfnAddr, want)
	}
	cmdline := strings.Join(argv, "\x00") + "\x00"
	if got := string(at(img.ArgvStart, int(img.ArgvEnd-img.ArgvStart))); got != cmdline {
		t.Errorf("[ArgvStart, ArgvEnd) = %q, want %q", got, cmdline)
	}
	environ := ""
	for _, e := range envv {
		environ += e + "\x00"
	}
	if got := string(at(img.EnvvStart, int(img.EnvvEnd-img.EnvvStart))); got != environ {
		t.Errorf("[EnvvStart, EnvvEnd) = %q, want %q", got, environ)
	}
	// Everything between the random bytes (or platform) and the strings is
	// alignment padding: less than 16 bytes.
	below := randAddr + 16 + uint64(len(platform))
	if platform != "" {
		below++
	}
	if img.ArgvStart < below || img.ArgvStart-below >= 16 {
		t.Errorf("strings start at %#x, %d bytes above %#x", img.ArgvStart, img.ArgvStart-below, below)
	}
	return d
}

func TestStackLayout(t *testing.T) {
	const top = 0x7ffffffde000
	random := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	baseAux := []AuxEntry{{AT_SYSINFO_EHDR, 0x7fff0000}, {AT_MINSIGSTKSZ, 3376}, {AT_HWCAP, 0x178bfbff},
		{AT_PAGESZ, 4096}, {AT_CLKTCK, 100}, {AT_PHDR, 0x400040}, {AT_PHENT, 56}, {AT_PHNUM, 10},
		{AT_BASE, 0}, {AT_FLAGS, 0}, {AT_ENTRY, 0x401000}, {AT_UID, 0}, {AT_EUID, 0}, {AT_GID, 0},
		{AT_EGID, 0}, {AT_SECURE, 0}, {AT_HWCAP2, 2}}
	tests := []struct {
		name     string
		argv     []string
		envv     []string
		execfn   string
		auxv     []AuxEntry
		platform string
	}{
		{"typical exec", []string{"/bin/prog", "-x", "hello world"}, []string{"HOME=/root", "PATH=/bin:/usr/bin"}, "/bin/prog", baseAux, ""},
		{"with AT_PLATFORM like Linux", []string{"ls", "-l"}, []string{"A=1"}, "/bin/ls", baseAux, "x86_64"},
		{"empty argv becomes one empty string", nil, []string{"A=1"}, "./x", baseAux, ""},
		{"empty strings", []string{"", "", ""}, []string{"", ""}, "", nil, ""},
		{"no environment and no caller auxv", []string{"a"}, nil, "/a", nil, ""},
		{"long strings", []string{strings.Repeat("a", MaxArgStrlen-1)}, []string{strings.Repeat("e", 5000)}, "/x", baseAux, "x86_64"},
	}
	// Every length of the strings modulo 16, with and without platform,
	// and odd argument counts, to cover all paddings.
	for n := range 34 {
		argv := []string{strings.Repeat("p", n)}
		for range n % 3 {
			argv = append(argv, "q")
		}
		platform := ""
		if n%2 == 1 {
			platform = "x86_64"
		}
		tests = append(tests, struct {
			name     string
			argv     []string
			envv     []string
			execfn   string
			auxv     []AuxEntry
			platform string
		}{"padding case " + strings.Repeat("+", n), argv, []string{"E=" + strings.Repeat("v", n/2)}, "/f", baseAux[:n%5], platform})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := StackConfig{Platform: tc.platform}.Stack(top, tc.argv, tc.envv, tc.execfn, random, tc.auxv)
			if err != nil {
				t.Fatal(err)
			}
			checkStack(t, img, top, tc.argv, tc.envv, tc.execfn, random, tc.auxv, tc.platform)
		})
	}
}

func TestStackWithoutConfigHasNoPlatform(t *testing.T) {
	img, err := Stack(0x10000000, []string{"a"}, []string{"b=c"}, "/a", [16]byte{9}, []AuxEntry{{AT_PAGESZ, 4096}})
	if err != nil {
		t.Fatal(err)
	}
	d := checkStack(t, img, 0x10000000, []string{"a"}, []string{"b=c"}, "/a", [16]byte{9}, []AuxEntry{{AT_PAGESZ, 4096}}, "")
	if _, ok := auxVal(d.auxv, AT_PLATFORM); ok {
		t.Error("Stack added AT_PLATFORM")
	}
}

func TestStackErrors(t *testing.T) {
	big := strings.Repeat("x", MaxArgStrlen) // MaxArgStrlen+1 with its NUL
	many := make([]string, DefaultArgLimit/8)
	// With ArgLimit(0) = 128 KiB: execfn "" (1 byte) + one pointer (8)
	// leaves room for a 131062-byte string plus its NUL.
	const small = argMax
	fits := strings.Repeat("y", small-8-1-1)
	tests := []struct {
		name   string
		cfg    StackConfig
		top    uint64
		argv   []string
		envv   []string
		execfn string
		auxv   []AuxEntry
		want   unix.Errno // 0 for success
	}{
		{"argv string longer than MAX_ARG_STRLEN is E2BIG", StackConfig{}, 1 << 40, []string{big}, nil, "/x", nil, unix.E2BIG},
		{"envp string longer than MAX_ARG_STRLEN is E2BIG", StackConfig{}, 1 << 40, []string{"a"}, []string{big}, "/x", nil, unix.E2BIG},
		{"execfn longer than MAX_ARG_STRLEN is E2BIG", StackConfig{}, 1 << 40, []string{"a"}, nil, big, nil, unix.E2BIG},
		{"string of exactly MAX_ARG_STRLEN with NUL is fine", StackConfig{}, 1 << 40, []string{big[1:]}, nil, "/x", nil, 0},
		{"strings over a quarter of the 8 MiB stack are E2BIG", StackConfig{}, 1 << 40,
			slices.Repeat([]string{big[1:]}, DefaultArgLimit/MaxArgStrlen+1), nil, "/x", nil, unix.E2BIG},
		{"pointers alone over the limit are E2BIG", StackConfig{}, 1 << 40, []string{"a"}, many, "/x", nil, unix.E2BIG},
		{"exact fit under a small rlimit is fine", StackConfig{ArgLimit: ArgLimit(0)}, 1 << 40, []string{fits}, nil, "", nil, 0},
		{"one byte over under a small rlimit is E2BIG", StackConfig{ArgLimit: ArgLimit(0)}, 1 << 40, []string{fits + "y"}, nil, "", nil, unix.E2BIG},
		{"empty argv fits when its empty string fits", StackConfig{ArgLimit: ArgLimit(0)}, 1 << 40, nil, nil, fits, nil, 0},
		{"empty argv is charged one pointer and one byte", StackConfig{ArgLimit: ArgLimit(0)}, 1 << 40, nil, nil, fits + "y", nil, unix.E2BIG},
		{"caller AT_RANDOM is EINVAL", StackConfig{}, 1 << 40, []string{"a"}, nil, "/x", []AuxEntry{{AT_RANDOM, 1}}, unix.EINVAL},
		{"caller AT_NULL is EINVAL", StackConfig{}, 1 << 40, []string{"a"}, nil, "/x", []AuxEntry{{AT_NULL, 0}}, unix.EINVAL},
		{"caller AT_EXECFN is EINVAL", StackConfig{}, 1 << 40, []string{"a"}, nil, "/x", []AuxEntry{{AT_EXECFN, 1}}, unix.EINVAL},
		{"caller AT_PLATFORM with Platform set is EINVAL", StackConfig{Platform: "x86_64"}, 1 << 40, []string{"a"}, nil, "/x", []AuxEntry{{AT_PLATFORM, 1}}, unix.EINVAL},
		{"caller AT_PLATFORM without Platform is kept", StackConfig{}, 1 << 40, []string{"a"}, nil, "/x", []AuxEntry{{AT_PLATFORM, 1}}, 0},
		{"NUL inside a string is EINVAL", StackConfig{}, 1 << 40, []string{"a\x00b"}, nil, "/x", nil, unix.EINVAL},
		{"top too low is EINVAL", StackConfig{}, 64, []string{"a"}, nil, "/x", nil, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := tc.cfg.Stack(tc.top, tc.argv, tc.envv, tc.execfn, [16]byte{}, tc.auxv)
			if tc.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				checkStack(t, img, tc.top, tc.argv, tc.envv, tc.execfn, [16]byte{}, tc.auxv, tc.cfg.Platform)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %s", err, unix.ErrnoName(tc.want))
			}
		})
	}
}

func TestArgLimit(t *testing.T) {
	tests := []struct {
		name   string
		rlimit uint64
		want   uint64
	}{
		{"default 8 MiB stack gives 2 MiB", 8 << 20, 2 << 20},
		{"1 MiB stack gives a quarter", 1 << 20, 256 << 10},
		{"tiny stack still gets ARG_MAX (128 KiB)", 0, 128 << 10},
		{"huge stack is capped at 3/4 of _STK_LIM", 1 << 30, 6 << 20},
		{"unlimited stack is capped at 3/4 of _STK_LIM", ^uint64(0), 6 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ArgLimit(tc.rlimit); got != tc.want {
				t.Errorf("ArgLimit(%d) = %d, want %d", tc.rlimit, got, tc.want)
			}
		})
	}
	if DefaultArgLimit != ArgLimit(DefaultStackRlimit) {
		t.Errorf("DefaultArgLimit = %d, ArgLimit(8 MiB) = %d", DefaultArgLimit, ArgLimit(DefaultStackRlimit))
	}
}
