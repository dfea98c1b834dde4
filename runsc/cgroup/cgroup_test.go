package cgroup

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSystemdPath: slice:prefix:name names systemd's scope, the slice expanded as
// systemd expands it; other forms are errors.
func TestSystemdPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"system.slice:docker:abc", "/system.slice/docker-abc.scope"},
		{":runc:abc", "/system.slice/runc-abc.scope"},
		{"a-b-c.slice:p:n", "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"},
		{"-.slice:p:n", "/p-n.scope"},
		{"user.slice::n", "/user.slice/n.scope"},
	} {
		got, err := systemdPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("systemdPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/a/b", "a:b", "noslice:p:n", "a--b.slice:p:n", "-a.slice:p:n", "a/b.slice:p:n"} {
		if got, err := systemdPath(bad); err == nil {
			t.Errorf("systemdPath(%q) = %q, want an error", bad, got)
		}
	}
}

// TestResolve: an absolute path is below the hierarchy's root, a relative one below
// runsc's own cgroup; one that leaves the hierarchy is an error.
func TestResolve(t *testing.T) {
	for _, tc := range []struct{ point, root, own, path, want string }{
		{"/sys/fs/cgroup/memory", "/", "/user/1", "/a/b", "/sys/fs/cgroup/memory/a/b"},
		{"/sys/fs/cgroup/memory", "/", "/user/1", "a/b", "/sys/fs/cgroup/memory/user/1/a/b"},
		{"/sys/fs/cgroup", "/ns", "/ns/me", "c", "/sys/fs/cgroup/me/c"},
	} {
		got, err := resolve(tc.point, tc.root, tc.own, tc.path)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%+v) = %q, %v; want %q", tc, got, err, tc.want)
		}
	}
	if got, err := resolve("/sys/fs/cgroup", "/ns", "/ns", "../x"); err == nil {
		t.Errorf("a path above the mount's root resolved to %q", got)
	}
}

// TestPidsMax: a positive limit is written as is, anything else is no limit.
func TestPidsMax(t *testing.T) {
	for in, want := range map[int64]string{10: "10", 0: "max", -1: "max"} {
		if got := pidsMax(in); got != want {
			t.Errorf("pidsMax(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestV2Files: the spec's resources become cgroup v2 files as runc converts them.
func TestV2Files(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	files, err := V2Files(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(256 << 20), Swap: i64(512 << 20), Reservation: i64(-1)},
		CPU:    &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Cpus: "0-1", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{"memory.max", "268435456"}, {"memory.swap.max", "268435456"}, {"memory.low", "max"},
		{"cpu.weight", "39"}, {"cpu.max", "50000 100000"}, {"cpuset.cpus", "0-1"}, {"cpuset.mems", "0"},
		{"pids.max", "max"}}
	if !slices.Equal(files, want) {
		t.Errorf("V2Files: %v, want %v", files, want)
	}
	for _, bad := range []*specs.LinuxResources{
		{CPU: &specs.LinuxCPU{Shares: u64(1)}},
		{Memory: &specs.LinuxMemory{Limit: i64(2 << 20), Swap: i64(1 << 20)}},
	} {
		if _, err := V2Files(bad); err == nil {
			t.Errorf("V2Files(%+v): no error", bad)
		}
	}
	if files, err := V2Files(nil); err != nil || files != nil {
		t.Errorf("V2Files(nil): %v, %v", files, err)
	}
}
