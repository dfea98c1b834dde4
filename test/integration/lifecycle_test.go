package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ociState is the part of runc's and runsc's state JSON the tests read.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	PID         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

// runtime is runc or runsc with its own state root.
type runtime struct {
	bin, root string
}

func newRuntime(t *testing.T, bin string) runtime {
	return runtime{bin: bin, root: t.TempDir()}
}

// cmd runs the runtime with args, with stdio on files so that a create's sandbox,
// which keeps them, does not hold a pipe the test waits on.
func (r runtime) cmd(t *testing.T, args ...string) result {
	t.Helper()
	return r.cmdIn(t, "", args...)
}

func (r runtime) cmdIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	out, _ := os.CreateTemp(t.TempDir(), "out")
	errf, _ := os.CreateTemp(t.TempDir(), "err")
	defer out.Close()
	defer errf.Close()
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	res := result{}
	if ee, ok := err.(*exec.ExitError); ok {
		res.status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", r.bin, args, err)
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	res.stdout, res.stderr = string(o), string(e)
	return res
}

// create runs create with the container's stdout going to the file out (and its
// stderr to out.err).
func (r runtime) create(t *testing.T, bundle, id, out string) result {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ef, err := os.Create(out + ".err")
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	cmd := exec.Command(r.bin, "--root", r.root, "create", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = f, ef
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return result{status: ee.ExitCode()}
	} else if err != nil {
		t.Fatal(err)
	}
	return result{}
}

func (r runtime) state(t *testing.T, id string) (ociState, result) {
	t.Helper()
	res := r.cmd(t, "state", id)
	var st ociState
	if res.status == 0 {
		if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
			t.Fatalf("%s state %s: %v: %q", r.bin, id, err, res.stdout)
		}
	}
	return st, res
}

func (r runtime) status(t *testing.T, id string) string {
	t.Helper()
	st, res := r.state(t, id)
	if res.status != 0 {
		return "error" // the messages differ: runc's do not name the container
	}
	return st.Status
}

// waitStopped polls until the container is stopped.
func (r runtime) waitStopped(t *testing.T, id string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if r.status(t, id) == "stopped" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: container %s did not stop", r.bin, id)
}

// needRunc skips the test if runc cannot run containers here.
func needRunc(t *testing.T) {
	probe := bundle(t, "true")
	if r := runCmd(t, "runc", "run", "--bundle", probe, fmt.Sprintf("moat-probe-%d", os.Getpid())); r.status != 0 {
		t.Skipf("runc cannot run containers here (%s): nothing to compare with", strings.TrimSpace(r.stderr))
	}
}

// lifecycle drives one container through the OCI lifecycle and returns what each step
// gave: the exit status of each command and the status state reports after it.
func lifecycle(t *testing.T, r runtime, b, id string) []string {
	out := filepath.Join(t.TempDir(), "out")
	var log []string
	step := func(name string, res result) {
		log = append(log, fmt.Sprintf("%s: exit %d, then %s", name, res.status, r.status(t, id)))
	}
	step("create", r.create(t, b, id, out))
	list := r.cmd(t, "list", "--format", "json")
	var states []ociState
	json.Unmarshal([]byte(list.stdout), &states)
	log = append(log, fmt.Sprintf("list: %d container(s), %q %s", len(states), states[0].ID, states[0].Status))
	step("create again", r.create(t, b, id, filepath.Join(t.TempDir(), "out2")))
	step("start", r.cmd(t, "start", id))
	step("start again", r.cmd(t, "start", id))
	step("delete running", r.cmd(t, "delete", id))
	step("kill bad signal", r.cmd(t, "kill", id, "NOSUCHSIG"))
	// init (PID 1, no handler) ignores SIGUSR1 as runc's does; sh's trap catches TERM.
	step("kill USR1", r.cmd(t, "kill", id, "USR1"))
	time.Sleep(300 * time.Millisecond)
	log = append(log, "after USR1: "+r.status(t, id))
	// Whether init has already exited when kill returns is a race under either
	// runtime (sh runs its trap, then exits): only kill's status is compared.
	log = append(log, fmt.Sprintf("kill TERM: exit %d", r.cmd(t, "kill", id, "15").status))
	r.waitStopped(t, id)
	log = append(log, "stopped")
	step("kill stopped", r.cmd(t, "kill", id, "KILL"))
	step("start stopped", r.cmd(t, "start", id))
	st, _ := r.state(t, id)
	log = append(log, fmt.Sprintf("state: id %s pid %d bundle-ok %v", st.ID, st.PID, st.Bundle == b))
	step("delete", r.cmd(t, "delete", id))
	if _, err := os.Stat(filepath.Join(r.root, id)); !os.IsNotExist(err) {
		log = append(log, "state directory left behind")
	}
	data, _ := os.ReadFile(out)
	log = append(log, fmt.Sprintf("output %q", data))
	return log
}

// TestLifecycleMatchesRunc drives the same bundle through create, start, kill and
// delete (and their refusals) under runc and runsc: the exit statuses, the statuses
// state reports, and the container's output must be the same.
func TestLifecycleMatchesRunc(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", `trap "echo term; exit 7" TERM; echo ready; while true; do sleep 0.1; done`)
	id := fmt.Sprintf("moat-life-%d", os.Getpid())
	want := lifecycle(t, newRuntime(t, "runc"), b, id)
	got := lifecycle(t, newRuntime(t, runsc), b, id)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lifecycle differs:\nrunc:\n  %s\nrunsc:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
}

// TestRunExitStatus: run (attached) exits with init's status, the status wait reports,
// and run --detach returns at once, leaving the container running.
func TestRunExitStatus(t *testing.T) {
	r := newRuntime(t, runsc)
	if res := r.cmd(t, "run", "--bundle", bundle(t, "sh", "-c", "exit 5"), "exit5"); res.status != 5 {
		t.Errorf("run: status %d, want 5 (stderr %q)", res.status, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(r.root, "exit5")); !os.IsNotExist(err) {
		t.Errorf("run left its state directory")
	}
	b := bundle(t, "sh", "-c", "sleep 2; exit 9") // still running when status looks, on a loaded host too
	f, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	defer f.Close()
	cmd := exec.Command(runsc, "--root", r.root, "run", "--detach", "--bundle", b, "det")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --detach: %v", err)
	}
	if s := r.status(t, "det"); s != "running" {
		t.Errorf("after run --detach: %s, want running", s)
	}
	if res := r.cmd(t, "wait", "det"); res.status != 0 || strings.TrimSpace(res.stdout) != `{"id":"det","exitStatus":9}` {
		t.Errorf("wait: status %d, %q", res.status, res.stdout)
	}
	if s := r.status(t, "det"); s != "stopped" {
		t.Errorf("after wait: %s, want stopped", s)
	}
	if res := r.cmd(t, "delete", "det"); res.status != 0 {
		t.Errorf("delete: %d %s", res.status, res.stderr)
	}
}

// TestKillAll: kill --all reaches every process, not only init.
func TestKillAll(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sh", "-c", "sleep 100 & wait; echo waited $?")
	out := filepath.Join(t.TempDir(), "out")
	if res := r.create(t, b, "all", out); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	defer r.cmd(t, "delete", "--force", "all")
	r.cmd(t, "start", "all")
	time.Sleep(300 * time.Millisecond)
	// TERM to init alone is ignored (PID 1 without a handler); --all kills sleep too.
	if res := r.cmd(t, "kill", "--all", "all", "TERM"); res.status != 0 {
		t.Fatalf("kill --all: %d %s", res.status, res.stderr)
	}
	r.waitStopped(t, "all")
}

// TestStateFields: state and list show what the bundle says.
func TestStateFields(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "true")
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	json.Unmarshal(data, &spec)
	spec["annotations"] = map[string]string{"org.example/key": "value"}
	data, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(b, "config.json"), data, 0o644)
	// Relative --bundle and --root.
	parent := filepath.Dir(b)
	rel := runtime{bin: r.bin, root: "relroot"}
	if res := rel.cmdIn(t, parent, "create", "--pid-file", "pidfile", "--bundle", filepath.Base(b), "fields"); res.status != 0 {
		t.Fatalf("create: %d %s", res.status, res.stderr)
	}
	r.root = filepath.Join(parent, "relroot")
	defer r.cmd(t, "delete", "--force", "fields")
	st, res := r.state(t, "fields")
	if res.status != 0 {
		t.Fatalf("state: %s", res.stderr)
	}
	pid, _ := os.ReadFile(filepath.Join(parent, "pidfile"))
	if st.OCIVersion == "" || st.ID != "fields" || st.Status != "created" || st.Bundle != b ||
		st.Annotations["org.example/key"] != "value" || strconv.Itoa(st.PID) != string(pid) || st.PID <= 0 {
		t.Errorf("state %+v (pid file %q)", st, pid)
	}
	list := r.cmd(t, "list")
	if !strings.HasPrefix(list.stdout, "ID") || !strings.Contains(list.stdout, "fields") || !strings.Contains(list.stdout, "created") {
		t.Errorf("list: %q", list.stdout)
	}
}

// liveProcesses returns the processes (not zombies) whose command line holds s.
// (On these machines PID 1 does not reap orphans, so ended sandboxes stay zombies.)
func liveProcesses(s string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), s) {
			found = append(found, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	return found
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// children returns the PIDs of pid's children.
func children(pid int) []int {
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		s := string(data)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(pid) {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// noTrace checks that nothing of runtime r is left: no state directory entries, no
// live process naming its root.
func noTrace(t *testing.T, r runtime) {
	t.Helper()
	ents, _ := os.ReadDir(r.root)
	for _, e := range ents {
		t.Errorf("left under --root: %s", e.Name())
	}
	for i := 0; i < 100; i++ {
		if len(liveProcesses(r.root)) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("processes left: %v", liveProcesses(r.root))
}

// TestBadInput: each bad command exits non-zero, names the problem, and leaves nothing.
func TestBadInput(t *testing.T) {
	good := bundle(t, "sleep", "100")
	noConfig := t.TempDir()
	badJSON := t.TempDir()
	os.WriteFile(filepath.Join(badJSON, "config.json"), []byte("{"), 0o644)
	noRootfs := t.TempDir()
	os.WriteFile(filepath.Join(noRootfs, "config.json"), []byte(`{"root":{"path":"missing"},"process":{"args":["true"],"cwd":"/"}}`), 0o644)
	badType := t.TempDir()
	os.WriteFile(filepath.Join(badType, "config.json"), []byte(`{"root":{"path":"/"},"process":{"args":"true","cwd":"/"}}`), 0o644)
	tty := bundle(t, "true")
	data, _ := os.ReadFile(filepath.Join(tty, "config.json"))
	os.WriteFile(filepath.Join(tty, "config.json"), []byte(strings.Replace(string(data), `"terminal": false`, `"terminal": true`, 1)), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config.json", []string{"create", "--bundle", noConfig, "c1"}, "has no config.json"},
		{"invalid JSON", []string{"create", "--bundle", badJSON, "c2"}, "not a valid OCI runtime configuration"},
		{"wrong field type", []string{"create", "--bundle", badType, "c2"}, "not a valid OCI runtime configuration"},
		{"missing rootfs", []string{"create", "--bundle", noRootfs, "c3"}, "root filesystem"},
		{"relative id", []string{"create", "--bundle", good, "../c4"}, "invalid container id"},
		{"id with slash", []string{"create", "--bundle", good, "a/b"}, "invalid container id"},
		{"empty id", []string{"create", "--bundle", good, ""}, "container id cannot be empty"},
		{"terminal without a console socket", []string{"create", "--bundle", tty, "c5"}, "without setting console socket"},
		{"missing program", []string{"create", "--bundle", bundle(t, "no-such-program"), "c6"}, "not found in the container's PATH"},
		{"state of unknown", []string{"state", "nope"}, `"nope": container does not exist`},
		{"start of unknown", []string{"start", "nope"}, `"nope": container does not exist`},
		{"kill of unknown", []string{"kill", "nope"}, `"nope": container does not exist`},
		{"delete of unknown", []string{"delete", "nope"}, `"nope": container does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, runsc)
			res := r.cmd(t, tc.args...)
			if res.status == 0 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("%v: status %d, stderr %q; want non-zero and %q", tc.args, res.status, res.stderr, tc.want)
			}
			noTrace(t, r)
		})
	}

	t.Run("duplicate, start running, delete running", func(t *testing.T) {
		r := newRuntime(t, runsc)
		out := filepath.Join(t.TempDir(), "out")
		if res := r.create(t, good, "dup", out); res.status != 0 {
			t.Fatalf("create: %d", res.status)
		}
		if res := r.cmd(t, "create", "--bundle", good, "dup"); res.status == 0 || !strings.Contains(res.stderr, `"dup": container with given ID already exists`) {
			t.Errorf("duplicate create: %d %q", res.status, res.stderr)
		}
		if s := r.status(t, "dup"); s != "created" {
			t.Errorf("after a duplicate create the first is %s", s)
		}
		r.cmd(t, "start", "dup")
		if res := r.cmd(t, "start", "dup"); res.status == 0 || !strings.Contains(res.stderr, "already running") {
			t.Errorf("start of running: %d %q", res.status, res.stderr)
		}
		if res := r.cmd(t, "delete", "dup"); res.status == 0 || !strings.Contains(res.stderr, "cannot delete container dup that is not stopped: running") {
			t.Errorf("delete of running: %d %q", res.status, res.stderr)
		}
		if res := r.cmd(t, "delete", "--force", "dup"); res.status != 0 {
			t.Errorf("delete --force: %d %q", res.status, res.stderr)
		}
		noTrace(t, r)
	})
}

// TestSandboxKilled: a sandbox killed with SIGKILL is stopped, its Gofer dies with
// it, and delete cleans up.
func TestSandboxKilled(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sleep", "100")
	if res := r.create(t, b, "victim", filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	r.cmd(t, "start", "victim")
	st, _ := r.state(t, "victim")
	if st.Status != "running" || st.PID <= 0 {
		t.Fatalf("state %+v", st)
	}
	kids := children(st.PID)
	if len(kids) == 0 {
		t.Fatalf("the sandbox %d has no children (gofer, stubs)", st.PID)
	}
	syscall.Kill(st.PID, syscall.SIGKILL)
	for i := 0; i < 100 && alive(st.PID); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if s := r.status(t, "victim"); s != "stopped" {
		t.Errorf("after SIGKILL of the sandbox: %s, want stopped", s)
	}
	if res := r.cmd(t, "wait", "victim"); !strings.Contains(res.stdout, `"exitStatus":137`) {
		t.Errorf("wait: %q", res.stdout)
	}
	if res := r.cmd(t, "delete", "victim"); res.status != 0 {
		t.Errorf("delete: %d %s", res.status, res.stderr)
	}
	for i := 0; i < 100; i++ {
		var left []int
		for _, k := range kids {
			if alive(k) {
				left = append(left, k)
			}
		}
		if len(left) == 0 {
			break
		}
		if i == 99 {
			t.Errorf("the sandbox's children %v outlived it", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	noTrace(t, r)
}

// TestSandboxBoxed: the sandbox process runs in PID, mount, IPC and UTS namespaces of
// its own, its root is its state directory, and every one of its threads has no
// capabilities, no_new_privs and a seccomp filter; its stubs have no effective
// capabilities, no_new_privs (their bounding set is the one they were forked with: they
// can't exec) and their own filters; its Gofer keeps only the file capabilities, has its
// filter on every thread, and runs in mount and PID namespaces of its own, in which no
// mount is reachable from its root.
func TestSandboxBoxed(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sleep", "100")
	if res := r.create(t, b, "boxed", filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	defer r.cmd(t, "delete", "--force", "boxed")
	r.cmd(t, "start", "boxed")
	st, _ := r.state(t, "boxed")
	for _, ns := range []string{"pid", "mnt", "ipc", "uts"} {
		mine, _ := os.Readlink("/proc/self/ns/" + ns)
		its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.PID, ns))
		if err != nil || its == mine {
			t.Errorf("the sandbox's %s namespace is the host's (%s, %v)", ns, its, err)
		}
	}
	if root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", st.PID)); root == "/" {
		t.Errorf("the sandbox's root is the host's")
	}
	capsOf := func(pid int) []string {
		var out []string
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
			var line []string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapBnd:") || strings.HasPrefix(l, "NoNewPrivs:") ||
					strings.HasPrefix(l, "Seccomp:") {
					line = append(line, strings.Join(strings.Fields(l), " "))
				}
			}
			out = append(out, strings.Join(line, ", "))
		}
		return out
	}
	const none = "CapEff: 0000000000000000, CapBnd: 0000000000000000, NoNewPrivs: 1, Seccomp: 2"
	threads := capsOf(st.PID)
	for _, c := range threads {
		if c != none {
			t.Errorf("sandbox thread: %s, want %s", c, none)
		}
	}
	if len(threads) < 2 {
		t.Errorf("the sandbox has %d threads", len(threads))
	}
	gofers := 0
	for _, pid := range children(st.PID) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		isGofer := strings.Contains(string(cmdline), "gofer")
		for _, c := range capsOf(pid) {
			if isGofer {
				if strings.HasPrefix(c, "CapEff: 0000000000000000") || !strings.HasSuffix(c, "NoNewPrivs: 1, Seccomp: 2") {
					t.Errorf("gofer %d thread: %s, want the file capabilities only, no_new_privs and a filter", pid, c)
				}
			} else if !strings.HasPrefix(c, "CapEff: 0000000000000000") || !strings.HasSuffix(c, "NoNewPrivs: 1, Seccomp: 2") {
				t.Errorf("stub %d thread: %s, want no effective capabilities, no_new_privs and a filter", pid, c)
			}
		}
		if !isGofer {
			continue
		}
		gofers++
		for _, ns := range []string{"mnt", "pid"} {
			mine, _ := os.Readlink("/proc/self/ns/" + ns)
			sandbox, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.PID, ns))
			its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if err != nil || its == mine || its == sandbox {
				t.Errorf("the gofer's %s namespace is the host's or the sandbox's (%s, %v)", ns, its, err)
			}
		}
		// Every mount of its namespace lies outside its root, an empty removed
		// directory: not one line of mountinfo is left for it.
		if info, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid)); err != nil || len(info) != 0 {
			t.Errorf("the gofer's mounts (%v):\n%s", err, info)
		}
		if root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); !strings.HasSuffix(root, " (deleted)") {
			t.Errorf("the gofer's root is %q, want a removed directory", root)
		}
	}
	if gofers != 1 {
		t.Errorf("the sandbox has %d gofers, want 1", gofers)
	}
}

// TestSandboxDebugFilter: with --debug the sandbox's seccomp filter traps instead of
// killing, which changes nothing for a container that runs normally; the log says how
// a forbidden call would be reported.
func TestSandboxDebugFilter(t *testing.T) {
	r := newRuntime(t, runsc)
	log := filepath.Join(t.TempDir(), "log")
	res := r.cmd(t, "--debug", "--log", log, "run", "--bundle", bundle(t, "sh", "-c", "echo hi; exit 4"), "debugged")
	if res.status != 4 || res.stdout != "hi\n" {
		t.Errorf("run --debug: status %d, stdout %q, stderr %q", res.status, res.stdout, res.stderr)
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "seccomp filter traps forbidden system calls") {
		t.Errorf("the log does not say the filter traps:\n%s", data)
	}
}

// TestSpec: spec writes runc's default configuration, and refuses to overwrite one.
func TestSpec(t *testing.T) {
	dir := t.TempDir()
	r := newRuntime(t, runsc)
	if res := r.cmd(t, "spec", "--bundle", dir); res.status != 0 {
		t.Fatalf("spec: %d %s", res.status, res.stderr)
	}
	var got, want map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if res := r.cmd(t, "spec", "--bundle", dir); res.status == 0 || !strings.Contains(res.stderr, "exists") {
		t.Errorf("spec over an existing config.json: %d %q", res.status, res.stderr)
	}
	ref := t.TempDir()
	cmd := exec.Command("runc", "spec")
	cmd.Dir = ref
	if err := cmd.Run(); err != nil {
		t.Skipf("runc spec: %v", err)
	}
	data, _ = os.ReadFile(filepath.Join(ref, "config.json"))
	json.Unmarshal(data, &want)
	delete(got, "ociVersion")
	delete(want, "ociVersion")
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("spec differs from runc's:\nrunc:  %s\nrunsc: %s", w, g)
	}
}

// TestConcurrentCommands: commands on one container serialize on its lock: of five
// concurrent creates of one ID one wins, of five concurrent starts one wins, and a
// created container killed with SIGKILL is stopped.
func TestConcurrentCommands(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sleep", "100")
	dir := t.TempDir()
	race := func(name string, args func(i int) []string) int {
		done := make(chan int)
		for i := 0; i < 5; i++ {
			go func(i int) {
				f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d", name, i)))
				defer f.Close()
				cmd := exec.Command(runsc, append([]string{"--root", r.root}, args(i)...)...)
				cmd.Stdout, cmd.Stderr = f, f
				if cmd.Run() == nil {
					done <- 1
				} else {
					done <- 0
				}
			}(i)
		}
		n := 0
		for i := 0; i < 5; i++ {
			n += <-done
		}
		return n
	}
	if n := race("create", func(int) []string { return []string{"create", "--bundle", b, "same"} }); n != 1 {
		t.Errorf("%d of 5 concurrent creates of one ID succeeded, want 1", n)
	}
	if n := race("start", func(int) []string { return []string{"start", "same"} }); n != 1 {
		t.Errorf("%d of 5 concurrent starts succeeded, want 1", n)
	}
	if res := r.cmd(t, "delete", "--force", "same"); res.status != 0 {
		t.Errorf("delete --force: %d %s", res.status, res.stderr)
	}
	if res := r.create(t, b, "tokill", filepath.Join(dir, "out")); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	if res := r.cmd(t, "kill", "tokill", "SIGKILL"); res.status != 0 {
		t.Errorf("kill of a created container: %d %s", res.status, res.stderr)
	}
	r.waitStopped(t, "tokill")
	if res := r.cmd(t, "delete", "tokill"); res.status != 0 {
		t.Errorf("delete: %d %s", res.status, res.stderr)
	}
	noTrace(t, r)
}

// TestGoferKilled: a Gofer killed with SIGKILL takes its sandbox with it: the
// container is stopped and delete cleans up.
func TestGoferKilled(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sleep", "100")
	if res := r.create(t, b, "gofer-victim", filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	r.cmd(t, "start", "gofer-victim")
	st, _ := r.state(t, "gofer-victim")
	gofer := 0
	for _, k := range children(st.PID) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k))
		if strings.Contains(string(cmdline), "\x00gofer\x00") {
			gofer = k
		}
	}
	if gofer == 0 {
		t.Fatalf("no gofer among the sandbox's children")
	}
	syscall.Kill(gofer, syscall.SIGKILL)
	r.waitStopped(t, "gofer-victim")
	if alive(st.PID) {
		t.Errorf("the sandbox outlived its gofer")
	}
	if res := r.cmd(t, "delete", "gofer-victim"); res.status != 0 {
		t.Errorf("delete: %d %s", res.status, res.stderr)
	}
	noTrace(t, r)
}

// TestRelativePaths: with a relative --root and --bundle the whole lifecycle works
// (run from the bundle's parent directory), and each error names the container.
func TestRelativePaths(t *testing.T) {
	b := bundle(t, "true")
	parent := filepath.Dir(b)
	os.Mkdir(filepath.Join(parent, "empty"), 0o755)
	rel := runtime{bin: runsc, root: "relroot"}
	if res := rel.cmdIn(t, parent, "run", "--bundle", filepath.Base(b), "rel"); res.status != 0 {
		t.Fatalf("run with relative paths: %d %s", res.status, res.stderr)
	}
	if res := rel.cmdIn(t, parent, "create", "--bundle", filepath.Base(b), "rel2"); res.status != 0 {
		t.Fatalf("create with relative paths: %d %s", res.status, res.stderr)
	}
	for _, args := range [][]string{{"start", "rel2"}, {"state", "rel2"}, {"delete", "--force", "rel2"}} {
		if res := rel.cmdIn(t, parent, args...); res.status != 0 {
			t.Errorf("%v with a relative --root: %d %s", args, res.status, res.stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--bundle", "empty", "e1"}, `create "e1": bundle ` + filepath.Join(parent, "empty") + " has no config.json"},
		{[]string{"run", "--bundle", "nosuch", "e2"}, `run "e2": bundle ` + filepath.Join(parent, "nosuch")},
		{[]string{"create", "--bundle", "../x", "../e3"}, `create "../e3": invalid container id`},
		{[]string{"state", "e4"}, `state "e4": container does not exist`},
		{[]string{"start", "e5"}, `start "e5": container does not exist`},
		{[]string{"kill", "e6"}, `kill "e6": container does not exist`},
		{[]string{"delete", "e7"}, `delete "e7": container does not exist`},
		{[]string{"pause", "e8"}, `"e8"`},
		{[]string{"exec", "e9", "true"}, `"e9"`},
	} {
		if res := rel.cmdIn(t, parent, tc.args...); res.status == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: status %d, stderr %q; want non-zero and %q", tc.args, res.status, res.stderr, tc.want)
		}
	}
	noTrace(t, runtime{bin: runsc, root: filepath.Join(parent, "relroot")})
}
