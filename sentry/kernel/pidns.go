package kernel

import (
	"golang.org/x/sys/unix"
)

// PID namespaces, as kernel/pid.c and kernel/pid_namespace.c (pid_namespaces(7)).
//
// The namespaces form a tree under the kernel's root namespace (level 0). A process
// lives in one namespace, its own; it has an ID there and one in each ancestor
// namespace (struct pid's numbers), none in a sibling or a descendant. A thread has
// IDs the same way; a process's IDs are its leader's. The kernel's Task.TID and
// Process.PID are the root namespace's IDs: the kernel names tasks by them
// internally (the runtime, logs, credentials' Caller). Everything the application
// gives or takes is translated through the caller's namespace (Task.PIDNamespace):
// IDOfTask, IDOfProcess and the group and session IDs give 0 for a task the
// namespace does not contain (getppid of a namespace's init, si_pid of a signal
// from an ancestor namespace), and TaskWithID and ProcessWithID look an ID up.
// IDs are allocated upwards in each namespace and never reused.
//
// A namespace's first process is its init (PID 1), its child reaper: orphans of the
// namespace go to it (or to a child subreaper between them and it); it receives no
// signal whose action is the default unless the signal comes from an ancestor
// namespace and is SIGKILL or SIGSTOP (SIGNAL_UNKILLABLE, sig_task_ignored); when it
// exits, every other process of the namespace is killed (zap_pid_ns_processes) and
// the namespace takes no new process (fork fails with ENOMEM, as alloc_pid once
// PIDNS_ADDING is cleared).
//
// clone(CLONE_NEWPID) puts the child in a new namespace, child of the caller's
// pid_for_children; unshare(CLONE_NEWPID) makes a new namespace the caller's
// pid_for_children (Task.childNS): its next child is that namespace's init, and its
// later children join it, while the caller itself stays where it was.
//
// A container of a pod has a namespace of its own (runsc/boot), a child of the
// root, unless it joins the pod's.
//
// k.mu guards every namespace's maps and counters.

// maxPIDNSLevel is MAX_PID_NS_LEVEL: the deepest a namespace may be.
const maxPIDNSLevel = 32

// PIDNamespace is one PID namespace.
type PIDNamespace struct {
	k      *Kernel
	parent *PIDNamespace
	level  int
	last   int32              // the last ID allocated
	tasks  map[int32]*Task    // live tasks by their ID here
	procs  map[int32]*Process // processes (live and zombies) by their ID here
	// init is the namespace's first process (its child reaper), nil before it.
	init *Process
	// closed is set once init has exited: no process may join (PIDNS_ADDING off).
	closed bool
}

func newPIDNamespace(k *Kernel, parent *PIDNamespace) *PIDNamespace {
	ns := &PIDNamespace{k: k, parent: parent, tasks: map[int32]*Task{}, procs: map[int32]*Process{}}
	if parent != nil {
		ns.level = parent.level + 1
	}
	return ns
}

// RootPIDNamespace is the kernel's first PID namespace: the sandbox's own container's.
func (k *Kernel) RootPIDNamespace() *PIDNamespace { return k.root }

// NewPIDNamespace makes a namespace, child of parent (the root if nil), with no
// process yet: the first process the runtime creates in it (ProcessArgs.PIDNS) is
// its init.
func (k *Kernel) NewPIDNamespace(parent *PIDNamespace) *PIDNamespace {
	if parent == nil {
		parent = k.root
	}
	return newPIDNamespace(k, parent)
}

// Parent is the namespace's parent, nil for the root.
func (ns *PIDNamespace) Parent() *PIDNamespace { return ns.parent }

// Level is the namespace's depth: 0 for the root.
func (ns *PIDNamespace) Level() int { return ns.level }

// ancestorAt returns ns's ancestor (or ns itself) at level, nil if level is deeper.
func (ns *PIDNamespace) ancestorAt(level int) *PIDNamespace {
	if level > ns.level {
		return nil
	}
	a := ns
	for a.level > level {
		a = a.parent
	}
	return a
}

// Contains reports whether o is ns or one of its descendants.
func (ns *PIDNamespace) Contains(o *PIDNamespace) bool { return o.ancestorAt(ns.level) == ns }

// pidRef is an ID as Linux's struct pid has it: the namespace it was allocated in and
// its number in that namespace and in each ancestor (ids[level]). A process group and
// a session are named by their leader's pidRef, which outlives the leader.
type pidRef struct {
	ns  *PIDNamespace
	ids []int32
}

// in is the reference's number in ns, 0 if ns does not contain it.
func (r pidRef) in(ns *PIDNamespace) int32 {
	if r.ns == nil || ns.level >= len(r.ids) || r.ns.ancestorAt(ns.level) != ns {
		return 0
	}
	return r.ids[ns.level]
}

// root is the reference's root-namespace number.
func (r pidRef) root() int32 { return r.ids[0] }

// allocLocked allocates an ID in ns and each of its ancestors (alloc_pid): ENOMEM
// once ns's init has exited. k.mu is held.
func (ns *PIDNamespace) allocLocked() (pidRef, error) {
	if ns.closed {
		return pidRef{}, unix.ENOMEM
	}
	ids := make([]int32, ns.level+1)
	for n := ns; n != nil; n = n.parent {
		n.last++
		ids[n.level] = n.last
	}
	return pidRef{ns: ns, ids: ids}, nil
}

// addTaskLocked records t under its IDs in its namespace and their ancestors. k.mu is
// held.
func (k *Kernel) addTaskLocked(t *Task) {
	for n := t.id.ns; n != nil; n = n.parent {
		n.tasks[t.id.ids[n.level]] = t
	}
}

// removeTaskLocked forgets t's IDs (a thread that exited). k.mu is held.
func (k *Kernel) removeTaskLocked(t *Task) {
	for n := t.id.ns; n != nil; n = n.parent {
		if id := t.id.ids[n.level]; n.tasks[id] == t {
			delete(n.tasks, id)
		}
	}
}

// addProcLocked records p under its IDs. k.mu is held.
func (k *Kernel) addProcLocked(p *Process) {
	for n := p.ns; n != nil; n = n.parent {
		n.procs[p.task.id.ids[n.level]] = p
	}
}

// removeProcLocked forgets p's IDs (a reaped process). k.mu is held.
func (k *Kernel) removeProcLocked(p *Process) {
	for n := p.ns; n != nil; n = n.parent {
		if id := p.task.id.ids[n.level]; n.procs[id] == p {
			delete(n.procs, id)
		}
	}
}

// IDOfTask is t's thread ID in ns, 0 if ns does not contain it.
func (ns *PIDNamespace) IDOfTask(t *Task) int32 { return t.id.in(ns) }

// IDOfProcess is p's process ID in ns, 0 if ns does not contain it.
func (ns *PIDNamespace) IDOfProcess(p *Process) int32 { return p.task.id.in(ns) }

// TaskWithID returns the live task whose ID in ns is id, or nil.
func (ns *PIDNamespace) TaskWithID(id int32) *Task {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return ns.tasks[id]
}

// Tasks returns the live tasks ns contains, by their ID in ns.
func (ns *PIDNamespace) Tasks() map[int32]*Task {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	out := make(map[int32]*Task, len(ns.tasks))
	for id, t := range ns.tasks {
		out[id] = t
	}
	return out
}

// ProcessIDs returns the IDs in ns of its processes, zombies included (/proc lists
// them).
func (ns *PIDNamespace) ProcessIDs() []int32 {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	out := make([]int32, 0, len(ns.procs))
	for id := range ns.procs {
		out = append(out, id)
	}
	return out
}

// LeaderWithID returns the leader of the process with ID id in ns, live or a zombie,
// even once the leader's own thread has ended; nil if there is no such process.
func (ns *PIDNamespace) LeaderWithID(id int32) *Task {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	if p := ns.procs[id]; p != nil {
		return p.task
	}
	return nil
}

// Zombie reports whether t's process has exited and waits to be reaped.
func (t *Task) Zombie() bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Proc.exit != nil
}

// PIDNamespace is the namespace t's process lives in: the one its IDs are read in
// (task_active_pid_ns).
func (t *Task) PIDNamespace() *PIDNamespace { return t.Proc.ns }

// ChildPIDNamespace is the namespace t's next child will be made in
// (pid_for_children): t's own unless unshare(CLONE_NEWPID) changed it.
func (t *Task) ChildPIDNamespace() *PIDNamespace {
	if t.childNS != nil {
		return t.childNS
	}
	return t.Proc.ns
}

// ThreadID is t's thread ID in its own namespace (gettid).
func (t *Task) ThreadID() int32 { return t.id.in(t.Proc.ns) }

// ProcessID is t's process ID in its own namespace (getpid).
func (t *Task) ProcessID() int32 { return t.Proc.task.id.in(t.Proc.ns) }

// ParentPIDIn is the ID in ns of p's parent, 0 if it has none or ns does not contain
// it (getppid of a namespace's init).
func (p *Process) ParentPIDIn(ns *PIDNamespace) int32 {
	k := ns.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.parent == nil {
		return 0
	}
	return ns.IDOfProcess(p.parent)
}

// GroupIDsIn returns the IDs in ns of p's process group and session (0 for one ns
// does not contain).
func (p *Process) GroupIDsIn(ns *PIDNamespace) (pgid, sid int32) {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return p.pgrp.in(ns), p.sess.in(ns)
}

// IDsOf lists t's thread IDs from its own namespace up to ns's level (the NSpid line
// of /proc/[pid]/status, as seen from ns), and its process's, group's and session's
// the same way (NStgid, NSpgid, NSsid).
func (ns *PIDNamespace) IDsOf(t *Task) (tids, tgids, pgids, sids []int32) {
	k := ns.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	for lv := ns.level; lv <= p.ns.level; lv++ {
		n := p.ns.ancestorAt(lv)
		tids = append(tids, t.id.in(n))
		tgids = append(tgids, p.task.id.in(n))
		pgids = append(pgids, p.pgrp.in(n))
		sids = append(sids, p.sess.in(n))
	}
	return tids, tgids, pgids, sids
}

// rootIDInLocked translates root, the root-namespace ID of a process, process group
// or session (as a terminal keeps them), to its ID in ns: 0 if ns does not contain
// it or nothing has the ID any more. k.mu is held.
func (ns *PIDNamespace) rootIDInLocked(root int32) int32 {
	k := ns.k
	if ns == k.root || root == 0 {
		return root
	}
	if p := k.procs[root]; p != nil {
		return ns.IDOfProcess(p)
	}
	for _, q := range k.procs {
		switch root {
		case q.pgid:
			return q.pgrp.in(ns)
		case q.sid:
			return q.sess.in(ns)
		}
	}
	return 0
}

// IDOfRoot translates root, the root-namespace ID of a task or process (or of a
// process group or session), to its ID in ns: 0 if ns does not contain it or nothing
// has the ID any more.
func (ns *PIDNamespace) IDOfRoot(root int32) int32 {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	if t := ns.k.tasks[root]; t != nil && ns != ns.k.root {
		return ns.IDOfTask(t)
	}
	return ns.rootIDInLocked(root)
}

// unkillableLocked reports whether p is its namespace's init, which drops signals
// whose action is the default (SIGNAL_UNKILLABLE). k.mu is held.
func (p *Process) unkillableLocked() bool { return p.ns.init == p }

// visibleFrom reports whether t (a sender) has an ID in target's namespace; a
// sender from an ancestor namespace has not, and its signal is forced (post).
func (t *Task) visibleFrom(target *Task) bool {
	return target.Proc.ns.IDOfProcess(t.Proc) != 0
}

// UnsharePIDNamespace makes a new namespace, child of t's own, the one t's next
// children are made in, as unshare(CLONE_NEWPID) (copy_pid_ns): EINVAL if t already
// did (its pid_for_children is not its own namespace), ENOSPC beyond 32 levels.
// The caller checks CAP_SYS_ADMIN.
func (t *Task) UnsharePIDNamespace() error {
	ns, err := t.newChildPIDNamespace()
	if err != nil {
		return err
	}
	t.childNS = ns
	return nil
}

// newChildPIDNamespace is copy_pid_ns for CLONE_NEWPID.
func (t *Task) newChildPIDNamespace() (*PIDNamespace, error) {
	if t.ChildPIDNamespace() != t.Proc.ns {
		return nil, unix.EINVAL
	}
	if t.Proc.ns.level+1 > maxPIDNSLevel {
		return nil, unix.ENOSPC
	}
	return newPIDNamespace(t.k, t.Proc.ns), nil
}
