package loader

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStackMatchesLinux runs a program that dumps its own initial stack and
// rebuilds the same stack with Stack. The stack must match byte for byte,
// except for two things: the random gap of arch_align_stack, which shifts
// everything below the strings by a multiple of 16, and the order of the
// auxv entries.
func TestStackMatchesLinux(t *testing.T) {
	prog := gccBinary(t, "stackdump", stackDumpC)
	tests := []struct {
		name string
		argv []string
		envv []string
	}{
		{"typical", []string{"argv0", "one", "two words"}, []string{"HOME=/root", "PATH=/bin"}},
		// os/exec drops empty environment strings, so none here.
		{"empty strings", []string{"", "", ""}, []string{"X=", "NOEQUALS"}},
		{"odd lengths", []string{"a", "bb", "ccc"}, []string{"D=" + strings.Repeat("d", 37)}},
		{"no environment", []string{"only"}, nil},
		{"long argument", []string{"p", strings.Repeat("L", 5000)}, []string{"E=e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(prog)
			cmd.Args = tc.argv
			cmd.Env = tc.envv
			if cmd.Env == nil {
				cmd.Env = []string{} // not the test's environment
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", prog, err)
			}
			var sp, top uint64
			var dump string
			if _, err := fmt.Sscanf(string(out), "%x %x %s", &sp, &top, &dump); err != nil {
				t.Fatalf("parsing %q: %v", out, err)
			}
			native, err := hex.DecodeString(dump)
			if err != nil || uint64(len(native)) != top-sp {
				t.Fatalf("bad dump (%v): %d bytes for [%#x, %#x)", err, len(native), sp, top)
			}
			nd := decodeStack(t, native, sp)

			// Rebuild with Linux's inputs: same strings, same random
			// bytes, the kernel's other auxv entries, AT_PLATFORM.
			var random [16]byte
			var callerAux []AuxEntry
			platform := ""
			nativeRandom, _ := auxVal(nd.auxv, AT_RANDOM)
			copy(random[:], native[nativeRandom-sp:])
			for _, e := range nd.auxv {
				switch e.Key {
				case AT_RANDOM, AT_EXECFN, AT_NULL:
				case AT_PLATFORM:
					s := native[e.Val-sp:]
					platform = string(s[:bytes.IndexByte(s, 0)])
				default:
					callerAux = append(callerAux, e)
				}
			}
			execfn := prog
			img, err := StackConfig{Platform: platform}.Stack(top, tc.argv, tc.envv, execfn, random, callerAux)
			if err != nil {
				t.Fatal(err)
			}
			d := checkStack(t, img, top, tc.argv, tc.envv, execfn, random, callerAux, platform)

			// Strings: identical addresses and bytes.
			if !bytes.Equal(img.Data[img.ArgvStart-img.SP:], native[img.ArgvStart-sp:]) {
				t.Errorf("strings differ:\n ours  %q\n linux %q", img.Data[img.ArgvStart-img.SP:], native[img.ArgvStart-sp:])
			}
			if !slices.Equal(d.argvPtrs, nd.argvPtrs) || !slices.Equal(d.envPtrs, nd.envPtrs) || d.argc != nd.argc {
				t.Errorf("argc/argv/envp pointers differ: ours %d %x %x, Linux %d %x %x", d.argc, d.argvPtrs, d.envPtrs, nd.argc, nd.argvPtrs, nd.envPtrs)
			}
			// Below the strings: the same layout, moved by the random gap.
			ourRandom, _ := auxVal(d.auxv, AT_RANDOM)
			delta := ourRandom - nativeRandom
			if delta%16 != 0 || delta > 8192+16 {
				t.Errorf("random bytes at %#x, Linux's at %#x: gap %d is not arch_align_stack's", ourRandom, nativeRandom, delta)
			}
			if img.SP != sp+delta {
				t.Errorf("SP = %#x, want Linux's %#x moved by %d = %#x", img.SP, sp, delta, sp+delta)
			}
			if nd.auxvEnd+delta != d.auxvEnd {
				t.Errorf("auxv ends at %#x, Linux's at %#x (+%d)", d.auxvEnd, nd.auxvEnd, delta)
			}
			want := map[AuxEntry]bool{}
			for _, e := range nd.auxv {
				if e.Key == AT_RANDOM || e.Key == AT_PLATFORM {
					e.Val += delta
				}
				want[e] = true
			}
			for _, e := range d.auxv {
				if !want[e] {
					t.Errorf("auxv entry %v not in Linux's %v", e, nd.auxv)
				}
			}
			if len(d.auxv) != len(nd.auxv) {
				t.Errorf("%d auxv entries, Linux has %d", len(d.auxv), len(nd.auxv))
			}
		})
	}
}

// TestShebangMatchesLinux runs scripts whose interpreter prints its argv and
// compares that with ShebangArgs.
func TestShebangMatchesLinux(t *testing.T) {
	prog := gccBinary(t, "printargs", `#include <stdio.h>
int main(int argc, char **argv) { for (int i = 0; i < argc; i++) printf("%s%c", argv[i], 0); return 0; }
`)
	dir := t.TempDir()
	tests := []struct {
		name   string
		script string // %s is the interpreter
	}{
		{"plain", "#!%s\n"},
		{"spaces and one argument", "#! %s -x \n"},
		{"rest of line is one argument", "#!%s  python3 -u\n"},
		{"tabs", "#!\t%s\t-e\t\t\n"},
		{"no newline", "#!%s"},
		{"trailing space at EOF", "#!%s "},
		{"NUL after interpreter", "#!%s\x00 -x\n"},
		{"NUL inside argument", "#!%s -x\x00y\n"},
		{"argument cut at 256 bytes", "#!%s " + strings.Repeat("a", 300)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := fmt.Sprintf(tc.script, prog)
			path := filepath.Join(dir, fmt.Sprintf("script%d", i))
			if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(path, "user-arg").Output()
			if err != nil {
				t.Fatalf("running %q: %v", content, err)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			args, ok, err := ShebangArgs([]byte(content))
			if !ok || err != nil {
				t.Fatalf("ShebangArgs(%q) = %v, %v", content, ok, err)
			}
			want := append(args, path, "user-arg")
			if !slices.Equal(got, want) {
				t.Errorf("Linux ran %q, ShebangArgs says %q", got, want)
			}
		})
	}
}
