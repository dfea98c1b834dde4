package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// underBoth runs bundle b under runc and runsc (as run NAME-PID) and returns what each
// printed, after its exit status; stderrs holds what both wrote to stderr.
func underBoth(t *testing.T, b, name string) (outs [2]string, stderrs string) {
	t.Helper()
	for i, rt := range []string{"runc", runsc} {
		res := newRuntime(t, rt).cmd(t, "run", "--bundle", b, fmt.Sprintf("%s-%d", name, os.Getpid()))
		outs[i] = fmt.Sprintf("status %d\n%s", res.status, res.stdout)
		stderrs += res.stderr
	}
	return outs, stderrs
}

// TestMaskedAndReadonlyPaths runs one bundle with linux.maskedPaths (a directory, a
// file, a path that does not exist) and linux.readonlyPaths (a writable tmpfs, a
// file) under runc and runsc: what the container sees must be the same.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", `ls /proc/sys | wc -l; wc -c < /etc/passwd; echo x > /etc/passwd 2>/dev/null && echo wrote the mask
touch /tmp/x 2>/dev/null || echo /tmp read-only; touch /scratch/x && echo /scratch writable
echo y 2>/dev/null > /scratch/ro/f || echo /scratch/ro/f read-only; cat /scratch/ro/f; ls /nonexistent 2>/dev/null; echo done`)
	// /tmp and /scratch are tmpfs mounts; /scratch/ro/f is made by the process... not
	// possible before the mask: a tmpfs at /scratch/ro holding nothing, then the read-
	// only path is the directory.
	editSpec(t, b, func(spec map[string]any) {
		spec["mounts"] = append(spec["mounts"].([]any),
			map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid"}},
			map[string]any{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"},
			map[string]any{"destination": "/scratch/ro", "type": "tmpfs", "source": "tmpfs"})
		linux := linuxOf(spec)
		linux["maskedPaths"] = []string{"/proc/sys", "/etc/passwd", "/nonexistent"}
		linux["readonlyPaths"] = []string{"/tmp", "/scratch/ro"}
	})
	if outs, _ := underBoth(t, b, "moat-masked"); outs[0] != outs[1] {
		t.Errorf("runc:\n%s\nrunsc:\n%s", outs[0], outs[1])
	}
}

// TestHostnameAndSysctl: the spec's hostname and domainname, and a kernel.domainname
// sysctl over the latter, are what the container sees, as under runc; a sysctl the
// Sentry does not model is ignored with a warning.
func TestHostnameAndSysctl(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", "cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname; hostname")
	editSpec(t, b, func(spec map[string]any) {
		spec["hostname"] = "h1"
		spec["domainname"] = "spec.example"
		linuxOf(spec)["sysctl"] = map[string]string{"kernel.domainname": "sysctl.example"}
	})
	outs, _ := underBoth(t, b, "moat-uts")
	if outs[0] != outs[1] {
		t.Errorf("runc:\n%s\nrunsc:\n%s", outs[0], outs[1])
	}
	if !strings.Contains(outs[1], "sysctl.example") {
		t.Errorf("the sysctl did not set the domain name: %s", outs[1])
	}
	// Unmodelled: a warning naming it, and the container runs.
	editSpec(t, b, func(spec map[string]any) {
		linuxOf(spec)["sysctl"] = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
	})
	res := newRuntime(t, runsc).cmd(t, "run", "--bundle", b, fmt.Sprintf("moat-uts2-%d", os.Getpid()))
	if res.status != 0 || !strings.Contains(res.stderr, "net.ipv4.ip_unprivileged_port_start") {
		t.Errorf("an unmodelled sysctl: %+v", res)
	}
}

// TestMountinfoRoots: mountinfo's fourth field, a mount's root within its filesystem,
// is the bound directory for a bind mount from the host and the masking file for a
// masked path, as under runc.
func TestMountinfoRoots(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", `while read id parent dev root point rest; do
case $point in /mnt/etc|/etc/passwd) echo $point $root;; esac; done < /proc/self/mountinfo`)
	editSpec(t, b, func(spec map[string]any) {
		spec["mounts"] = append(spec["mounts"].([]any),
			map[string]any{"destination": "/mnt/etc", "source": "/etc", "options": []string{"bind", "nosuid"}})
		linuxOf(spec)["maskedPaths"] = []string{"/etc/passwd"}
	})
	if outs, _ := underBoth(t, b, "moat-roots"); outs[0] != outs[1] || !strings.Contains(outs[1], "/mnt/etc /etc") {
		t.Errorf("runc:\n%s\nrunsc:\n%s", outs[0], outs[1])
	}
}

// TestDevices: the spec's linux.devices are made as runc makes them (type, number,
// mode, owner, a missing directory made), and a node of a device the Sentry has opens
// as that device; a device of no known type is refused at create, naming it.
func TestDevices(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", `for d in /dev/sub/null /dev/chr /dev/blk /dev/fifo; do stat -c '%n %F %t:%T %a %u:%g' $d; done
echo x > /dev/sub/null && echo wrote; wc -c < /dev/sub/null`)
	setDevices := func(devs ...map[string]any) {
		editSpec(t, b, func(spec map[string]any) { linuxOf(spec)["devices"] = devs })
	}
	setDevices(
		map[string]any{"path": "/dev/sub/null", "type": "c", "major": 1, "minor": 3, "uid": 5, "gid": 6},
		map[string]any{"path": "/dev/chr", "type": "u", "major": 10, "minor": 666, "fileMode": 0o600},
		map[string]any{"path": "/dev/blk", "type": "b", "major": 8, "minor": 666, "fileMode": 0o660},
		map[string]any{"path": "/dev/fifo", "type": "p", "fileMode": 0o640})
	if outs, stderrs := underBoth(t, b, "moat-devs"); outs[0] != outs[1] || !strings.Contains(outs[1], "wrote") {
		t.Errorf("runc:\n%s\nrunsc:\n%s\nstderr: %s", outs[0], outs[1], stderrs)
	}
	setDevices(map[string]any{"path": "/dev/q", "type": "q"})
	res := newRuntime(t, runsc).cmd(t, "run", "--bundle", b, fmt.Sprintf("moat-devs2-%d", os.Getpid()))
	if res.status == 0 || !strings.Contains(res.stderr, `unknown device type "q"`) {
		t.Errorf("a bad device type: %+v", res)
	}
}

// TestOOMScoreAdj: the spec's process.oomScoreAdj is init's oom_score_adj, inherited by
// its children and writable within -1000..1000, as under runc; the host sees it on the
// sandbox's processes; a value out of range is refused at create.
func TestOOMScoreAdj(t *testing.T) {
	needRunc(t)
	b := bundle(t, "sh", "-c", `cat /proc/self/oom_score_adj; echo 700 > /proc/self/oom_score_adj; cat /proc/$$/oom_score_adj
echo 1001 > /proc/$$/oom_score_adj || echo refused; echo x > /proc/$$/oom_score_adj || echo refused; cat /proc/$$/oom_score_adj`)
	setOOM := func(b string, v int) {
		editSpec(t, b, func(spec map[string]any) { spec["process"].(map[string]any)["oomScoreAdj"] = v })
	}
	setOOM(b, 500)
	if outs, _ := underBoth(t, b, "moat-oom"); outs[0] != outs[1] || !strings.HasPrefix(outs[1], "status 0\n500\n700\n") {
		t.Errorf("runc:\n%s\nrunsc:\n%s", outs[0], outs[1])
	}
	// The host's view: the sandbox's process (state's pid) has it.
	r := newRuntime(t, runsc)
	sb := bundle(t, "sleep", "100")
	setOOM(sb, 500)
	id := fmt.Sprintf("moat-oom2-%d", os.Getpid())
	if res := r.create(t, sb, id, filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("create: %+v", res)
	}
	defer r.cmd(t, "delete", "--force", id)
	st, _ := r.state(t, id)
	if got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", st.PID)); string(got) != "500\n" {
		t.Errorf("the sandbox's host oom_score_adj is %q, want 500", got)
	}
	setOOM(sb, 1001)
	res := r.cmd(t, "run", "--bundle", sb, id+"x")
	if res.status == 0 || !strings.Contains(res.stderr, "oomScoreAdj 1001") {
		t.Errorf("oomScoreAdj 1001: %+v", res)
	}
}
