// Package asmcheck keeps hand-assembled machine code honest in tests: a platform that
// embeds code as bytes (the ptrace/systrap stub, the KVM ring-0 handler) keeps its
// source in an assembly file, and Check assembles the file and compares both the bytes
// and the offsets the Go code names.
package asmcheck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Check assembles src (with gcc, objcopy and nm; the test is skipped without them),
// checks that code, named codeName in messages, is exactly its .text, and that each
// label of offsets is at that offset in it.
func Check(t *testing.T, src string, code []byte, codeName string, offsets map[string]uint64) {
	t.Helper()
	for _, tool := range []string{"gcc", "objcopy", "nm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s to assemble %s", tool, src)
		}
	}
	dir := t.TempDir()
	obj, bin := filepath.Join(dir, "code.o"), filepath.Join(dir, "code.bin")
	for _, cmd := range [][]string{
		{"gcc", "-c", src, "-o", obj},
		{"objcopy", "-O", "binary", "-j", ".text", obj, bin},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	got, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, code) {
		for i := range min(len(got), len(code)) {
			if got[i] != code[i] {
				t.Fatalf("%s differs from %s at %#x (%d bytes against %d)", codeName, src, i, len(code), len(got))
			}
		}
		t.Fatalf("%s is %d bytes, %s %d", codeName, len(code), src, len(got))
	}
	out, err := exec.Command("nm", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			v, _ := strconv.ParseUint(f[0], 16, 64)
			labels[f[2]] = v
		}
	}
	for name, off := range offsets {
		if at, ok := labels[name]; !ok || at != off {
			t.Errorf("%s is at %#x in %s, the Go code says %#x", name, at, src, off)
		}
	}
}
