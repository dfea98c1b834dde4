package kernel

import (
	"sync/atomic"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Scheduling attributes: a task's CPU affinity, nice value, scheduling policy and
// real-time priority, I/O priority and NUMA memory policy, as the system calls that
// set them keep them (sched_setaffinity, setpriority, sched_setscheduler,
// sched_setattr, ioprio_set, set_mempolicy) and the ones that read them give them back. The host schedules the Sentry's threads as
// it schedules the whole sandbox: none of these change how a task runs. They are
// per task, inherited by the tasks it makes (a policy with SCHED_RESET_ON_FORK goes
// back to SCHED_OTHER, and a negative nice to 0, in the child), and unchanged by exec.
// Other tasks read and set them (their own ID, a process group, a user), so the
// fields are atomic.
type SchedAttrs struct {
	cpuMask atomic.Uint64 // 0: all the sandbox's CPUs
	nice    atomic.Int32  // -20..19
	policy  atomic.Int32  // SCHED_*, with SchedResetOnFork
	rtPrio  atomic.Int32  // 1..99 for SCHED_FIFO and SCHED_RR, else 0
	ioprio  atomic.Int32  // class << 13 | data; 0 (class none) until set
	// The NUMA memory policy (set_mempolicy): mode with its flags, and the node mask
	// get_mempolicy shows. The sandbox has one node, so it places nothing.
	memPolicy atomic.Int32
	memNodes  atomic.Uint64
}

// MemPolicy returns the NUMA memory policy: mode and flags, and node mask.
func (s *SchedAttrs) MemPolicy() (mode int32, nodes uint64) {
	return s.memPolicy.Load(), s.memNodes.Load()
}

// SetMemPolicy sets the NUMA memory policy.
func (s *SchedAttrs) SetMemPolicy(mode int32, nodes uint64) {
	s.memNodes.Store(nodes)
	s.memPolicy.Store(mode)
}

// Scheduling policies (include/uapi/linux/sched.h).
const (
	SchedOther       = 0
	SchedFIFO        = 1
	SchedRR          = 2
	SchedBatch       = 3
	SchedIdle        = 5
	SchedDeadline    = 6
	SchedResetOnFork = 0x40000000
)

// CPUMask is the task's CPU affinity: a bit per CPU, 0 for all of the sandbox's.
func (s *SchedAttrs) CPUMask() uint64 { return s.cpuMask.Load() }

// SetCPUMask sets the affinity.
func (s *SchedAttrs) SetCPUMask(m uint64) { s.cpuMask.Store(m) }

// Nice is the nice value, -20 (most favoured) to 19.
func (s *SchedAttrs) Nice() int32 { return s.nice.Load() }

// SetNice sets the nice value, which the caller checked.
func (s *SchedAttrs) SetNice(n int32) { s.nice.Store(n) }

// Policy returns the scheduling policy (SCHED_RESET_ON_FORK included) and the
// real-time priority.
func (s *SchedAttrs) Policy() (policy, prio int32) { return s.policy.Load(), s.rtPrio.Load() }

// SetPolicy sets the policy and priority, which the caller checked.
func (s *SchedAttrs) SetPolicy(policy, prio int32) {
	s.rtPrio.Store(prio)
	s.policy.Store(policy)
}

// IOPrio is the I/O priority (ioprio_get's value).
func (s *SchedAttrs) IOPrio() int32 { return s.ioprio.Load() }

// SetIOPrio sets the I/O priority.
func (s *SchedAttrs) SetIOPrio(p int32) { s.ioprio.Store(p) }

// inherit gives a new task its maker's attributes (sched_fork).
func (s *SchedAttrs) inherit(from *SchedAttrs) {
	s.cpuMask.Store(from.cpuMask.Load())
	s.ioprio.Store(from.ioprio.Load())
	s.SetMemPolicy(from.MemPolicy())
	nice := from.nice.Load()
	policy, prio := from.Policy()
	if policy&SchedResetOnFork != 0 {
		policy, prio = SchedOther, 0
		nice = max(nice, 0)
	}
	s.nice.Store(nice)
	s.SetPolicy(policy, prio)
}

// Who a priority system call names (setpriority's PRIO_*, ioprio_set's
// IOPRIO_WHO_* less one).
const (
	PrioProcess = 0 // a thread, by its ID (0: the caller)
	PrioPgrp    = 1 // every thread of a process group (0: the caller's)
	PrioUser    = 2 // every thread whose real user ID is who (0: the caller's)
)

// PriorityTargets returns the tasks of t's PID namespace that which and who name, as
// getpriority, setpriority, ioprio_get and ioprio_set find them; none (the callers'
// ESRCH) if no task matches. which must be one of PrioProcess, PrioPgrp, PrioUser.
func (t *Task) PriorityTargets(which int, who int32) []*Task {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	ns := t.Proc.ns
	switch which {
	case PrioProcess:
		if who == 0 {
			return []*Task{t}
		}
		if o := ns.tasks[who]; o != nil {
			return []*Task{o}
		}
		return nil
	case PrioPgrp:
		pgid := t.Proc.pgrp.in(ns)
		if who != 0 {
			pgid = who
		}
		var out []*Task
		for _, q := range ns.procs {
			if q.pgrp.in(ns) == pgid {
				for th := range q.threads {
					out = append(out, th)
				}
			}
		}
		return out
	case PrioUser:
		uid := uint32(who)
		if who == 0 {
			uid = t.Creds.RealUID
		}
		var out []*Task
		for _, o := range ns.tasks {
			if o.Creds.RealUID == uid {
				out = append(out, o)
			}
		}
		return out
	}
	return nil
}

// MaySchedule reports whether t may change o's scheduling attributes (nice, policy,
// affinity): its effective user ID is o's real or effective one, or it has
// CAP_SYS_NICE (check_same_owner, set_one_prio); and o has no permitted capability t
// lacks, unless t has CAP_SYS_NICE (commoncap's cap_safe_nice).
func (t *Task) MaySchedule(o *Task) bool {
	c, oc := t.Creds, o.CurrentCreds()
	owner := c.EffectiveUID == oc.RealUID || c.EffectiveUID == oc.EffectiveUID
	return (owner && oc.Permitted&^c.Permitted == 0) || c.HasCap(vfs.CapSysNice)
}

// MaySetIOPrio is MaySchedule for ioprio_set, whose owner check is o's real user ID
// against t's effective or real one (set_task_ioprio).
func (t *Task) MaySetIOPrio(o *Task) bool {
	c, oc := t.Creds, o.CurrentCreds()
	owner := oc.RealUID == c.EffectiveUID || oc.RealUID == c.RealUID
	return (owner && oc.Permitted&^c.Permitted == 0) || c.HasCap(vfs.CapSysNice)
}

// CurrentCreds returns t's credentials, for another task to read (commitCreds).
func (t *Task) CurrentCreds() *vfs.Credentials {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Creds
}
