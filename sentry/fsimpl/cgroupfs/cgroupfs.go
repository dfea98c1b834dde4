// Package cgroupfs is the cgroup v2 (unified) filesystem as the application sees it:
// type cgroup2 (the spec's mounts of type cgroup and cgroup2, and mount(2)'s), made
// by the Sentry from its own accounting. Nothing of the host's cgroups is shown.
//
// Each container of the sandbox is one cgroup (kernel: the processes carrying its ID).
// A mount shows its container's cgroup as its root, as Linux shows the cgroup of the
// mounter's cgroup namespace to a container: the spec's mount the container's own,
// mount(2)'s the caller's container's; so in a pod each container sees its own. The
// root has no children and no parent, as /proc/[pid]/cgroup's "0::/" says.
//
// The files, in Linux's formats (Documentation/admin-guide/cgroup-v2.rst):
//
//   - cgroup.procs and cgroup.threads: the container's live processes and threads,
//     as the opener's PID namespace numbers them (0 for one it cannot see, as
//     task_pid_vnr); cgroup.controllers ("cpuset cpu memory pids", the controllers
//     whose files are here), an empty cgroup.subtree_control, cgroup.type (domain),
//     cgroup.events (populated, and frozen from the runtime's pause),
//     cgroup.freeze, cgroup.max.depth and cgroup.max.descendants (max), cgroup.stat
//     (no descendants);
//   - the limits, from the container's spec's linux.resources converted as runc
//     converts them (kernel.Resources): cpu.max, cpu.weight, cpuset.cpus and
//     cpuset.mems (empty when unset), memory.max, memory.low, memory.swap.max,
//     pids.max, else Linux's defaults (max, 100, 0); memory.high is max and
//     memory.min 0, which a spec cannot set;
//   - the usage: cpu.stat (usage_usec, user_usec, system_usec from the Sentry's CPU
//     accounting of the container's processes, reaped ones included; nothing is ever
//     throttled, so nr_periods, nr_throttled and throttled_usec are 0),
//     cpuset.cpus.effective and cpuset.mems.effective, memory.current, memory.stat
//     (anon and file), memory.events (all 0: nothing is ever reclaimed or killed for
//     the limits), memory.swap.current (0: the Sentry never swaps), pids.current (the
//     container's live threads).
//
// memory.current is the memory that holds the application's data: with one
// container in the sandbox, every page of the memory file holding data (its anonymous
// memory, tmpfs and shared memory files, cached file pages); with several (a pod),
// whose containers share the memory file, the pages holding data of the container's
// address spaces, each counted once (a page shared copy-on-write after fork counts in
// each one, as RSS does; a tmpfs file's pages count only while mapped). memory.stat's
// anon is the pages of private anonymous mappings (mm.MemoryManager.ResidentBytes),
// file the rest of memory.current.
//
// What is not enforced: the kernel enforces none of these limits; the runtime applies
// them on the host to the sandbox's cgroup (runsc/cgroup), which holds the whole
// sandbox (in a pod, every container's processes). No file can be written: a
// read-only mount gives EROFS, a writable one EPERM for a write to a file Linux lets
// root write, and for mkdir (no child cgroups: processes cannot be moved).
package cgroupfs

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/fsimpl/kernfs"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// FSType is the filesystem's name, as /proc/mounts and mount(2) give it.
const FSType = "cgroup2"

// pageSize is what memory limits are rounded down to, as Linux's page counters keep
// them.
const pageSize = 4096

type cgroup struct {
	k         *kernel.Kernel
	container string
}

// Root is a cgroup filesystem's root directory: statfs reports CGROUP2_SUPER_MAGIC.
type Root struct{ *kernfs.Dir }

// Statfs implements vfs.Statfser.
func (Root) Statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: vfs.Cgroup2Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// New returns the root of a cgroup filesystem showing container's cgroup ("" for the
// sandbox's own container, else the ID of another container of the pod).
func New(v *vfs.VFS, k *kernel.Kernel, container string) vfs.DirInode {
	fs := kernfs.New(v)
	c := &cgroup{k: k, container: container}
	ro := func(gen func() string) vfs.Inode {
		return fs.NewModeFile(0o444, func() ([]byte, error) { return []byte(gen()), nil }, nil)
	}
	// rw is a file Linux lets root write; here writes are refused.
	rw := func(gen func() string) vfs.Inode {
		return fs.NewModeFile(0o644, func() ([]byte, error) { return []byte(gen()), nil }, refuse)
	}
	text := func(s string) func() string { return func() string { return s } }
	files := kernfs.Static{
		"cgroup.controllers":     ro(text("cpuset cpu memory pids\n")),
		"cgroup.subtree_control": rw(text("\n")),
		"cgroup.type":            rw(text("domain\n")),
		"cgroup.max.depth":       rw(text("max\n")),
		"cgroup.max.descendants": rw(text("max\n")),
		"cgroup.stat":            ro(text("nr_descendants 0\nnr_dying_descendants 0\n")),
		"cgroup.events":          ro(c.events),
		"cgroup.freeze":          rw(c.freeze),
		"cgroup.procs":           fs.NewCallerFile(0o644, c.procs, refuse),
		"cgroup.threads":         fs.NewCallerFile(0o644, c.threads, refuse),
		"cpu.max":                rw(c.limit("cpu.max", "max 100000")),
		"cpu.weight":             rw(c.limit("cpu.weight", "100")),
		"cpu.stat":               ro(c.cpuStat),
		"cpuset.cpus":            rw(c.limit("cpuset.cpus", "")),
		"cpuset.mems":            rw(c.limit("cpuset.mems", "")),
		"cpuset.cpus.effective":  ro(c.cpusEffective),
		"cpuset.mems.effective":  ro(c.memsEffective),
		"memory.current":         ro(func() string { return fmt.Sprintf("%d\n", c.memory().current) }),
		"memory.max":             rw(c.memoryLimit("memory.max", "max")),
		"memory.high":            rw(text("max\n")),
		"memory.low":             rw(c.memoryLimit("memory.low", "0")),
		"memory.min":             rw(text("0\n")),
		"memory.swap.max":        rw(c.memoryLimit("memory.swap.max", "max")),
		"memory.swap.current":    ro(text("0\n")),
		"memory.stat":            ro(c.memoryStat),
		"memory.events":          ro(text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")),
		"pids.current":           ro(func() string { return fmt.Sprintf("%d\n", c.k.Stats(c.container).Tasks) }),
		"pids.max":               rw(c.limit("pids.max", "max")),
	}
	return Root{fs.NewDir(0o755, files)}
}

// refuse is the write of every file: the limits are the spec's (see the package
// comment).
func refuse([]byte) error { return unix.EPERM }

// limit shows the spec's value of file name, else def.
func (c *cgroup) limit(name, def string) func() string {
	return func() string {
		if v, ok := c.k.Resource(c.container, name); ok {
			return v + "\n"
		}
		return def + "\n"
	}
}

// memoryLimit shows a memory limit as Linux keeps it, rounded down to pages.
func (c *cgroup) memoryLimit(name, def string) func() string {
	return func() string {
		v, ok := c.k.Resource(c.container, name)
		if !ok {
			v = def
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			v = strconv.FormatInt(n/pageSize*pageSize, 10)
		}
		return v + "\n"
	}
}

func (c *cgroup) events() string {
	procs, _ := c.k.ContainerMembers(c.container)
	return fmt.Sprintf("populated %d\nfrozen %d\n", b2i(len(procs) > 0), b2i(c.k.ContainerFrozen(c.container)))
}

func (c *cgroup) freeze() string {
	return fmt.Sprintf("%d\n", b2i(c.k.ContainerFrozen(c.container)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readerNS is the PID namespace of the task whose credentials are cr: its IDs are
// what cgroup.procs shows it. The Sentry itself (no task) sees the root namespace's.
func (c *cgroup) readerNS(cr *vfs.Credentials) *kernel.PIDNamespace {
	if cr != nil && cr.Caller != 0 {
		if t := c.k.Task(cr.Caller); t != nil {
			return t.PIDNamespace()
		}
	}
	return c.k.RootPIDNamespace()
}

// procs lists the container's processes, in ID order, as the reader numbers them.
func (c *cgroup) procs(cr *vfs.Credentials) ([]byte, error) {
	ns := c.readerNS(cr)
	procs, _ := c.k.ContainerMembers(c.container)
	ids := make([]int32, 0, len(procs))
	for _, p := range procs {
		ids = append(ids, ns.IDOfProcess(p))
	}
	return idList(ids), nil
}

// threads lists the container's threads, in ID order, as the reader numbers them.
func (c *cgroup) threads(cr *vfs.Credentials) ([]byte, error) {
	ns := c.readerNS(cr)
	_, threads := c.k.ContainerMembers(c.container)
	ids := make([]int32, 0, len(threads))
	for _, t := range threads {
		ids = append(ids, ns.IDOfTask(t))
	}
	return idList(ids), nil
}

func idList(ids []int32) []byte {
	slices.Sort(ids)
	var b bytes.Buffer
	for _, id := range ids {
		fmt.Fprintf(&b, "%d\n", id)
	}
	return b.Bytes()
}

func (c *cgroup) cpuStat() string {
	u := c.k.Stats(c.container).CPU
	user, sys := u.User/1000, u.Sys/1000
	return fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\n"+
		"nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n", user+sys, user, sys)
}

// onlineCPUs is the CPUs the sandbox may run on, as /sys shows them.
func onlineCPUs() string {
	if n := runtime.NumCPU(); n > 1 {
		return fmt.Sprintf("0-%d", n-1)
	}
	return "0"
}

func (c *cgroup) cpusEffective() string {
	if v, ok := c.k.Resource(c.container, "cpuset.cpus"); ok && strings.TrimSpace(v) != "" {
		return v + "\n"
	}
	return onlineCPUs() + "\n"
}

func (c *cgroup) memsEffective() string {
	if v, ok := c.k.Resource(c.container, "cpuset.mems"); ok && strings.TrimSpace(v) != "" {
		return v + "\n"
	}
	return "0\n"
}

type memoryUse struct{ current, anon, file uint64 }

// memory is the container's memory use (see the package comment).
func (c *cgroup) memory() memoryUse {
	anon, file := c.k.ContainerMemory(c.container)
	if c.k.Containers() > 1 {
		return memoryUse{current: anon + file, anon: anon, file: file}
	}
	var data uint64
	mf := c.k.MemFile
	for _, d := range mf.Data(platform.FileRange{Start: 0, End: mf.Size()}) {
		data += d.Length()
	}
	data = min(data, mf.Used()) // the host could not tell holes: what is allocated
	anon = min(anon, data)      // a copy-on-write page counts once here
	return memoryUse{current: data, anon: anon, file: data - anon}
}

func (c *cgroup) memoryStat() string {
	m := c.memory()
	return fmt.Sprintf("anon %d\nfile %d\n", m.anon, m.file)
}
