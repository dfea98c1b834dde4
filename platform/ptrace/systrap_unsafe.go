package ptrace

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The context page's state word, shared with the stub thread and the kernel
// (clear_child_tid). Futex calls are shared ones (no FUTEX_PRIVATE_FLAG): the word is
// in a MAP_SHARED mapping of the context file in both processes, so the kernel keys
// both sides' futexes by the file page.
//
// Safe: t.slot is a slice of the Sentry's mapping of the context file, which lives
// until the platform is closed, after every thread; ctxState is 4-byte aligned.

func (t *trapThread) stateWord() *uint32 {
	return (*uint32)(unsafe.Pointer(&t.slot[ctxState]))
}

func (t *trapThread) state() uint32 { return atomic.LoadUint32(t.stateWord()) }

func (t *trapThread) swapState(v uint32) uint32 { return atomic.SwapUint32(t.stateWord(), v) }

// The mapping thread's batch sequence number (in the batch page) and hint.
func (t *trapThread) storeSeq(v uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&t.slot[pageSize+sysSeq])), v)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&t.slot[pageSize+sysSeq])), futexWakeOp, 1, 0, 0, 0)
}

func (t *trapThread) hint() uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&t.slot[sysHint])))
}

// pidfdGetfd is pidfd_getfd(2): a copy of another process's file descriptor.
func pidfdGetfd(pidfd, fd int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_PIDFD_GETFD, uintptr(pidfd), uintptr(fd), 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func (t *trapThread) casState(old, v uint32) bool {
	return atomic.CompareAndSwapUint32(t.stateWord(), old, v)
}

// futexWaitFor sleeps while the state is v, at most d (0: no limit), or until a
// spurious wake-up.
func (t *trapThread) futexWaitFor(v uint32, d time.Duration) {
	var tsp uintptr
	if d > 0 {
		ts := unix.NsecToTimespec(d.Nanoseconds())
		tsp = uintptr(unsafe.Pointer(&ts))
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(t.stateWord())), futexWaitOp, uintptr(v), tsp, 0, 0)
}

func (t *trapThread) futexWake() {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(t.stateWord())), futexWakeOp, 1, 0, 0, 0)
}

// newTrapFile makes the context file and maps it whole into the Sentry. It is sparse:
// a slot costs memory only for the pages its thread touches.
func newTrapFile() (*trapFile, error) {
	fd, err := unix.MemfdCreate("moat-systrap-contexts", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("context file: %w", err)
	}
	size := trapFileSlots * slotSize
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("context file: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping the context file: %w", err)
	}
	return &trapFile{fd: fd, mem: mem}, nil
}

func (f *trapFile) close() {
	unix.Munmap(f.mem)
	unix.Close(f.fd)
}

// hasFSGSBase reports whether the kernel lets user code use RDFSBASE and friends
// (HWCAP2_FSGSBASE in the auxiliary vector).
func hasFSGSBase() bool {
	const atHWCAP2, hwcap2FSGSBase = 26, 1 << 1
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return false
	}
	for i := 0; i+16 <= len(auxv); i += 16 {
		if binary.LittleEndian.Uint64(auxv[i:]) == atHWCAP2 {
			return binary.LittleEndian.Uint64(auxv[i+8:])&hwcap2FSGSBase != 0
		}
	}
	return false
}
