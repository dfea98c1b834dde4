package mm

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// CopyOut copies src to the application's memory at addr, as copy_to_user: EFAULT unless
// every byte is in a writable VMA. Bytes before a bad page may have been written.
func (m *MemoryManager) CopyOut(addr uintptr, src []byte) (int, error) {
	return m.copy(addr, len(src), platform.AccessType{Write: true}, func(mem []byte, done int) {
		copy(mem, src[done:])
	})
}

// CopyIn copies the application's memory at addr into dst, as copy_from_user.
func (m *MemoryManager) CopyIn(addr uintptr, dst []byte) (int, error) {
	return m.copy(addr, len(dst), platform.Read, func(mem []byte, done int) {
		copy(dst[done:], mem)
	})
}

// ZeroOut writes n zero bytes at addr.
func (m *MemoryManager) ZeroOut(addr uintptr, n int) (int, error) {
	return m.copy(addr, n, platform.AccessType{Write: true}, func(mem []byte, _ int) { clear(mem) })
}

// CopyInString reads a NUL-terminated string of at most max bytes (the NUL excluded)
// at addr: ENAMETOOLONG if there is no NUL within max bytes, as strncpy_from_user's
// callers report for paths.
func (m *MemoryManager) CopyInString(addr uintptr, max int) (string, error) {
	var out []byte
	buf := make([]byte, pageSize)
	for len(out) <= max {
		// Read up to the end of the current page, so a string ending just before an
		// unmapped page is not an EFAULT.
		n := pageSize - int(addr%pageSize)
		if _, err := m.CopyIn(addr, buf[:n]); err != nil {
			return "", err
		}
		for i := 0; i < n; i++ {
			if buf[i] == 0 {
				out = append(out, buf[:i]...)
				if len(out) > max {
					return "", unix.ENAMETOOLONG
				}
				return string(out), nil
			}
		}
		out = append(out, buf[:n]...)
		addr += uintptr(n)
	}
	return "", unix.ENAMETOOLONG
}

// copy walks [addr, addr+n) page by page, populating pages as a fault would, and calls
// f with the Sentry's view of each piece and the bytes done before it.
func (m *MemoryManager) copy(addr uintptr, n int, at platform.AccessType, f func(mem []byte, done int)) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if addr+uintptr(n) < addr {
		return 0, unix.EFAULT
	}
	m.mu.Lock()
	defer m.unlock()
	done := 0
	for done < n {
		a := addr + uintptr(done)
		v, ok := m.lookupOrGrow(a)
		if !ok || !v.perms.SupersetOf(at) {
			return done, unix.EFAULT
		}
		page := pageDown(a)
		fr, ok := m.pages.lookup(page)
		if !ok {
			// Populate without mapping: the application's own first touch maps it.
			if err := m.populate(v, page, false); err != nil {
				return done, unix.EFAULT
			}
			fr, _ = m.pages.lookup(page)
		} else if at.Write && m.isCOW(v, fr) {
			// Never into a page another address space still sees: this one gets its
			// own copy first, of every copy-on-write page the copy will write.
			end, _ := pageUp(addr + uintptr(n))
			if err := m.breakCOW(v, page, min(end, v.end)); err != nil {
				return done, unix.EFAULT
			}
			fr, _ = m.pages.lookup(page)
		}
		mem := m.mf.Slice(fr)[a-page:]
		if rest := n - done; len(mem) > rest {
			mem = mem[:rest]
		}
		f(mem, done)
		done += len(mem)
	}
	return done, nil
}
