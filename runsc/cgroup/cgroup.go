// Package cgroup puts a sandbox's host processes in the cgroup its spec names
// (linux.cgroupsPath) and applies the spec's resource limits (linux.resources) there:
// memory (limit, swap, reservation, swappiness, the OOM killer switch), cpu (shares,
// quota and period, cpuset cpus and mems), pids (limit) and, on cgroup v1, devices.
//
// The processes are the sandbox (runsc boot, the Sentry), its Gofer and its stubs: the
// application's processes are the Sentry's tasks, so their memory (the memory file's
// pages, charged to whichever of these processes touches them first) and their CPU
// time are the sandbox's. A pids limit counts the sandbox's host threads (the Go
// runtime's, the Gofer's, one per application thread in the stubs), not the
// application's processes: a small one can keep the sandbox from starting.
//
// As gVisor's runsc, and unlike runc, a spec without a cgroupsPath gets no cgroup:
// the sandbox stays in runsc's own.
//
// Both cgroup versions work, found at /sys/fs/cgroup: on a cgroup2 filesystem there
// (unified) one directory is made and the controllers are enabled in its parents'
// cgroup.subtree_control; otherwise (v1, or hybrid with an empty cgroup2 beside) a
// directory is made in each v1 hierarchy of cpu, cpuacct, cpuset, devices, memory and pids,
// found in /proc/self/mountinfo. As runc's cgroupfs driver, an absolute cgroupsPath is
// below each hierarchy's root, a relative one below runsc's own cgroup.
//
// With --systemd-cgroup the path has systemd's form, "slice:prefix:name", and names
// the cgroup systemd would make: the slice expanded as systemd does (a-b.slice is
// a.slice/a-b.slice; "" is system.slice), then prefix-name.scope. There is no systemd
// to ask (no service manager runs on these machines, and Moat talks no D-Bus), so the
// directories are made with the cgroup filesystem directly, as for any other path.
//
// The runtime makes the directories before the sandbox process runs anything (create
// starts it and holds it until Join), and removes on delete the ones it made, deepest
// first, after killing whatever is left in them.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Root is where the cgroup filesystems are mounted.
const Root = "/sys/fs/cgroup"

// v1Controllers are the v1 hierarchies a sandbox joins.
var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "devices", "memory", "pids"}

// v2Controllers are the controllers enabled for a sandbox's v2 cgroup.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids"}

// Cgroup is a sandbox's cgroup; it is kept in the container's state, so its fields
// are JSON.
type Cgroup struct {
	Version int `json:"version"` // 1 or 2
	// Dirs are the cgroup's directories: by controller for v1, under "" for v2.
	Dirs map[string]string `json:"dirs"`
	// Made are the directories this runtime made, parents before children.
	Made []string `json:"made,omitempty"`
}

// Unified reports whether /sys/fs/cgroup is a cgroup v2 filesystem.
func Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// New works out the directories of the cgroup at path (the spec's cgroupsPath; with
// systemd, in systemd's form); nothing is made yet.
func New(path string, systemd bool) (*Cgroup, error) {
	if systemd {
		p, err := systemdPath(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	if filepath.Clean("/"+path) == "/" {
		return nil, fmt.Errorf("cgroupsPath %q names the root cgroup", path)
	}
	if Unified() {
		dir, err := resolve(Root, "/", ownCgroup("", ""), path)
		if err != nil {
			return nil, err
		}
		return &Cgroup{Version: 2, Dirs: map[string]string{"": dir}}, nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{Version: 1, Dirs: map[string]string{}}
	for _, ctl := range v1Controllers {
		m, ok := mounts[ctl]
		if !ok {
			continue // a controller this kernel lacks
		}
		dir, err := resolve(m.point, m.root, ownCgroup(ctl, m.root), path)
		if err != nil {
			return nil, err
		}
		c.Dirs[ctl] = dir
	}
	if len(c.Dirs) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy is mounted under " + Root)
	}
	return c, nil
}

// resolve is the directory of cgroup path in the hierarchy mounted at point whose
// root is mountRoot; own is runsc's own cgroup there (for a relative path).
func resolve(point, mountRoot, own, path string) (string, error) {
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(own, p)
	}
	rel, err := filepath.Rel(mountRoot, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("cgroupsPath %q is outside the hierarchy mounted at %s", path, point)
	}
	return filepath.Join(point, rel), nil
}

// systemdPath turns "slice:prefix:name" into the path of systemd's scope.
func systemdPath(p string) (string, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got %q instead", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", err
	}
	scope := name + ".scope"
	if prefix != "" {
		scope = prefix + "-" + scope
	}
	return filepath.Join("/", dir, scope), nil
}

// expandSlice expands a slice name as systemd does: a-b-c.slice is
// a.slice/a-b.slice/a-b-c.slice, and -.slice is the root.
func expandSlice(slice string) (string, error) {
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || strings.Contains(name, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if name == "-" {
		return "/", nil
	}
	if name == "" || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	var path, prefix string
	for _, comp := range strings.Split(name, "-") {
		prefix += comp
		path += "/" + prefix + ".slice"
		prefix += "-"
	}
	return path, nil
}

// mount is a v1 hierarchy's mount point and the cgroup at its root.
type mount struct{ point, root string }

// v1Mounts finds the v1 hierarchies in /proc/self/mountinfo, by controller.
func v1Mounts() (map[string]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]mount{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		f := strings.Fields(s.Text())
		i := 0
		for i < len(f) && f[i] != "-" {
			i++
		}
		if i+3 >= len(f) || i < 5 || f[i+1] != "cgroup" {
			continue
		}
		for _, o := range strings.Split(f[i+3], ",") {
			out[o] = mount{point: f[4], root: f[3]}
		}
	}
	return out, s.Err()
}

// ownCgroup is runsc's cgroup in the hierarchy of controller ctl (v2: ""), from
// /proc/self/cgroup; def if it can't be read.
func ownCgroup(ctl, def string) string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return def
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if ctl == "" && f[0] == "0" && f[1] == "" {
			return f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if ctl != "" && c == ctl {
				return f[2]
			}
		}
	}
	if def == "" {
		return "/"
	}
	return def
}

// Create makes the cgroup's directories and applies res (nil: no limits), then, if res
// has device rules, allows the devices the sandbox itself needs. On error, what it made
// is removed.
func (c *Cgroup) Create(res *specs.LinuxResources, sandboxDevices ...specs.LinuxDeviceCgroup) (err error) {
	defer func() {
		if err != nil {
			c.Destroy()
		}
	}()
	for _, ctl := range c.controllers() {
		if err := c.mkdirAll(c.Dirs[ctl]); err != nil {
			return err
		}
		if ctl == "cpuset" {
			if err := initCpuset(c.Dirs[ctl]); err != nil {
				return err
			}
		}
	}
	if c.Version == 2 {
		c.enableControllers()
		return c.applyV2(res)
	}
	if err := c.applyV1(res); err != nil {
		return err
	}
	if res != nil && len(res.Devices) > 0 {
		return c.devices(sandboxDevices)
	}
	return nil
}

// devices writes device rules to the devices hierarchy's devices.allow and
// devices.deny, in order, as "type major:minor access" (devcgroup_update_access).
func (c *Cgroup) devices(rules []specs.LinuxDeviceCgroup) error {
	dir, ok := c.Dirs["devices"]
	if !ok {
		return errors.New("device rules: no devices cgroup hierarchy")
	}
	num := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	for _, r := range rules {
		typ, access := r.Type, r.Access
		if typ == "" {
			typ = "a"
		}
		if access == "" {
			access = "rwm"
		}
		if typ != "a" && typ != "b" && typ != "c" {
			return fmt.Errorf("device rule: unknown type %q", r.Type)
		}
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := write(dir, file, fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)); err != nil {
			return err
		}
	}
	return nil
}

// controllers are the keys of Dirs, in a fixed order.
func (c *Cgroup) controllers() []string {
	if c.Version == 2 {
		return []string{""}
	}
	var out []string
	for _, ctl := range v1Controllers {
		if _, ok := c.Dirs[ctl]; ok {
			out = append(out, ctl)
		}
	}
	return out
}

// mkdirAll makes dir and its missing parents, recording the ones it made.
func (c *Cgroup) mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := c.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("making cgroup %s: %w", dir, err)
	}
	c.Made = append(c.Made, dir)
	return nil
}

// initCpuset gives each cpuset directory from its hierarchy's root down to dir the
// CPUs and memory nodes of its parent where it has none: v1 refuses tasks in a cpuset
// without them.
func initCpuset(dir string) error {
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(d), "cpuset.cpus")); err != nil {
			break
		}
		chain = append([]string{d}, chain...)
	}
	for _, d := range chain {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, _ := os.ReadFile(filepath.Join(d, f))
			if strings.TrimSpace(string(cur)) != "" {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(filepath.Dir(d), f))
			if err != nil {
				return err
			}
			if err := write(d, f, strings.TrimSpace(string(parent))); err != nil {
				return err
			}
		}
	}
	return nil
}

// enableControllers enables the sandbox's controllers in the subtree_control of each
// ancestor of its v2 directory (best effort: a controller the parent lacks, or a
// parent with processes of its own, stays as it is, and a limit that needs it fails).
func (c *Cgroup) enableControllers() {
	dir := c.Dirs[""]
	var chain []string
	for d := filepath.Dir(dir); strings.HasPrefix(d, Root) && len(d) >= len(Root); d = filepath.Dir(d) {
		chain = append([]string{d}, chain...)
		if d == Root {
			break
		}
	}
	for _, d := range chain {
		avail, _ := os.ReadFile(filepath.Join(d, "cgroup.controllers"))
		for _, ctl := range v2Controllers {
			if strings.Contains(" "+strings.TrimSpace(string(avail))+" ", " "+ctl+" ") {
				os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+"+ctl), 0)
			}
		}
	}
}

// write writes value to dir/file, with an error naming both.
func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("setting %s to %q in cgroup %s: %w", file, value, dir, err)
	}
	return nil
}

// exists reports whether dir/file exists.
func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// applyV1 writes res to the v1 hierarchies.
func (c *Cgroup) applyV1(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	if m := res.Memory; m != nil {
		dir, ok := c.Dirs["memory"]
		if !ok {
			return errors.New("memory limits: no memory cgroup hierarchy")
		}
		if m.Limit != nil {
			if err := write(dir, "memory.limit_in_bytes", strconv.FormatInt(*m.Limit, 10)); err != nil {
				return err
			}
		}
		// Swap is memory and swap together in v1 (memsw), which needs swap accounting.
		if m.Swap != nil && exists(dir, "memory.memsw.limit_in_bytes") {
			if err := write(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10)); err != nil {
				return err
			}
		}
		if m.Reservation != nil {
			if err := write(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)); err != nil {
				return err
			}
		}
		if m.Swappiness != nil && *m.Swappiness != ^uint64(0) {
			if *m.Swappiness > 100 {
				return fmt.Errorf("memory.swappiness %d is above 100", *m.Swappiness)
			}
			if err := write(dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
				return err
			}
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			if err := write(dir, "memory.oom_control", "1"); err != nil {
				return err
			}
		}
	}
	if cpu := res.CPU; cpu != nil {
		if dir, ok := c.Dirs["cpu"]; ok {
			if cpu.Shares != nil && *cpu.Shares != 0 {
				if err := write(dir, "cpu.shares", strconv.FormatUint(*cpu.Shares, 10)); err != nil {
					return err
				}
			}
			// The period first: a quota is checked against it.
			if cpu.Period != nil && *cpu.Period != 0 {
				if err := write(dir, "cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10)); err != nil {
					return err
				}
			}
			if cpu.Quota != nil && *cpu.Quota != 0 {
				if err := write(dir, "cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10)); err != nil {
					return err
				}
			}
		} else if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil {
			return errors.New("cpu limits: no cpu cgroup hierarchy")
		}
		if err := c.cpuset(c.Dirs["cpuset"], cpu); err != nil {
			return err
		}
	}
	if len(res.Devices) > 0 {
		if err := c.devices(res.Devices); err != nil {
			return err
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		dir, ok := c.Dirs["pids"]
		if !ok {
			return errors.New("pids limit: no pids cgroup hierarchy")
		}
		if err := write(dir, "pids.max", pidsMax(*p.Limit)); err != nil {
			return err
		}
	}
	return nil
}

// cpuset writes the spec's cpus and mems to dir.
func (c *Cgroup) cpuset(dir string, cpu *specs.LinuxCPU) error {
	if cpu.Cpus == "" && cpu.Mems == "" {
		return nil
	}
	if dir == "" {
		return errors.New("cpuset: no cpuset cgroup")
	}
	if cpu.Cpus != "" {
		if err := write(dir, "cpuset.cpus", cpu.Cpus); err != nil {
			return err
		}
	}
	if cpu.Mems != "" {
		if err := write(dir, "cpuset.mems", cpu.Mems); err != nil {
			return err
		}
	}
	return nil
}

// pidsMax is pids.max's value for the spec's limit: 0 or less is no limit.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// v2Max is a v2 limit: -1 is "max".
func v2Max(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// applyV2 writes res to the v2 directory, converting as runc does (V2Files).
func (c *Cgroup) applyV2(res *specs.LinuxResources) error {
	files, err := V2Files(res)
	if err != nil {
		return err
	}
	dir := c.Dirs[""]
	for _, f := range files {
		if f.Name == "memory.swap.max" && !exists(dir, f.Name) {
			continue // no swap accounting on this host
		}
		if strings.HasPrefix(f.Name, "cpuset.") && dir == "" {
			return errors.New("cpuset: no cpuset cgroup")
		}
		if err := write(dir, f.Name, f.Value); err != nil {
			return err
		}
	}
	return nil
}

// File is a cgroup v2 file and the value a spec gives it.
type File struct{ Name, Value string }

// V2Files converts res to the cgroup v2 files' values, in the order they are written,
// as runc does: memory.max (the limit, -1 is max), memory.swap.max (v1's memsw is
// memory and swap, v2's swap alone: the spec's swap less the limit), memory.low (the
// reservation), cpu.weight (from v1's shares, 1 + (shares-2)*9999/262142), cpu.max
// (quota and period), cpuset.cpus and cpuset.mems, pids.max. The host's cgroup (applyV2)
// and the Sentry's cgroup filesystem, which shows them to the application, both use it.
func V2Files(res *specs.LinuxResources) ([]File, error) {
	var out []File
	if res == nil {
		return nil, nil
	}
	add := func(name, value string) { out = append(out, File{name, value}) }
	if m := res.Memory; m != nil {
		if m.Limit != nil {
			add("memory.max", v2Max(*m.Limit))
		}
		if m.Swap != nil {
			swap := *m.Swap
			if swap > 0 && m.Limit != nil && *m.Limit > 0 {
				if swap < *m.Limit {
					return nil, fmt.Errorf("memory.swap %d is below memory.limit %d", swap, *m.Limit)
				}
				swap -= *m.Limit
			}
			add("memory.swap.max", v2Max(swap))
		}
		if m.Reservation != nil {
			add("memory.low", v2Max(*m.Reservation))
		}
	}
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			s := *cpu.Shares
			if s < 2 || s > 262144 {
				return nil, fmt.Errorf("cpu.shares %d is outside [2, 262144]", s)
			}
			add("cpu.weight", strconv.FormatUint(1+((s-2)*9999)/262142, 10))
		}
		if cpu.Quota != nil && *cpu.Quota != 0 || cpu.Period != nil && *cpu.Period != 0 {
			quota := "max"
			if cpu.Quota != nil && *cpu.Quota > 0 {
				quota = strconv.FormatInt(*cpu.Quota, 10)
			}
			period := uint64(100000)
			if cpu.Period != nil && *cpu.Period != 0 {
				period = *cpu.Period
			}
			add("cpu.max", quota+" "+strconv.FormatUint(period, 10))
		}
		if cpu.Cpus != "" {
			add("cpuset.cpus", cpu.Cpus)
		}
		if cpu.Mems != "" {
			add("cpuset.mems", cpu.Mems)
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		add("pids.max", pidsMax(*p.Limit))
	}
	return out, nil
}

// Join moves process pid (and its threads) into the cgroup.
func (c *Cgroup) Join(pid int) error {
	for _, ctl := range c.controllers() {
		if err := write(c.Dirs[ctl], "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Pids returns the processes in the cgroup.
func (c *Cgroup) Pids() []int {
	seen := map[int]bool{}
	var out []int
	for _, ctl := range c.controllers() {
		data, _ := os.ReadFile(filepath.Join(c.Dirs[ctl], "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Destroy kills what is left in the cgroup and removes the directories this runtime
// made, deepest first. The cgroup's own directories staying busy is an error; a parent
// made for it is left if it is not empty.
func (c *Cgroup) Destroy() error {
	for _, pid := range c.Pids() {
		unix.Kill(pid, unix.SIGKILL)
	}
	leaf := map[string]bool{}
	for _, d := range c.Dirs {
		leaf[d] = true
	}
	var firstErr error
	for i := len(c.Made) - 1; i >= 0; i-- {
		dir := c.Made[i]
		if !leaf[dir] {
			// A parent made for this cgroup: another container's cgroup may be in it
			// now, and then it stays.
			unix.Rmdir(dir)
			continue
		}
		var err error
		for try := 0; try < 200; try++ {
			if err = unix.Rmdir(dir); err == nil || err == unix.ENOENT {
				err = nil
				break
			}
			if err != unix.EBUSY {
				break
			}
			// Processes killed a moment ago are still leaving it.
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
	}
	c.Made = nil
	return firstErr
}

// Stats are the cgroup's figures that events --stats reports; a zero is unknown.
type Stats struct {
	MemoryLimit, MemoryUsage, MemoryMaxUsage, MemoryFailcnt uint64
	SwapLimit, SwapUsage                                    uint64
	PidsLimit                                               uint64
	CPUPeriods, CPUThrottledPeriods, CPUThrottledTime       uint64
}

// readUint reads a number from dir/file; "max" (v2's no limit) is 0.
func readUint(dir, file string) uint64 {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n
}

// readKeyed reads "key value" lines from dir/file.
func readKeyed(dir, file string) map[string]uint64 {
	out := map[string]uint64{}
	data, _ := os.ReadFile(filepath.Join(dir, file))
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			out[f[0]] = n
		}
	}
	return out
}

// Stats reads the cgroup's figures.
func (c *Cgroup) Stats() Stats {
	var s Stats
	if c.Version == 2 {
		dir := c.Dirs[""]
		s.MemoryLimit, s.MemoryUsage, s.MemoryMaxUsage = readUint(dir, "memory.max"), readUint(dir, "memory.current"), readUint(dir, "memory.peak")
		s.MemoryFailcnt = readKeyed(dir, "memory.events")["max"]
		s.SwapLimit, s.SwapUsage = readUint(dir, "memory.swap.max"), readUint(dir, "memory.swap.current")
		s.PidsLimit = readUint(dir, "pids.max")
		st := readKeyed(dir, "cpu.stat")
		s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledTime = st["nr_periods"], st["nr_throttled"], st["throttled_usec"]*1000
		return s
	}
	if dir, ok := c.Dirs["memory"]; ok {
		s.MemoryLimit, s.MemoryUsage = readUint(dir, "memory.limit_in_bytes"), readUint(dir, "memory.usage_in_bytes")
		s.MemoryMaxUsage, s.MemoryFailcnt = readUint(dir, "memory.max_usage_in_bytes"), readUint(dir, "memory.failcnt")
		s.SwapLimit, s.SwapUsage = readUint(dir, "memory.memsw.limit_in_bytes"), readUint(dir, "memory.memsw.usage_in_bytes")
	}
	if dir, ok := c.Dirs["pids"]; ok {
		s.PidsLimit = readUint(dir, "pids.max")
	}
	if dir, ok := c.Dirs["cpu"]; ok {
		st := readKeyed(dir, "cpu.stat")
		s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledTime = st["nr_periods"], st["nr_throttled"], st["throttled_time"]
	}
	return s
}
