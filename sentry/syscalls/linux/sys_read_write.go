package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// maxRW is MAX_RW_COUNT: reads and writes are cut to INT_MAX rounded down to a page.
const maxRW = 0x7ffff000

// chunk is the most copied through the Sentry in one step.
const chunk = 1 << 20

// Read implements read(2).
func Read(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := t.FDs.Get(fd(a[0]))
	if err != nil {
		return 0, err
	}
	n, err := readInto(t, f, a[1], min(a[2], maxRW))
	return uintptr(n), err
}

// readInto reads up to n bytes from f into the application's memory at addr, as one
// read: it stops at the first short read.
func readInto(t *kernel.Task, f kernel.File, addr, n uintptr) (int, error) {
	if n == 0 {
		return f.Read(t, nil)
	}
	buf := make([]byte, min(n, chunk))
	got, err := f.Read(t, buf)
	if got > 0 {
		if _, cerr := t.MM.CopyOut(addr, buf[:got]); cerr != nil {
			return 0, cerr
		}
		return got, nil
	}
	return 0, err
}

// Write implements write(2).
func Write(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := t.FDs.Get(fd(a[0]))
	if err != nil {
		return 0, err
	}
	n, err := writeFrom(t, f, a[1], min(a[2], maxRW))
	return uintptr(n), err
}

// writeFrom writes n bytes at addr to f. A buffer that is bad part-way is written up to
// the bad byte, as Linux does.
func writeFrom(t *kernel.Task, f kernel.File, addr, n uintptr) (int, error) {
	if n == 0 {
		return f.Write(t, nil)
	}
	done := 0
	for uintptr(done) < n {
		buf := make([]byte, min(n-uintptr(done), chunk))
		got, cerr := t.MM.CopyIn(addr+uintptr(done), buf)
		if got > 0 {
			w, err := f.Write(t, buf[:got])
			done += w
			if err != nil || w < got {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
		}
		if cerr != nil {
			if done > 0 {
				return done, nil
			}
			return 0, cerr
		}
	}
	return done, nil
}

// iovec is struct iovec.
type iovec struct {
	Base, Len uint64
}

// iovecs reads an iovec array as rw_copy_check_uvector does: EINVAL for more than
// UIO_MAXIOV entries or a total that overflows ssize_t.
func iovecs(t *kernel.Task, addr, count uintptr) ([]iovec, error) {
	const uioMaxIOV = 1024
	if count > uioMaxIOV {
		return nil, unix.EINVAL
	}
	iov := make([]iovec, count)
	var total uint64
	for i := range iov {
		if err := t.CopyInObj(addr+uintptr(16*i), &iov[i]); err != nil {
			return nil, unix.EFAULT
		}
		if int64(iov[i].Len) < 0 {
			return nil, unix.EINVAL
		}
		total += iov[i].Len
		if int64(total) < 0 {
			return nil, unix.EINVAL
		}
	}
	return iov, nil
}

// Readv implements readv(2).
func Readv(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return vectored(t, a, readInto)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return vectored(t, a, writeFrom)
}

// vectored runs op over each buffer of an iovec array, as one read or write: it stops at
// the first short transfer, and an error after some bytes is a short count.
func vectored(t *kernel.Task, a [6]uintptr, op func(*kernel.Task, kernel.File, uintptr, uintptr) (int, error)) (uintptr, error) {
	f, err := t.FDs.Get(fd(a[0]))
	if err != nil {
		return 0, err
	}
	iov, err := iovecs(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	total := 0
	for _, v := range iov {
		if v.Len == 0 {
			continue
		}
		n, err := op(t, f, uintptr(v.Base), uintptr(min(v.Len, maxRW)))
		total += n
		if err != nil {
			if total > 0 {
				break
			}
			return 0, err
		}
		if uint64(n) < v.Len {
			break
		}
	}
	return uintptr(total), nil
}
