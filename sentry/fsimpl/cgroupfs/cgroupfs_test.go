package cgroupfs

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// newRoot returns a cgroup filesystem over a kernel with no platform (no task runs)
// whose container's spec gives res. Nothing is in the memory file.
func newRoot(t *testing.T, res map[string]string) *Dir {
	t.Helper()
	v := vfs.New()
	mf, err := pgalloc.New("cgroupfs-test", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	k := kernel.New(nil, mf, v, nil, io.Discard)
	k.SetResources("", res)
	return New(v, k, "").(*Dir)
}

// read returns the content of file name of d.
func read(t *testing.T, d *Dir, name string) string {
	t.Helper()
	in, err := d.Lookup(name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	f, err := in.Open(unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	buf := make([]byte, 4096)
	n, _ := f.Read(buf, 0)
	return string(buf[:n])
}

// write writes s to file name of d and returns the error.
func write(t *testing.T, d *Dir, name, s string) error {
	t.Helper()
	in, err := d.Lookup(name)
	if err != nil {
		return err
	}
	f, err := in.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(s), 0)
	return err
}

func TestSpecLimitsAndDefaults(t *testing.T) {
	d := newRoot(t, map[string]string{"memory.max": "268435556", "cpu.max": "50000 100000", "pids.max": "64"})
	for name, want := range map[string]string{
		"memory.max": "268435456\n", "cpu.max": "50000 100000\n", "pids.max": "64\n",
		"memory.high": "max\n", "memory.low": "0\n", "cpu.weight": "100\n", "memory.swap.max": "max\n",
		"cgroup.controllers": "cpuset cpu memory pids\n", "cgroup.subtree_control": "\n",
		"cgroup.type": "domain\n", "cgroup.procs": "", "pids.current": "0\n",
		"cgroup.events": "populated 0\nfrozen 0\n", "memory.current": "0\n",
		"memory.stat": "anon 0\nfile 0\ninactive_anon 0\nactive_anon 0\ninactive_file 0\nactive_file 0\n", "pids.events": "max 0\n",
	} {
		if got := read(t, d, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestWritesCheckedAsLinux(t *testing.T) {
	d := newRoot(t, nil)
	for _, c := range []struct {
		file, value string
		err         error
		shows       string // what the file reads after, if the write succeeded
	}{
		{"memory.max", "100M", nil, "104857600\n"},
		{"memory.max", "1000", nil, "0\n"}, // rounded down to pages
		{"memory.max", "max\n", nil, "max\n"},
		{"memory.high", "2g", nil, "2147483648\n"},
		{"memory.low", "12x", unix.EINVAL, ""},
		{"memory.min", "", unix.EINVAL, ""},
		{"cpu.max", "50000", nil, "50000 100000\n"},
		{"cpu.max", "max 200000", nil, "max 200000\n"},
		{"cpu.max", "20000", nil, "20000 200000\n"}, // the period stays
		{"cpu.max", "500 100000", unix.EINVAL, ""},  // quota below 1 ms
		{"cpu.max", "max 2000000", unix.EINVAL, ""}, // period above 1 s
		{"cpu.max", "abc", unix.EINVAL, ""},
		{"cpu.weight", "0", unix.ERANGE, ""},
		{"cpu.weight", "10001", unix.ERANGE, ""},
		{"cpu.weight", "250", nil, "250\n"},
		{"pids.max", "-1", unix.EINVAL, ""},
		{"pids.max", "32", nil, "32\n"},
		{"cpuset.mems", "1", unix.EINVAL, ""},
		{"cpuset.cpus", "0", nil, "0\n"},
		{"cpuset.cpus", "1-0", unix.EINVAL, ""},
		{"cgroup.max.depth", "-1", unix.ERANGE, ""},
		{"cgroup.max.depth", "3", nil, "3\n"},
		{"cgroup.subtree_control", "+bogus", unix.EINVAL, ""},
		{"cgroup.subtree_control", "+io", unix.ENOENT, ""}, // Linux has it, this cgroup not
		{"cgroup.subtree_control", "+pids +cpu", nil, "cpu pids\n"},
		{"cgroup.subtree_control", "-cpu", nil, "pids\n"},
		{"cgroup.type", "threaded", unix.EOPNOTSUPP, ""},
		{"cgroup.type", "domain", unix.EINVAL, ""},
		{"cgroup.threads", "1", unix.EOPNOTSUPP, ""},
		{"cgroup.procs", "-5", unix.EINVAL, ""},
		{"cgroup.procs", "12345", unix.ESRCH, ""},
		{"memory.current", "1", unix.EINVAL, ""},
		{"cgroup.freeze", "2", unix.ERANGE, ""},
		{"cgroup.freeze", "x", unix.EINVAL, ""},
		{"cgroup.freeze", "1", nil, "1\n"},
		{"cgroup.freeze", "0", nil, "0\n"},
		{"cgroup.kill", "2", unix.ERANGE, ""},
		{"cgroup.kill", "x", unix.EINVAL, ""},
		{"cgroup.kill", "1", nil, ""}, // nothing to kill
	} {
		err := write(t, d, c.file, c.value)
		if err != c.err {
			t.Errorf("write %q to %s: %v, want %v", c.value, c.file, err, c.err)
			continue
		}
		if err == nil {
			if got := read(t, d, c.file); got != c.shows {
				t.Errorf("after writing %q to %s: %q, want %q", c.value, c.file, got, c.shows)
			}
		}
	}
}

func TestChildren(t *testing.T) {
	d := newRoot(t, nil)
	a, err := d.Mkdir("a", 0o755, vfs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	child := a.(*Dir)
	if _, err := d.Mkdir("a", 0o755, vfs.Owner{}); err != unix.EEXIST {
		t.Errorf("mkdir a again: %v", err)
	}
	if _, err := d.Mkdir("cgroup.procs", 0o755, vfs.Owner{}); err != unix.EEXIST {
		t.Errorf("mkdir over a file: %v", err)
	}
	// A child shows the controller files its parent enabled, no others.
	if _, err := child.Lookup("memory.max"); err != unix.ENOENT {
		t.Errorf("memory.max before +memory: %v", err)
	}
	if err := write(t, d, "cgroup.subtree_control", "+memory"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, child, "memory.max"); got != "max\n" {
		t.Errorf("child memory.max: %q", got)
	}
	if got := read(t, child, "cgroup.controllers"); got != "memory\n" {
		t.Errorf("child cgroup.controllers: %q", got)
	}
	if err := write(t, child, "cgroup.subtree_control", "+cpu"); err != unix.ENOENT {
		t.Errorf("child +cpu (not its parent's): %v", err)
	}
	if err := write(t, child, "cgroup.subtree_control", "+memory"); err != nil {
		t.Errorf("child +memory: %v", err)
	}
	if err := write(t, d, "cgroup.subtree_control", "-memory"); err != unix.EBUSY {
		t.Errorf("-memory while a child uses it: %v", err)
	}
	// Depth and descendant limits.
	if err := write(t, d, "cgroup.max.depth", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := child.Mkdir("b", 0o755, vfs.Owner{}); err != unix.EAGAIN {
		t.Errorf("mkdir below max.depth: %v", err)
	}
	if err := write(t, d, "cgroup.max.descendants", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mkdir("c", 0o755, vfs.Owner{}); err != unix.EAGAIN {
		t.Errorf("mkdir past max.descendants: %v", err)
	}
	if got := read(t, d, "cgroup.stat"); got != "nr_descendants 1\nnr_dying_descendants 0\n" {
		t.Errorf("cgroup.stat: %q", got)
	}
	if err := d.Rmdir("cgroup.procs"); err != unix.ENOTDIR {
		t.Errorf("rmdir a file: %v", err)
	}
	if err := d.Rmdir("a"); err != nil {
		t.Errorf("rmdir a: %v", err)
	}
	if err := d.Rmdir("a"); err != unix.ENOENT {
		t.Errorf("rmdir a again: %v", err)
	}
	if _, err := child.Mkdir("d", 0o755, vfs.Owner{}); err != unix.ENOENT {
		t.Errorf("mkdir in a removed cgroup: %v", err)
	}
}
