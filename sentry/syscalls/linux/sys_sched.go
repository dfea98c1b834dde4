package linux

import (
	"math/bits"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// cpuMaskSize is the size of the kernel's CPU mask the Sentry reports: one long, for
// up to 64 CPUs (cpumask_size() on a kernel sized to the machine).
const cpuMaskSize = 8

// SchedGetaffinity implements sched_getaffinity(2): the CPUs the task may run on,
// which are the sandbox's CPUs unless it narrowed them.
func SchedGetaffinity(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, size := int32(a[0]), a[1]
	if size*8 < uintptr(runtime.NumCPU()) || size%8 != 0 {
		return 0, unix.EINVAL
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.ESRCH
	}
	mask := t.CPUMask
	if mask == 0 {
		mask = 1<<runtime.NumCPU() - 1
	}
	if err := t.CopyOutObj(a[2], mask); err != nil {
		return 0, err
	}
	return cpuMaskSize, nil
}

// SchedSetaffinity implements sched_setaffinity(2): the mask is kept for
// sched_getaffinity; it must name at least one of the sandbox's CPUs.
func SchedSetaffinity(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	pid, size := int32(a[0]), a[1]
	var buf [cpuMaskSize]byte
	n := min(size, cpuMaskSize)
	if _, err := t.MM.CopyIn(a[2], buf[:n]); err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.ESRCH
	}
	var mask uint64
	for i := uintptr(0); i < n; i++ {
		mask |= uint64(buf[i]) << (8 * i)
	}
	mask &= 1<<runtime.NumCPU() - 1
	if mask == 0 {
		return 0, unix.EINVAL
	}
	t.CPUMask = mask
	return 0, nil
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
	mask := t.CPUMask
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
