package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	unixsock "github.com/moat-sandbox/moat/sentry/socket/unix"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// maxRW is MAX_RW_COUNT: reads and writes are cut to INT_MAX rounded down to a page.
const maxRW = 0x7ffff000

// chunk is the most copied through the Sentry in one step.
const chunk = 1 << 20

// getFD returns the description at fd with a reference the caller drops.
func getFD(t *kernel.Task, a uintptr) (*vfs.FileDescription, error) {
	return t.FDs.Get(int32(a))
}

// ioFn reads or writes at most len(b) bytes of a file.
type ioFn func(b []byte) (int, error)

// readInto reads up to n bytes with read into the application's memory at addr, as one
// read: it stops at the first short read.
func readInto(t *kernel.Task, read ioFn, addr, n uintptr) (int, error) {
	buf := make([]byte, min(n, chunk))
	done := 0
	for uintptr(done) < n {
		b := buf[:min(n-uintptr(done), chunk)]
		got, err := read(b)
		if got > 0 {
			if _, cerr := t.MM.CopyOut(addr+uintptr(done), b[:got]); cerr != nil {
				if done > 0 {
					return done, nil
				}
				return 0, cerr
			}
			done += got
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if got < len(b) {
			break
		}
	}
	return done, nil
}

// writeFrom writes n bytes at addr with write. A buffer that is bad part-way is written
// up to the bad byte, as Linux does.
func writeFrom(t *kernel.Task, write ioFn, addr, n uintptr) (int, error) {
	if n == 0 {
		return write(nil)
	}
	buf := make([]byte, min(n, chunk))
	done := 0
	for uintptr(done) < n {
		b := buf[:min(n-uintptr(done), chunk)]
		got, cerr := t.MM.CopyIn(addr+uintptr(done), b)
		if got > 0 {
			w, err := write(b[:got])
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

// Read implements read(2).
func Read(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if a[2] == 0 {
		_, err := f.ReadCtx(t, nil)
		return 0, err
	}
	n, err := readInto(t, ctxIO(t, f.ReadCtx), a[1], min(a[2], maxRW))
	return uintptr(n), err
}

// ctxIO binds a blocking read or write to the task.
func ctxIO(t *kernel.Task, io func(vfs.Context, []byte) (int, error)) ioFn {
	return func(b []byte) (int, error) { return io(t, b) }
}

// writeErr raises SIGPIPE for a write that found no reader.
func writeErr(t *kernel.Task, err error) error {
	if err == unix.EPIPE {
		t.SigPipe()
	}
	return err
}

// Write implements write(2).
func Write(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if so := unixsock.Of(f); so != nil {
		return sockWritev(t, f, so, []iovec{{Base: uint64(a[1]), Len: uint64(min(a[2], maxRW))}})
	}
	n, err := writeFrom(t, ctxIO(t, f.WriteCtx), a[1], min(a[2], maxRW))
	return uintptr(n), writeErr(t, err)
}

// positioned returns f's I/O at a moving offset starting at off.
func positioned(io func([]byte, int64) (int, error), off int64) ioFn {
	return func(b []byte) (int, error) {
		n, err := io(b, off)
		off += int64(n)
		return n, err
	}
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, a [6]uintptr) (uintptr, error) { return positionedRW(t, a, false) }

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, a [6]uintptr) (uintptr, error) { return positionedRW(t, a, true) }

// positionedRW is pread64 and pwrite64: the description's checks first (EBADF, ESPIPE,
// EINVAL for a negative offset), then the transfer at the offset.
func positionedRW(t *kernel.Task, a [6]uintptr, write bool) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	off := int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	io, xfer := f.PRead, readInto
	if write {
		io, xfer = f.PWrite, writeFrom
	}
	if _, err := io(nil, off); err != nil {
		return 0, err
	}
	n, err := xfer(t, positioned(io, off), a[1], min(a[2], maxRW))
	return uintptr(n), err
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	off, err := f.Seek(int64(a[1]), int(int32(a[2])))
	return uintptr(off), err
}

// iovec is struct iovec.
type iovec struct {
	Base, Len uint64
}

// iovecs reads an iovec array as import_iovec does: EINVAL for more than UIO_MAXIOV
// entries or a total that overflows ssize_t.
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

// vectored runs one transfer over an iovec array: it stops at the first short
// transfer, and an error after some bytes is a short count.
func vectored(t *kernel.Task, fdArg, iovAddr, count uintptr, write bool, at func(*vfs.FileDescription) (ioFn, error)) (uintptr, error) {
	f, err := getFD(t, fdArg)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	iov, err := iovecs(t, iovAddr, count)
	if err != nil {
		return 0, err
	}
	io, err := at(f)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, v := range iov {
		if v.Len == 0 {
			continue
		}
		var n int
		if write {
			n, err = writeFrom(t, io, uintptr(v.Base), uintptr(min(v.Len, maxRW)))
		} else {
			n, err = readInto(t, io, uintptr(v.Base), uintptr(min(v.Len, maxRW)))
		}
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

// Readv implements readv(2).
func Readv(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if n, ok, err := sockVectored(t, a, false); ok {
		return n, err
	}
	return vectored(t, a[0], a[1], a[2], false, func(f *vfs.FileDescription) (ioFn, error) { return ctxIO(t, f.ReadCtx), nil })
}

// Writev implements writev(2).
func Writev(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if n, ok, err := sockVectored(t, a, true); ok {
		return n, err
	}
	n, err := vectored(t, a[0], a[1], a[2], true, func(f *vfs.FileDescription) (ioFn, error) { return ctxIO(t, f.WriteCtx), nil })
	return n, writeErr(t, err)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	off := int64(a[3])
	return vectored(t, a[0], a[1], a[2], false, func(f *vfs.FileDescription) (ioFn, error) {
		if off < 0 {
			return nil, unix.EINVAL
		}
		_, err := f.PRead(nil, off)
		return positioned(f.PRead, off), err
	})
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	off := int64(a[3])
	return vectored(t, a[0], a[1], a[2], true, func(f *vfs.FileDescription) (ioFn, error) {
		if off < 0 {
			return nil, unix.EINVAL
		}
		_, err := f.PWrite(nil, off)
		return positioned(f.PWrite, off), err
	})
}

// preadv2 and pwritev2 flags (include/uapi/linux/fs.h).
const (
	rwfHipri     = 0x01
	rwfDsync     = 0x02
	rwfSync      = 0x04
	rwfNowait    = 0x08
	rwfAppend    = 0x10
	rwfNoappend  = 0x20
	rwfSupported = rwfHipri | rwfDsync | rwfSync | rwfNowait | rwfAppend | rwfNoappend
)

// Preadv2 implements preadv2(2): preadv, or readv at the file's position for offset
// -1 (another negative one is EINVAL), with flags: RWF_HIPRI changes nothing here,
// RWF_NOWAIT makes a read that would wait for data fail with EAGAIN, the write-only
// flags are accepted and ignored, as Linux does for reads; any other flag is
// EOPNOTSUPP.
func Preadv2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	off, flags := int64(a[3]), a[5]
	if flags&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if off < -1 {
		return 0, unix.EINVAL
	}
	if off == -1 {
		return vectored(t, a[0], a[1], a[2], false, func(f *vfs.FileDescription) (ioFn, error) {
			if flags&rwfNowait != 0 {
				return ctxIO(t, f.ReadNowait), nil
			}
			return ctxIO(t, f.ReadCtx), nil
		})
	}
	return Preadv(t, a)
}

// Pwritev2 implements pwritev2(2): pwritev, or writev at the file's position for
// offset -1 (another negative one is EINVAL); RWF_APPEND writes at the end of the
// file whatever the offset (and moves no position), RWF_NOAPPEND ignores the
// description's O_APPEND for this write (EINVAL with RWF_APPEND), RWF_DSYNC and
// RWF_SYNC sync the file after the write, RWF_HIPRI and RWF_NOWAIT change nothing for
// the Sentry's files; any other flag is EOPNOTSUPP.
func Pwritev2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	off, flags := int64(a[3]), a[5]
	if flags&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if flags&rwfAppend != 0 && flags&rwfNoappend != 0 {
		return 0, unix.EINVAL
	}
	if off < -1 {
		return 0, unix.EINVAL
	}
	var n uintptr
	var err error
	switch {
	case flags&rwfAppend != 0:
		n, err = vectored(t, a[0], a[1], a[2], true, func(f *vfs.FileDescription) (ioFn, error) {
			st, err := f.Stat()
			if err != nil {
				return nil, err
			}
			if _, stream := f.Impl().(vfs.Stream); stream || st.Mode&unix.S_IFMT != unix.S_IFREG {
				return ctxIO(t, f.WriteCtx), nil
			}
			return positioned(f.PWrite, int64(st.Size)), nil
		})
	case off == -1:
		n, err = vectored(t, a[0], a[1], a[2], true, func(f *vfs.FileDescription) (ioFn, error) { return ctxIO(t, f.WriteCtx), nil })
	default:
		n, err = Pwritev(t, a)
	}
	if err == nil && flags&(rwfDsync|rwfSync) != 0 {
		if _, serr := Fsync(t, a); serr != nil && serr != unix.EINVAL {
			return n, serr
		}
	}
	return n, writeErr(t, err)
}
