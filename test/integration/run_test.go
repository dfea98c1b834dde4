// Package integration runs runsc as a caller would, on bundles built from Debian
// packages (busybox-static), and compares it with runc, the reference for OCI behaviour.
package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var (
	runsc   string
	rootfs  string // a busybox root filesystem, built once
	workDir string
)

func TestMain(m *testing.M) {
	root, _ := filepath.Abs("../..")
	workDir = filepath.Join(root, "build", "integration")
	os.MkdirAll(workDir, 0o755)
	runsc = filepath.Join(workDir, "runsc")
	build := exec.Command("go", "build", "-o", runsc, "./runsc")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building runsc: %v\n%s", err, out)
		os.Exit(1)
	}
	// MOAT_PLATFORM runs everything on that platform, as in the conformance tests.
	if p := os.Getenv("MOAT_PLATFORM"); p != "" {
		wrapper := filepath.Join(workDir, "runsc-"+p)
		script := fmt.Sprintf("#!/bin/sh\nexec %s --platform=%s \"$@\"\n", runsc, p)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		runsc = wrapper
	}
	var err error
	if rootfs, err = busyboxRootfs(); err != nil {
		fmt.Fprintf(os.Stderr, "busybox rootfs: %v (make test installs busybox-static)\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// busyboxRootfs makes a root filesystem holding Debian's static busybox and a link per
// applet used here.
func busyboxRootfs() (string, error) {
	dir := filepath.Join(workDir, "busybox-rootfs")
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err == nil {
		linkApplets(dir)
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return "", err
	}
	for _, d := range []string{"etc", "tmp", "root"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return "", err
	}
	linkApplets(dir)
	return dir, nil
}

// linkApplets links the busybox applets the tests use (a cached rootfs gets the new ones).
func linkApplets(dir string) {
	for _, a := range []string{"sh", "echo", "ls", "cat", "hostname", "id", "pwd", "env", "true", "false", "wc", "sort", "uname", "stat", "touch", "mkdir", "sleep"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
}

// bundle writes a bundle whose config is runc's default with args, and returns its dir.
func bundle(t *testing.T, args ...string) string {
	dir := t.TempDir()
	cmd := exec.Command("runc", "spec", "--rootless=false")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("runc spec: %v %s (apt-get install runc)", err, out)
	}
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(data, &spec)
	p := spec["process"].(map[string]any)
	p["args"] = args
	p["terminal"] = false
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	data, _ = json.MarshalIndent(spec, "", "  ")
	os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
	return dir
}

type result struct {
	stdout, stderr string
	status         int
}

func runCmd(t *testing.T, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.status = ee.ExitCode()
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			r.status = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}

// TestRunMatchesRunc runs the same bundle under runc and runsc.
func TestRunMatchesRunc(t *testing.T) {
	probe := bundle(t, "true")
	if r := runCmd(t, "runc", "run", "--bundle", probe, fmt.Sprintf("moat-probe-%d", os.Getpid())); r.status != 0 {
		t.Skipf("runc cannot run containers here (%s): nothing to compare with", strings.TrimSpace(r.stderr))
	}
	for i, args := range [][]string{
		{"echo", "hello", "world"},
		{"hostname"},
		{"id"},
		{"pwd"},
		{"env"},
		{"sh", "-c", "exit 3"},
		{"sh", "-c", "echo $HOME $PATH; cd /bin && pwd"},
		{"cat", "/proc/self/cmdline"},
		{"ls", "/"},
		{"ls", "/nonexistent"},
		{"uname", "-s", "-m"},
		// The spec's capabilities, rlimits and noNewPrivileges reach the process.
		{"sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; ulimit -n; ulimit -Hn"},
		{"touch", "/readonly-root"},
		{"/bin/false"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			b := bundle(t, args...)
			want := runCmd(t, "runc", "run", "--bundle", b, fmt.Sprintf("moat-ref-%d-%d", os.Getpid(), i))
			got := runCmd(t, runsc, "run", "--bundle", b, fmt.Sprintf("moat-%d-%d", os.Getpid(), i))
			if got.stdout != want.stdout || got.status != want.status {
				t.Errorf("%v:\nrunc  (status %d): %q\nrunsc (status %d): %q\nrunsc stderr: %s",
					args, want.status, want.stdout, got.status, got.stdout, got.stderr)
			}
		})
	}
}

// TestBadBundles: a bad bundle or ID exits non-zero with a message naming the problem.
func TestBadBundles(t *testing.T) {
	good := bundle(t, "true")
	noConfig := t.TempDir()
	badJSON := t.TempDir()
	os.WriteFile(filepath.Join(badJSON, "config.json"), []byte("{"), 0o644)
	noRootfs := t.TempDir()
	os.WriteFile(filepath.Join(noRootfs, "config.json"), []byte(`{"root":{"path":"missing"},"process":{"args":["true"],"cwd":"/"}}`), 0o644)
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"no config.json", []string{runsc, "run", "--bundle", noConfig, "c1"}, "has no config.json"},
		{"invalid JSON", []string{runsc, "run", "--bundle", badJSON, "c2"}, "not a valid OCI runtime configuration"},
		{"missing rootfs", []string{runsc, "run", "--bundle", noRootfs, "c3"}, "root filesystem"},
		{"bad id", []string{runsc, "run", "--bundle", good, "a/b"}, "invalid container id"},
		{"no id", []string{runsc, "run", "--bundle", good}, "CONTAINER-ID"},
		{"missing program", []string{runsc, "run", "--bundle", bundle(t, "nonexistent-program"), "c4"}, "not found in the container's PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.argv...)
			if r.status == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: status %d, stderr %q; want non-zero and %q", tc.argv, r.status, r.stderr, tc.want)
			}
		})
	}
}
