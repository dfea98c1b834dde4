package kernel

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/mm"
)

// Cgroups (sentry/fsimpl/cgroupfs shows them). Each container of the sandbox has a
// cgroup v2 hierarchy of its own, whose root is the container's cgroup, as a
// container sees its cgroup through a cgroup namespace: its processes are there when
// the runtime makes them (NewProcess), children are made in their parent's
// (fork), and a writer of a cgroup.procs file moves a process to another cgroup of
// the hierarchy (MoveProcess), which mkdir and rmdir grow and shrink (Mkdir, Rmdir),
// as systemd does in a container.
//
// The root's limits are the container's spec's linux.resources, converted to cgroup v2
// files as runc converts them, which the runtime sets (SetResources) and applies on
// the host to the sandbox's cgroup; a writer may change a cgroup's (SetValue). The
// kernel enforces pids.max at fork and clone (as the pids controller: EAGAIN when a
// cgroup or an ancestor would exceed it); the others are shown, not enforced.
//
// The cgroups' state is under Kernel.mu.

// Controllers are the controllers every container's cgroup has, in Linux's order.
var Controllers = []string{"cpuset", "cpu", "memory", "pids"}

// Cgroup is one cgroup of a container's hierarchy.
type Cgroup struct {
	k         *Kernel
	container string
	parent    *Cgroup // nil for the container's cgroup, the hierarchy's root
	name      string

	// Under k.mu: the children by name; the values of the files written or set by
	// the spec (else Linux's defaults); the controllers enabled for the children
	// (cgroup.subtree_control); whether rmdir removed it.
	children map[string]*Cgroup
	values   map[string]string
	subtree  map[string]bool
	removed  bool
	// freeze is cgroup.freeze: the cgroup's tasks, and those of its descendants,
	// stay out of application code (freeze.go's enterApp).
	freeze bool
	// pidsMax counts the forks and clones its pids.max refused (pids.events).
	pidsMax int64
}

// populatedLocked reports whether a live process is in cg itself (all false) or in
// cg or below it (all true). Zombies are not: Linux takes a task out of its cgroup's
// count when it exits (cgroup_exit). k.mu is held.
func (cg *Cgroup) populatedLocked(all bool) bool {
	for _, p := range cg.k.procs {
		if p.exit == nil && len(p.threads) > 0 && p.cgroup != nil && (p.cgroup == cg || all && p.cgroup.within(cg)) {
			return true
		}
	}
	return false
}

// Container is the container whose hierarchy cg is in.
func (cg *Cgroup) Container() string { return cg.container }

// Parent is cg's parent, nil for the container's cgroup.
func (cg *Cgroup) Parent() *Cgroup { return cg.parent }

// Path is cg's path from the container's cgroup ("/", "/a/b").
func (cg *Cgroup) Path() string {
	if cg.parent == nil {
		return "/"
	}
	var names []string
	for c := cg; c.parent != nil; c = c.parent {
		names = append(names, c.name)
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/")
}

// CgroupRoot returns container's cgroup ("" for the sandbox's own container).
func (k *Kernel) CgroupRoot(container string) *Cgroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cgroupRootLocked(container)
}

func (k *Kernel) cgroupRootLocked(container string) *Cgroup {
	if k.cgroups == nil {
		k.cgroups = map[string]*Cgroup{}
	}
	cg := k.cgroups[container]
	if cg == nil {
		cg = &Cgroup{k: k, container: container}
		k.cgroups[container] = cg
	}
	return cg
}

// SetResources sets the values of container's cgroup's files to its spec's limits
// (cgroup v2 file → value, from runsc/cgroup.V2Files).
func (k *Kernel) SetResources(container string, r map[string]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cgroupRootLocked(container).values = maps.Clone(r)
}

// ForgetCgroups drops container's hierarchy, when the container is removed.
func (k *Kernel) ForgetCgroups(container string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cgroups, container)
}

// Containers returns how many containers the sandbox holds (at least one).
func (k *Kernel) Containers() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return max(len(k.cgroups), 1)
}

// Value returns the value of cg's file name, if the spec or a writer gave it one.
func (cg *Cgroup) Value(name string) (string, bool) {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	v, ok := cg.values[name]
	return v, ok
}

// SetValue sets the value of cg's file name (checked by the caller). ENOENT if cg
// was removed.
func (cg *Cgroup) SetValue(name, value string) error {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	if cg.removed {
		return unix.ENOENT
	}
	if cg.values == nil {
		cg.values = map[string]string{}
	}
	cg.values[name] = value
	return nil
}

// Children returns the names of cg's children, sorted.
func (cg *Cgroup) Children() []string {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return slices.Sorted(maps.Keys(cg.children))
}

// Child returns cg's child name, or nil.
func (cg *Cgroup) Child(name string) *Cgroup {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return cg.children[name]
}

// limitLocked is the number in cg's file name ("max" or unset: -1).
func (cg *Cgroup) limitLocked(name string) int64 {
	v, ok := cg.values[name]
	if !ok || v == "max" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// descendantsLocked counts cg's descendants.
func (cg *Cgroup) descendantsLocked() int {
	n := 0
	for _, c := range cg.children {
		n += 1 + c.descendantsLocked()
	}
	return n
}

// Mkdir makes child name of cg, as cgroup_mkdir: EEXIST if it exists, ENOENT if cg
// was removed, EAGAIN past an ancestor's cgroup.max.depth or cgroup.max.descendants.
func (cg *Cgroup) Mkdir(name string) (*Cgroup, error) {
	k := cg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if cg.removed {
		return nil, unix.ENOENT
	}
	if cg.children[name] != nil {
		return nil, unix.EEXIST
	}
	for a, depth := cg, 1; a != nil; a, depth = a.parent, depth+1 {
		if d := a.limitLocked("cgroup.max.depth"); d >= 0 && int64(depth) > d {
			return nil, unix.EAGAIN
		}
		if d := a.limitLocked("cgroup.max.descendants"); d >= 0 && int64(a.descendantsLocked()) >= d {
			return nil, unix.EAGAIN
		}
	}
	c := &Cgroup{k: k, container: cg.container, parent: cg, name: name}
	if cg.children == nil {
		cg.children = map[string]*Cgroup{}
	}
	cg.children[name] = c
	return c, nil
}

// Rmdir removes child name of cg, as cgroup_rmdir: ENOENT if there is none, EBUSY
// while it has processes or children.
func (cg *Cgroup) Rmdir(name string) error {
	k := cg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	c := cg.children[name]
	if c == nil {
		return unix.ENOENT
	}
	if len(c.children) > 0 || c.populatedLocked(false) {
		return unix.EBUSY
	}
	c.removed = true
	delete(cg.children, name)
	return nil
}

// Available returns the controllers cg may enable for its children
// (cgroup.controllers): all of them for the container's cgroup, else those its
// parent enabled.
func (cg *Cgroup) Available() []string {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return cg.availableLocked()
}

func (cg *Cgroup) availableLocked() []string {
	if cg.parent == nil {
		return Controllers
	}
	return cg.parent.subtreeLocked()
}

// SubtreeControl returns the controllers cg enabled for its children.
func (cg *Cgroup) SubtreeControl() []string {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return cg.subtreeLocked()
}

func (cg *Cgroup) subtreeLocked() []string {
	var out []string
	for _, c := range Controllers {
		if cg.subtree[c] {
			out = append(out, c)
		}
	}
	return out
}

// SetSubtreeControl enables and disables controllers for cg's children, as
// cgroup_subtree_control_write: ENOENT for one cg does not have, EBUSY to enable one
// while cg holds processes (no internal processes, as for any cgroup but the
// system's root) or to disable one a child enabled for its own children.
func (cg *Cgroup) SetSubtreeControl(enable, disable []string) error {
	k := cg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if cg.removed {
		return unix.ENOENT
	}
	avail := cg.availableLocked()
	for _, c := range append(slices.Clone(enable), disable...) {
		if !slices.Contains(avail, c) {
			return unix.ENOENT
		}
	}
	for _, c := range enable {
		if !cg.subtree[c] && cg.populatedLocked(false) {
			return unix.EBUSY
		}
	}
	for _, c := range disable {
		for _, child := range cg.children {
			if child.subtree[c] {
				return unix.EBUSY
			}
		}
	}
	if cg.subtree == nil {
		cg.subtree = map[string]bool{}
	}
	for _, c := range enable {
		cg.subtree[c] = true
	}
	for _, c := range disable {
		delete(cg.subtree, c)
	}
	return nil
}

// Cgroup is the cgroup t's process is in.
func (t *Task) Cgroup() *Cgroup {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Proc.cgroup
}

// Container is the container t's process belongs to ("" for the sandbox's own).
func (t *Task) Container() string { return t.Proc.container }

// MoveProcess moves t's process (all its threads) into cg, as a write of its ID to
// cg's cgroup.procs (cgroup_attach_task): ENOENT if cg was removed or is in another
// container's hierarchy (outside the writer's cgroup namespace), EBUSY if cg enabled
// controllers for its children (no internal processes), ESRCH if the process exited.
func (k *Kernel) MoveProcess(t *Task, cg *Cgroup) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	if p.exit != nil || len(p.threads) == 0 {
		return unix.ESRCH
	}
	if cg.removed || p.container != cg.container {
		return unix.ENOENT
	}
	if p.cgroup == cg {
		return nil
	}
	if len(cg.subtree) > 0 {
		return unix.EBUSY
	}
	p.cgroup = cg
	k.freezer.cgroupChangedLocked() // it may leave or join a frozen cgroup
	return nil
}

// within reports whether cg is root or below it.
func (cg *Cgroup) within(root *Cgroup) bool {
	for c := cg; c != nil; c = c.parent {
		if c == root {
			return true
		}
	}
	return false
}

// Members returns the live processes and threads in cg itself (all true: in cg or
// below it), in no order.
func (cg *Cgroup) Members(all bool) (procs []*Process, threads []*Task) {
	k := cg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.procs {
		if p.exit != nil || len(p.threads) == 0 || p.cgroup == nil || !(p.cgroup == cg || all && p.cgroup.within(cg)) {
			continue
		}
		procs = append(procs, p)
		for t := range p.threads {
			threads = append(threads, t)
		}
	}
	return procs, threads
}

// CPUUsage is the CPU time of cg's processes: for the container's cgroup, every
// process the container has run (reaped ones through their reapers, as Stats); for
// a cgroup below it, that of the processes, live and zombies, in it or below it now.
func (cg *Cgroup) CPUUsage() Usage {
	if cg.parent == nil {
		return cg.k.Stats(cg.container).CPU
	}
	k := cg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	var u Usage
	for _, p := range k.procs {
		if p.cgroup != nil && p.cgroup.within(cg) {
			u.add(p.usageLocked())
			u.add(p.childUsage)
		}
	}
	return u
}

// MemoryUse returns the populated memory of the address spaces of cg's processes (in
// it or below it), each counted once however many threads or vfork children run in
// it (mm.MemoryManager.ResidentBytes).
func (cg *Cgroup) MemoryUse() (anon, file uint64) {
	_, threads := cg.Members(true)
	seen := map[*mm.MemoryManager]bool{}
	for _, t := range threads {
		m := t.MM
		if m == nil || seen[m] {
			continue
		}
		seen[m] = true
		a, f := m.ResidentBytes()
		anon += a
		file += f
	}
	return anon, file
}

// pidsAllowLocked reports whether one more task may join p's cgroup: no cgroup from
// it up to the container's has a pids.max its tasks already reach (pids_try_charge).
// k.mu is held.
func (k *Kernel) pidsAllowLocked(p *Process) bool {
	for cg := p.cgroup; cg != nil; cg = cg.parent {
		limit := cg.limitLocked("pids.max")
		if limit < 0 {
			continue
		}
		n := int64(0)
		for _, o := range k.procs {
			if o.exit == nil && o.cgroup != nil && o.cgroup.within(cg) {
				n += int64(len(o.threads))
			}
		}
		if n >= limit {
			cg.pidsMax++
			return false
		}
	}
	return true
}

// PidsMaxEvents is how many forks and clones cg's pids.max refused.
func (cg *Cgroup) PidsMaxEvents() int64 {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return cg.pidsMax
}

// frozenLocked reports whether cg or an ancestor is frozen (cgroup.freeze). k.mu is
// held.
func (cg *Cgroup) frozenLocked() bool {
	for c := cg; c != nil; c = c.parent {
		if c.freeze {
			return true
		}
	}
	return false
}

// Freeze reports cg's own cgroup.freeze.
func (cg *Cgroup) Freeze() bool {
	cg.k.mu.Lock()
	defer cg.k.mu.Unlock()
	return cg.freeze
}

// SetFreeze freezes (on) or thaws cg, as a write of cgroup.freeze: a frozen cgroup's
// tasks and its descendants' stop before their next instruction of application code
// (freeze.go), as the runtime's pause does; it returns at once, and Frozen tells when
// none runs any more. ENOENT if cg was removed.
func (cg *Cgroup) SetFreeze(on bool) error {
	k := cg.k
	k.mu.Lock()
	if cg.removed {
		k.mu.Unlock()
		return unix.ENOENT
	}
	if cg.freeze == on {
		k.mu.Unlock()
		return nil
	}
	cg.freeze = on
	if on {
		k.freezer.cgroups++
	} else {
		k.freezer.cgroups--
	}
	k.freezer.markLocked()
	k.freezer.cgroupChangedLocked()
	var tasks []*Task
	if on {
		for _, t := range k.tasks {
			if t.Proc.cgroup != nil && t.Proc.cgroup.within(cg) {
				tasks = append(tasks, t)
			}
		}
	}
	k.mu.Unlock()
	for _, t := range tasks {
		t.ctx.Interrupt()
	}
	return nil
}

// Frozen reports whether cg is frozen (it, an ancestor, its container or the whole
// sandbox) and none of its tasks runs application code any more (cgroup.events'
// frozen).
func (cg *Cgroup) Frozen() bool {
	k := cg.k
	k.mu.Lock()
	_, paused := k.freezer.containers[cg.container]
	if !cg.frozenLocked() && !paused && !k.freezer.frozen {
		k.mu.Unlock()
		return false
	}
	var tasks []*Task
	for _, t := range k.tasks {
		if t.Proc.cgroup != nil && t.Proc.cgroup.within(cg) {
			tasks = append(tasks, t)
		}
	}
	k.mu.Unlock()
	for _, t := range tasks {
		if t.inApp.Load() {
			return false
		}
	}
	return true
}

// Kill sends SIGKILL to every process of cg and its descendants, as a write of "1"
// to cgroup.kill (cgroup_kill).
func (cg *Cgroup) Kill() {
	procs, _ := cg.Members(true)
	k := cg.k
	for _, p := range procs {
		k.SignalProcess(p.PID, unix.SIGKILL)
	}
}
