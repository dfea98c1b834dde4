package gofer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// isolateProbe isolates this process (started in new mount and PID namespaces) with
// a writable and a read-only mount, as a Gofer does, and prints what it is left with:
// before Box, its mounts and processes and what each mount lets it do; after Box, what
// a walk up from a mount's root finds. probe "isolate-old" acts as a kernel without
// open_tree (before 5.2), "isolate-no-setattr" as one without mount_setattr (before
// 5.12).
func isolateProbe(probe string) {
	switch probe {
	case "isolate-old":
		openTree = func(int, string, uint) (int, error) { return -1, unix.ENOSYS }
	case "isolate-no-setattr":
		mountSetattr = func(int, string, uint, *unix.MountAttr) error { return unix.ENOSYS }
	}
	mounts, err := Isolate([]Mount{{HostPath: os.Getenv("MOAT_ISOLATE_RW")}, {HostPath: os.Getenv("MOAT_ISOLATE_RO"), ReadOnly: true}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var seen []string
	info, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(strings.TrimSpace(string(info)), "\n") {
		f := strings.Fields(l)
		seen = append(seen, f[4]+" "+strings.Split(f[5], ",")[0])
	}
	slices.Sort(seen)
	var procs []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			procs = append(procs, e.Name())
		}
	}
	_, readErr := os.ReadFile(mounts[1].HostPath + "/f")
	rwErr := os.WriteFile(mounts[0].HostPath+"/g", nil, 0o644)
	roErr := os.WriteFile(mounts[1].HostPath+"/g", nil, 0o644)
	fmt.Printf("mounts %v as %q; processes %v; read %v, write %v, write read-only %v\n",
		mounts, seen, procs, readErr, rwErr, roErr)
	s, err := NewServer(Config{Mounts: mounts})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := Box(); err != nil {
		fmt.Println(err)
		return
	}
	up, err := unix.Openat(s.mounts[0].rootFD, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := os.NewFile(uintptr(up), "..")
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	fmt.Printf("above mount 0: %v %v\n", names, err)
}

// runIsolated runs probe in a child in new mount and PID namespaces, as runsc starts
// a Gofer, with TMPDIR tmp.
func runIsolated(t *testing.T, probe, rw, ro, tmp string) (string, *exec.ExitError) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), boxChildEnv+"="+probe, "MOAT_ISOLATE_RW="+rw, "MOAT_ISOLATE_RO="+ro, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), ee
}

// TestIsolate: an isolated Gofer's mount namespace holds its root (a tmpfs), its mounts
// (the read-only one read-only), and a procfs showing only itself; nothing of the host
// is above a mount's root, and the temporary directory the new root was made on (in
// a served directory) is gone and never showed in the mount. The same on kernels
// without open_tree or mount_setattr.
func TestIsolate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolating needs root (namespaces, mounts, pivot_root)")
	}
	for _, probe := range []string{"isolate", "isolate-old", "isolate-no-setattr"} {
		// The new root is made in a directory under the writable mount, as runsc do's
		// is under the host's root which it serves: the mount must not show it.
		rw, ro := t.TempDir(), t.TempDir()
		tmp := filepath.Join(rw, "tmp")
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ro, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, ee := runIsolated(t, probe, rw, ro, tmp)
		if ee != nil {
			t.Fatalf("%s: %v\n%s", probe, ee, out)
		}
		want := `mounts [{/0 false} {/1 true}] as ["/ rw" "/0 rw" "/1 ro" "/proc rw"]; processes [1]; ` +
			"read <nil>, write <nil>, write read-only open /1/g: read-only file system\n" +
			"above mount 0: [0 1 proc] <nil>\n"
		if out != want {
			t.Errorf("%s:\n%s\nwant:\n%s", probe, out, want)
		}
		if _, err := os.Stat(filepath.Join(rw, "g")); err != nil {
			t.Errorf("%s: the write to the writable mount did not reach the host: %v", probe, err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: left in TMPDIR: %v", probe, left)
		}
	}
}

// TestIsolateRefusesSharedNamespace: Isolate changes the root of its whole mount
// namespace, so it refuses to run in a process that is not PID 1 of its own PID
// namespace (as runsc starts the Gofer), here the test's, and changes nothing.
func TestIsolateRefusesSharedNamespace(t *testing.T) {
	root, _ := os.Readlink("/proc/self/root")
	if _, err := Isolate([]Mount{{HostPath: t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "CLONE_NEWNS|CLONE_NEWPID") {
		t.Fatalf("Isolate in the test process: %v", err)
	}
	if now, _ := os.Readlink("/proc/self/root"); now != root || isolated {
		t.Errorf("Isolate changed the root (%q, was %q) or says it did (%v)", now, root, isolated)
	}
}
