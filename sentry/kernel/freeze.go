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

// freezer is the kernel's frozen mark: frozen and thawed change under k.mu; marked
// mirrors frozen for the tasks' lock-free check before each switch.
type freezer struct {
	frozen bool
	thawed chan struct{} // closed by Thaw
	marked atomic.Bool
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
		k.freezer.marked.Store(true)
	}
	tasks := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	for _, t := range tasks {
		t.ctx.Interrupt()
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, t := range tasks {
		for t.inApp.Load() {
			if time.Now().After(deadline) {
				k.Thaw()
				return ErrFreezeTimeout
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// Thaw lets the frozen tasks run again.
func (k *Kernel) Thaw() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.freezer.frozen {
		k.freezer.frozen = false
		k.freezer.marked.Store(false)
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
// it waits while the kernel is frozen (or until the task is killed), and reports
// whether the task may switch. The caller clears t.inApp after the Switch.
func (t *Task) enterApp() bool {
	k := t.k
	for {
		t.inApp.Store(true)
		if !k.freezer.marked.Load() {
			return true // the common case: no lock taken
		}
		k.mu.Lock()
		frozen, thawed := k.freezer.frozen, k.freezer.thawed
		k.mu.Unlock()
		if !frozen {
			return true
		}
		t.inApp.Store(false)
		select {
		case <-thawed:
		case <-t.killed:
			return false
		}
	}
}
