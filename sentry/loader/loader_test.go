package loader

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Test programs are compiled once per test run, on first use.
var (
	buildDir  string
	buildOnce sync.Once
	buildErr  error
	builds    sync.Map // name -> *builtBinary
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const helloC = `#include <stdio.h>
int main(int argc, char **argv) { printf("hello %d\n", argc); return 0; }
`

// stackDumpC prints the initial stack: SP (the address of argc), the top
// (one word above the AT_EXECFN string), and the bytes in between as hex.
const stackDumpC = `#include <elf.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv, char **envp) {
	unsigned long *sp = (unsigned long *)argv - 1;
	char **e = envp;
	while (*e) e++;
	char *execfn = 0;
	for (Elf64_auxv_t *a = (Elf64_auxv_t *)(e + 1); a->a_type != AT_NULL; a++)
		if (a->a_type == AT_EXECFN) execfn = (char *)a->a_un.a_val;
	if (!execfn) return 1;
	unsigned long top = (unsigned long)execfn + strlen(execfn) + 1 + 8;
	printf("%lx %lx ", (unsigned long)sp, top);
	for (unsigned char *p = (unsigned char *)sp; p < (unsigned char *)top; p++) printf("%02x", *p);
	printf("\n");
	return 0;
}
`

// gccBinary compiles src with flags (once) and returns the path, skipping
// the test if gcc or the needed libc parts are missing.
func gccBinary(t *testing.T, name, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: ", err)
	}
	buildOnce.Do(func() { buildDir, buildErr = os.MkdirTemp("", "loader-test-") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	v, _ := builds.LoadOrStore(name, &builtBinary{})
	b := v.(*builtBinary)
	b.once.Do(func() {
		srcPath := filepath.Join(buildDir, name+".c")
		if b.err = os.WriteFile(srcPath, []byte(src), 0o644); b.err != nil {
			return
		}
		b.path = filepath.Join(buildDir, name)
		args := append(append([]string{}, flags...), "-O1", "-o", b.path, srcPath)
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			b.err = errors.New("gcc " + name + ": " + err.Error() + ": " + string(out))
		}
	})
	if b.err != nil {
		t.Skipf("cannot build %s (static builds need libc6-dev's libc.a): %v", name, b.err)
	}
	return b.path
}

func staticBinary(t *testing.T) string {
	return gccBinary(t, "hello-static", helloC, "-static")
}
func staticPIEBinary(t *testing.T) string {
	return gccBinary(t, "hello-static-pie", helloC, "-static-pie")
}
func dynamicBinary(t *testing.T) string { return gccBinary(t, "hello-dynamic", helloC) }

const ldso = "/lib64/ld-linux-x86-64.so.2"

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skip("cannot read ", path, ": ", err)
	}
	return b
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// Raw program header access for hand-corrupting files.

type rawPhdr struct {
	Type, Flags                                 uint32
	Offset, Vaddr, Paddr, Filesz, Memsz, Palign uint64
}

var le = binary.LittleEndian

func phoffOf(b []byte) uint64 { return le.Uint64(b[32:]) }
func phnumOf(b []byte) int    { return int(le.Uint16(b[56:])) }

func getPhdr(b []byte, i int) rawPhdr {
	p := b[phoffOf(b)+uint64(i)*phdrSize:]
	return rawPhdr{le.Uint32(p), le.Uint32(p[4:]), le.Uint64(p[8:]), le.Uint64(p[16:]),
		le.Uint64(p[24:]), le.Uint64(p[32:]), le.Uint64(p[40:]), le.Uint64(p[48:])}
}

func setPhdr(b []byte, i int, h rawPhdr) {
	p := b[phoffOf(b)+uint64(i)*phdrSize:]
	le.PutUint32(p, h.Type)
	le.PutUint32(p[4:], h.Flags)
	for j, v := range []uint64{h.Offset, h.Vaddr, h.Paddr, h.Filesz, h.Memsz, h.Palign} {
		le.PutUint64(p[8+8*j:], v)
	}
}

// findPhdr returns the index of the nth (from 0) header of type typ, or -1.
func findPhdr(b []byte, typ uint32, nth int) int {
	for i := 0; i < phnumOf(b); i++ {
		if getPhdr(b, i).Type == typ {
			if nth == 0 {
				return i
			}
			nth--
		}
	}
	return -1
}

// editPhdr applies f to the nth header of type typ.
func editPhdr(t *testing.T, b []byte, typ uint32, nth int, f func(*rawPhdr)) {
	t.Helper()
	i := findPhdr(b, typ, nth)
	if i < 0 {
		t.Fatalf("no program header %d of type %d", nth, typ)
	}
	h := getPhdr(b, i)
	f(&h)
	setPhdr(b, i, h)
}
