package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cgroupScript prints what a container sees of its cgroup at /sys/fs/cgroup (the
// spec's cgroup mount, in runc's default spec): the limits, its processes, the mount
// and whether a write is refused.
const cgroupScript = `cd /sys/fs/cgroup || exit 1
for f in cpu.max cpu.weight cpuset.cpus.effective memory.max memory.swap.max memory.low memory.high memory.min pids.max; do echo "$f: $(cat $f)"; done
echo "first proc: $(cat cgroup.procs | sort -n | busybox head -n 1)"
echo "pids.current positive: $(test $(cat pids.current) -ge 1 && echo yes)"
echo "memory.current positive: $(test $(cat memory.current) -gt 0 && echo yes)"
busybox grep ' /sys/fs/cgroup ' /proc/self/mounts
cat /proc/self/cgroup
(echo 5 > pids.max) 2>/dev/null || echo "write refused"`

// TestCgroupResources: a bundle's linux.resources show in the container's
// /sys/fs/cgroup (cgroup v2, converted as runc converts them), the defaults without
// them, and the spec's cgroup mount is no longer skipped with a warning.
func TestCgroupResources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resources map[string]any
		want      []string
	}{
		{"defaults", nil, []string{"cpu.max: max 100000", "cpu.weight: 100", "memory.max: max",
			"memory.swap.max: max", "memory.low: 0", "memory.high: max", "memory.min: 0", "pids.max: max"}},
		{"limits", map[string]any{
			// 256 MiB and 100 bytes: Linux keeps limits in pages, so 256 MiB shows.
			"memory": map[string]any{"limit": 268435556, "swap": 536871012, "reservation": 104857600},
			"cpu":    map[string]any{"quota": 50000, "period": 100000, "shares": 512, "cpus": "0"},
			"pids":   map[string]any{"limit": 64},
		}, []string{"cpu.max: 50000 100000", "cpu.weight: 20", "cpuset.cpus.effective: 0",
			"memory.max: 268435456", "memory.swap.max: 268435456", "memory.low: 104857600",
			"memory.high: max", "pids.max: 64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, "sh", "-c", cgroupScript)
			editSpec(t, b, func(spec map[string]any) {
				if tc.resources != nil {
					linuxOf(spec)["resources"] = tc.resources
				}
			})
			res := newRuntime(t, runsc).cmd(t, "run", "--bundle", b, fmt.Sprintf("moat-cgroup-%s-%d", tc.name, os.Getpid()))
			if res.status != 0 {
				t.Fatalf("run: %+v", res)
			}
			if strings.Contains(res.stderr, "skipped") {
				t.Errorf("the cgroup mount is skipped: %s", res.stderr)
			}
			for _, w := range append(tc.want, "first proc: 1", "pids.current positive: yes",
				"memory.current positive: yes", "cgroup /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime 0 0",
				"0::/", "write refused") {
				if !strings.Contains(res.stdout, w+"\n") {
					t.Errorf("no %q in:\n%s", w, res.stdout)
				}
			}
		})
	}
}

// TestPodCgroups: each container of a pod sees its own cgroup at /sys/fs/cgroup, with
// its own spec's limits and only its own processes.
func TestPodCgroups(t *testing.T) {
	r := newRuntime(t, runsc)
	out := t.TempDir()
	ann := podAnnotations[0]
	member := map[string]string{ann.typeKey: "container", ann.idKey: "cgpod"}
	sandbox := podBundle(t, rootfs, map[string]string{ann.typeKey: "sandbox"}, "sleep", "1000")
	if res := r.create(t, sandbox, "cgpod", filepath.Join(out, "cgpod")); res.status != 0 {
		t.Fatalf("create cgpod: %+v", res)
	}
	defer r.cmd(t, "delete", "--force", "cgpod")
	r.cmd(t, "start", "cgpod")
	limits := map[string]int{"cga": 10, "cgb": 20}
	for _, id := range []string{"cga", "cgb"} {
		b := podBundle(t, podRootfs(t, id, "/bin/busybox"), member, "sleep", "1000")
		editSpec(t, b, func(spec map[string]any) {
			linuxOf(spec)["resources"] = map[string]any{"pids": map[string]any{"limit": limits[id]},
				"memory": map[string]any{"limit": limits[id] << 20}}
		})
		if res := r.create(t, b, id, filepath.Join(out, id)); res.status != 0 {
			data, _ := os.ReadFile(filepath.Join(out, id+".err"))
			t.Fatalf("create %s: %+v %s", id, res, data)
		}
		if res := r.cmd(t, "start", id); res.status != 0 {
			t.Fatalf("start %s: %+v", id, res)
		}
	}
	for _, id := range []string{"cga", "cgb"} {
		res := r.cmd(t, "exec", id, "sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cgroup.procs; true")
		// The limits, then the processes: its init, the shell and cat; not the pod's
		// or the other container's. (Not "cat cgroup.procs | wc -l": the shell may fork
		// wc after cat has read the file, so the count depends on who runs first,
		// natively too.)
		f := strings.Fields(res.stdout)
		want := []string{strconv.Itoa(limits[id]), strconv.Itoa(limits[id] << 20)}
		if res.status != 0 || len(f) != 5 || !slices.Equal(f[:2], want) {
			t.Errorf("exec %s: %+v, want %v and 3 processes", id, res, want)
		}
	}
	if res := r.cmd(t, "exec", "cgpod", "cat", "/sys/fs/cgroup/pids.max"); res.stdout != "max\n" {
		t.Errorf("the pod's sandbox: pids.max %+v", res)
	}
	for _, id := range []string{"cga", "cgb"} {
		r.cmd(t, "delete", "--force", id)
	}
}

// TestCgroupWritable: with the spec's cgroup mount writable, the container makes child
// cgroups and moves processes into them, as systemd does; a child's pids.max is
// enforced at fork (and counted in pids.events), cgroup.freeze stops a busy loop and
// cgroup.kill ends it.
func TestCgroupWritable(t *testing.T) {
	b := bundle(t, "sh", "-c", `cd /sys/fs/cgroup || exit 1
mkdir init.scope app && echo made
echo $$ > init.scope/cgroup.procs && cat /proc/self/cgroup
echo +pids +memory > cgroup.subtree_control && cat cgroup.subtree_control app/cgroup.controllers
echo 2 > app/pids.max && echo 64M > app/memory.max && cat app/pids.max app/memory.max
sh -c 'echo $$ > /sys/fs/cgroup/app/cgroup.procs; cat /proc/self/cgroup; sleep 1 & sleep 1 & wait' 2>&1
cat app/pids.events
mkdir frz
sh -c 'echo $$ > /sys/fs/cgroup/frz/cgroup.procs; while true; do :; done' &
sleep 0.2; echo 1 > frz/cgroup.freeze; sleep 0.2; cat frz/cgroup.events; echo 1 > frz/cgroup.kill; wait $!; echo "killed: $?"
rmdir frz && echo frz removed
rmdir init.scope 2>/dev/null || echo init.scope busy`)
	editSpec(t, b, func(spec map[string]any) {
		for _, m := range spec["mounts"].([]any) {
			if m := m.(map[string]any); m["destination"] == "/sys/fs/cgroup" {
				m["options"] = []string{"nosuid", "noexec", "nodev"}
			}
		}
	})
	res := newRuntime(t, runsc).cmd(t, "run", "--bundle", b, fmt.Sprintf("moat-cgroup-rw-%d", os.Getpid()))
	want := []string{"made", "0::/init.scope", "memory pids", "memory pids", "2", "67108864", "0::/app",
		"max 1", "populated 1", "frozen 1", "killed: 137", "frz removed", "init.scope busy"}
	lines := strings.Split(res.stdout, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in:\n%s", w, res.stdout)
		}
	}
	// The shell in app and the first sleep are the two tasks pids.max allows (cat
	// has exited): the second sleep can't be forked.
	if !strings.Contains(res.stdout, "fork") {
		t.Logf("%s", res.stdout)
		t.Errorf("pids.max 2 let three tasks run:\n%s", res.stdout)
	}
}
