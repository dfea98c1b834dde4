// Package cgroupfs is the cgroup v2 (unified) filesystem as the application sees it:
// type cgroup2 (the spec's mounts of type cgroup and cgroup2, and mount(2)'s), made
// by the Sentry from its own cgroups (sentry/kernel: each container has a hierarchy
// of its own) and accounting. Nothing of the host's cgroups is shown.
//
// A mount's root is its container's cgroup, as Linux shows a container the cgroup of
// its cgroup namespace: the spec's mount the container's own, mount(2)'s the caller's
// container's; so in a pod each container sees its own, and /proc/[pid]/cgroup
// ("0::/", "0::/child") names cgroups from there. Each directory is a cgroup; mkdir
// makes a child, rmdir removes an empty one, and a write of a process ID to a
// cgroup.procs moves that process there, as systemd does in a container (a read-only
// mount, Docker's default, gives EROFS).
//
// The files, in Linux's formats (Documentation/admin-guide/cgroup-v2.rst), each
// cgroup showing those of the controllers its parent enabled (all four for the
// container's cgroup):
//
//   - cgroup.procs and cgroup.threads: the live processes and threads in the cgroup,
//     as the opener's PID namespace numbers them (0 for one it cannot see, as
//     task_pid_vnr); cgroup.controllers, cgroup.subtree_control (written as Linux
//     takes it: "+cpu -memory", with ENOENT, EINVAL and EBUSY for the no-internal-
//     processes rule), cgroup.type (domain), cgroup.events (populated; frozen once no
//     task of the cgroup runs application code while it, an ancestor, its container
//     (the runtime's pause) or the sandbox is frozen), cgroup.freeze (0 or 1: freezes
//     the cgroup's tasks and its descendants' as the runtime's pause does),
//     cgroup.kill (1: SIGKILL to every process of the cgroup and below),
//     cgroup.max.depth and cgroup.max.descendants (enforced at mkdir), cgroup.stat;
//   - the limits: cpu.max, cpu.weight, cpuset.cpus, cpuset.mems, memory.max,
//     memory.high, memory.low, memory.min, memory.swap.max, pids.max. The container's
//     cgroup starts with its spec's linux.resources converted as runc converts them,
//     the others with Linux's defaults; a write is checked as Linux checks it (EINVAL,
//     ERANGE) and shown;
//   - the usage: cpu.stat (usage_usec, user_usec, system_usec from the Sentry's CPU
//     accounting; nothing is throttled, so nr_periods, nr_throttled and
//     throttled_usec are 0), cpuset.cpus.effective and cpuset.mems.effective,
//     memory.current, memory.stat (anon and file, all active: the Sentry reclaims
//     nothing), memory.events (all 0: nothing is
//     reclaimed or killed for the limits), memory.swap.current (0: the Sentry never
//     swaps), pids.current (live threads), pids.events (the forks the cgroup's own
//     pids.max refused).
//
// memory.current is the memory holding the application's data. For the container's
// cgroup in a sandbox of one container, it is every page of the memory file holding
// data (anonymous memory, tmpfs and shared memory files, cached file pages); in a pod,
// whose containers share the memory file, and for a cgroup below a container's, it is
// the pages holding data of the cgroup's processes' address spaces, each counted once
// (a page shared copy-on-write after fork counts in each; a tmpfs file's pages count
// only while mapped). memory.stat's anon is the pages of private anonymous mappings
// (mm.MemoryManager.ResidentBytes), file the rest. A child cgroup's cpu.stat counts
// its processes now (live and zombies) and the children they reaped, not those that
// left it.
//
// Enforced: pids.max (fork and clone fail with EAGAIN, as under the pids controller),
// cgroup.max.depth and cgroup.max.descendants. Not enforced: the cpu, cpuset and
// memory limits, which are shown only; the runtime applies the spec's on the host to
// the sandbox's cgroup (runsc/cgroup), which holds the whole sandbox. Not supported:
// threaded cgroups (a write of cgroup.threads, or of "threaded" to cgroup.type, is
// EOPNOTSUPP), pressure (PSI) files, io and the other controllers, memory.peak.
package cgroupfs

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// knownControllers are the controllers Linux's cgroup v2 has, which
// cgroup.subtree_control names (others are EINVAL there).
var knownControllers = []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}

// fsys is one cgroup filesystem (one mount's, or the spec's): a directory inode per
// cgroup of its container's hierarchy, made at its first lookup and kept, so that a
// cgroup keeps its inode number.
type fsys struct {
	fs   *kernfs.FS
	k    *kernel.Kernel
	mu   sync.Mutex
	dirs map[*kernel.Cgroup]*Dir
}

// Dir is a cgroup's directory.
type Dir struct {
	kernfs.DynamicDir
	f     *fsys
	cg    *kernel.Cgroup
	files map[string]vfs.Inode
}

// New returns the root of a cgroup filesystem showing container's cgroup ("" for the
// sandbox's own container, else the ID of another container of the pod).
func New(v *vfs.VFS, k *kernel.Kernel, container string) vfs.DirInode {
	f := &fsys{fs: kernfs.New(v), k: k, dirs: map[*kernel.Cgroup]*Dir{}}
	return f.dirFor(k.CgroupRoot(container))
}

// Statfs implements vfs.Statfser: CGROUP2_SUPER_MAGIC.
func (*Dir) Statfs() (unix.Statfs_t, error) { return statfs() }

// dirFor returns cg's directory.
func (f *fsys) dirFor(cg *kernel.Cgroup) *Dir {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dirs[cg]; d != nil {
		return d
	}
	d := &Dir{f: f, cg: cg}
	d.files = f.files(cg)
	d.DynamicDir = f.fs.NewDynamicDir(0o755, kernfs.Funcs{NamesFn: d.names, LookupFn: d.lookup})
	f.dirs[cg] = d
	return d
}

// controllerOf is the controller whose interface file name is, "" for a core file.
func controllerOf(name string) string {
	c, _, _ := strings.Cut(name, ".")
	if c == "cgroup" {
		return ""
	}
	return c
}

// visible reports whether file name shows in d: a core file, or one of a controller
// d's parent enabled.
func (d *Dir) visible(name string, avail []string) bool {
	c := controllerOf(name)
	return c == "" || slices.Contains(avail, c)
}

func (d *Dir) names() []string {
	avail := d.cg.Available()
	var names []string
	for n := range d.files {
		if d.visible(n, avail) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return append(names, d.cg.Children()...)
}

func (d *Dir) lookup(name string) (vfs.Inode, error) {
	if in, ok := d.files[name]; ok {
		if !d.visible(name, d.cg.Available()) {
			return nil, unix.ENOENT
		}
		return in, nil
	}
	if c := d.cg.Child(name); c != nil {
		return d.f.dirFor(c), nil
	}
	return nil, unix.ENOENT
}

// Mkdir implements vfs.DirInode.Mkdir: a child cgroup (cgroup_mkdir).
func (d *Dir) Mkdir(name string, _ uint32, _ vfs.Owner) (vfs.Inode, error) {
	if strings.Contains(name, "\n") {
		return nil, unix.EINVAL
	}
	if _, ok := d.files[name]; ok {
		return nil, unix.EEXIST
	}
	c, err := d.cg.Mkdir(name)
	if err != nil {
		return nil, err
	}
	return d.f.dirFor(c), nil
}

// Create implements vfs.DirInode.Create: a cgroup directory has no create operation,
// so a regular file is EACCES (vfs_create), another (a FIFO, a socket) EPERM
// (vfs_mknod).
func (d *Dir) Create(_ string, mode uint32, _ vfs.Owner) (vfs.Inode, error) {
	if mode&unix.S_IFMT == unix.S_IFREG {
		return nil, unix.EACCES
	}
	return nil, unix.EPERM
}

// statfs is what statfs(2) reports of every file of the filesystem.
func statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: vfs.Cgroup2Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// file and callerFile are the filesystem's files, which statfs(2) sees as of a
// cgroup2 filesystem.
type file struct{ *kernfs.File }

func (file) Statfs() (unix.Statfs_t, error) { return statfs() }

type callerFile struct{ kernfs.CallerFile }

func (callerFile) Statfs() (unix.Statfs_t, error) { return statfs() }

// Rmdir implements vfs.DirInode.Rmdir: an empty child cgroup (cgroup_rmdir).
func (d *Dir) Rmdir(name string) error {
	c := d.cg.Child(name)
	if c == nil {
		if _, ok := d.files[name]; ok {
			return unix.ENOTDIR
		}
		return unix.ENOENT
	}
	if err := d.cg.Rmdir(name); err != nil {
		return err
	}
	d.f.mu.Lock()
	delete(d.f.dirs, c)
	d.f.mu.Unlock()
	return nil
}

// files makes cg's files.
func (f *fsys) files(cg *kernel.Cgroup) map[string]vfs.Inode {
	c := &cgroup{k: f.k, cg: cg}
	fs := f.fs
	// A read-only file (mode 0444) opens for writing for root, as Linux's cgroup
	// files do (they share one write operation), and a write is EINVAL
	// (cgroup_file_write with no handler).
	ro := func(gen func() string) vfs.Inode {
		return file{fs.NewModeFile(0o444, func() ([]byte, error) { return []byte(gen()), nil },
			func([]byte) error { return unix.EINVAL })}
	}
	rw := func(gen func() string, write func(string) error) vfs.Inode {
		return file{fs.NewModeFile(0o644, func() ([]byte, error) { return []byte(gen()), nil },
			func(b []byte) error { return write(string(b)) })}
	}
	text := func(s string) func() string { return func() string { return s } }
	return map[string]vfs.Inode{
		"cgroup.controllers":     ro(func() string { return strings.Join(cg.Available(), " ") + "\n" }),
		"cgroup.subtree_control": rw(func() string { return strings.Join(cg.SubtreeControl(), " ") + "\n" }, c.writeSubtree),
		"cgroup.type":            rw(text("domain\n"), c.writeType),
		"cgroup.max.depth":       rw(c.value("cgroup.max.depth", "max"), c.writeCount("cgroup.max.depth")),
		"cgroup.max.descendants": rw(c.value("cgroup.max.descendants", "max"), c.writeCount("cgroup.max.descendants")),
		"cgroup.stat":            ro(func() string { return fmt.Sprintf("nr_descendants %d\nnr_dying_descendants 0\n", c.descendants(cg)) }),
		"cgroup.events":          ro(c.events),
		"cgroup.freeze":          rw(func() string { return fmt.Sprintf("%d\n", b2i(cg.Freeze())) }, c.writeFreeze),
		"cgroup.kill": file{fs.NewModeFile(0o200, func() ([]byte, error) { return nil, nil }, func(b []byte) error {
			return c.writeKill(string(b))
		})},
		"cgroup.procs": callerFile{fs.NewCallerFile(0o644, c.procs, c.writeProcs)},
		"cgroup.threads": callerFile{fs.NewCallerFile(0o644, c.threads, func(*vfs.Credentials, []byte) error {
			return unix.EOPNOTSUPP // no threaded cgroups: a thread moves with its process
		})},
		"cpu.max":               rw(c.value("cpu.max", "max 100000"), c.writeCPUMax),
		"cpu.weight":            rw(c.value("cpu.weight", "100"), c.writeWeight),
		"cpu.stat":              ro(c.cpuStat),
		"cpuset.cpus":           rw(c.value("cpuset.cpus", ""), c.writeList("cpuset.cpus", runtime.NumCPU())),
		"cpuset.mems":           rw(c.value("cpuset.mems", ""), c.writeList("cpuset.mems", 1)),
		"cpuset.cpus.effective": ro(func() string { return c.effective("cpuset.cpus", onlineCPUs()) }),
		"cpuset.mems.effective": ro(func() string { return c.effective("cpuset.mems", "0") }),
		"memory.current":        ro(func() string { return fmt.Sprintf("%d\n", c.memory().current) }),
		"memory.max":            rw(c.memoryValue("memory.max", "max"), c.writeMemory("memory.max")),
		"memory.high":           rw(c.memoryValue("memory.high", "max"), c.writeMemory("memory.high")),
		"memory.low":            rw(c.memoryValue("memory.low", "0"), c.writeMemory("memory.low")),
		"memory.min":            rw(c.memoryValue("memory.min", "0"), c.writeMemory("memory.min")),
		"memory.swap.max":       rw(c.memoryValue("memory.swap.max", "max"), c.writeMemory("memory.swap.max")),
		"memory.swap.current":   ro(text("0\n")),
		"memory.stat":           ro(c.memoryStat),
		"memory.events":         ro(text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")),
		"pids.current":          ro(c.pidsCurrent),
		"pids.max":              rw(c.value("pids.max", "max"), c.writePidsMax),
		"pids.events":           ro(func() string { return fmt.Sprintf("max %d\n", cg.PidsMaxEvents()) }),
	}
}

// cgroup makes and takes the content of one cgroup's files.
type cgroup struct {
	k  *kernel.Kernel
	cg *kernel.Cgroup
}

// value shows cg's value of file name, else def.
func (c *cgroup) value(name, def string) func() string {
	return func() string {
		if v, ok := c.cg.Value(name); ok {
			return v + "\n"
		}
		return def + "\n"
	}
}

// memoryValue shows a memory limit as Linux keeps it, rounded down to pages.
func (c *cgroup) memoryValue(name, def string) func() string {
	return func() string {
		v, ok := c.cg.Value(name)
		if !ok {
			v = def
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			v = strconv.FormatInt(n/pageSize*pageSize, 10)
		}
		return v + "\n"
	}
}

func (c *cgroup) descendants(cg *kernel.Cgroup) int {
	n := 0
	for _, name := range cg.Children() {
		if child := cg.Child(name); child != nil {
			n += 1 + c.descendants(child)
		}
	}
	return n
}

func (c *cgroup) events() string {
	procs, _ := c.cg.Members(true)
	return fmt.Sprintf("populated %d\nfrozen %d\n", b2i(len(procs) > 0), b2i(c.cg.Frozen()))
}

// writeFreeze takes 0 or 1 (cgroup_freeze_write: ERANGE otherwise).
func (c *cgroup) writeFreeze(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 32)
	if err != nil {
		return unix.EINVAL
	}
	if n != 0 && n != 1 {
		return unix.ERANGE
	}
	return c.cg.SetFreeze(n == 1)
}

// writeKill takes 1, which kills the cgroup's processes (cgroup_kill_write: ERANGE
// for another number).
func (c *cgroup) writeKill(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 32)
	if err != nil {
		return unix.EINVAL
	}
	if n != 1 {
		return unix.ERANGE
	}
	c.cg.Kill()
	return nil
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

// procs lists the cgroup's processes, in ID order, as the reader numbers them.
func (c *cgroup) procs(cr *vfs.Credentials) ([]byte, error) {
	ns := c.readerNS(cr)
	procs, _ := c.cg.Members(false)
	ids := make([]int32, 0, len(procs))
	for _, p := range procs {
		ids = append(ids, ns.IDOfProcess(p))
	}
	return idList(ids), nil
}

// threads lists the cgroup's threads, in ID order, as the reader numbers them.
func (c *cgroup) threads(cr *vfs.Credentials) ([]byte, error) {
	ns := c.readerNS(cr)
	_, threads := c.cg.Members(false)
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

// writeProcs moves the process a write names (its ID in the writer's PID namespace, 0
// for the writer's own) into the cgroup, as cgroup_procs_write: EINVAL if it is not a
// number or is negative, ESRCH if no such process is there.
func (c *cgroup) writeProcs(cr *vfs.Credentials, b []byte) error {
	pid, err := strconv.ParseInt(strings.TrimSpace(string(b)), 0, 32)
	if err != nil || pid < 0 {
		return unix.EINVAL
	}
	var t *kernel.Task
	if pid == 0 {
		if cr != nil {
			t = c.k.Task(cr.Caller)
		}
	} else {
		t = c.readerNS(cr).TaskWithID(int32(pid))
	}
	if t == nil {
		return unix.ESRCH
	}
	return c.k.MoveProcess(t, c.cg)
}

// writeSubtree takes "+name" and "-name" words (cgroup_subtree_control_write):
// EINVAL for a word that is neither or a controller Linux does not have.
func (c *cgroup) writeSubtree(s string) error {
	var enable, disable []string
	for _, w := range strings.Fields(s) {
		name := w[1:]
		if !slices.Contains(knownControllers, name) || w[0] != '+' && w[0] != '-' {
			return unix.EINVAL
		}
		enable, disable = slices.DeleteFunc(enable, eq(name)), slices.DeleteFunc(disable, eq(name))
		if w[0] == '+' {
			enable = append(enable, name)
		} else {
			disable = append(disable, name)
		}
	}
	return c.cg.SetSubtreeControl(enable, disable)
}

func eq(s string) func(string) bool { return func(o string) bool { return o == s } }

// writeType: only "threaded" may be written to cgroup.type, which this filesystem does
// not support.
func (c *cgroup) writeType(s string) error {
	if strings.TrimSpace(s) == "threaded" {
		return unix.EOPNOTSUPP
	}
	return unix.EINVAL
}

// writeCount takes "max" or a count (cgroup.max.depth, cgroup.max.descendants:
// cgroup_max_depth_write, ERANGE below 0).
func (c *cgroup) writeCount(name string) func(string) error {
	return func(s string) error {
		s = strings.TrimSpace(s)
		if s != "max" {
			n, err := strconv.ParseInt(s, 0, 32)
			if err != nil {
				return unix.EINVAL
			}
			if n < 0 {
				return unix.ERANGE
			}
			s = strconv.FormatInt(n, 10)
		}
		return c.cg.SetValue(name, s)
	}
}

// writeCPUMax takes "QUOTA [PERIOD]", QUOTA "max" or µs (cpu_max_write): the period
// stays if not given; the period must be within [1 ms, 1 s] and the quota at least
// 1 ms (tg_set_cfs_bandwidth), else EINVAL.
func (c *cgroup) writeCPUMax(s string) error {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return unix.EINVAL
	}
	cur, _ := c.cg.Value("cpu.max")
	period := uint64(100000)
	if old := strings.Fields(cur); len(old) == 2 {
		period, _ = strconv.ParseUint(old[1], 10, 64)
	}
	if len(f) == 2 {
		p, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return unix.EINVAL
		}
		period = p
	}
	quota := f[0]
	if quota != "max" {
		q, err := strconv.ParseUint(quota, 10, 64)
		if err != nil || q < 1000 {
			return unix.EINVAL
		}
		quota = strconv.FormatUint(q, 10)
	}
	if period < 1000 || period > 1000000 {
		return unix.EINVAL
	}
	return c.cg.SetValue("cpu.max", quota+" "+strconv.FormatUint(period, 10))
}

// writeWeight takes a weight in [1, 10000] (cpu_weight_write_u64: ERANGE outside).
func (c *cgroup) writeWeight(s string) error {
	w, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return unix.EINVAL
	}
	if w < 1 || w > 10000 {
		return unix.ERANGE
	}
	return c.cg.SetValue("cpu.weight", strconv.FormatUint(w, 10))
}

// writeMemory takes "max" or a size, with an optional K, M, G, T, P or E suffix
// (page_counter_memparse and memparse).
func (c *cgroup) writeMemory(name string) func(string) error {
	return func(s string) error {
		s = strings.TrimSpace(s)
		if s == "max" {
			return c.cg.SetValue(name, s)
		}
		shift := 0
		if n := len(s); n > 0 {
			if i := strings.IndexByte("KMGTPE", s[n-1]&^0x20); i >= 0 {
				shift, s = 10*(i+1), s[:n-1]
			}
		}
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil || n > (1<<63-1)>>shift {
			return unix.EINVAL
		}
		return c.cg.SetValue(name, strconv.FormatUint(n<<shift/pageSize*pageSize, 10))
	}
}

// writePidsMax takes "max" or a limit in [0, PID_MAX_LIMIT] (pids_max_write).
func (c *cgroup) writePidsMax(s string) error {
	s = strings.TrimSpace(s)
	if s != "max" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 4194304 {
			return unix.EINVAL
		}
		s = strconv.FormatInt(n, 10)
	}
	return c.cg.SetValue("pids.max", s)
}

// writeList takes a list of CPUs or memory nodes below n ("0-2,5"; empty is none set),
// as cpulist_parse: EINVAL otherwise.
func (c *cgroup) writeList(name string, n int) func(string) error {
	return func(s string) error {
		s = strings.TrimSpace(s)
		if s != "" {
			for _, r := range strings.Split(s, ",") {
				lo, hi, isRange := strings.Cut(r, "-")
				a, err1 := strconv.Atoi(lo)
				b := a
				var err2 error
				if isRange {
					b, err2 = strconv.Atoi(hi)
				}
				if err1 != nil || err2 != nil || a < 0 || b < a || b >= n {
					return unix.EINVAL
				}
			}
		}
		return c.cg.SetValue(name, s)
	}
}

// effective is a cpuset file's effective value: the cgroup's own if set, else its
// parent's effective one, else all (def).
func (c *cgroup) effective(name, def string) string {
	for cg := c.cg; cg != nil; cg = cg.Parent() {
		if v, ok := cg.Value(name); ok && v != "" {
			return v + "\n"
		}
	}
	return def + "\n"
}

func (c *cgroup) cpuStat() string {
	u := c.cg.CPUUsage()
	user, sys := u.User/1000, u.Sys/1000
	return fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\n"+
		"nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n", user+sys, user, sys)
}

func (c *cgroup) pidsCurrent() string {
	_, threads := c.cg.Members(true)
	return fmt.Sprintf("%d\n", len(threads))
}

// onlineCPUs is the CPUs the sandbox may run on, as /sys shows them.
func onlineCPUs() string {
	if n := runtime.NumCPU(); n > 1 {
		return fmt.Sprintf("0-%d", n-1)
	}
	return "0"
}

type memoryUse struct{ current, anon, file uint64 }

// memory is the cgroup's memory use (see the package comment).
func (c *cgroup) memory() memoryUse {
	anon, file := c.cg.MemoryUse()
	if c.cg.Parent() != nil || c.k.Containers() > 1 {
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

// memoryStat is memory.stat: anon and file, and the LRU lists Linux splits them
// into. The Sentry never reclaims memory (nothing is evicted to make room, and there
// is no swap), so all of it is active and none inactive: programs that subtract
// inactive_file from memory.current as reclaimable (.NET's GC) find none.
func (c *cgroup) memoryStat() string {
	m := c.memory()
	return fmt.Sprintf("anon %d\nfile %d\ninactive_anon 0\nactive_anon %d\ninactive_file 0\nactive_file %d\n",
		m.anon, m.file, m.anon, m.file)
}
