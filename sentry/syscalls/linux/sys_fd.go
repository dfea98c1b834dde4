package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
	"github.com/moat-sandbox/moat/sentry/fsimpl/pipe"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// installFD gives f the lowest free descriptor below RLIMIT_NOFILE (EMFILE past it),
// close-on-exec if cloexec, and returns its number; on failure f's reference is
// dropped.
func installFD(t *kernel.Task, f *vfs.FileDescription, cloexec bool) (uintptr, error) {
	fd, err := t.FDs.NewFD(f, 0, cloexec, t.Limits[unix.RLIMIT_NOFILE].Cur)
	if err != nil {
		f.DecRef()
		return 0, err
	}
	return uintptr(fd), nil
}

// Dup implements dup(2).
func Dup(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	return installFD(t, f, false)
}

func dup3(t *kernel.Task, oldfd, newfd int32, cloexec bool) (uintptr, error) {
	f, err := t.FDs.Get(oldfd)
	if err != nil {
		return 0, err
	}
	if newfd < 0 || uint64(newfd) >= t.Limits[unix.RLIMIT_NOFILE].Cur {
		f.DecRef()
		return 0, unix.EBADF
	}
	t.FDs.Set(newfd, f, cloexec)
	return uintptr(newfd), nil
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if fd(a[0]) == fd(a[1]) {
		f, err := getFD(t, a[0])
		if err != nil {
			return 0, err
		}
		f.DecRef()
		return a[1] & 0xffffffff, nil
	}
	return dup3(t, fd(a[0]), fd(a[1]), false)
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[2]&^unix.O_CLOEXEC != 0 || fd(a[0]) == fd(a[1]) {
		return 0, unix.EINVAL
	}
	return dup3(t, fd(a[0]), fd(a[1]), a[2]&unix.O_CLOEXEC != 0)
}

// Fcntl implements fcntl(2): descriptor flags, status flags, duplication, seals
// (sys_memfd.go) and record locks (sys_lock.go).
func Fcntl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	cmd := int(int32(a[1]))
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := int32(a[2])
		if min < 0 || uint64(min) >= t.Limits[unix.RLIMIT_NOFILE].Cur {
			return 0, unix.EINVAL
		}
		f.IncRef()
		nfd, err := t.FDs.NewFD(f, min, cmd == unix.F_DUPFD_CLOEXEC, t.Limits[unix.RLIMIT_NOFILE].Cur)
		if err != nil {
			f.DecRef()
		}
		return uintptr(nfd), err
	case unix.F_GETFD:
		on, err := t.FDs.CloseOnExec(fd(a[0]))
		if on {
			return unix.FD_CLOEXEC, err
		}
		return 0, err
	case unix.F_SETFD:
		return 0, t.FDs.SetCloseOnExec(fd(a[0]), a[2]&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uintptr(f.StatusFlags()), nil
	case unix.F_SETFL:
		f.SetStatusFlags(int(a[2]))
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		// As pipe_fcntl: EBADF for anything but a pipe.
		p := pipe.Of(f.Impl())
		if p == nil {
			return 0, unix.EBADF
		}
		if int(a[1]) == unix.F_GETPIPE_SZ {
			return uintptr(p.Size()), nil
		}
		n, err := p.SetSize(uint64(uint32(a[2])), t.Creds.HasCap(vfs.CapSysResource))
		return uintptr(n), err
	case unix.F_ADD_SEALS:
		// As memfd_add_seals: write access, then the file; the argument is an
		// unsigned int (the upper bits are dropped).
		if !f.Writable() {
			return 0, unix.EPERM
		}
		s, ok := f.Impl().(vfs.Sealer)
		if !ok {
			return 0, unix.EINVAL
		}
		return 0, s.AddSeals(uint32(a[2]))
	case unix.F_GET_SEALS:
		s, ok := f.Impl().(vfs.Sealer)
		if !ok {
			return 0, unix.EINVAL
		}
		return uintptr(s.Seals()), nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return 0, fcntlLock(t, f, cmd, a[2])
	}
	return 0, unix.EINVAL
}

// FIONREAD, FIOCLEX and FIONCLEX (include/uapi/asm-generic/ioctls.h).
const (
	fionread = 0x541b
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
)

// Ioctl implements ioctl(2).
func Ioctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	req := uintptr(uint32(a[1]))
	switch req {
	case fionread:
		// On a regular file, the bytes past the offset (do_vfs_ioctl); others answer
		// for themselves.
		if st, err := f.Stat(); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			return 0, t.CopyOutObj(a[2], int32(int64(st.Size)-f.Offset()))
		}
	case fionbio:
		// ioctl_fionbio: O_NONBLOCK on or off, for any file.
		var on int32
		if err := t.CopyInObj(a[2], &on); err != nil {
			return 0, unix.EFAULT
		}
		flags := f.StatusFlags() &^ unix.O_NONBLOCK
		if on != 0 {
			flags |= unix.O_NONBLOCK
		}
		f.SetStatusFlags(flags)
		return 0, nil
	case fioclex:
		return 0, t.FDs.SetCloseOnExec(fd(a[0]), true)
	case fionclex:
		return 0, t.FDs.SetCloseOnExec(fd(a[0]), false)
	}
	if tf, ok := f.Impl().(devpts.TTYFile); ok {
		return ttyIoctl(t, f, tf, req, a[2])
	}
	return f.Ioctl(t.MM, req, a[2])
}
