// Package conformance runs small C programs natively and under runsc and requires the
// same stdout and exit status: Linux is the oracle, so no test needs expected output.
// Each program in programs/ covers one system call family, error paths included, and is
// built with gcc once into the build directory, statically and dynamically linked (the
// dynamic one loads glibc through the Sentry's loader and the Gofer).
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/platform/kvm"
)

var (
	runsc    string // the runsc binary under test
	buildDir string // where programs are compiled
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = filepath.Join(root, "build", "conformance")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runsc = filepath.Join(buildDir, "runsc")
	build := exec.Command("go", "build", "-o", runsc, "./runsc")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building runsc: %v\n%s", err, out)
		os.Exit(1)
	}
	// MOAT_PLATFORM runs everything on that platform: runsc becomes a script that
	// passes the flag before the command line it is given.
	if p := os.Getenv("MOAT_PLATFORM"); p != "" {
		if p == "kvm" {
			if err := kvm.Available(); err != nil {
				fmt.Printf("skipping the conformance suite on kvm: %v\n", err)
				os.Exit(0)
			}
		}
		wrapper := filepath.Join(buildDir, "runsc-"+p)
		script := fmt.Sprintf("#!/bin/sh\nexec %s --platform=%s \"$@\"\n", runsc, p)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		runsc = wrapper
	}
	os.Exit(m.Run())
}

// compile builds programs/name.c, statically or dynamically linked, reusing a binary
// newer than its source.
func compile(t *testing.T, name string, static bool) string {
	t.Helper()
	src := filepath.Join("programs", name+".c")
	kind, flags := "dynamic", []string{}
	if static {
		kind, flags = "static", []string{"-static"}
	}
	bin := filepath.Join(buildDir, name+"-"+kind)
	// Parallel subtests share binaries: one compiles, the others wait for it.
	mu, _ := compiling.LoadOrStore(bin, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if sfi, err := os.Stat(src); err == nil {
		if bfi, err := os.Stat(bin); err == nil && bfi.ModTime().After(sfi.ModTime()) {
			return bin
		}
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	// Written under a temporary name and renamed: a binary is never seen half-written.
	tmp := bin + ".tmp"
	args := append(flags, "-O1", "-Wall", "-o", tmp, src)
	out, err := exec.Command("gcc", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// compiling holds a mutex per binary being built.
var compiling sync.Map

// result is what a run shows: its stdout and its status as a shell reports it.
type result struct {
	stdout string
	status int
}

// run runs argv in a scratch working directory.
func run(t *testing.T, argv ...string) result {
	t.Helper()
	return runIn(t, t.TempDir(), argv...)
}

// runIn runs argv in dir.
func runIn(t *testing.T, dir string, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin", "MOAT_TEST=1"}
	cmd.Dir = dir
	err := cmd.Run()
	r := result{stdout: stdout.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.status = ee.ExitCode()
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			r.status = 128 + int(ws.Signal()) // as a shell, and runsc, report it
		}
	default:
		t.Fatalf("running %v: %v", argv, err)
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", filepath.Base(argv[0]), stderr.String())
	}
	return r
}

// compare runs a program natively and sandboxed with the same arguments.
func compare(t *testing.T, name string, static bool, args ...string) {
	bin := compile(t, name, static)
	native := run(t, append([]string{bin}, args...)...)
	sandboxed := run(t, append([]string{runsc, "do", bin}, args...)...)
	if native != sandboxed {
		t.Errorf("%s %s:\nnative    (status %d):\n%s\nsandboxed (status %d):\n%s\n%s",
			name, strings.Join(args, " "), native.status, native.stdout,
			sandboxed.status, sandboxed.stdout, diff(native.stdout, sandboxed.stdout))
	}
}

// diff names the first line that differs.
func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference, line %d:\n  native:    %q\n  sandboxed: %q", i+1, x, y)
		}
	}
	return ""
}

func TestPrograms(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86-64 only")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"hello", []string{"one", "two words", ""}},
		{"exit", []string{"0"}},
		{"exit", []string{"42"}},
		{"exit", []string{"segv"}},
		{"exit", []string{"ud2"}},
		{"mm", nil},
		{"mm2", nil},
		{"rw", nil},
		{"misc", nil},
		{"files", nil},
		{"openat2", nil},
		{"devs", nil},
		{"exec", nil},
		{"fork", nil},
		{"pipe", nil},
		{"kill", nil},
		{"pgrp", nil},
		{"waitid", nil},
		{"usage", nil},
		{"itimer", nil},
		{"select", nil},
		{"pipe2", nil},
		{"epoll", nil},
		{"procfs", nil},
		{"utimes", nil},
		{"shmem", nil},
		{"sysvshm", nil},
		{"posixshm", nil},
		{"sysvsem", nil},
		{"sysvmsg", nil},
		{"mqueue", nil},
		{"pidfd", nil},
		{"sigwait", nil},
		{"cputimer", nil},
		{"timerfd", nil},
		{"inotify", nil},
		{"signalfd", nil},
		{"memfd", nil},
		{"ptimer", nil},
		{"locks", nil},
		{"splice", nil},
		{"unix_stream", nil},
		{"unix_dgram", nil},
		{"unix_scm", nil},
		{"unix_oob", nil},
		{"jobctl", nil},
		{"pty", nil},
		{"sync", nil},
		{"stack", nil},
		{"signal", nil},
		{"threads", nil},
		{"futex2", nil},
		{"creds", nil},
		{"prctl", nil},
		{"clone3", nil},
		{"cow", nil},
		{"setid", nil},
		{"uts", nil},
		{"pidns", nil},
		{"mknod", nil},
		{"proczombie", nil},
		{"sched", nil},
		{"statfs", nil},
		{"chroot", nil},
		{"mlock", nil},
		{"membarrier", nil},
		{"rw2", nil},
		{"fifo", nil},
		{"cgroupfs", nil},
	} {
		for _, static := range []bool{true, false} {
			kind := map[bool]string{true: "static", false: "dynamic"}[static]
			t.Run(strings.Join(append([]string{tc.name, kind}, tc.args...), "_"), func(t *testing.T) {
				t.Parallel()
				compare(t, tc.name, static, tc.args...)
			})
		}
	}
}

// TestRandomSyscallsNeverCrashTheSentry runs the fuzz programs sandboxed: whatever the
// calls do, runsc must end with the program's own status, within the time limit, with
// no panic. fuzz draws from every system call; unix_fuzz from the socket calls, on
// live AF_UNIX sockets.
func TestRandomSyscallsNeverCrashTheSentry(t *testing.T) {
	for _, prog := range [][]string{{"fuzz", "20000"}, {"unix_fuzz", "20000", "1"}, {"unix_fuzz", "20000", "7"}} {
		t.Run(strings.Join(prog, "_"), func(t *testing.T) {
			bin := compile(t, prog[0], true)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, runsc, append([]string{"do", bin}, prog[1:]...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("runsc hung (killed after the time limit)\nstderr:\n%s", tail(stderr.String()))
			}
			if strings.Contains(stderr.String(), "panic:") || strings.Contains(stderr.String(), "fatal error:") ||
				strings.Contains(stderr.String(), "moat: BUG:") {
				t.Fatalf("the Sentry crashed:\n%s", tail(stderr.String()))
			}
			if err != nil || !strings.Contains(stdout.String(), prog[0]+" done") {
				t.Fatalf("%s did not finish: %v\nstdout: %s\nstderr:\n%s", prog[0], err, stdout.String(), tail(stderr.String()))
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// TestConcurrentSandboxes runs 20 sandboxes at once, each making 20000 system calls, on
// however few CPUs the machine has: every one must finish, none starved by the others'
// spinning (issue 7).
func TestConcurrentSandboxes(t *testing.T) {
	bin := compile(t, "syscall_loop", true)
	const sandboxes, calls = 20, "20000"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, sandboxes)
	for i := 0; i < sandboxes; i++ {
		go func() {
			out, err := exec.CommandContext(ctx, runsc, "do", bin, calls).Output()
			if err == nil && string(out) != "done "+calls+"\n" {
				err = fmt.Errorf("output %q", out)
			}
			errs <- err
		}()
	}
	for i := 0; i < sandboxes; i++ {
		if err := <-errs; err != nil {
			t.Errorf("a sandbox did not finish: %v", err)
		}
	}
}
