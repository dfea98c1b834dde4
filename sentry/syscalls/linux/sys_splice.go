package linux

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/pipe"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// splice(2), tee(2), sendfile(2) and copy_file_range(2), with fs/splice.c's and
// fs/read_write.c's checks. Data is copied through a buffer in the Sentry; a pipe's
// side is its buffer (fsimpl/pipe's Drain, Fill and Transfer, which wait as Linux
// does).

// splice flags (include/linux/splice.h).
const (
	spliceFNonblock = 0x2
	spliceFAll      = 0xf // MOVE, NONBLOCK, MORE, GIFT
)

// ioFD is fdget: an O_PATH descriptor is EBADF.
func ioFD(t *kernel.Task, a uintptr) (*vfs.FileDescription, error) {
	f, err := getFD(t, a)
	if err != nil {
		return nil, err
	}
	if f.StatusFlags()&unix.O_PATH != 0 {
		f.DecRef()
		return nil, unix.EBADF
	}
	return f, nil
}

// ioFDPair is ioFD for an input and an output descriptor, in that order; done drops
// both references.
func ioFDPair(t *kernel.Task, inArg, outArg uintptr) (in, out *vfs.FileDescription, done func(), err error) {
	in, err = ioFD(t, inArg)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err = ioFD(t, outArg)
	if err != nil {
		in.DecRef()
		return nil, nil, nil, err
	}
	return in, out, func() { in.DecRef(); out.DecRef() }, nil
}

// nonblocking reports whether f's status flags have O_NONBLOCK.
func nonblocking(f *vfs.FileDescription) bool { return f.StatusFlags()&unix.O_NONBLOCK != 0 }

func isStream(f *vfs.FileDescription) bool {
	_, ok := f.Impl().(vfs.Stream)
	return ok
}

// splices reports whether f's data can be spliced (Linux's splice_read and
// splice_write): regular files, devices, sockets and pipes can; anonymous files
// (eventfd, timerfd, epoll…) and directories can't.
func splices(f *vfs.FileDescription) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFSOCK, unix.S_IFIFO:
		return true
	}
	return false
}

// verifyArea is rw_verify_area's offset check: EINVAL for a negative position or one
// that n would carry past the largest offset.
func verifyArea(pos int64, n uintptr) error {
	if pos < 0 || uint64(n) > math.MaxInt64-uint64(pos) {
		return unix.EINVAL
	}
	return nil
}

// fileReader reads f at *pos (advancing it), or at its file offset if pos is nil.
func fileReader(t *kernel.Task, f *vfs.FileDescription, pos *int64) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		if pos == nil {
			return f.ReadCtx(t, b)
		}
		n, err := f.PRead(b, *pos)
		*pos += int64(n)
		return n, err
	}
}

// fileWriter writes f at *pos (advancing it), or at its file offset if pos is nil.
func fileWriter(t *kernel.Task, f *vfs.FileDescription, pos *int64) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		if pos == nil {
			return f.WriteCtx(t, b)
		}
		n, err := f.PWrite(b, *pos)
		*pos += int64(n)
		return n, err
	}
}

// offsetIn reads the loff_t at addr (0: none, nil).
func offsetIn(t *kernel.Task, addr uintptr) (*int64, error) {
	if addr == 0 {
		return nil, nil
	}
	var off int64
	if err := t.CopyInObj(addr, &off); err != nil {
		return nil, unix.EFAULT
	}
	return &off, nil
}

// Splice implements splice(2), in fs/splice.c's order of checks.
func Splice(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	offInAddr, offOutAddr, n, flags := a[1], a[3], a[4], a[5]
	if n == 0 {
		return 0, nil
	}
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	in, out, release, err := ioFDPair(t, a[0], a[2])
	if err != nil {
		return 0, err
	}
	defer release()
	ip, op := pipe.Of(in.Impl()), pipe.Of(out.Impl())
	if ip != nil && offInAddr != 0 || op != nil && offOutAddr != 0 {
		return 0, unix.ESPIPE
	}
	offOut, err := offsetIn(t, offOutAddr)
	if err != nil {
		return 0, err
	}
	offIn, err := offsetIn(t, offInAddr)
	if err != nil {
		return 0, err
	}
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	n = min(n, maxRW)
	nonblock := flags&spliceFNonblock != 0
	var done int
	switch {
	case ip != nil && op != nil:
		if ip == op {
			return 0, unix.EINVAL
		}
		done, err = pipe.Transfer(t, ip, op, int(n), nonblock || nonblocking(in) || nonblocking(out), false)
	case ip != nil:
		// As do_splice's pipe-to-file case and do_splice_from.
		if offOut != nil && isStream(out) {
			return 0, unix.EINVAL
		}
		pos := out.Offset()
		if offOut != nil {
			pos = *offOut
		}
		if out.StatusFlags()&unix.O_APPEND != 0 {
			return 0, unix.EINVAL
		}
		if err := verifyArea(pos, n); err != nil {
			return 0, err
		}
		if !splices(out) {
			return 0, unix.EINVAL
		}
		done, err = ip.Drain(t, int(n), nonblock || nonblocking(in), fileWriter(t, out, offOut))
	case op != nil:
		// As do_splice's file-to-pipe case and splice_file_to_pipe.
		if offIn != nil && isStream(in) {
			return 0, unix.EINVAL
		}
		pos := in.Offset()
		if offIn != nil {
			pos = *offIn
		}
		if err := verifyArea(pos, n); err != nil {
			return 0, err
		}
		read := fileReader(t, in, offIn)
		if !splices(in) {
			read = func([]byte) (int, error) { return 0, unix.EINVAL }
		}
		done, err = op.Fill(t, int(n), nonblock || nonblocking(out), read)
	default:
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, writeErr(t, err)
	}
	if offOut != nil {
		if err := t.CopyOutObj(offOutAddr, *offOut); err != nil {
			return 0, unix.EFAULT
		}
	}
	if offIn != nil {
		if err := t.CopyOutObj(offInAddr, *offIn); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uintptr(done), nil
}

// Tee implements tee(2): it copies from one pipe to another, leaving the first as it
// was.
func Tee(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	n, flags := a[2], a[3]
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	if n == 0 {
		return 0, nil
	}
	in, out, release, err := ioFDPair(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	defer release()
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	ip, op := pipe.Of(in.Impl()), pipe.Of(out.Impl())
	if ip == nil || op == nil || ip == op {
		return 0, unix.EINVAL
	}
	nonblock := flags&spliceFNonblock != 0 || nonblocking(in) || nonblocking(out)
	done, err := pipe.Transfer(t, ip, op, int(min(n, maxRW)), nonblock, true)
	return uintptr(done), writeErr(t, err)
}

// Sendfile implements sendfile(2), as do_sendfile: the offset is read (EFAULT), the
// input checked (EBADF, ESPIPE for an offset on a stream, EINVAL), then the output
// (EBADF). To a pipe it is one splice; otherwise a copy until count or the end of the
// input. The offset is written back even when the copy failed.
func Sendfile(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	offAddr, count := a[2], a[3]
	off, err := offsetIn(t, offAddr)
	if err != nil {
		return 0, err
	}
	n, err := sendfile(t, a[0], a[1], off, count)
	if off != nil {
		if err := t.CopyOutObj(offAddr, *off); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uintptr(n), err
}

func sendfile(t *kernel.Task, outFD, inFD uintptr, off *int64, count uintptr) (int, error) {
	in, err := ioFD(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	if !in.Readable() {
		return 0, unix.EBADF
	}
	pos := in.Offset()
	if off != nil {
		if isStream(in) {
			return 0, unix.ESPIPE
		}
		pos = *off
	}
	if err := verifyArea(pos, count); err != nil {
		return 0, err
	}
	count = min(count, maxRW)
	out, err := ioFD(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !out.Writable() {
		return 0, unix.EBADF
	}
	read := fileReader(t, in, off)
	if !splices(in) || pipe.Of(in.Impl()) != nil {
		read = func([]byte) (int, error) { return 0, unix.EINVAL }
	}
	if op := pipe.Of(out.Impl()); op != nil {
		n, err := op.Fill(t, int(count), nonblocking(out), read)
		return n, writeErr(t, err)
	}
	if out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	if !splices(out) {
		return 0, unix.EINVAL
	}
	n, err := copyData(read, fileWriter(t, out, nil), count)
	return n, writeErr(t, err)
}

// copyData copies up to n bytes from read to write through a buffer, until a short
// read (the end of the input) or write; an error after some bytes is dropped, as a
// short count.
func copyData(read, write func([]byte) (int, error), n uintptr) (int, error) {
	buf := make([]byte, min(n, chunk))
	done := 0
	for uintptr(done) < n {
		b := buf[:min(n-uintptr(done), chunk)]
		got, err := read(b)
		if got > 0 {
			w, werr := write(b[:got])
			done += w
			if werr != nil {
				err = werr
			} else if w < got {
				break
			}
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

// CopyFileRange implements copy_file_range(2), as fs/read_write.c: the descriptors
// (EBADF), the offsets (EFAULT), the flags (EINVAL), then generic_copy_file_checks
// (EISDIR, EINVAL for what is not a regular file, EBADF for the access modes,
// EOVERFLOW, the length cut at the input's end, EINVAL for an overlap within one file)
// and the positions (EINVAL).
func CopyFileRange(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	offInAddr, offOutAddr, n, flags := a[1], a[3], a[4], a[5]
	in, out, release, err := ioFDPair(t, a[0], a[2])
	if err != nil {
		return 0, err
	}
	defer release()
	offIn, err := offsetIn(t, offInAddr)
	if err != nil {
		return 0, err
	}
	offOut, err := offsetIn(t, offOutAddr)
	if err != nil {
		return 0, err
	}
	posIn, posOut := in.Offset(), out.Offset()
	if offIn != nil {
		posIn = *offIn
	}
	if offOut != nil {
		posOut = *offOut
	}
	if flags != 0 {
		return 0, unix.EINVAL
	}
	stIn, err := in.Stat()
	if err != nil {
		return 0, err
	}
	stOut, err := out.Stat()
	if err != nil {
		return 0, err
	}
	if stIn.Mode&unix.S_IFMT == unix.S_IFDIR || stOut.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 0, unix.EISDIR
	}
	if stIn.Mode&unix.S_IFMT != unix.S_IFREG || stOut.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	if !in.Readable() || !out.Writable() || out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	// As vfs_copy_file_range since Linux 5.19: no copy across filesystems (a host file
	// such as redirected stdio is on none of the sandbox's); cp and cat fall back to
	// read and write on EXDEV.
	if mi, mo := in.VirtualDentry().Mount, out.VirtualDentry().Mount; mi == nil || mi != mo || isStream(in) || isStream(out) {
		return 0, unix.EXDEV
	}
	if uint64(posIn)+uint64(n) < uint64(posIn) || uint64(posOut)+uint64(n) < uint64(posOut) {
		return 0, unix.EOVERFLOW
	}
	count := int64(0)
	if size := int64(stIn.Size); posIn < size {
		count = min(int64(min(n, maxRW)), size-posIn)
	}
	if in.VirtualDentry().Dentry == out.VirtualDentry().Dentry && posOut+count > posIn && posOut < posIn+count {
		return 0, unix.EINVAL
	}
	if err := verifyArea(posIn, uintptr(count)); err != nil {
		return 0, err
	}
	if err := verifyArea(posOut, uintptr(count)); err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, nil
	}
	pi, po := posIn, posOut
	done, err := copyData(fileReader(t, in, &pi), fileWriter(t, out, &po), uintptr(count))
	if err != nil {
		return 0, err
	}
	for _, s := range []struct {
		addr uintptr
		f    *vfs.FileDescription
		pos  int64
	}{{offInAddr, in, posIn + int64(done)}, {offOutAddr, out, posOut + int64(done)}} {
		if s.addr != 0 {
			if err := t.CopyOutObj(s.addr, s.pos); err != nil {
				return 0, unix.EFAULT
			}
		} else if _, err := s.f.Seek(s.pos, unix.SEEK_SET); err != nil {
			return 0, err
		}
	}
	return uintptr(done), nil
}
