package kernel

import (
	"errors"
	"sync/atomic"
	"time"
)

// Freezing: the OCI runtime's pause and resume, as Linux's cgroup freezer does them to
// a container's processes. gVisor pauses the same way: inside the Sentry, not by
// stopping the sandbox's host process, which also serves the runtime's control socket.
//
// Freeze marks the kernel frozen and interrupts every task that is running application
// code (platform.Context.Interrupt, which is sticky: a Switch about to start returns at
// once). A task checks the mark at the top of its run loop, before every Switch, and
// waits there until Thaw or until it is killed; so from the moment Freeze returns no
// application instruction runs, in any thread of any process. A task blocked in a
// system call is left where it is, and waits at the same place once the call is done:
// its call is not interrupted, so the application sees no EINTR from a pause (the v2
// freezer's effect, not v1's fake signal). Wall-clock timers keep running, as under
// Linux's freezer: a sleep that ends during the pause returns at the resume, and
// signals that timers or the runtime send meanwhile stay pending until then. SIGKILL
// ends a frozen task (its kill channel wakes it), as it ends a frozen one on cgroup v2.
//
// Each task publishes that it is about to switch into the application (inApp) before
// it reads the mark (an atomic, so the check costs no lock), and Freeze sets the mark
// before it reads inApp; both are sequentially consistent atomics, so either the task
// sees the mark, or Freeze sees it running and waits for its interrupted Switch to
// return.
//
// FreezeContainer and ThawContainer do the same for the processes of one container
// of a pod (those carrying its ID, Process.container), as the runtime's pause of that
// container: the mark is set while any container (or the kernel) is frozen, and a task
// that sees it looks up whether its own container is. A cgroup's cgroup.freeze
// (cgroup.go's SetFreeze) does the same for the processes in the cgroup and below it.

// freezer is the kernel's frozen mark: frozen, thawed and containers change under
// k.mu; marked is set while frozen is or any container is frozen, for the tasks'
// lock-free check before each switch.
type freezer struct {
	frozen bool
	thawed chan struct{} // closed by Thaw
	// containers are the containers frozen alone, each with the channel its thaw
	// closes.
	containers map[string]chan struct{}
	// cgroups counts the cgroups frozen by cgroup.freeze (cgroup.go); a task held
	// by one waits on cgroupChange, closed (and replaced at the next wait) when a
	// cgroup is frozen or thawed or a process moves to another cgroup.
	cgroups      int
	cgroupChange chan struct{}
	marked       atomic.Bool
}

// markLocked sets the mark from the state. k.mu is held.
func (f *freezer) markLocked() {
	f.marked.Store(f.frozen || len(f.containers) > 0 || f.cgroups > 0)
}

// cgroupChangedLocked wakes the tasks held by a frozen cgroup, to look again. k.mu is
// held.
func (f *freezer) cgroupChangedLocked() {
	if f.cgroupChange != nil {
		close(f.cgroupChange)
		f.cgroupChange = nil
	}
}

// ErrFreezeTimeout: a task did not leave application code in time.
var ErrFreezeTimeout = errors.New("the application's tasks did not stop in time")

// Freeze stops every task from running application code (see above) and returns once
// none is. Freezing a frozen kernel does nothing.
func (k *Kernel) Freeze() error {
	k.mu.Lock()
	if !k.freezer.frozen {
		k.freezer.frozen = true
		k.freezer.thawed = make(chan struct{})
		k.freezer.markLocked()
	}
	tasks := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	if !leaveApp(tasks) {
		k.Thaw()
		return ErrFreezeTimeout
	}
	return nil
}

// leaveApp interrupts the tasks that run application code and waits until none
// does, or reports false after 10 seconds.
func leaveApp(tasks []*Task) bool {
	for _, t := range tasks {
		t.ctx.Interrupt()
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, t := range tasks {
		for t.inApp.Load() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(time.Millisecond)
		}
	}
	return true
}

// FreezeContainer stops the tasks of container id of a pod (Process.container) from
// running application code, as Freeze does for all; the other containers go on.
// Freezing a frozen container does nothing.
func (k *Kernel) FreezeContainer(id string) error {
	k.mu.Lock()
	if _, ok := k.freezer.containers[id]; !ok {
		if k.freezer.containers == nil {
			k.freezer.containers = map[string]chan struct{}{}
		}
		k.freezer.containers[id] = make(chan struct{})
		k.freezer.markLocked()
	}
	var tasks []*Task
	for _, t := range k.tasks {
		if t.Proc.container == id {
			tasks = append(tasks, t)
		}
	}
	k.mu.Unlock()
	if !leaveApp(tasks) {
		k.ThawContainer(id)
		return ErrFreezeTimeout
	}
	return nil
}

// ThawContainer lets the tasks of container id run again (unless the whole kernel is
// frozen).
func (k *Kernel) ThawContainer(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ch, ok := k.freezer.containers[id]; ok {
		close(ch)
		delete(k.freezer.containers, id)
		k.freezer.markLocked()
	}
}

// Thaw lets the frozen tasks run again.
func (k *Kernel) Thaw() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.freezer.frozen {
		k.freezer.frozen = false
		k.freezer.markLocked()
		close(k.freezer.thawed)
	}
}

// Frozen reports whether the kernel is frozen.
func (k *Kernel) Frozen() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.freezer.frozen
}

// enterApp is called by the task's loop just before it switches into the application:
// it waits while the kernel, or the task's container, is frozen (or until the task is
// killed), and reports whether the task may switch. The caller clears t.inApp after
// the Switch.
func (t *Task) enterApp() bool {
	k := t.k
	for {
		t.inApp.Store(true)
		if !k.freezer.marked.Load() {
			return true // the common case: no lock taken
		}
		k.mu.Lock()
		thawed := k.freezer.thawed
		if !k.freezer.frozen {
			thawed = k.freezer.containers[t.Proc.container]
		}
		if thawed == nil && t.Proc.cgroup != nil && t.Proc.cgroup.frozenLocked() {
			if k.freezer.cgroupChange == nil {
				k.freezer.cgroupChange = make(chan struct{})
			}
			thawed = k.freezer.cgroupChange
		}
		k.mu.Unlock()
		if thawed == nil {
			return true
		}
		t.inApp.Store(false)
		t.SleepStart()
		select {
		case <-thawed:
		case <-t.killed:
			t.SleepFinish()
			return false
		}
		t.SleepFinish()
	}
}
