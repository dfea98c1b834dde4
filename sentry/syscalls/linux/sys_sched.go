package linux

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// cpuMaskSize is the size of the kernel's CPU mask the Sentry reports: one long, for
// up to 64 CPUs (cpumask_size() on a kernel sized to the machine).
const cpuMaskSize = 8

// schedTarget is the task a sched_* call names by pid: the caller for 0, else the task
// with that thread ID in its PID namespace (ESRCH if none; EINVAL for a negative one).
func schedTarget(t *kernel.Task, pid int32) (*kernel.Task, error) {
	switch {
	case pid < 0:
		return nil, unix.EINVAL
	case pid == 0:
		return t, nil
	}
	if o := t.PIDNamespace().TaskWithID(pid); o != nil {
		return o, nil
	}
	return nil, unix.ESRCH
}

// SchedGetaffinity implements sched_getaffinity(2): the CPUs the task may run on,
// which are the sandbox's CPUs unless it narrowed them.
func SchedGetaffinity(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, size := int32(a[0]), a[1]
	if size*8 < uintptr(runtime.NumCPU()) || size%8 != 0 {
		return 0, unix.EINVAL
	}
	o, err := schedTarget(t, pid)
	if err != nil {
		return 0, unix.ESRCH // find_process_by_pid: a negative pid finds nothing
	}
	mask := o.Sched.CPUMask()
	if mask == 0 {
		mask = 1<<runtime.NumCPU() - 1
	}
	if err := t.CopyOutObj(a[2], mask); err != nil {
		return 0, err
	}
	return cpuMaskSize, nil
}

// SchedSetaffinity implements sched_setaffinity(2): the mask is kept for
// sched_getaffinity; it must name at least one of the sandbox's CPUs (EINVAL), and
// another user's task needs CAP_SYS_NICE (EPERM).
func SchedSetaffinity(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, size := int32(a[0]), a[1]
	var buf [cpuMaskSize]byte
	n := min(size, cpuMaskSize)
	if _, err := t.MM.CopyIn(a[2], buf[:n]); err != nil {
		return 0, err
	}
	o, err := schedTarget(t, pid)
	if err != nil {
		return 0, unix.ESRCH
	}
	if !t.MaySchedule(o) {
		return 0, unix.EPERM
	}
	var mask uint64
	for i := uintptr(0); i < n; i++ {
		mask |= uint64(buf[i]) << (8 * i)
	}
	mask &= 1<<runtime.NumCPU() - 1
	if mask == 0 {
		return 0, unix.EINVAL
	}
	o.Sched.SetCPUMask(mask)
	return 0, nil
}

// Nice values.
const (
	minNice = -20
	maxNice = 19
)

// Getpriority implements getpriority(2): 20 minus the lowest nice value of the tasks
// which and who name (kernel.PriorityTargets), ESRCH if none, EINVAL for another which.
func Getpriority(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	which, who := int(int32(a[0])), int32(a[1])
	if which < kernel.PrioProcess || which > kernel.PrioUser {
		return 0, unix.EINVAL
	}
	best := int32(-1)
	for _, o := range t.PriorityTargets(which, who) {
		best = max(best, 20-o.Sched.Nice())
	}
	if best < 0 {
		return 0, unix.ESRCH
	}
	return uintptr(best), nil
}

// Setpriority implements setpriority(2), as set_one_prio for each task named: the
// value is clamped to -20..19; another user's task needs CAP_SYS_NICE (EPERM), and so
// does lowering a task's nice value past what RLIMIT_NICE allows (EACCES). ESRCH if no
// task is named; else the error of the last task that refused, if any.
func Setpriority(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	which, who, nice := int(int32(a[0])), int32(a[1]), int32(a[2])
	if which < kernel.PrioProcess || which > kernel.PrioUser {
		return 0, unix.EINVAL
	}
	nice = min(max(nice, minNice), maxNice)
	err := error(unix.ESRCH)
	for _, o := range t.PriorityTargets(which, who) {
		switch {
		case !t.MaySchedule(o):
			err = unix.EPERM
		case nice < o.Sched.Nice() && !canNice(t, nice):
			err = unix.EACCES
		default:
			if err == unix.ESRCH {
				err = nil
			}
			o.Sched.SetNice(nice)
		}
	}
	return 0, err
}

// canNice reports whether t may set a nice value as low as nice: RLIMIT_NICE allows
// down to 20 - its value, CAP_SYS_NICE anything (can_nice).
func canNice(t *kernel.Task, nice int32) bool {
	return uint64(20-nice) <= t.Limits[unix.RLIMIT_NICE].Cur || t.Creds.HasCap(vfs.CapSysNice)
}

// schedParam is struct sched_param.
type schedParam struct{ Priority int32 }

// validPolicy reports whether p names a scheduling policy.
func validPolicy(p int32) bool {
	switch p {
	case kernel.SchedOther, kernel.SchedFIFO, kernel.SchedRR, kernel.SchedBatch, kernel.SchedIdle, kernel.SchedDeadline:
		return true
	}
	return false
}

func rtPolicy(p int32) bool { return p == kernel.SchedFIFO || p == kernel.SchedRR }

// setScheduler changes o's policy and priority as __sched_setscheduler checks it
// (policy -1: keep o's): an unknown policy, a priority outside 1..99 for a real-time
// policy or not 0 for another is EINVAL; without CAP_SYS_NICE, a real-time policy or
// priority beyond RLIMIT_RTPRIO, leaving SCHED_IDLE or clearing SCHED_RESET_ON_FORK
// past what RLIMIT_NICE allows, and another user's task are EPERM. SCHED_DEADLINE,
// which needs a runtime, deadline and period, is not supported.
func setScheduler(t, o *kernel.Task, policy, prio int32, nice *int32) error {
	cur, curPrio := o.Sched.Policy()
	reset := policy >= 0 && policy&kernel.SchedResetOnFork != 0
	if policy < 0 {
		policy, reset = cur&^kernel.SchedResetOnFork, cur&kernel.SchedResetOnFork != 0
	}
	policy &^= kernel.SchedResetOnFork
	if !validPolicy(policy) || prio < 0 || prio > 99 || rtPolicy(policy) != (prio != 0) {
		return unix.EINVAL
	}
	if policy == kernel.SchedDeadline {
		return unsupported(t, "SCHED_DEADLINE")
	}
	if !t.Creds.HasCap(vfs.CapSysNice) {
		rlim := t.Limits[unix.RLIMIT_RTPRIO].Cur
		curPolicy := cur &^ kernel.SchedResetOnFork
		switch {
		case rtPolicy(policy) && policy != curPolicy && rlim == 0,
			rtPolicy(policy) && prio > curPrio && uint64(prio) > rlim,
			curPolicy == kernel.SchedIdle && policy != kernel.SchedIdle && !canNice(t, o.Sched.Nice()),
			nice != nil && *nice < o.Sched.Nice() && !canNice(t, *nice),
			cur&kernel.SchedResetOnFork != 0 && !reset:
			return unix.EPERM
		}
		if !t.MaySchedule(o) {
			return unix.EPERM
		}
	}
	if reset {
		policy |= kernel.SchedResetOnFork
	}
	o.Sched.SetPolicy(policy, prio)
	if nice != nil {
		o.Sched.SetNice(*nice)
	}
	return nil
}

// SchedSetscheduler implements sched_setscheduler(2) (see setScheduler).
func SchedSetscheduler(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, policy := int32(a[0]), int32(a[1])
	return 0, setSchedulerCall(t, pid, policy, a[2])
}

// SchedSetparam implements sched_setparam(2): sched_setscheduler keeping the policy.
func SchedSetparam(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, setSchedulerCall(t, int32(a[0]), -1, a[1])
}

func setSchedulerCall(t *kernel.Task, pid, policy int32, addr uintptr) error {
	if addr == 0 || pid < 0 {
		return unix.EINVAL
	}
	var p schedParam
	if err := t.CopyInObj(addr, &p); err != nil {
		return err
	}
	o, err := schedTarget(t, pid)
	if err != nil {
		return err
	}
	if policy < -1 {
		return unix.EINVAL
	}
	return setScheduler(t, o, policy, p.Priority, nil)
}

// SchedGetscheduler implements sched_getscheduler(2): the policy, with
// SCHED_RESET_ON_FORK if set.
func SchedGetscheduler(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	o, err := schedTarget(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	policy, _ := o.Sched.Policy()
	return uintptr(policy), nil
}

// SchedGetparam implements sched_getparam(2): the real-time priority (0 for the other
// policies).
func SchedGetparam(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[1] == 0 || int32(a[0]) < 0 {
		return 0, unix.EINVAL
	}
	o, err := schedTarget(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	_, prio := o.Sched.Policy()
	return 0, t.CopyOutObj(a[1], schedParam{prio})
}

// SchedGetPriorityMax implements sched_get_priority_max(2).
func SchedGetPriorityMax(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	switch p := int32(a[0]); {
	case rtPolicy(p):
		return 99, nil
	case validPolicy(p):
		return 0, nil
	}
	return 0, unix.EINVAL
}

// SchedGetPriorityMin implements sched_get_priority_min(2).
func SchedGetPriorityMin(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	switch p := int32(a[0]); {
	case rtPolicy(p):
		return 1, nil
	case validPolicy(p):
		return 0, nil
	}
	return 0, unix.EINVAL
}

// rrTimeslice is SCHED_RR's time slice (RR_TIMESLICE, 100 ms).
const rrTimeslice = 100 * time.Millisecond

// SchedRRGetInterval implements sched_rr_get_interval(2): SCHED_RR's time slice for a
// SCHED_RR task, 0 for the others (the host, not the Sentry, slices their time).
func SchedRRGetInterval(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	o, err := schedTarget(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	var d time.Duration
	if policy, _ := o.Sched.Policy(); policy&^kernel.SchedResetOnFork == kernel.SchedRR {
		d = rrTimeslice
	}
	return 0, t.CopyOutObj(a[1], unix.NsecToTimespec(int64(d)))
}

// schedAttr is struct sched_attr (SCHED_ATTR_SIZE_VER1, with the utilization clamps).
type schedAttr struct {
	Size, Policy              uint32
	Flags                     uint64
	Nice                      int32
	Priority                  uint32
	Runtime, Deadline, Period uint64
	UtilMin, UtilMax          uint32
}

// sched_attr sizes and flags (include/uapi/linux/sched/types.h, sched.h).
const (
	schedAttrSizeVer0    = 48
	schedAttrSize        = 56
	schedFlagResetOnFork = 0x01
	schedFlagKeepPolicy  = 0x08
	schedFlagKeepParams  = 0x10
	schedFlagsKnown      = 0x7f
	schedFlagsUtilClamp  = 0x60
)

// SchedGetattr implements sched_getattr(2): policy, SCHED_FLAG_RESET_ON_FORK, nice and
// priority; runtime, deadline and period 0 (no SCHED_DEADLINE; Linux 6.6 and later
// show a fair task's slice as its runtime), no utilization clamps. The size written is
// the smaller of the caller's and the kernel's (56), and the rest of the caller's
// buffer is zeroed.
func SchedGetattr(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, addr, size, flags := int32(a[0]), a[1], a[2], a[3]
	if addr == 0 || pid < 0 || size > pageSize || size < schedAttrSizeVer0 || flags != 0 {
		return 0, unix.EINVAL
	}
	o, err := schedTarget(t, pid)
	if err != nil {
		return 0, err
	}
	policy, prio := o.Sched.Policy()
	attr := schedAttr{Policy: uint32(policy &^ kernel.SchedResetOnFork)}
	if policy&kernel.SchedResetOnFork != 0 {
		attr.Flags = schedFlagResetOnFork
	}
	if rtPolicy(int32(attr.Policy)) {
		attr.Priority = uint32(prio)
	} else {
		attr.Nice = o.Sched.Nice()
	}
	n := min(size, schedAttrSize)
	attr.Size = uint32(n)
	buf := make([]byte, size)
	b, _ := binaryBytes(&attr)
	copy(buf, b[:n])
	_, err = t.MM.CopyOut(addr, buf)
	return 0, err
}

// SchedSetattr implements sched_setattr(2) for the policies other than SCHED_DEADLINE
// and without utilization clamps: the caller's size is checked as sched_copy_attr does
// (0 is the first version's 48 bytes; a smaller one, or a larger one with a non-zero
// byte past the kernel's 56, is E2BIG with 56 written to its size field), the nice
// value clamped to -20..19, and the change checked as sched_setscheduler's.
func SchedSetattr(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, addr, flags := int32(a[0]), a[1], a[2]
	if addr == 0 || pid < 0 || flags != 0 {
		return 0, unix.EINVAL
	}
	var size uint32
	if err := t.CopyInObj(addr, &size); err != nil {
		return 0, err
	}
	if size == 0 {
		size = schedAttrSizeVer0
	}
	tooBig := size < schedAttrSizeVer0 || size > pageSize
	buf := make([]byte, min(size, pageSize))
	if !tooBig {
		if _, err := t.MM.CopyIn(addr, buf); err != nil {
			return 0, err
		}
		for _, c := range buf[min(len(buf), schedAttrSize):] {
			tooBig = tooBig || c != 0
		}
	}
	if tooBig {
		t.CopyOutObj(addr, uint32(schedAttrSize))
		return 0, unix.E2BIG
	}
	var attr schedAttr
	full := make([]byte, schedAttrSize)
	copy(full, buf)
	if err := binaryRead(full, &attr); err != nil {
		return 0, err
	}
	if int32(attr.Policy) < 0 || attr.Flags&^schedFlagsKnown != 0 {
		return 0, unix.EINVAL
	}
	if attr.Flags&schedFlagsUtilClamp != 0 {
		return 0, unsupported(t, "sched_setattr with utilization clamps")
	}
	o, err := schedTarget(t, pid)
	if err != nil {
		return 0, err
	}
	policy := int32(attr.Policy)
	if attr.Flags&schedFlagKeepPolicy != 0 {
		policy = -1
	} else if attr.Flags&schedFlagResetOnFork != 0 {
		policy |= kernel.SchedResetOnFork
	}
	prio := int32(attr.Priority)
	nice := min(max(attr.Nice, minNice), maxNice)
	if attr.Flags&schedFlagKeepParams != 0 {
		_, prio = o.Sched.Policy()
		nice = o.Sched.Nice()
	}
	target := policy
	if target < 0 {
		cur, _ := o.Sched.Policy()
		target = cur &^ kernel.SchedResetOnFork
	}
	if rtPolicy(target &^ kernel.SchedResetOnFork) {
		return 0, setScheduler(t, o, policy, prio, nil)
	}
	return 0, setScheduler(t, o, policy, prio, &nice)
}

// Getcpu implements getcpu(2): the CPU the task's Sentry thread is on as the call is
// made (the host's answer), or the first the task may run on if that is not one of
// them, and NUMA node 0, the only one the sandbox shows; each is written where its
// pointer is not NULL (EFAULT if it can't be). The third argument is unused, as since
// Linux 2.6.24.
func Getcpu(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var cpu, node uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0); e != 0 {
		cpu = 0
	}
	mask := t.Sched.CPUMask()
	if mask == 0 {
		mask = 1<<runtime.NumCPU() - 1
	}
	if cpu >= 64 || mask&(1<<cpu) == 0 {
		cpu = uint32(bits.TrailingZeros64(mask))
	}
	if a[0] != 0 {
		if err := t.CopyOutObj(a[0], cpu); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := t.CopyOutObj(a[1], uint32(0)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// SchedYield implements sched_yield(2).
func SchedYield(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// sysinfo is struct sysinfo.
type sysinfo struct {
	Uptime    int64
	Loads     [3]uint64
	Totalram  uint64
	Freeram   uint64
	Sharedram uint64
	Bufferram uint64
	Totalswap uint64
	Freeswap  uint64
	Procs     uint16
	_         [6]byte
	Totalhigh uint64
	Freehigh  uint64
	MemUnit   uint32
	_         [4]byte
}

// Sysinfo implements sysinfo(2): the Sentry's uptime and processes; memory is the
// host's, less what the sandbox's memory file holds, as the sandbox may use it.
func Sysinfo(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var host unix.Sysinfo_t
	unix.Sysinfo(&host)
	unit := uint64(host.Unit)
	used := t.Kernel().MemFile.Used()
	total := host.Totalram * unit
	si := sysinfo{
		Uptime:   int64(t.Kernel().Uptime().Seconds()),
		Totalram: total,
		Freeram:  total - min(total, used),
		Procs:    1,
		MemUnit:  1,
	}
	return 0, t.CopyOutObj(a[0], &si)
}

// binaryBytes is v's bytes in the machine's (little-endian) layout.
func binaryBytes(v any) ([]byte, error) {
	var b bytes.Buffer
	err := binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes(), err
}

// binaryRead fills v from b, little-endian.
func binaryRead(b []byte, v any) error {
	return binary.Read(bytes.NewReader(b), binary.LittleEndian, v)
}

// I/O priorities (include/uapi/linux/ioprio.h): class << 13 | data.
const (
	ioprioClassShift = 13
	ioprioClassNone  = 0
	ioprioClassRT    = 1
	ioprioClassBE    = 2
	ioprioClassIdle  = 3
	ioprioLevels     = 8
)

// IoprioGet implements ioprio_get(2): who names tasks as getpriority's (which is
// IOPRIO_WHO_PROCESS, _PGRP or _USER, one more than PRIO_*); the value is the task's
// (kernel.SchedAttrs.IOPrio), or for a group or user the lowest of theirs
// (ioprio_best). ESRCH if none; EINVAL for another which.
func IoprioGet(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	which, who := int(int32(a[0]))-1, int32(a[1])
	if which < kernel.PrioProcess || which > kernel.PrioUser {
		return 0, unix.EINVAL
	}
	targets := t.PriorityTargets(which, who)
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	best := targets[0].Sched.IOPrio()
	for _, o := range targets[1:] {
		best = min(best, o.Sched.IOPrio()) // ioprio_best
	}
	return uintptr(best), nil
}

// IoprioSet implements ioprio_set(2): the value is checked as ioprio_check_cap (the
// real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN, EPERM; a level, the data's low
// three bits, for class none, and an unknown class are EINVAL), then set on each task
// named, unless the caller may not (kernel.Task.MaySetIOPrio: EPERM, which stops the
// walk). ESRCH if none is named.
func IoprioSet(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	which, who, prio := int(int32(a[0]))-1, int32(a[1]), int32(a[2])
	level := prio & 7 // the data's low bits; the others are hints (IOPRIO_PRIO_LEVEL)
	switch prio >> ioprioClassShift {
	case ioprioClassRT:
		if !t.Creds.HasCap(vfs.CapSysNice) && !t.Creds.HasCap(vfs.CapSysAdmin) {
			return 0, unix.EPERM
		}
		fallthrough
	case ioprioClassBE:
		if level >= ioprioLevels {
			return 0, unix.EINVAL
		}
	case ioprioClassIdle:
	case ioprioClassNone:
		if level != 0 {
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EINVAL
	}
	if which < kernel.PrioProcess || which > kernel.PrioUser {
		return 0, unix.EINVAL
	}
	targets := t.PriorityTargets(which, who)
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	for _, o := range targets {
		if !t.MaySetIOPrio(o) {
			return 0, unix.EPERM
		}
		o.Sched.SetIOPrio(prio)
	}
	return 0, nil
}

// NUMA memory policies (include/uapi/linux/mempolicy.h). The sandbox shows one node,
// node 0 (nr_node_ids 1), so every policy places memory the same way; the task's
// policy is kept for get_mempolicy. mbind, which sets a policy per mapping, is not
// implemented.
const (
	mpolDefault            = 0
	mpolPreferred          = 1
	mpolBind               = 2
	mpolInterleave         = 3
	mpolLocal              = 4
	mpolPreferredMany      = 5
	mpolWeightedInterleave = 6
	mpolMax                = 7
	mpolFStaticNodes       = 1 << 15
	mpolFRelativeNodes     = 1 << 14
	mpolFNumaBalancing     = 1 << 13
	mpolModeFlags          = mpolFStaticNodes | mpolFRelativeNodes | mpolFNumaBalancing
	mpolFNode              = 1 << 0
	mpolFAddr              = 1 << 1
	mpolFMemsAllowed       = 1 << 2
)

// readNodes reads set_mempolicy's node mask of maxnode-1 bits, as get_nodes: none for
// a NULL mask or maxnode 0 or 1; EINVAL past a page of bits or for a node bit beyond
// the first word's, which names no node here (the kernel allows nodes up to its
// MAX_NUMNODES and then finds them offline).
func readNodes(t *kernel.Task, addr, maxnode uintptr) (uint64, error) {
	if maxnode > 0 {
		maxnode--
	}
	if addr == 0 || maxnode == 0 {
		return 0, nil
	}
	if maxnode > pageSize*8 {
		return 0, unix.EINVAL
	}
	buf := make([]byte, (maxnode+63)/64*8)
	if _, err := t.MM.CopyIn(addr, buf); err != nil {
		return 0, err
	}
	if rem := maxnode % 64; rem != 0 { // bits past maxnode are ignored
		last := buf[len(buf)-8:]
		w := binary.LittleEndian.Uint64(last) & (1<<rem - 1)
		binary.LittleEndian.PutUint64(last, w)
	}
	for _, c := range buf[8:] {
		if c != 0 {
			return 0, unix.EINVAL
		}
	}
	return binary.LittleEndian.Uint64(buf[:8]), nil
}

// SetMempolicy implements set_mempolicy(2), with mpol_new's checks: an unknown mode,
// both STATIC and RELATIVE, NUMA_BALANCING with a mode other than BIND or
// PREFERRED_MANY, nodes given for DEFAULT or LOCAL, no nodes for the modes that need
// them, and nodes none of which is node 0 (the only one online) are EINVAL. PREFERRED
// with no nodes is LOCAL.
func SetMempolicy(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	mode := int32(a[0])
	flags := mode & mpolModeFlags
	mode &^= mpolModeFlags
	if mode < 0 || mode >= mpolMax || flags&mpolFStaticNodes != 0 && flags&mpolFRelativeNodes != 0 {
		return 0, unix.EINVAL
	}
	if flags&mpolFNumaBalancing != 0 && mode != mpolBind && mode != mpolPreferredMany {
		return 0, unix.EINVAL
	}
	nodes, err := readNodes(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	switch {
	case mode == mpolDefault:
		if nodes != 0 {
			return 0, unix.EINVAL
		}
		t.Sched.SetMemPolicy(0, 0)
		return 0, nil
	case mode == mpolPreferred && nodes == 0:
		if flags&(mpolFStaticNodes|mpolFRelativeNodes) != 0 {
			return 0, unix.EINVAL
		}
		mode = mpolLocal
	case mode == mpolLocal:
		if nodes != 0 || flags&(mpolFStaticNodes|mpolFRelativeNodes) != 0 {
			return 0, unix.EINVAL
		}
	case nodes == 0:
		return 0, unix.EINVAL
	}
	shown := nodes
	if mode != mpolLocal && flags&(mpolFStaticNodes|mpolFRelativeNodes) == 0 {
		shown &= 1 // the nodes allowed
		if shown == 0 {
			return 0, unix.EINVAL
		}
	}
	t.Sched.SetMemPolicy(mode|flags, shown)
	return 0, nil
}

// GetMempolicy implements get_mempolicy(2), as do_get_mempolicy: MPOL_F_MEMS_ALLOWED
// gives node 0 (EINVAL with the other flags); MPOL_F_ADDR looks at the mapping at
// addr (EFAULT if none), which has the default policy (no mbind), and with
// MPOL_F_NODE gives the node of its page, 0; MPOL_F_NODE alone is the next node of an
// interleave policy, 0, and EINVAL for another policy; else the task's policy and its
// nodes. A node mask smaller than one node is EINVAL; one larger than the kernel's
// (one word) is zeroed past it, up to a page.
func GetMempolicy(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	modeAddr, maskAddr, maxnode, addr, flags := a[0], a[1], a[2], a[3], a[4]
	if maskAddr != 0 && maxnode < 1 {
		return 0, unix.EINVAL
	}
	if flags&^(mpolFNode|mpolFAddr|mpolFMemsAllowed) != 0 {
		return 0, unix.EINVAL
	}
	var mode int32
	var nodes uint64
	switch {
	case flags&mpolFMemsAllowed != 0:
		if flags&(mpolFNode|mpolFAddr) != 0 {
			return 0, unix.EINVAL
		}
		nodes = 1
	case flags&mpolFAddr != 0:
		if !t.MM.Overlaps(addr, 1) {
			return 0, unix.EFAULT
		}
		if flags&mpolFNode != 0 {
			mode = 0 // the node of the page
		}
	default:
		m, n := t.Sched.MemPolicy()
		if flags&mpolFNode != 0 {
			if m&^mpolModeFlags != mpolInterleave {
				return 0, unix.EINVAL
			}
			m = 0 // the next node to interleave on
		}
		mode, nodes = m, n
	}
	if modeAddr != 0 {
		if err := t.CopyOutObj(modeAddr, mode); err != nil {
			return 0, err
		}
	}
	if maskAddr != 0 {
		// copy_nodes_to_user: ALIGN(maxnode-1, 64)/8 bytes, the kernel's word and zeroes.
		n := (maxnode - 1 + 63) / 64 * 8
		if n > 8 && n > pageSize {
			return 0, unix.EINVAL
		}
		buf := make([]byte, n)
		if n >= 8 {
			binary.LittleEndian.PutUint64(buf, nodes)
		}
		if _, err := t.MM.CopyOut(maskAddr, buf); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Membarrier implements membarrier(2) (kernel.Task.Membarrier): flags must be 0, as
// they only qualify the rseq command, which the Sentry does not have (EINVAL).
func Membarrier(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[1] != 0 {
		return 0, unix.EINVAL
	}
	n, err := t.Membarrier(int(int32(a[0])))
	return uintptr(n), err
}
