package ptrace

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

// TestStubCodeMatchesSource assembles testdata/stub.S and checks that stubCode holds its
// bytes and that every offset stub.go names is its label's.
func TestStubCodeMatchesSource(t *testing.T) {
	for _, tool := range []string{"gcc", "objcopy", "nm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s to assemble testdata/stub.S", tool)
		}
	}
	dir := t.TempDir()
	obj, bin := filepath.Join(dir, "stub.o"), filepath.Join(dir, "stub.bin")
	for _, cmd := range [][]string{
		{"gcc", "-c", "testdata/stub.S", "-o", obj},
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
	if !bytes.Equal(code, stubCode) {
		for i := range min(len(code), len(stubCode)) {
			if code[i] != stubCode[i] {
				t.Fatalf("stubCode differs from testdata/stub.S at %#x (%d bytes against %d)", i, len(stubCode), len(code))
			}
		}
		t.Fatalf("stubCode is %d bytes, testdata/stub.S %d", len(stubCode), len(code))
	}
	out, err := exec.Command("nm", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]uintptr{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			v, _ := strconv.ParseUint(f[0], 16, 64)
			labels[f[2]] = uintptr(v)
		}
	}
	for name, off := range map[string]uintptr{
		"siteSyscall": siteSyscall, "siteClone": siteClone, "siteGetpid": siteGetpid, "siteKill": siteKill,
		"siteStart": siteStart, "restorer": restorer, "siteSigreturn": siteSigreturn, "handler": siteHandler,
		"siteFutexWake": siteFutexWake, "siteYield": siteYield, "siteFutexWait": siteFutexWait,
		"sysStart": sysStart, "siteSysWait": siteSysWait, "siteSysOp": siteSysOp, "siteSysDone": siteSysDone,
		"setup": setup, "siteSetMap": siteSetMap, "siteSetMapBatch": siteSetMapBatch,
		"siteSetAltstack": siteSetAltstack, "siteSetMask": siteSetMask, "siteSetTid": siteSetTid,
		"siteSetPdeath": siteSetPdeath, "siteSetFilter": siteSetFilter,
	} {
		if got, ok := labels[name]; !ok || got != off {
			t.Errorf("%s is at %#x in testdata/stub.S, stub.go says %#x", name, got, off)
		}
	}
}
