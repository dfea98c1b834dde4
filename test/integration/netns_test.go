package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// setNetns rewrites the bundle's network namespace entry: path "" asks for a new
// namespace, "-" removes the entry, anything else is the namespace to join.
func setNetns(t *testing.T, dir, path string) {
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(data, &spec)
	linux := spec["linux"].(map[string]any)
	var out []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			out = append(out, n)
		}
	}
	switch path {
	case "-":
	case "":
		out = append(out, map[string]any{"type": "network"})
	default:
		out = append(out, map[string]any{"type": "network", "path": path})
	}
	linux["namespaces"] = out
	data, _ = json.MarshalIndent(spec, "", "  ")
	os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}

// nsID is the namespace file's device and inode, which identify a namespace.
func nsID(t *testing.T, path string) [2]uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return [2]uint64{st.Dev, st.Ino}
}

// newNetns makes a network namespace and binds it to a file, as `ip netns add` does.
func newNetns(t *testing.T) string {
	file := filepath.Join(t.TempDir(), "netns")
	os.WriteFile(file, nil, 0o644)
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread, in the new namespace, ends with this goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount("/proc/thread-self/ns/net", file, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Skipf("making a network namespace: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(file, unix.MNT_DETACH) })
	return file
}

// TestNetworkNamespace: the sandbox process is in the spec's network namespace: a new
// one for an entry without a path, the one a path names, runsc's own with no entry; a
// path that is not a network namespace fails create, naming the container, leaving
// nothing.
func TestNetworkNamespace(t *testing.T) {
	r := newRuntime(t, runsc)
	host := nsID(t, "/proc/self/ns/net")
	joined := newNetns(t)
	for _, c := range []struct {
		name, path string
		want       func(id [2]uint64) bool
	}{
		{"new", "", func(id [2]uint64) bool { return id != host }},
		{"none", "-", func(id [2]uint64) bool { return id == host }},
		{"path", joined, func(id [2]uint64) bool { return id == nsID(t, joined) }},
	} {
		b := bundle(t, "sleep", "100")
		setNetns(t, b, c.path)
		id := "moat-netns-" + c.name
		if res := r.create(t, b, id, filepath.Join(t.TempDir(), "out")); res.status != 0 {
			t.Fatalf("%s: create: %d", c.name, res.status)
		}
		st, _ := r.state(t, id)
		if got := nsID(t, "/proc/"+strconv.Itoa(st.PID)+"/ns/net"); !c.want(got) {
			t.Errorf("%s: the sandbox's network namespace is %v (host's %v)", c.name, got, host)
		}
		r.cmd(t, "delete", "--force", id)
	}
	b := bundle(t, "true")
	setNetns(t, b, "/proc/self/ns/mnt")
	res := r.cmd(t, "create", "--bundle", b, "moat-netns-bad")
	if res.status == 0 || !strings.Contains(res.stderr, "moat-netns-bad") || !strings.Contains(res.stderr, "not a network namespace") {
		t.Errorf("create with a mount namespace as the network one: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(r.root, "moat-netns-bad")); !os.IsNotExist(err) {
		t.Errorf("the failed create left its state directory")
	}
	// Every namespace entry is checked: its type known, given once, its path a
	// namespace of its type.
	for _, c := range []struct {
		ns   []map[string]string
		want string
	}{
		{[]map[string]string{{"type": "ipc", "path": "/proc/self/ns/uts"}}, "/proc/self/ns/uts is not a ipc namespace"},
		{[]map[string]string{{"type": "pid"}, {"type": "pid"}}, "the pid namespace is given twice"},
		{[]map[string]string{{"type": "bogus"}}, `namespace type "bogus" is not supported`},
		{[]map[string]string{{"type": "uts", "path": "/nonexistent"}}, "uts namespace: open /nonexistent"},
	} {
		b := bundle(t, "true")
		var spec map[string]any
		data, _ := os.ReadFile(filepath.Join(b, "config.json"))
		json.Unmarshal(data, &spec)
		spec["linux"].(map[string]any)["namespaces"] = c.ns
		data, _ = json.Marshal(spec)
		os.WriteFile(filepath.Join(b, "config.json"), data, 0o644)
		res := r.cmd(t, "create", "--bundle", b, "moat-ns-bad")
		if res.status == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("namespaces %v: %+v, want an error with %q", c.ns, res, c.want)
		}
		if _, err := os.Stat(filepath.Join(r.root, "moat-ns-bad")); !os.IsNotExist(err) {
			t.Errorf("namespaces %v: the failed create left its state directory", c.ns)
		}
	}
	// A cgroup namespace without a path: the sandbox gets a new one.
	b = bundle(t, "sleep", "100")
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	json.Unmarshal(data, &spec)
	linux := spec["linux"].(map[string]any)
	linux["namespaces"] = append(linux["namespaces"].([]any), map[string]string{"type": "cgroup"})
	data, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(b, "config.json"), data, 0o644)
	if res := r.create(t, b, "moat-cgns", filepath.Join(t.TempDir(), "out")); res.status != 0 {
		t.Fatalf("create with a cgroup namespace: %+v", res)
	}
	defer r.cmd(t, "delete", "--force", "moat-cgns")
	st, _ := r.state(t, "moat-cgns")
	if nsID(t, "/proc/"+strconv.Itoa(st.PID)+"/ns/cgroup") == nsID(t, "/proc/self/ns/cgroup") {
		t.Errorf("the sandbox is in runsc's cgroup namespace")
	}
}
