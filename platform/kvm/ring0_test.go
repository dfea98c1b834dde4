package kvm

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

// TestRing0CodeMatchesSource assembles testdata/ring0.S and checks that ring0Code holds
// its bytes and that every offset ring0.go names is its label's.
func TestRing0CodeMatchesSource(t *testing.T) {
	for _, tool := range []string{"gcc", "objcopy", "nm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s to assemble testdata/ring0.S", tool)
		}
	}
	dir := t.TempDir()
	obj, bin := filepath.Join(dir, "ring0.o"), filepath.Join(dir, "ring0.bin")
	for _, cmd := range [][]string{
		{"gcc", "-c", "testdata/ring0.S", "-o", obj},
		{"objcopy", "-O", "binary", "-j", ".text", obj, bin},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	code, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(code, ring0Code) {
		for i := range min(len(code), len(ring0Code)) {
			if code[i] != ring0Code[i] {
				t.Fatalf("ring0Code differs from testdata/ring0.S at %#x (%d bytes against %d)", i, len(ring0Code), len(code))
			}
		}
		t.Fatalf("ring0Code is %d bytes, testdata/ring0.S %d", len(ring0Code), len(code))
	}
	out, err := exec.Command("nm", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			v, _ := strconv.ParseUint(f[0], 16, 64)
			labels[f[2]] = v
		}
	}
	for name, off := range map[string]uint64{
		"vectors": vectorsOff, "unexpected": unexpectedOff, "syscallEntry": syscallEntryOff,
		"retUser": retUserOff, "retFlush": retFlushOff, "end": ring0CodeSize,
	} {
		if got, ok := labels[name]; !ok || got != off {
			t.Errorf("%s is at %#x in testdata/ring0.S, ring0.go says %#x", name, got, off)
		}
	}
}
