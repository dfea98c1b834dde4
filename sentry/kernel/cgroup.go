package kernel

import (
	"maps"

	"github.com/moat-sandbox/moat/sentry/mm"
)

// What a container's cgroup shows (sentry/fsimpl/cgroupfs): each container of the
// sandbox is one cgroup, holding its processes (Process.container), with the limits
// its spec's linux.resources gives, converted to cgroup v2 files as runc converts
// them, which the runtime sets (SetResources) and applies on the host to the
// sandbox's cgroup. The kernel does not enforce them itself.

// Resources are a container's limits: cgroup v2 files ("memory.max", "cpu.max",
// "pids.max", ...) and the values its spec gives them; a file it has no value for
// keeps Linux's default.
type Resources map[string]string

// SetResources records the limits of container ("" for the sandbox's own, or the ID
// of another container of the pod), which its cgroup shows.
func (k *Kernel) SetResources(container string, r Resources) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.resources == nil {
		k.resources = map[string]Resources{}
	}
	k.resources[container] = maps.Clone(r)
}

// ForgetResources drops what SetResources recorded of container, when it is removed.
func (k *Kernel) ForgetResources(container string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.resources, container)
}

// Resource returns the value container's spec gives cgroup v2 file name, if any.
func (k *Kernel) Resource(container, name string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.resources[container][name]
	return v, ok
}

// Containers returns how many containers the sandbox holds: those whose resources
// the runtime set, and at least one.
func (k *Kernel) Containers() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return max(len(k.resources), 1)
}

// Container is the container t's process belongs to ("" for the sandbox's own).
func (t *Task) Container() string { return t.Proc.container }

// ContainerMembers returns the live processes and threads of container, in no order:
// the leader of each process (for its ID), and every live thread.
func (k *Kernel) ContainerMembers(container string) (procs []*Process, threads []*Task) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.procs {
		if p.container != container || p.exit != nil || len(p.threads) == 0 {
			continue
		}
		procs = append(procs, p)
		for t := range p.threads {
			threads = append(threads, t)
		}
	}
	return procs, threads
}

// ContainerMemory returns the populated memory of container's address spaces, each
// counted once however many threads or vfork children run in it (mm.MemoryManager.ResidentBytes).
func (k *Kernel) ContainerMemory(container string) (anon, file uint64) {
	_, threads := k.ContainerMembers(container)
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

// ContainerFrozen reports whether container's tasks are kept from running (the
// runtime's pause of it, or of the whole sandbox).
func (k *Kernel) ContainerFrozen(container string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, frozen := k.freezer.containers[container]
	return k.freezer.frozen || frozen
}
