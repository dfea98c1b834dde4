package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// editSpec rewrites bundle b's config.json with edit.
func editSpec(t *testing.T, b string, edit func(spec map[string]any)) {
	t.Helper()
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	edit(spec)
	data, _ = json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// linuxOf is the spec's linux object.
func linuxOf(spec map[string]any) map[string]any {
	l, _ := spec["linux"].(map[string]any)
	if l == nil {
		l = map[string]any{}
		spec["linux"] = l
	}
	return l
}

// pauseLifecycle drives a container through pause and resume, and what may and may
// not be done to a paused one, logging each step's exit status and the status after.
func pauseLifecycle(t *testing.T, r runtime, b, id string) []string {
	var log []string
	step := func(name string, res result) {
		log = append(log, fmt.Sprintf("%s: exit %d, then %s", name, res.status, r.status(t, id)))
	}
	out := filepath.Join(t.TempDir(), "out")
	step("create", r.create(t, b, id, out))
	step("pause created", r.cmd(t, "pause", id))
	step("start paused", r.cmd(t, "start", id))
	step("resume", r.cmd(t, "resume", id))
	step("resume again", r.cmd(t, "resume", id))
	step("start", r.cmd(t, "start", id))
	step("pause", r.cmd(t, "pause", id))
	step("pause again", r.cmd(t, "pause", id))
	step("delete paused", r.cmd(t, "delete", id))
	step("kill paused TERM", r.cmd(t, "kill", id, "TERM"))
	step("resume", r.cmd(t, "resume", id))
	step("pause", r.cmd(t, "pause", id))
	step("kill --all paused USR1", r.cmd(t, "kill", "--all", id, "USR1"))
	step("pause", r.cmd(t, "pause", id))
	res := r.cmd(t, "kill", id, "KILL")
	r.waitStopped(t, id) // SIGKILL ends it, a moment later
	log = append(log, fmt.Sprintf("kill paused KILL: exit %d, then stopped", res.status))
	step("pause stopped", r.cmd(t, "pause", id))
	step("resume stopped", r.cmd(t, "resume", id))
	step("delete", r.cmd(t, "delete", id))
	id2 := id + "-force"
	r.create(t, b, id2, out)
	r.cmd(t, "start", id2)
	res = r.cmd(t, "pause", id2)
	log = append(log, fmt.Sprintf("pause: exit %d, then %s", res.status, r.status(t, id2)))
	res = r.cmd(t, "delete", "--force", id2)
	log = append(log, fmt.Sprintf("delete --force paused: exit %d", res.status))
	if _, err := os.Stat(filepath.Join(r.root, id2)); !os.IsNotExist(err) {
		log = append(log, "state directory left behind")
	}
	return log
}

// TestPauseMatchesRunc: pause and resume make the same transitions, with the same exit
// statuses, as runc's: a created container can be paused and resumes as created; a
// paused one can't be started, paused again or deleted without --force; kill reaches
// it, kill --all resumes it, SIGKILL stops it.
func TestPauseMatchesRunc(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", "trap 'echo usr1' USR1; while true; do sleep 0.1; done")
	id := fmt.Sprintf("moat-pause-%d", os.Getpid())
	want := pauseLifecycle(t, newRuntime(t, "runc"), b, id)
	got := pauseLifecycle(t, newRuntime(t, runsc), b, id)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pause lifecycle differs:\nrunc:\n  %s\nrunsc:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
}

// eventually polls cond for up to 30s (the machine may be loaded) and reports whether
// it came true.
func eventually(cond func() bool) bool {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// lineCount is the number of lines in file.
func lineCount(file string) int {
	data, _ := os.ReadFile(file)
	return strings.Count(string(data), "\n")
}

// TestPauseStopsApplication: while paused no process runs application code (the
// output of two busy processes stops growing), and it goes on after resume; a sleep
// keeps counting while paused, as under Linux's freezer, and ends at the resume.
func TestPauseStopsApplication(t *testing.T) {
	r := newRuntime(t, runsc)
	b := bundle(t, "sh", "-c", "(while true; do echo b; done) & while true; do echo a; done")
	out := filepath.Join(t.TempDir(), "out")
	if res := r.create(t, b, "busy", out); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	defer r.cmd(t, "delete", "--force", "busy")
	r.cmd(t, "start", "busy")
	bothRunning := func(from int) func() bool {
		return func() bool {
			data, _ := os.ReadFile(out)
			tail := string(data[min(from, len(data)):])
			return strings.Contains(tail, "a\n") && strings.Contains(tail, "b\n")
		}
	}
	if !eventually(bothRunning(0)) {
		t.Fatalf("the container's two processes did not both write")
	}
	if res := r.cmd(t, "pause", "busy"); res.status != 0 {
		t.Fatalf("pause: %d %s", res.status, res.stderr)
	}
	n1 := lineCount(out)
	time.Sleep(500 * time.Millisecond)
	if n2 := lineCount(out); n2 != n1 || n1 == 0 {
		t.Errorf("output while paused: %d lines, then %d", n1, n2)
	}
	if res := r.cmd(t, "ps", "--format", "json", "busy"); res.status != 0 || !strings.HasPrefix(res.stdout, "[1,") {
		t.Errorf("ps of a paused container: %d %q %s", res.status, res.stdout, res.stderr)
	}
	if res := r.cmd(t, "resume", "busy"); res.status != 0 {
		t.Fatalf("resume: %d %s", res.status, res.stderr)
	}
	if size := fileSize(out); !eventually(bothRunning(size)) {
		t.Errorf("after resume: the two processes did not both write again (%d lines, had %d)", lineCount(out), n1)
	}
	// Its two busy loops would take the CPUs the timing below needs.
	r.cmd(t, "delete", "--force", "busy")

	// Timers: a 6s sleep paused for 8s, from a second after it has begun (ps shows it),
	// ends soon after the resume, not 6s later. (The output file is polled: it is
	// cheaper than state. The sleep is long enough that a pause slow to take effect on a
	// loaded machine still finds it asleep.)
	b = bundle(t, "sh", "-c", "echo sleeping; sleep 6; echo done")
	out = filepath.Join(t.TempDir(), "out")
	if res := r.create(t, b, "sleeper", out); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	defer r.cmd(t, "delete", "--force", "sleeper")
	r.cmd(t, "start", "sleeper")
	waitOutput := func(want string, timeout time.Duration) bool {
		for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if data, _ := os.ReadFile(out); strings.Contains(string(data), want) {
				return true
			}
		}
		return false
	}
	if !waitOutput("sleeping\n", 20*time.Second) || !eventually(func() bool {
		return strings.Contains(r.cmd(t, "ps", "sleeper").stdout, " sleep 6\n")
	}) {
		t.Fatalf("the container did not start its sleep")
	}
	// ps shows sleep once it is exec'd, which may be before its nanosleep begins: a
	// pause then would hold it before its timer starts. Wait until it sleeps (state S
	// in /proc: it is waiting in a system call, the nanosleep, sh being PID 1).
	if !eventually(func() bool {
		return strings.Contains(r.cmd(t, "exec", "sleeper", "cat", "/proc/2/stat").stdout, "(sleep) S")
	}) {
		t.Fatalf("the sleep did not start sleeping")
	}
	r.cmd(t, "pause", "sleeper")
	time.Sleep(8 * time.Second)
	if data, _ := os.ReadFile(out); string(data) != "sleeping\n" {
		t.Errorf("output while paused: %q", data)
	}
	// Measured from the resume's answer: how long runsc resume takes on a loaded host
	// is not what this checks.
	asked := time.Now()
	r.cmd(t, "resume", "sleeper")
	resumed := time.Now()
	if !waitOutput("done\n", 20*time.Second) {
		t.Fatalf("the sleep never ended")
	}
	// Counted, it ends at the resume; not counted, about 5 s after. 3.5 s leaves room
	// for a loaded host.
	if d := time.Since(resumed); d > 3500*time.Millisecond {
		t.Errorf("the sleep ended %v after the resume (which took %v): its time did not count while paused", d, resumed.Sub(asked))
	}
}

// threadsProgram writes, from each of three threads, its letter every millisecond.
const threadsProgram = `#include <pthread.h>
#include <unistd.h>
static void *loop(void *arg) {
	for (;;) { write(1, arg, 2); usleep(1000); }
	return 0;
}
int main(void) {
	pthread_t t[2];
	pthread_create(&t[0], 0, loop, "b\n");
	pthread_create(&t[1], 0, loop, "c\n");
	loop("a\n");
}
`

// TestPauseStopsThreads: every thread of a multi-threaded process stops while paused,
// and all go on after resume.
func TestPauseStopsThreads(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	src := filepath.Join(dir, "threads.c")
	os.WriteFile(src, []byte(threadsProgram), 0o644)
	if out, err := exec.Command("gcc", "-static", "-pthread", "-O1", "-o", filepath.Join(root, "bin", "threads"), src).CombinedOutput(); err != nil {
		t.Skipf("gcc -static -pthread: %v %s", err, out)
	}
	b := bundle(t, "/bin/threads")
	editSpec(t, b, func(spec map[string]any) { spec["root"] = map[string]any{"path": root, "readonly": true} })
	r := newRuntime(t, runsc)
	out := filepath.Join(t.TempDir(), "out")
	if res := r.create(t, b, "threads", out); res.status != 0 {
		t.Fatalf("create: %d", res.status)
	}
	defer r.cmd(t, "delete", "--force", "threads")
	r.cmd(t, "start", "threads")
	allWrote := func(from int) func() bool {
		return func() bool {
			data, _ := os.ReadFile(out)
			tail := string(data[min(from, len(data)):])
			return strings.Contains(tail, "a\n") && strings.Contains(tail, "b\n") && strings.Contains(tail, "c\n")
		}
	}
	if !eventually(allWrote(0)) {
		t.Fatalf("the three threads did not all write")
	}
	if res := r.cmd(t, "pause", "threads"); res.status != 0 {
		t.Fatalf("pause: %d %s", res.status, res.stderr)
	}
	n1 := lineCount(out)
	time.Sleep(500 * time.Millisecond)
	if n2 := lineCount(out); n2 != n1 || n1 == 0 {
		t.Errorf("output while paused: %d lines, then %d", n1, n2)
	}
	size := fileSize(out)
	r.cmd(t, "resume", "threads")
	if !eventually(allWrote(size)) {
		t.Errorf("after resume the three threads did not all write again")
	}
}

// fileSize is file's size in bytes.
func fileSize(file string) int {
	fi, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// TestPsMatchesRunc: ps prints runc's header and one line per process with the same
// command; --format json is the list of PIDs, the sandbox's own (init is 1).
func TestPsMatchesRunc(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", "sleep 100 & sleep 200")
	psOf := func(r runtime, id string) (header string, cmds []string, pids []int) {
		if res := r.create(t, b, id, filepath.Join(t.TempDir(), "out")); res.status != 0 {
			t.Fatalf("%s create: %d", r.bin, res.status)
		}
		defer r.cmd(t, "delete", "--force", id)
		r.cmd(t, "start", id)
		var res result
		eventually(func() bool {
			res = r.cmd(t, "ps", id)
			return twoSleeps(res.stdout)
		})
		if res.status != 0 {
			t.Fatalf("%s ps: %d %s", r.bin, res.status, res.stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		header = lines[0]
		cmdCol := strings.Index(header, "CMD")
		for _, l := range lines[1:] {
			cmds = append(cmds, l[cmdCol:])
		}
		res = r.cmd(t, "ps", "--format", "json", id)
		if err := json.Unmarshal([]byte(res.stdout), &pids); err != nil {
			t.Fatalf("%s ps --format json: %q: %v", r.bin, res.stdout, err)
		}
		return header, cmds, pids
	}
	id := fmt.Sprintf("moat-ps-%d", os.Getpid())
	wh, wc, wp := psOf(newRuntime(t, "runc"), id)
	gh, gc, gp := psOf(newRuntime(t, runsc), id)
	if gh != wh {
		t.Errorf("header:\nrunc:  %q\nrunsc: %q", wh, gh)
	}
	if strings.Join(gc, "|") != strings.Join(wc, "|") {
		t.Errorf("commands: runc %q, runsc %q", wc, gc)
	}
	if len(gp) != len(wp) || len(gp) != 2 || gp[0] != 1 || gp[1] != 2 {
		t.Errorf("pids: runc %v, runsc %v (want the sandbox's 1 and 2)", wp, gp)
	}
	// A stopped container has no processes: the header alone, as runc.
	r := newRuntime(t, runsc)
	r.create(t, bundle(t, "true"), "done", filepath.Join(t.TempDir(), "out"))
	defer r.cmd(t, "delete", "--force", "done")
	r.cmd(t, "start", "done")
	r.waitStopped(t, "done")
	if res := r.cmd(t, "ps", "done"); res.status != 0 || strings.TrimSpace(res.stdout) != wh {
		t.Errorf("ps of a stopped container: %d %q", res.status, res.stdout)
	}
}

// twoSleeps reports whether a ps table lists two processes, both sleep: the shell has
// forked the first and exec'd the second.
func twoSleeps(table string) bool {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 {
		return false
	}
	// Both processes have exec'd their sleep: a child that has only forked still
	// shows the shell's command line, which ends with a sleep too.
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		if strings.Contains(l, "sh -c") {
			return false
		}
		for _, c := range []string{" sleep 100", " sleep 200"} {
			if strings.HasSuffix(l, c) {
				seen[c] = true
			}
		}
	}
	return len(seen) == 2
}

// statsEvent is the part of an events line the tests read.
type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		CPU struct {
			Usage struct {
				Total, Kernel, User uint64
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Limit, Usage uint64
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current, Limit uint64
		} `json:"pids"`
	} `json:"data"`
}

// TestEvents: events --stats prints one stats object as runc's (the same keys), with the
// sandbox's CPU time and task count; --interval streams until the container stops;
// a stopped container is an error, as runc's.
func TestEvents(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100 & sleep 100")
	keysOf := func(r runtime, id string) []string {
		r.create(t, b, id, filepath.Join(t.TempDir(), "out"))
		defer r.cmd(t, "delete", "--force", id)
		r.cmd(t, "start", id)
		eventually(func() bool { return twoSleeps(r.cmd(t, "ps", id).stdout) })
		res := r.cmd(t, "events", "--stats", id)
		var ev map[string]any
		if err := json.Unmarshal([]byte(res.stdout), &ev); err != nil || res.status != 0 {
			t.Fatalf("%s events --stats: %d %q %s", r.bin, res.status, res.stdout, res.stderr)
		}
		var keys []string
		for k := range ev {
			keys = append(keys, k)
		}
		for k := range ev["data"].(map[string]any) {
			keys = append(keys, "data."+k)
		}
		return keys
	}
	id := fmt.Sprintf("moat-ev-%d", os.Getpid())
	want := strings.Join(sorted(keysOf(newRuntime(t, "runc"), id)), " ")
	got := strings.Join(sorted(keysOf(newRuntime(t, runsc), id)), " ")
	if got != want {
		t.Errorf("keys:\nrunc:  %s\nrunsc: %s", want, got)
	}

	r := newRuntime(t, runsc)
	r.create(t, b, "ev", filepath.Join(t.TempDir(), "out"))
	defer r.cmd(t, "delete", "--force", "ev")
	r.cmd(t, "start", "ev")
	var res result
	var ev statsEvent
	eventually(func() bool {
		res = r.cmd(t, "events", "--stats", "ev")
		json.Unmarshal([]byte(res.stdout), &ev)
		return ev.Data.Pids.Current == 2
	})
	if ev.Type != "stats" || ev.ID != "ev" || ev.Data.Pids.Current != 2 || ev.Data.CPU.Usage.Total == 0 ||
		ev.Data.CPU.Usage.Total != ev.Data.CPU.Usage.User+ev.Data.CPU.Usage.Kernel || ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("events --stats: %+v (%q)", ev, res.stdout)
	}
	// The stream: lines every 100ms until the container stops, then exit 0.
	events := exec.Command(runsc, "--root", r.root, "events", "--interval", "100ms", "ev")
	stdout, _ := events.StdoutPipe()
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	n := 0
	for n < 3 && lines.Scan() {
		if strings.Contains(lines.Text(), `"type":"stats"`) {
			n++
		}
	}
	r.cmd(t, "kill", "--all", "ev", "KILL")
	for lines.Scan() {
	}
	done := make(chan error, 1)
	go func() { done <- events.Wait() }()
	select {
	case err := <-done:
		if err != nil || n < 3 {
			t.Errorf("events --interval: %d events, then %v", n, err)
		}
	case <-time.After(30 * time.Second):
		events.Process.Kill()
		t.Errorf("events --interval went on after the container stopped")
	}
	r.waitStopped(t, "ev")
	if res := r.cmd(t, "events", "--stats", "ev"); res.status == 0 || !strings.Contains(res.stderr, "is not running") {
		t.Errorf("events of a stopped container: %d %q", res.status, res.stderr)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// hookScript writes a hook that appends "NAME STATUS PID-SET ENV" to log, reading the
// state from stdin, and exits with code; it returns its path.
func hookScript(t *testing.T, dir string) string {
	path := filepath.Join(dir, "hook.sh")
	script := `#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
pid=$(echo "$state" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
id=$(echo "$state" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
echo "$1 $status pid=${pid:+set} argv0=$0 env=$HOOKVAR path=${PATH:-unset}" >>"$2"
[ -n "$4" ] && sleep "$4"
exit ${3:-0}
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// withHooks gives bundle b a hook of each kind logging to log; fail names a kind whose
// hook exits 1 (and, with slow, sleeps past its 1s timeout instead).
func withHooks(t *testing.T, b, script, log, fail string, slow bool) {
	editSpec(t, b, func(spec map[string]any) {
		hooks := map[string]any{}
		for _, kind := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
			code, sleep := "0", ""
			if kind == fail {
				code = "1"
				if slow {
					code, sleep = "0", "30"
				}
			}
			args := []string{"myhook", kind, log, code}
			if sleep != "" {
				args = append(args, sleep)
			}
			h := map[string]any{"path": script, "args": args, "env": []string{"HOOKVAR=" + kind}}
			if slow {
				h["timeout"] = 1
			}
			hooks[kind] = []any{h}
		}
		spec["hooks"] = hooks
	})
}

// TestHooksMatchRunc: the hooks run at the same points as runc's, each with the state
// (its status at that point, the container's PID but at poststop) on stdin and
// exactly its env: prestart, createRuntime and createContainer at create, poststop at
// delete. Two points differ, on purpose: runc 1.1 runs poststart hooks at create (in
// the created status), where the spec and runsc run them at start, after
// startContainer; and runc runs startContainer in the container (so its path must be
// in the container's root), where runsc runs it on the host.
func TestHooksMatchRunc(t *testing.T) {
	needRunc(t)
	dir := t.TempDir()
	script := hookScript(t, dir)
	run := func(r runtime, id string) (compared, start string) {
		log := filepath.Join(dir, filepath.Base(r.bin)+".log")
		b := bundle(t, "sh", "-c", "sleep 100")
		withHooks(t, b, script, log, "", false)
		var steps []string
		mark := func(s string, res result) {
			data, _ := os.ReadFile(log)
			os.Remove(log)
			if s == "start" {
				start = string(data)
				return
			}
			var lines []string
			for _, l := range strings.SplitAfter(string(data), "\n") {
				if !strings.HasPrefix(l, "poststart ") {
					lines = append(lines, l)
				}
			}
			steps = append(steps, fmt.Sprintf("%s exit %d:\n%s", s, res.status, strings.Join(lines, "")))
		}
		mark("create", r.create(t, b, id, filepath.Join(t.TempDir(), "out")))
		mark("start", r.cmd(t, "start", id))
		r.cmd(t, "kill", id, "KILL")
		r.waitStopped(t, id)
		mark("delete", r.cmd(t, "delete", id))
		return strings.Join(steps, ""), start
	}
	id := fmt.Sprintf("moat-hooks-%d", os.Getpid())
	want, _ := run(newRuntime(t, "runc"), id)
	got, start := run(newRuntime(t, runsc), id)
	if got != want {
		t.Errorf("hooks differ:\nrunc:\n%s\nrunsc:\n%s", want, got)
	}
	path := "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" // sh's default: the env is the hook's alone
	wantStart := fmt.Sprintf("startContainer created pid=set argv0=%s env=startContainer %s\npoststart running pid=set argv0=%s env=poststart %s\n", script, path, script, path)
	if start != wantStart {
		t.Errorf("hooks at start:\n%s\nwant:\n%s", start, wantStart)
	}
}

// TestHookFailures: a failing or timed-out prestart, createRuntime or createContainer
// hook fails create and leaves nothing; a failing startContainer hook fails start and
// stops the container; failing poststart and poststop hooks are warnings.
func TestHookFailures(t *testing.T) {
	dir := t.TempDir()
	script := hookScript(t, dir)
	log := filepath.Join(dir, "log")
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		for _, slow := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s slow=%v", kind, slow), func(t *testing.T) {
				r := newRuntime(t, runsc)
				b := bundle(t, "sleep", "100")
				withHooks(t, b, script, log, kind, slow)
				start := time.Now()
				res := r.cmd(t, "create", "--bundle", b, "hookfail")
				if res.status == 0 || !strings.Contains(res.stderr, `create "hookfail": running `+kind+" hook #0") {
					t.Errorf("create: %d %q", res.status, res.stderr)
				}
				if slow && (!strings.Contains(res.stderr, "timed out") || time.Since(start) > 20*time.Second) {
					t.Errorf("a hook past its timeout: %q after %v", res.stderr, time.Since(start))
				}
				noTrace(t, r)
			})
		}
	}
	t.Run("startContainer", func(t *testing.T) {
		r := newRuntime(t, runsc)
		b := bundle(t, "sleep", "100")
		withHooks(t, b, script, log, "startContainer", false)
		r.create(t, b, "sc", filepath.Join(t.TempDir(), "out"))
		if res := r.cmd(t, "start", "sc"); res.status == 0 || !strings.Contains(res.stderr, "startContainer hook #0") {
			t.Errorf("start: %d %q", res.status, res.stderr)
		}
		if s := r.status(t, "sc"); s != "stopped" {
			t.Errorf("after a failed startContainer hook: %s", s)
		}
		r.cmd(t, "delete", "sc")
		noTrace(t, r)
	})
	for _, kind := range []string{"poststart", "poststop"} {
		t.Run(kind, func(t *testing.T) {
			r := newRuntime(t, runsc)
			b := bundle(t, "sleep", "100")
			withHooks(t, b, script, log, kind, false)
			// A second hook of the kind, after the failing one, runs all the same.
			editSpec(t, b, func(spec map[string]any) {
				hooks := spec["hooks"].(map[string]any)
				hooks[kind] = append(hooks[kind].([]any), map[string]any{"path": script, "args": []string{"second", "second-" + kind, log}})
			})
			os.Remove(log)
			r.create(t, b, "ps", filepath.Join(t.TempDir(), "out"))
			res := r.cmd(t, "start", "ps")
			if kind == "poststart" && (res.status != 0 || !strings.Contains(res.stderr, "poststart hook #0")) {
				t.Errorf("start: %d %q, want success with a warning", res.status, res.stderr)
			}
			res = r.cmd(t, "delete", "--force", "ps")
			if kind == "poststop" && (res.status != 0 || !strings.Contains(res.stderr, "poststop hook #0")) {
				t.Errorf("delete: %d %q, want success with a warning", res.status, res.stderr)
			}
			if data, _ := os.ReadFile(log); !strings.Contains(string(data), "second-"+kind) {
				t.Errorf("the %s hook after the failing one did not run: %q", kind, data)
			}
			noTrace(t, r)
		})
	}
}

// cgroupDirs are the directories of cgroup path in each v1 hierarchy the sandbox joins,
// or the v2 one.
func cgroupDirs(path string) []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{filepath.Join("/sys/fs/cgroup", path)}
	}
	var dirs []string
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "devices", "memory", "pids"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err == nil {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", c, path))
		}
	}
	return dirs
}

// readFile returns dir/name's content, trimmed.
func readFile(dir, name string) string {
	data, _ := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(data))
}

// TestCgroups: the sandbox, its Gofer and its stubs are in the spec's cgroup with its
// limits; delete removes it; 20 run/delete cycles leave none; a bad value is an error
// naming the container and leaves nothing; --systemd-cgroup takes slice:prefix:name.
func TestCgroups(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no cgroup filesystem")
		}
	}
	v1 := true
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v1 = false
	}
	parent := fmt.Sprintf("/moat-test-%d", os.Getpid())
	path := parent + "/limited"
	r := newRuntime(t, runsc)
	b := bundle(t, "sleep", "100")
	withResources := func(b, path string, res map[string]any) {
		editSpec(t, b, func(spec map[string]any) {
			l := linuxOf(spec)
			l["cgroupsPath"] = path
			l["resources"] = res
		})
	}
	withResources(b, path, map[string]any{
		"memory": map[string]any{"limit": 512 << 20, "reservation": 256 << 20, "swap": 1 << 30},
		"cpu":    map[string]any{"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
		"pids":   map[string]any{"limit": 1000},
		"devices": []map[string]any{{"allow": false, "access": "rwm"},
			{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
			{"allow": true, "type": "c", "major": 136, "access": "rw"}},
	})
	if res := r.create(t, b, "cg", filepath.Join(t.TempDir(), "out")); res.status != 0 {
		data, _ := os.ReadFile(filepath.Join(t.TempDir(), "out.err"))
		t.Fatalf("create: %d %s", res.status, data)
	}
	r.cmd(t, "start", "cg")
	st, _ := r.state(t, "cg")
	dirs := cgroupDirs(path)
	for _, d := range dirs {
		procs := strings.Fields(readFile(d, "cgroup.procs"))
		if len(procs) < 2 || !contains(procs, strconv.Itoa(st.PID)) {
			t.Errorf("%s/cgroup.procs: %v, want the sandbox %d and its Gofer and stubs", d, procs, st.PID)
		}
		for _, kid := range children(st.PID) {
			if !contains(procs, strconv.Itoa(kid)) {
				t.Errorf("%s: the sandbox's child %d is not in it", d, kid)
			}
		}
	}
	if v1 {
		for file, want := range map[string]string{
			"memory/" + path + "/memory.limit_in_bytes":       strconv.Itoa(512 << 20),
			"memory/" + path + "/memory.soft_limit_in_bytes":  strconv.Itoa(256 << 20),
			"memory/" + path + "/memory.memsw.limit_in_bytes": strconv.Itoa(1 << 30),
			"cpu/" + path + "/cpu.shares":                     "512",
			"cpu/" + path + "/cpu.cfs_quota_us":               "50000",
			"cpu/" + path + "/cpu.cfs_period_us":              "100000",
			"cpuset/" + path + "/cpuset.cpus":                 "0",
			"pids/" + path + "/pids.max":                      "1000",
		} {
			full := filepath.Join("/sys/fs/cgroup", file)
			if _, err := os.Stat(full); err != nil && strings.Contains(file, "memsw") {
				continue // no swap accounting
			}
			if got := readFile(filepath.Dir(full), filepath.Base(full)); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		// The spec's device rules in order, then /dev/null, which the sandbox needs,
		// and on kvm /dev/kvm.
		want := "c 1:5 rwm\nc 136:* rw\nc 1:3 rw"
		if os.Getenv("MOAT_PLATFORM") == "kvm" {
			want += "\nc 10:232 rw"
		}
		if got := readFile("/sys/fs/cgroup/devices/"+path, "devices.list"); got != want {
			t.Errorf("devices.list = %q, want %q", got, want)
		}
	} else {
		d := dirs[0]
		for file, want := range map[string]string{"memory.max": strconv.Itoa(512 << 20), "memory.low": strconv.Itoa(256 << 20),
			"cpu.max": "50000 100000", "cpuset.cpus": "0", "pids.max": "1000"} {
			if got := readFile(d, file); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
	}
	res := r.cmd(t, "events", "--stats", "cg")
	var ev statsEvent
	json.Unmarshal([]byte(res.stdout), &ev)
	if ev.Data.Memory.Usage.Limit != 512<<20 || ev.Data.Pids.Limit != 1000 {
		t.Errorf("events --stats: memory limit %d, pids limit %d (%s)", ev.Data.Memory.Usage.Limit, ev.Data.Pids.Limit, res.stdout)
	}
	if res := r.cmd(t, "delete", "--force", "cg"); res.status != 0 {
		t.Errorf("delete: %d %s", res.status, res.stderr)
	}
	noCgroup := func(path string) {
		t.Helper()
		for _, d := range cgroupDirs(path) {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left behind", d)
				os.Remove(d)
			}
		}
	}
	noCgroup(path)
	noCgroup(parent)

	// 20 run/delete cycles.
	b = bundle(t, "true")
	withResources(b, path, map[string]any{"memory": map[string]any{"limit": 256 << 20}, "pids": map[string]any{"limit": 500}})
	for i := 0; i < 20; i++ {
		if res := r.cmd(t, "run", "--bundle", b, fmt.Sprintf("cycle%d", i)); res.status != 0 {
			t.Fatalf("run %d: %d %s", i, res.status, res.stderr)
		}
	}
	noCgroup(path)
	noCgroup(parent)
	noTrace(t, r)

	// Bad values.
	for name, res := range map[string]map[string]any{
		"cpus":   {"cpu": map[string]any{"cpus": "not-a-cpu-list"}},
		"quota":  {"cpu": map[string]any{"quota": 10, "period": 100000}},
		"memory": {"memory": map[string]any{"limit": -5}},
	} {
		b := bundle(t, "true")
		withResources(b, path, res)
		out := r.cmd(t, "create", "--bundle", b, "bad-"+name)
		if out.status == 0 || !strings.Contains(out.stderr, `create "bad-`+name+`": cgroup: setting`) {
			t.Errorf("%s: %d %q", name, out.status, out.stderr)
			r.cmd(t, "delete", "--force", "bad-"+name)
		}
		noCgroup(path)
		noCgroup(parent)
		noTrace(t, r)
	}

	// systemd's form.
	b = bundle(t, "sleep", "100")
	withResources(b, fmt.Sprintf("moattest%d.slice:moat:sd", os.Getpid()), map[string]any{"pids": map[string]any{"limit": 700}})
	sys := runtime{bin: runsc, root: r.root}
	f, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	defer f.Close()
	cmd := exec.Command(runsc, "--root", r.root, "--systemd-cgroup", "create", "--bundle", b, "sd")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(f.Name())
		t.Fatalf("create --systemd-cgroup: %v %s", err, data)
	}
	scope := fmt.Sprintf("/moattest%d.slice/moat-sd.scope", os.Getpid())
	for _, d := range cgroupDirs(scope) {
		if strings.Contains(d, "/pids") || !v1 {
			if got := readFile(d, "pids.max"); got != "700" {
				t.Errorf("%s/pids.max = %q", d, got)
			}
		}
	}
	sys.cmd(t, "delete", "--force", "sd")
	noCgroup(scope)
	noCgroup(filepath.Dir(scope))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLogFormatJSON: with --log and --log-format json an error is a JSON line in the
// log, as runc's (the keys containerd reads), and a plain line on stderr; --debug-log
// gets it too.
func TestLogFormatJSON(t *testing.T) {
	dir := t.TempDir()
	for _, bin := range []string{"runc", runsc} {
		log := filepath.Join(dir, filepath.Base(bin)+".json")
		res := runCmd(t, bin, "--root", t.TempDir(), "--log", log, "--log-format", "json", "pause", "nope")
		data, _ := os.ReadFile(log)
		var entry map[string]string
		if err := json.Unmarshal(data, &entry); err != nil || res.status != 1 {
			t.Errorf("%s: status %d, log %q: %v", bin, res.status, data, err)
			continue
		}
		if entry["level"] != "error" || !strings.Contains(entry["msg"], "container does not exist") || entry["time"] == "" {
			t.Errorf("%s: log entry %v", bin, entry)
		}
		if !strings.Contains(res.stderr, "container does not exist") || strings.Contains(res.stderr, "{") {
			t.Errorf("%s: stderr %q, want the plain message", bin, res.stderr)
		}
	}
	debug := filepath.Join(dir, "debug.log")
	runCmd(t, runsc, "--root", t.TempDir(), "--debug-log", debug, "state", "nope")
	if data, _ := os.ReadFile(debug); !strings.Contains(string(data), `level=error msg="state \"nope\": container does not exist"`) {
		t.Errorf("--debug-log: %q", data)
	}
}
