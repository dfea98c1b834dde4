// Package kernel is the core of the Sentry: the kernel object, tasks (application
// threads), thread groups (processes) and the loop each task runs.
//
// Each task runs on its own goroutine, locked to its OS thread (so that the thread's CPU
// clock counts the task's system time, usage.go), but where the platform lets it
// (platform.Platform.ThreadBound: systrap) not while it waits in a blocking system
// call: a waiting task is then a parked goroutine, which a wake-up makes runnable on
// any thread, rather than a parked thread to wake with a host context switch. The loop
// (Task.Run) switches into the application through the platform and handles what comes
// back: a system call is looked up in the kernel's SyscallTable and its handler runs in
// the task goroutine, its result written back to rax (or the call restarted, as Linux's
// ERESTART* codes say); a page fault goes to the task's memory manager, and a fault it
// can't resolve becomes a signal; an interrupt makes the loop deliver pending signals or
// stop the task. Signals (signals.go) are delivered to handlers on real signal frames.
//
// A system call number with no handler returns ENOSYS and is logged once per number, by
// name; Unimplemented lists them for a compatibility report.
//
// Processes (process.go) form a tree: fork, vfork and clone make children (threads share
// the address space, files and signal handlers of their group), wait4 and waitid reap
// them, orphans go to the nearest child subreaper or to their PID namespace's init, and
// that init's exit kills the rest of its namespace. PID namespaces (pidns.go) nest as
// Linux's: a task has an ID in its own namespace and in each ancestor; Task.TID and
// Process.PID are the root namespace's (the kernel's and the runtime's names), and
// whatever the application gives or takes is an ID of its own namespace, translated
// there (getpid, kill, wait, siginfo, /proc, process groups, pidfds, futex owners).
// clone and unshare with CLONE_NEWPID make namespaces.
// Files are the VFS's (sentry/vfs): the task has an FD table, an FSContext (root,
// working directory, umask) and credentials, which are replaced, never changed in
// place (creds.go). Futexes (futex.go) have their own table. pidfds (pidfd.go) are
// files naming a process; CPU-time clocks and the timers on them are cputimer.go's;
// POSIX message queues live in sentry/fsimpl/mqueue, with their opening by name and
// notifications here (mqueue.go).
//
// The OCI runtime reaches the kernel from outside the application: signals from kill
// (runtime_signal.go), the process list and statistics of ps and events
// (runtime_info.go), and pause and resume, which freeze every task (or those of one
// container of a pod) before its next switch into application code (freeze.go). A
// sandbox may hold several containers of a pod: each process carries the ID of the
// container it belongs to (set by NewProcess, inherited by fork), and the runtime's
// kill, ps, stats and pause pick a container's processes by it; each container is
// made in a PID namespace the runtime chooses (ProcessArgs.PIDNS: one of its own, or
// the pod's), and the pod's containers share the rest (IPC, hostname, memory). Each
// container has a cgroup hierarchy of its own (cgroup.go), its cgroup the root, which
// sentry/fsimpl/cgroupfs shows; the kernel enforces its pids.max at fork.
//
// Lock order: Futexes.mu, then Kernel.mu, then FSContext.mu; Kernel.mu, then a
// terminal's lock (devpts.Terminal), then a Task's sigMu; Kernel.mqMu, then the VFS's
// and the mqueue filesystem's locks (a queue's notification takes Kernel.mu with no
// queue lock held).
package kernel

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/fsimpl/mqueue"
	"github.com/moat-sandbox/moat/sentry/fsimpl/pipe"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Kernel is one sandbox's kernel.
type Kernel struct {
	Platform platform.Platform
	MemFile  *pgalloc.MemoryFile
	VFS      *vfs.VFS
	Syscalls *SyscallTable
	// Log receives the kernel's diagnostics (unimplemented system calls, strace).
	Log io.Writer
	// Strace prints every system call with its arguments and result.
	Strace bool
	// Hostname is what uname reports before the kernel runs anything (the UTS
	// namespace's first name); after, UTSNames and SetUTSName.
	Hostname string

	// threadFree is set when the platform's contexts are not thread-bound
	// (platform.Platform.ThreadBound): a task goroutine then lets go of its OS thread
	// while it waits (Task.SleepStart).
	threadFree bool

	utsMu      sync.Mutex
	domainname string
	domainSet  bool // before, the domain name is "(none)", as Linux's first one

	start time.Time

	futexes Futexes

	// The IPC namespace's SysV objects (ipc.go): shared memory segments and the pages
	// they take (shm_tot), semaphore sets, message queues.
	shm    ipcTable[*shmSegment]
	shmTot uint64
	sem    semState
	msg    ipcTable[*msgQueue]
	// mq is the namespace's POSIX message queues (mqueue.go), and mqMount the mount
	// mq_open and mq_unlink resolve names in; mqMu serializes them, as the root's
	// inode lock does in ipc/mqueue.c.
	mq      *mqueue.FS
	mqMount *vfs.Mount
	mqMu    sync.Mutex

	// memfdFS is the tmpfs of memfd_create's files (Linux's shm_mnt), made at first use.
	memfdFS func() *tmpfs.Filesystem

	mu            sync.Mutex
	unimplemented map[uintptr]int    // count of calls by number
	noCall        int                // calls of numbers that name no system call
	root          *PIDNamespace      // the first PID namespace (pidns.go)
	tasks         map[int32]*Task    // live tasks by TID (root's tasks)
	procs         map[int32]*Process // processes (live and zombies) by PID (root's procs)
	waitGen       chan struct{}      // closed and replaced when a process changes state
	freezer       freezer            // the OCI runtime's pause (freeze.go)
	// cgroups are each container's cgroup, the root of its hierarchy, by container
	// ID (cgroup.go).
	cgroups map[string]*Cgroup
}

// Tasks returns the live tasks, by TID.
func (k *Kernel) Tasks() map[int32]*Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[int32]*Task, len(k.tasks))
	for id, t := range k.tasks {
		out[id] = t
	}
	return out
}

// Task returns the live task tid, or nil.
func (k *Kernel) Task(tid int32) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// StartTime is when the kernel started (the boot time its tasks see).
func (k *Kernel) StartTime() time.Time { return k.start }

// New returns a kernel over a platform and its memory file.
func New(p platform.Platform, mf *pgalloc.MemoryFile, v *vfs.VFS, table *SyscallTable, log io.Writer) *Kernel {
	mq := mqueue.New(v)
	k := &Kernel{mq: mq, mqMount: v.NewMount(mq.Root(), "mqueue", "mqueue", vfs.MountFlags{}),
		Platform: p, MemFile: mf, VFS: v, Syscalls: table, Log: log, Hostname: "moat",
		start: time.Now(), unimplemented: map[uintptr]int{}, waitGen: make(chan struct{}),
		memfdFS: sync.OnceValue(func() *tmpfs.Filesystem {
			fs, _ := tmpfs.New(v, 0o1777, vfs.Owner{})
			return fs
		})}
	k.threadFree = p != nil && !p.ThreadBound()
	v.SetFIFOOpener(pipe.NewFIFOs().Open)
	k.root = newPIDNamespace(k, nil)
	k.tasks, k.procs = k.root.tasks, k.root.procs
	return k
}

// MemfdFS is the tmpfs that holds memfd_create's files.
func (k *Kernel) MemfdFS() *tmpfs.Filesystem { return k.memfdFS() }

// Uptime is the time since the kernel started.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.start) }

// missing records a call to an unimplemented system call, logging its first use. A
// number that names no call (-1, past the table, x32) is ENOSYS on Linux too: those
// are counted together, not one by one (the application chooses them: four billion
// of them would fill the map), and the first is logged.
func (k *Kernel) missing(nr uintptr) {
	named := linux.IsSyscall(nr)
	k.mu.Lock()
	var first bool
	if named {
		first = k.unimplemented[nr] == 0
		k.unimplemented[nr]++
	} else {
		first = k.noCall == 0
		k.noCall++
	}
	k.mu.Unlock()
	switch {
	case !first:
	case named:
		fmt.Fprintf(k.Log, "moat: unimplemented system call %s (%d): ENOSYS\n", linux.SyscallName(nr), nr)
	default:
		fmt.Fprintf(k.Log, "moat: system call number %d names no call: ENOSYS (not logged again)\n", int64(nr))
	}
}

// Unimplemented returns the names of the unimplemented system calls called so far, with
// their counts, most called first.
func (k *Kernel) Unimplemented() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	type kv struct {
		nr uintptr
		n  int
	}
	var all []kv
	for nr, n := range k.unimplemented {
		all = append(all, kv{nr, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].nr < all[j].nr })
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = fmt.Sprintf("%s: %d", linux.SyscallName(e.nr), e.n)
	}
	return out
}

// WaitIdle waits until no task runs, or timeout passes: after init exits, the other
// processes are being killed.
func (k *Kernel) WaitIdle(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		n := len(k.tasks)
		gen := k.waitGen
		k.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-gen:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// UTSNames returns the UTS namespace's host and domain names, as uname(2) reports them.
func (k *Kernel) UTSNames() (host, domain string) {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	domain = "(none)"
	if k.domainSet {
		domain = k.domainname
	}
	return k.Hostname, domain
}

// SetUTSName sets the host name (domain false) or the domain name, as sethostname(2)
// and setdomainname(2) once their caller is checked.
func (k *Kernel) SetUTSName(domain bool, name string) {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	if domain {
		k.domainname, k.domainSet = name, true
		return
	}
	k.Hostname = name
}
