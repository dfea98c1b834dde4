package ptrace

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Sentry's own mapping of the stub region, made once per process. Forked stubs
// inherit it at the same address.
var (
	stubOnce sync.Once
	stubBase uintptr
	stubErr  error
	// stubData is the Sentry's view of the data page; forkMu guards it together with
	// the fork that copies it into a new template.
	stubData []byte
	forkMu   sync.Mutex
)

// mapStub maps the stub region as high as it can: the top of the user address space
// first, then lower in 16 MiB steps when something (the Sentry's stack, its vDSO) is
// there already. MAP_FIXED_NOREPLACE never clobbers an existing mapping.
//
// Safe: the region is new, private to this process, and only this package writes it.
func mapStub() (uintptr, error) {
	stubOnce.Do(func() {
		const step = 16 << 20
		for addr := uintptr(maxStubEnd - stubSize); addr > maxStubEnd-64*step; addr -= step {
			p, _, errno := unix.RawSyscall6(unix.SYS_MMAP, addr, stubSize,
				unix.PROT_READ|unix.PROT_WRITE,
				unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uintptr(0), 0)
			if errno == unix.EEXIST {
				continue
			}
			if errno != 0 {
				stubErr = fmt.Errorf("mapping the stub at %#x: %w", addr, errno)
				return
			}
			if p != addr { // a kernel older than 4.17 takes NOREPLACE as a hint
				unix.RawSyscall(unix.SYS_MUNMAP, p, stubSize, 0)
				continue
			}
			region := unsafe.Slice(addrToPointer(p), stubSize)
			copy(region, stubCode)
			if _, _, errno := unix.RawSyscall(unix.SYS_MPROTECT, p, pageSize,
				unix.PROT_READ|unix.PROT_EXEC); errno != 0 {
				stubErr = fmt.Errorf("protecting the stub's code: %w", errno)
				return
			}
			stubBase, stubData = p, region[pageSize:]
			return
		}
		stubErr = fmt.Errorf("no free address for the stub below %#x", maxStubEnd)
	})
	return stubBase, stubErr
}

// addrToPointer returns a pointer to a mapping the process made itself, outside the Go
// heap (so the garbage collector neither moves nor frees it).
func addrToPointer(addr uintptr) *byte {
	return *(**byte)(unsafe.Pointer(&addr))
}
