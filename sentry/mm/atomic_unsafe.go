package mm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// Atomic access to an aligned 32-bit word of application memory, for futexes: the
// application's threads change the same word at the same time on other CPUs, so the
// Sentry reads and changes it with the CPU's atomic instructions, as the kernel's
// futex_atomic_cmpxchg_inatomic does.
//
// Why this is safe: copy hands out the Sentry's view of the memory-file page holding
// addr, a slice of at least 4 bytes since addr is 4-aligned (checked), and the page
// stays mapped in the Sentry while m.mu is held (copy holds it across the callback).

// LoadUint32 reads the word at addr atomically: EFAULT if it is not readable, EINVAL
// if addr is not 4-aligned.
func (m *MemoryManager) LoadUint32(addr uintptr) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	var v uint32
	_, err := m.copy(addr, 4, platform.Read, func(mem []byte, _ int) {
		v = atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[0])))
	})
	return v, err
}

// CompareAndSwapUint32 stores new at addr if it holds old, atomically, and returns the
// value it found: EFAULT if the word is not writable, EINVAL if addr is not 4-aligned.
func (m *MemoryManager) CompareAndSwapUint32(addr uintptr, old, new uint32) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	var found uint32
	_, err := m.copy(addr, 4, platform.AccessType{Write: true}, func(mem []byte, _ int) {
		p := (*uint32)(unsafe.Pointer(&mem[0]))
		for {
			if atomic.CompareAndSwapUint32(p, old, new) {
				found = old
				return
			}
			if found = atomic.LoadUint32(p); found != old {
				return
			}
		}
	})
	return found, err
}

// UpdateUint32 replaces the word at addr by f of its value, atomically (f may run more
// than once if the application changes the word meanwhile), and returns the old value.
func (m *MemoryManager) UpdateUint32(addr uintptr, f func(old uint32) uint32) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	var old uint32
	_, err := m.copy(addr, 4, platform.AccessType{Write: true}, func(mem []byte, _ int) {
		p := (*uint32)(unsafe.Pointer(&mem[0]))
		for {
			old = atomic.LoadUint32(p)
			if atomic.CompareAndSwapUint32(p, old, f(old)) {
				return
			}
		}
	})
	return old, err
}
