package kernel

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// membarrier(2). A barrier on a set of tasks must make each of them that runs
// application code when the call is made execute a full memory barrier before the
// call returns. The Sentry gets that by interrupting each such task out of the
// platform's Switch and waiting until its Switch has returned once: the way out of
// the application (a signal to the stub thread, a ptrace stop, a guest exit) orders
// everything the task did before it, and serializes its core. A task not in
// application code is in the Sentry, and crosses the same barriers before it runs
// application code again. No host system call is made beyond the interruption's.

// Membarrier commands (include/uapi/linux/membarrier.h).
const (
	MembarrierQuery                            = 0
	MembarrierGlobal                           = 1 << 0
	MembarrierGlobalExpedited                  = 1 << 1
	MembarrierRegisterGlobalExpedited          = 1 << 2
	MembarrierPrivateExpedited                 = 1 << 3
	MembarrierRegisterPrivateExpedited         = 1 << 4
	MembarrierPrivateExpeditedSyncCore         = 1 << 5
	MembarrierRegisterPrivateExpeditedSyncCore = 1 << 6
	MembarrierGetRegistrations                 = 1 << 9
	// MembarrierSupported are the commands the Sentry has: all but the rseq ones,
	// as there is no rseq.
	MembarrierSupported = MembarrierGlobal | MembarrierGlobalExpedited | MembarrierRegisterGlobalExpedited |
		MembarrierPrivateExpedited | MembarrierRegisterPrivateExpedited |
		MembarrierPrivateExpeditedSyncCore | MembarrierRegisterPrivateExpeditedSyncCore |
		MembarrierGetRegistrations
)

// Membarrier runs membarrier command cmd for t, as the kernel's sys_membarrier: EPERM
// for a private expedited barrier the process did not register for, EINVAL for a
// command the Sentry does not have. flags were checked by the caller.
func (t *Task) Membarrier(cmd int) (int, error) {
	p := t.Proc
	switch cmd {
	case MembarrierQuery:
		return MembarrierSupported, nil
	case MembarrierGetRegistrations:
		return int(p.membarrier.Load()), nil
	case MembarrierRegisterGlobalExpedited, MembarrierRegisterPrivateExpedited,
		MembarrierRegisterPrivateExpeditedSyncCore:
		for {
			old := p.membarrier.Load()
			if p.membarrier.CompareAndSwap(old, old|uint32(cmd)) {
				return 0, nil
			}
		}
	case MembarrierPrivateExpedited, MembarrierPrivateExpeditedSyncCore:
		if p.membarrier.Load()&uint32(cmd<<1) == 0 { // its REGISTER_ command
			return 0, unix.EPERM
		}
		t.k.mu.Lock()
		tasks := p.threadsBesidesLocked(t)
		t.k.mu.Unlock()
		barrier(tasks)
		return 0, nil
	case MembarrierGlobal, MembarrierGlobalExpedited:
		t.k.mu.Lock()
		var tasks []*Task
		for _, o := range t.k.tasks {
			if o != t && (cmd == MembarrierGlobal ||
				o.Proc.membarrier.Load()&MembarrierRegisterGlobalExpedited != 0) {
				tasks = append(tasks, o)
			}
		}
		t.k.mu.Unlock()
		barrier(tasks)
		return 0, nil
	}
	return 0, unix.EINVAL
}

// barrier interrupts the tasks that run application code and waits until each has
// left it at least once (or exited, or a second has passed: a task the host does not
// schedule that long has crossed no barrier, but the caller can't wait forever).
func barrier(tasks []*Task) {
	type running struct {
		t   *Task
		seq uint64
	}
	var wait []running
	for _, o := range tasks {
		if o.inApp.Load() {
			wait = append(wait, running{o, o.switches.Load()})
			o.ctx.Interrupt()
		}
	}
	deadline := time.Now().Add(time.Second)
	for _, r := range wait {
		for spins := 0; r.t.inApp.Load() && r.t.switches.Load() == r.seq && !r.t.isKilled(); spins++ {
			if spins < 50 {
				runtime.Gosched()
				continue
			}
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}
