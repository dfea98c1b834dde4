package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// msgqSource sends a System V message (msgq send TEXT) or receives it (msgq), under a
// fixed key, as two containers of a pod would share one.
const msgqSource = `#include <stdio.h>
#include <string.h>
#include <sys/msg.h>
struct m { long type; char text[64]; };
int main(int argc, char **argv) {
	key_t key = 0x6d6f6174;
	struct m msg = {1, ""};
	if (argc > 2 && strcmp(argv[1], "send") == 0) {
		int id = msgget(key, IPC_CREAT | 0600);
		if (id < 0) { perror("msgget"); return 1; }
		strncpy(msg.text, argv[2], sizeof msg.text - 1);
		if (msgsnd(id, &msg, sizeof msg.text, 0) < 0) { perror("msgsnd"); return 1; }
		return 0;
	}
	int id = msgget(key, 0);
	if (id < 0) { perror("msgget"); return 1; }
	if (msgrcv(id, &msg, sizeof msg.text, 0, IPC_NOWAIT) < 0) { perror("msgrcv"); return 1; }
	printf("%s\n", msg.text);
	msgctl(id, IPC_RMID, 0);
	return 0;
}
`

// podAnnotations are the two ways Kubernetes' runtimes mark a pod's containers.
var podAnnotations = []struct {
	name           string
	typeKey, idKey string
}{
	{"containerd", "io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},
	{"cri-o", "io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"},
}

// podRootfs makes a root filesystem of its own for a container of a pod: busybox,
// the msgq program, and a file /only-NAME.
func podRootfs(t *testing.T, name, msgq string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs-"+name)
	for _, d := range []string{"bin", "etc", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	for src, dst := range map[string]string{filepath.Join(rootfs, "bin", "busybox"): "bin/busybox", msgq: "bin/msgq"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, dst), data, 0o755)
	}
	for _, a := range []string{"sh", "ls", "cat", "sleep", "ps"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	os.WriteFile(filepath.Join(dir, "only-"+name), []byte(name+"\n"), 0o644)
	return dir
}

// podBundle is a bundle over root with the given annotations, running args.
func podBundle(t *testing.T, root string, annotations map[string]string, args ...string) string {
	t.Helper()
	b := bundle(t, args...)
	editSpec(t, b, func(spec map[string]any) {
		spec["root"] = map[string]any{"path": root, "readonly": true}
		spec["annotations"] = annotations
	})
	return b
}

// setPIDNamespace makes the pid namespace entry of bundle b's spec name path.
func setPIDNamespace(t *testing.T, b, path string) {
	t.Helper()
	editSpec(t, b, func(spec map[string]any) {
		l := spec["linux"].(map[string]any)
		var nss []any
		for _, n := range l["namespaces"].([]any) {
			if n.(map[string]any)["type"] != "pid" {
				nss = append(nss, n)
			}
		}
		l["namespaces"] = append(nss, map[string]any{"type": "pid", "path": path})
	})
}

// psPIDs is runsc ps --format json of id.
func psPIDs(t *testing.T, r runtime, id string) []int {
	t.Helper()
	res := r.cmd(t, "ps", "--format", "json", id)
	var pids []int
	if res.status != 0 || json.Unmarshal([]byte(res.stdout), &pids) != nil {
		t.Fatalf("ps %s: %+v", id, res)
	}
	return pids
}

// TestPod: a pod's sandbox (the pause container) and two containers with their own
// root filesystems in its Sentry, as containerd's CRI plugin and CRI-O drive runsc.
// Each container sees only its own files and has its own processes; they share System
// V IPC; each is killed and deleted alone; deleting the sandbox takes the rest; and
// nothing is left.
func TestPod(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	src := filepath.Join(t.TempDir(), "msgq.c")
	os.WriteFile(src, []byte(msgqSource), 0o644)
	msgq := filepath.Join(t.TempDir(), "msgq")
	if out, err := exec.Command("gcc", "-static", "-O1", "-o", msgq, src).CombinedOutput(); err != nil {
		t.Skipf("gcc -static: %v %s", err, out)
	}
	for _, ann := range podAnnotations {
		t.Run(ann.name, func(t *testing.T) {
			r := newRuntime(t, runsc)
			out := t.TempDir()
			member := map[string]string{ann.typeKey: "container", ann.idKey: "pod"}
			sandbox := podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "sleep", "1000")
			if res := r.create(t, sandbox, "pod", filepath.Join(out, "pod")); res.status != 0 {
				t.Fatalf("create pod: %+v", res)
			}
			if res := r.cmd(t, "start", "pod"); res.status != 0 {
				t.Fatalf("start pod: %+v", res)
			}
			podState, _ := r.state(t, "pod")
			// a's init is a shell with a child of its own.
			bundles := map[string]string{
				"a": podBundle(t, podRootfs(t, "a", msgq), member, "sh", "-c", "sleep 1001 & wait"),
				"b": podBundle(t, podRootfs(t, "b", msgq), member, "sleep", "1000"),
				"c": podBundle(t, podRootfs(t, "c", msgq), member, "sh", "-c", "echo hello from c; exit 3"),
			}
			for _, id := range []string{"a", "b", "c"} {
				if res := r.create(t, bundles[id], id, filepath.Join(out, id)); res.status != 0 {
					data, _ := os.ReadFile(filepath.Join(out, id+".err"))
					t.Fatalf("create %s: %+v %s", id, res, data)
				}
				if st := r.status(t, id); st != "created" {
					t.Errorf("%s after create: %s", id, st)
				}
				if res := r.cmd(t, "start", id); res.status != 0 {
					t.Fatalf("start %s: %+v", id, res)
				}
			}
			st, _ := r.state(t, "a")
			if st.Status != "running" || st.PID != podState.PID || st.PID == 0 {
				t.Errorf("state a: %+v; the sandbox's pid is %d", st, podState.PID)
			}

			// c exits by itself: its status is recorded, its output is its own.
			if res := r.cmd(t, "wait", "c"); !strings.Contains(res.stdout, `"exitStatus":3`) {
				t.Errorf("wait c: %+v", res)
			}
			if data, _ := os.ReadFile(filepath.Join(out, "c")); string(data) != "hello from c\n" {
				t.Errorf("c's stdout: %q", data)
			}
			if res := r.cmd(t, "delete", "c"); res.status != 0 {
				t.Errorf("delete c: %+v", res)
			}

			// Each sees its own root only.
			for _, c := range []struct{ id, mine, other string }{{"a", "/only-a", "/only-b"}, {"b", "/only-b", "/only-a"}} {
				if res := r.cmd(t, "exec", c.id, "cat", c.mine); res.status != 0 || res.stdout != c.id+"\n" {
					t.Errorf("exec %s cat %s: %+v", c.id, c.mine, res)
				}
				if res := r.cmd(t, "exec", c.id, "cat", c.other); res.status == 0 {
					t.Errorf("exec %s cat %s: %+v", c.id, c.other, res)
				}
			}
			// They share System V IPC.
			if res := r.cmd(t, "exec", "a", "msgq", "send", "across-the-pod"); res.status != 0 {
				t.Errorf("exec a msgq send: %+v", res)
			}
			if res := r.cmd(t, "exec", "b", "msgq"); res.status != 0 || res.stdout != "across-the-pod\n" {
				t.Errorf("exec b msgq: %+v", res)
			}
			// Each has a PID namespace of its own: its init is 1, its /proc shows only
			// its own processes.
			eventually(func() bool {
				res := r.cmd(t, "exec", "a", "ps", "-o", "pid,args")
				return strings.Contains(res.stdout, "    1 sh -c sleep 1001 & wait") && strings.Contains(res.stdout, "    2 sleep 1001")
			})
			for _, c := range []struct{ id, init string }{{"a", "sh -c sleep 1001 & wait"}, {"b", "sleep 1000"}} {
				res := r.cmd(t, "exec", c.id, "ps", "-o", "pid,args")
				lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
				if res.status != 0 || !strings.Contains(res.stdout, "    1 "+c.init+"\n") {
					t.Errorf("exec %s ps: init is not 1: %+v", c.id, res)
				}
				want := map[string]int{"a": 4, "b": 3}[c.id] // the header, init (and a's child), ps
				if len(lines) != want || strings.Contains(res.stdout, map[string]string{"a": "sleep 1000", "b": "sleep 1001"}[c.id]) {
					t.Errorf("exec %s ps: others' processes are visible: %+v", c.id, res)
				}
			}
			if res := r.cmd(t, "exec", "b", "cat", "/proc/self/status"); !strings.Contains(res.stdout, "\nPPid:\t0\n") || !strings.Contains(res.stdout, "\nNSpid:\t") {
				t.Errorf("exec b cat /proc/self/status: %+v", res)
			}
			// A container whose spec names the sandbox's PID namespace joins it: it sees
			// the pod's processes, a's among them.
			shared := podBundle(t, podRootfs(t, "s", msgq), member, "sleep", "1002")
			setPIDNamespace(t, shared, fmt.Sprintf("/proc/%d/ns/pid", podState.PID))
			if res := r.create(t, shared, "s", filepath.Join(out, "s")); res.status != 0 {
				t.Fatalf("create s: %+v", res)
			}
			r.cmd(t, "start", "s")
			if res := r.cmd(t, "exec", "s", "ps", "-o", "pid,args"); !strings.Contains(res.stdout, "    1 sleep 1000\n") ||
				!strings.Contains(res.stdout, "sleep 1001") || !strings.Contains(res.stdout, "sleep 1002") {
				t.Errorf("exec s ps (the pod's namespace): %+v", res)
			}
			if res := r.cmd(t, "delete", "--force", "s"); res.status != 0 {
				t.Errorf("delete --force s: %+v", res)
			}
			// One naming another namespace is refused.
			other := podBundle(t, podRootfs(t, "o", msgq), member, "sleep", "1003")
			setPIDNamespace(t, other, "/proc/self/ns/pid")
			if res := r.create(t, other, "o", filepath.Join(out, "o")); res.status == 0 {
				t.Errorf("create o with the host's PID namespace: %+v", res)
			} else if data, _ := os.ReadFile(filepath.Join(out, "o.err")); !strings.Contains(string(data), "is not the pod's sandbox's") {
				t.Errorf("create o with the host's PID namespace: %s", data)
			}

			// Separate processes.
			var pa []int
			eventually(func() bool { pa = psPIDs(t, r, "a"); return len(pa) == 2 })
			pb, pp := psPIDs(t, r, "b"), psPIDs(t, r, "pod")
			if len(pa) != 2 || len(pb) != 1 || len(pp) != 1 || pp[0] != 1 || pb[0] == pa[0] || pb[0] == pa[1] {
				t.Errorf("ps: a %v, b %v, pod %v", pa, pb, pp)
			}

			// Killing a's init stops a (its other process too), not b or the pod.
			if res := r.cmd(t, "kill", "a", "KILL"); res.status != 0 {
				t.Errorf("kill a: %+v", res)
			}
			if res := r.cmd(t, "wait", "a"); !strings.Contains(res.stdout, `"exitStatus":137`) {
				t.Errorf("wait a: %+v", res)
			}
			if sb, pod := r.status(t, "b"), r.status(t, "pod"); sb != "running" || pod != "running" {
				t.Errorf("after a stopped: b %s, pod %s", sb, pod)
			}
			if res := r.cmd(t, "exec", "b", "ps", "-o", "args"); res.status != 0 || strings.Contains(res.stdout, "sleep 1001") {
				t.Errorf("a's child is left: %+v", res)
			}
			if res := r.cmd(t, "delete", "a"); res.status != 0 {
				t.Errorf("delete a: %+v", res)
			}
			if res := r.cmd(t, "state", "a"); res.status == 0 {
				t.Errorf("state a after delete: %+v", res)
			}
			if r.status(t, "b") != "running" {
				t.Errorf("b after a's delete: %s", r.status(t, "b"))
			}
			// A container killed before its start ends with the signal; a running one
			// is deleted with --force only; the pod goes on.
			d := podBundle(t, podRootfs(t, "d", msgq), member, "sleep", "1000")
			for _, id := range []string{"d", "e"} {
				if res := r.create(t, d, id, filepath.Join(out, id)); res.status != 0 {
					t.Fatalf("create %s: %+v", id, res)
				}
			}
			if res := r.cmd(t, "kill", "d", "TERM"); res.status != 0 {
				t.Errorf("kill d before start: %+v", res)
			}
			if res := r.cmd(t, "wait", "d"); !strings.Contains(res.stdout, `"exitStatus":143`) {
				t.Errorf("wait d: %+v", res)
			}
			r.cmd(t, "start", "e")
			if res := r.cmd(t, "delete", "e"); res.status == 0 {
				t.Errorf("delete of a running e without --force: %+v", res)
			}
			for _, id := range []string{"d", "e"} {
				if res := r.cmd(t, "delete", "--force", id); res.status != 0 {
					t.Errorf("delete --force %s: %+v", id, res)
				}
			}
			if r.status(t, "pod") != "running" || r.status(t, "b") != "running" {
				t.Errorf("after d and e: pod %s, b %s", r.status(t, "pod"), r.status(t, "b"))
			}
			// kill --all of b (its init, PID 1 of its namespace, has no handler for
			// SIGTERM: only SIGKILL ends it), then deleting the sandbox takes b with it.
			if res := r.cmd(t, "kill", "--all", "b", "KILL"); res.status != 0 {
				t.Errorf("kill --all b: %+v", res)
			}
			r.waitStopped(t, "b")
			if res := r.cmd(t, "delete", "pod"); res.status == 0 {
				t.Errorf("delete of a running pod without --force: %+v", res)
			}
			if res := r.cmd(t, "delete", "--force", "pod"); res.status != 0 {
				t.Errorf("delete --force pod: %+v", res)
			}
			if res := r.cmd(t, "state", "b"); res.status == 0 {
				t.Errorf("state b after the pod's delete: %+v", res)
			}
			noTrace(t, r)
			noMounts(t, out)
		})
	}
}

// noMounts checks that the host has no mount under dir (the Gofers' mounts are in
// their own namespaces).
func noMounts(t *testing.T, dir string) {
	t.Helper()
	data, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(data), dir) {
		t.Errorf("mounts left under %s", dir)
	}
}

// TestPodSandboxGone: a container of a pod whose sandbox is killed is stopped, and
// delete cleans it up; the sandbox's delete takes a created container too.
func TestPodSandboxGone(t *testing.T) {
	r := newRuntime(t, runsc)
	out := t.TempDir()
	ann := podAnnotations[0]
	member := map[string]string{ann.typeKey: "container", ann.idKey: "pod"}
	if res := r.create(t, podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "sleep", "1000"), "pod", filepath.Join(out, "pod")); res.status != 0 {
		t.Fatalf("create pod: %+v", res)
	}
	r.cmd(t, "start", "pod")
	for _, id := range []string{"x", "y"} {
		if res := r.create(t, podBundle(t, rootfs, member, "sleep", "1000"), id, filepath.Join(out, id)); res.status != 0 {
			t.Fatalf("create %s: %+v", id, res)
		}
	}
	r.cmd(t, "start", "x")
	st, _ := r.state(t, "pod")
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitStopped(t, "x")
	if res := r.cmd(t, "wait", "x"); !strings.Contains(res.stdout, `"exitStatus":137`) {
		t.Errorf("wait x: %+v", res)
	}
	if res := r.cmd(t, "delete", "x"); res.status != 0 {
		t.Errorf("delete x: %+v", res)
	}
	if res := r.cmd(t, "delete", "pod"); res.status != 0 {
		t.Errorf("delete pod: %+v", res)
	}
	if res := r.cmd(t, "state", "y"); res.status == 0 {
		t.Errorf("state y after the pod's delete: %+v", res)
	}
	noTrace(t, r)
}

// TestPodErrors: a container naming no sandbox, or a stopped one, is refused with a
// message naming both, and leaves nothing behind.
func TestPodErrors(t *testing.T) {
	r := newRuntime(t, runsc)
	out := t.TempDir()
	ann := podAnnotations[1]
	member := podBundle(t, rootfs, map[string]string{ann.typeKey: "container", ann.idKey: "nopod"}, "true")
	res := r.cmd(t, "create", "--bundle", member, "orphan")
	if res.status == 0 || !strings.Contains(res.stderr, `"orphan"`) || !strings.Contains(res.stderr, `"nopod" does not exist`) {
		t.Errorf("create in a missing sandbox: %+v", res)
	}
	noTrace(t, r)

	if res := r.create(t, podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "true"), "nopod", filepath.Join(out, "pod")); res.status != 0 {
		t.Fatalf("create nopod: %+v", res)
	}
	r.cmd(t, "start", "nopod")
	r.waitStopped(t, "nopod")
	res = r.cmd(t, "create", "--bundle", member, "orphan")
	if res.status == 0 || !strings.Contains(res.stderr, `"orphan"`) || !strings.Contains(res.stderr, `"nopod" is stopped`) {
		t.Errorf("create in a stopped sandbox: %+v", res)
	}
	if res := r.cmd(t, "state", "orphan"); res.status == 0 {
		t.Errorf("state orphan: %+v", res)
	}
	r.cmd(t, "delete", "nopod")

	bad := podBundle(t, rootfs, map[string]string{ann.typeKey: "container"}, "true")
	if res := r.cmd(t, "create", "--bundle", bad, "noid"); res.status == 0 || !strings.Contains(res.stderr, ann.idKey) {
		t.Errorf("create without a sandbox ID: %+v", res)
	}
	noTrace(t, r)
}

// TestPodConsole: a container of a pod with process.terminal gets its own terminal,
// whose master goes over --console-socket as for a container of its own; the window
// size set on the master reaches it (brought up to date when it asks).
func TestPodConsole(t *testing.T) {
	needApplets("stty", "tty")
	r := newRuntime(t, runsc)
	ann := podAnnotations[0]
	if res := r.create(t, podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "sleep", "1000"), "pod", filepath.Join(t.TempDir(), "pod")); res.status != 0 {
		t.Fatalf("create pod: %+v", res)
	}
	defer r.cmd(t, "delete", "--force", "pod")
	r.cmd(t, "start", "pod")
	b := podBundle(t, rootfs, map[string]string{ann.typeKey: "container", ann.idKey: "pod"},
		"sh", "-c", `read l; echo "got:$l"; tty; stty size`)
	editSpec(t, b, func(spec map[string]any) { spec["process"].(map[string]any)["terminal"] = true })
	sock, ch := consoleSocket(t)
	if res := r.cmd(t, "create", "--bundle", b, "--console-socket", sock, "tty"); res.status != 0 {
		t.Fatalf("create tty: %+v", res)
	}
	term := newTerminal(t, ch)
	if res := r.cmd(t, "start", "tty"); res.status != 0 {
		t.Fatalf("start tty: %+v", res)
	}
	term.resize(t, 30, 90)
	term.master.Write([]byte("hello\r"))
	term.expect(t, "got:hello")
	term.expect(t, "/dev/pts/0")
	term.expect(t, "30 90")
	if res := r.cmd(t, "wait", "tty"); !strings.Contains(res.stdout, `"exitStatus":0`) {
		t.Errorf("wait tty: %+v", res)
	}
	if res := r.cmd(t, "delete", "tty"); res.status != 0 {
		t.Errorf("delete tty: %+v", res)
	}
}

// TestPodPauseAndRun: pause of one container of a pod freezes its processes only, and
// resume lets them go on; runsc run of a container of a pod runs it in the pod (its
// init PID 1 of a namespace of its own), to its end, and deletes it.
func TestPodPauseAndRun(t *testing.T) {
	r := newRuntime(t, runsc)
	out := t.TempDir()
	ann := podAnnotations[0]
	member := map[string]string{ann.typeKey: "container", ann.idKey: "pp"}
	if res := r.create(t, podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "sleep", "1000"), "pp", filepath.Join(out, "pp")); res.status != 0 {
		t.Fatalf("create pp: %+v", res)
	}
	r.cmd(t, "start", "pp")
	defer r.cmd(t, "delete", "--force", "pp")
	// p and q count on their stdout, a line every 50 ms.
	counter := []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done"}
	for _, id := range []string{"p", "q"} {
		if res := r.create(t, podBundle(t, rootfs, member, counter...), id, filepath.Join(out, id)); res.status != 0 {
			t.Fatalf("create %s: %+v", id, res)
		}
		if res := r.cmd(t, "start", id); res.status != 0 {
			t.Fatalf("start %s: %+v", id, res)
		}
	}
	size := func(id string) int64 {
		fi, err := os.Stat(filepath.Join(out, id))
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	grows := func(id string) bool {
		before := size(id)
		time.Sleep(500 * time.Millisecond)
		return size(id) > before
	}
	if !eventually(func() bool { return grows("p") }) {
		t.Fatalf("p does not count")
	}
	if res := r.cmd(t, "pause", "p"); res.status != 0 {
		t.Fatalf("pause p: %+v", res)
	}
	if st := r.status(t, "p"); st != "paused" {
		t.Errorf("p after pause: %s", st)
	}
	if grows("p") {
		t.Errorf("p counts while paused")
	}
	if !grows("q") || r.status(t, "pp") != "running" {
		t.Errorf("q or the pod stopped with p: q's output does not grow, pod %s", r.status(t, "pp"))
	}
	if res := r.cmd(t, "resume", "p"); res.status != 0 {
		t.Fatalf("resume p: %+v", res)
	}
	if st := r.status(t, "p"); st != "running" || !grows("p") {
		t.Errorf("p after resume: %s", st)
	}
	for _, id := range []string{"p", "q"} {
		if res := r.cmd(t, "delete", "--force", id); res.status != 0 {
			t.Errorf("delete --force %s: %+v", id, res)
		}
	}

	res := r.cmd(t, "run", "--bundle", podBundle(t, rootfs, member, "sh", "-c", "echo $$ $PPID; exit 4"), "runner")
	if res.status != 4 || res.stdout != "1 0\n" {
		t.Errorf("run of a container of the pod: %+v", res)
	}
	if res := r.cmd(t, "state", "runner"); res.status == 0 {
		t.Errorf("state runner after run: %+v", res)
	}
	if res := r.cmd(t, "delete", "--force", "pp"); res.status != 0 {
		t.Errorf("delete --force pp: %+v", res)
	}
	noTrace(t, r)
}
