package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needApplets links more busybox applets into the shared rootfs.
func needApplets(names ...string) {
	for _, a := range names {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
	}
}

// started creates and starts a container of r running args, and deletes it at the
// end of the test.
func started(t *testing.T, r runtime, id string, args ...string) {
	t.Helper()
	b := bundle(t, args...)
	if res := r.create(t, b, id, filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("%s create: %+v", r.bin, res)
	}
	if res := r.cmd(t, "start", id); res.status != 0 {
		t.Fatalf("%s start: %+v", r.bin, res)
	}
	t.Cleanup(func() { r.cmd(t, "delete", "--force", id) })
}

// execCases are runsc exec invocations whose status and output must be runc's.
func execCases(t *testing.T) [][]string {
	dir := t.TempDir()
	proc := filepath.Join(dir, "process.json")
	os.WriteFile(proc, []byte(`{"args":["/bin/sh","-c","id; pwd; echo $X"],"cwd":"/bin",
		"user":{"uid":5,"gid":6,"additionalGids":[7,8]},"env":["X=from-process-json"]}`), 0o644)
	noPath := filepath.Join(dir, "nopath.json")
	os.WriteFile(noPath, []byte(`{"args":["id"],"cwd":"/","env":["X=1"]}`), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"args": [`), 0o644)
	return [][]string{
		{"id"},
		{"pwd"},
		{"env"},
		{"sh", "-c", "echo $PPID"},
		{"--cwd", "/bin", "pwd"},
		{"--env", "A=b", "--env", "C=d", "--user", "1:2", "sh", "-c", "id; echo $A $C $HOME"},
		{"--user", "1000", "id"},
		{"--additional-gids", "9", "--additional-gids", "10", "id"},
		{"--cap", "CAP_SYS_ADMIN", "--no-new-privs", "grep", "-E", "^Cap|NoNewPrivs", "/proc/self/status"},
		{"grep", "-E", "^Cap|NoNewPrivs", "/proc/self/status"},
		{"sh", "-c", "exit 3"},
		{"sh", "-c", "kill -TERM $$"},
		{"sh", "-c", "kill -KILL $$"},
		{"sh", "-c", "ls /proc/1/exe >/dev/null && echo init is there"},
		{"nosuch"},
		{"/bin/nosuch"},
		{"--cwd", "/nonexistent", "pwd"},
		{"--process", proc},
		{"--process", noPath},
		{"--process", bad},
		{"--process", filepath.Join(dir, "missing.json")},
	}
}

// TestExecMatchesRunc runs the same execs into the same running container under runc
// and runsc: exit statuses and outputs must be the same.
func TestExecMatchesRunc(t *testing.T) {
	needRunc(t)
	needApplets("grep", "ps", "kill")
	id := fmt.Sprintf("moat-exec-%d", os.Getpid())
	rc, rs := newRuntime(t, "runc"), newRuntime(t, runsc)
	started(t, rc, id, "sh", "-c", "while true; do sleep 0.1; done")
	started(t, rs, id, "sh", "-c", "while true; do sleep 0.1; done")
	for _, c := range execCases(t) {
		args := execArgs(id, c)
		want, got := rc.cmd(t, args...), rs.cmd(t, args...)
		if want.status != got.status || want.stdout != got.stdout {
			t.Errorf("exec %q:\nrunc:  status %d, stdout %q (stderr %q)\nrunsc: status %d, stdout %q (stderr %q)",
				c, want.status, want.stdout, want.stderr, got.status, got.stdout, got.stderr)
		}
		if got.status == 255 && !strings.Contains(got.stderr, id) {
			t.Errorf("exec %q: the error does not name the container: %q", c, got.stderr)
		}
	}
	// An unknown container: runc and runsc both refuse, with 255.
	for _, r := range []runtime{rc, rs} {
		if res := r.cmd(t, "exec", "no-such-container", "true"); res.status != 255 {
			t.Errorf("%s exec into no container: %+v", r.bin, res)
		}
	}
	// Nothing is left running in the sandbox by the execs: only init (PID 1), its
	// children, and this ps (which has no parent in the sandbox, as every exec'd
	// process).
	res := rs.cmd(t, "exec", id, "ps", "-o", "pid,ppid,comm")
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n")[1:] {
		if f := strings.Fields(l); len(f) != 3 || f[0] != "1" && f[1] != "1" && f[2] != "ps" {
			t.Errorf("process left after the execs: %q", l)
		}
	}
}

// execArgs puts the flags of c (up to the command) before the container ID.
func execArgs(id string, c []string) []string {
	i := 0
	for i < len(c) && strings.HasPrefix(c[i], "--") {
		if c[i] == "--no-new-privs" {
			i++
			continue
		}
		i += 2
	}
	args := append([]string{"exec"}, c[:i]...)
	return append(append(args, id), c[i:]...)
}

// shim stands for containerd's shim: it runs "RUNTIME exec --detach --pid-file" as a
// child subreaper, signals the PID in the pid file, reaps that process (which it
// inherits) and prints its status as containerd reports it (128+N for signal N). It
// runs in a child of the test (MOAT_TEST_SHIM), to keep the subreaper mark out of the
// test process.
func shim() {
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	var args []string
	json.Unmarshal([]byte(os.Getenv("MOAT_TEST_SHIM")), &args)
	sig, _ := strconv.Atoi(args[0])
	pidFile := filepath.Join(os.TempDir(), fmt.Sprintf("shim-%d.pid", os.Getpid()))
	defer os.Remove(pidFile)
	cmd := exec.Command(args[1], append([]string{"--root", args[2], "exec", "--detach", "--pid-file", pidFile, args[3]}, args[4:]...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Printf("exec: %v\n", err)
		os.Exit(1)
	}
	data, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		fmt.Printf("pid file: %q\n", data)
		os.Exit(1)
	}
	time.Sleep(300 * time.Millisecond) // the trap is set
	if sig != 0 {
		unix.Kill(pid, unix.Signal(sig))
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		fmt.Printf("wait4 %d: %v\n", pid, err)
		os.Exit(1)
	}
	st := ws.ExitStatus()
	if ws.Signaled() {
		st = 128 + int(ws.Signal())
	}
	fmt.Printf("status %d\n", st)
	os.Exit(0)
}

func init() {
	if os.Getenv("MOAT_TEST_SHIM") != "" {
		shim()
	}
}

// TestExecDetachPidFile: exec --detach --pid-file, driven as containerd's shim drives
// it: a signal sent to the PID in the pid file reaches the process, and reaping that
// PID gives the process's status, as under runc (whose pid file holds the process
// itself).
func TestExecDetachPidFile(t *testing.T) {
	needRunc(t)
	id := fmt.Sprintf("moat-execd-%d", os.Getpid())
	rc, rs := newRuntime(t, "runc"), newRuntime(t, runsc)
	started(t, rc, id, "sleep", "100")
	started(t, rs, id, "sleep", "100")
	for _, c := range []struct {
		sig  unix.Signal
		args []string
	}{
		{0, []string{"sh", "-c", "exit 6"}},
		{unix.SIGUSR1, []string{"sh", "-c", `trap "echo usr1; exit 5" USR1; while true; do sleep 0.05; done`}},
		{unix.SIGTERM, []string{"sh", "-c", "while true; do sleep 0.05; done"}},
		{unix.SIGKILL, []string{"sleep", "100"}},
	} {
		var outs []string
		for _, r := range []runtime{rc, rs} {
			enc, _ := json.Marshal(append([]string{strconv.Itoa(int(c.sig)), r.bin, r.root, id}, c.args...))
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "MOAT_TEST_SHIM="+string(enc))
			out, _ := cmd.CombinedOutput()
			outs = append(outs, string(out))
		}
		if outs[0] != outs[1] {
			t.Errorf("exec --detach %q, signal %d:\nrunc:  %q\nrunsc: %q", c.args, c.sig, outs[0], outs[1])
		}
	}
	// The SIGKILLed process is gone from the sandbox too. Zombies don't count: the
	// "sleep 0.05" a killed loop leaves behind is reparented to init, which (being
	// sleep) never reaps it, as under runc.
	res := rs.cmd(t, "exec", id, "ps", "-o", "stat=,comm=")
	live := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "Z") {
			live[f[1]]++
		}
	}
	if live["sh"] != 0 || live["sleep"] != 1 {
		t.Errorf("processes left in the sandbox:\n%s", res.stdout)
	}
}

// TestExecSignals: signals runsc exec receives reach its process; the status is the
// process's.
func TestExecSignals(t *testing.T) {
	r := newRuntime(t, runsc)
	started(t, r, "sig", "sleep", "100")
	cmd := exec.Command(runsc, "--root", r.root, "exec", "sig", "sh", "-c",
		`trap "echo term; exit 9" TERM; echo ready; while true; do sleep 0.05; done`)
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	defer out.Close()
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if data, _ := os.ReadFile(out.Name()); strings.Contains(string(data), "ready") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	data, _ := os.ReadFile(out.Name())
	if st := cmd.ProcessState.ExitCode(); st != 9 || string(data) != "ready\nterm\n" {
		t.Errorf("status %d, output %q; want 9, \"ready\\nterm\\n\"", st, data)
	}
}

// TestExecConcurrent: execs run at once while init loops; each gets its own output and
// status, and the container goes on.
func TestExecConcurrent(t *testing.T) {
	r := newRuntime(t, runsc)
	started(t, r, "conc", "sh", "-c", "i=0; while true; do i=$((i+1)); done")
	var wg sync.WaitGroup
	errs := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res := r.cmd(t, "exec", "conc", "sh", "-c", fmt.Sprintf("echo %d; exit %d", i, i))
			if res.status != i || res.stdout != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Sprintf("exec %d: %+v", i, res)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if s := r.status(t, "conc"); s != "running" {
		t.Errorf("container %s after the execs", s)
	}
}

// TestExecUmask: process.user.umask is the exec'd process's umask, as the runtime
// spec says (runc 1.1.5 leaves an exec'd process at 0022 whatever it says).
func TestExecUmask(t *testing.T) {
	needApplets("grep")
	r := newRuntime(t, runsc)
	started(t, r, "umask", "sleep", "100")
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args":["/bin/sh","-c","umask; grep Umask /proc/self/status"],"cwd":"/",
		"user":{"uid":0,"gid":0,"umask":63},"env":["PATH=/bin"]}`), 0o644)
	if res := r.cmd(t, "exec", "--process", proc, "umask"); res.status != 0 || res.stdout != "0077\nUmask:\t0077\n" {
		t.Errorf("exec with umask 077: %+v", res)
	}
}

// TestExecStopped: exec into a stopped container fails (255) naming it, and starts
// nothing.
func TestExecStopped(t *testing.T) {
	r := newRuntime(t, runsc)
	started(t, r, "stopped", "true")
	r.waitStopped(t, "stopped")
	res := r.cmd(t, "exec", "stopped", "echo", "hi")
	if res.status != 255 || !strings.Contains(res.stderr, `"stopped"`) || !strings.Contains(res.stderr, "stopped container") {
		t.Errorf("exec into a stopped container: %+v", res)
	}
	if res := r.cmd(t, "exec", "stopped", "--bad-flag"); res.status == 0 {
		t.Errorf("exec with a bad flag: %+v", res)
	}
}

// TestExecPreserveFDs: --preserve-fds passes the descriptors after stdio on, as 3, 4…,
// as runc does.
func TestExecPreserveFDs(t *testing.T) {
	needRunc(t)
	id := fmt.Sprintf("moat-execfd-%d", os.Getpid())
	var outs []string
	for _, bin := range []string{"runc", runsc} {
		r := newRuntime(t, bin)
		started(t, r, id, "sleep", "100")
		f3 := filepath.Join(t.TempDir(), "three")
		f, _ := os.Create(f3)
		cmd := exec.Command(bin, "--root", r.root, "exec", "--preserve-fds", "1", id, "sh", "-c", "echo to-three >&3; ls /proc/self/fd/4 2>&1 >/dev/null | wc -l")
		cmd.ExtraFiles = []*os.File{f}
		out, err := cmd.CombinedOutput()
		f.Close()
		data, _ := os.ReadFile(f3)
		outs = append(outs, fmt.Sprintf("%q %v %q", out, err, data))
	}
	if outs[0] != outs[1] {
		t.Errorf("--preserve-fds 1:\nrunc:  %s\nrunsc: %s", outs[0], outs[1])
	}
}
