package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// resolveAt resolves dirfd+path for an attribute change; an empty path with emptyOK
// is the dirfd's own file.
func resolveAt(t *kernel.Task, dirfd int32, addr uintptr, follow, emptyOK bool) (vfs.VirtualDentry, error) {
	p, err := path(t, addr, emptyOK)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	if p == "" {
		if dirfd == unix.AT_FDCWD {
			return t.FS.Cwd(), nil
		}
		f, err := t.FDs.Get(dirfd)
		if err != nil {
			return vfs.VirtualDentry{}, err
		}
		defer f.DecRef()
		return f.VirtualDentry(), nil
	}
	op, err := t.PathOp(dirfd, p)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	return t.Kernel().VFS.Resolve(t.Creds, op.Root, op.Start, op.Path, follow)
}

// fdDentry returns the file of descriptor a.
func fdDentry(t *kernel.Task, a uintptr) (vfs.VirtualDentry, error) {
	f, err := getFD(t, a)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	defer f.DecRef()
	return f.VirtualDentry(), nil
}

func chmod(t *kernel.Task, vd vfs.VirtualDentry, err error, mode uintptr) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS.SetStatAt(t.Caller(), vd, vfs.SetStat{Mask: vfs.SetStatMode, Mode: uint32(mode) & 0o7777}, false)
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	return chmod(t, vd, err, a[1])
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := fdDentry(t, a[0])
	return chmod(t, vd, err, a[1])
}

// Fchmodat implements fchmodat(2) (no flags argument: it always follows).
func Fchmodat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, fd(a[0]), a[1], true, false)
	return chmod(t, vd, err, a[2])
}

// Fchmodat2 implements fchmodat2(2): fchmodat with flags, AT_SYMLINK_NOFOLLOW (a
// symlink's mode can't change: EOPNOTSUPP) and AT_EMPTY_PATH; others are EINVAL.
func Fchmodat2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := a[3]
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, err := resolveAt(t, fd(a[0]), a[1], flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err == nil && vd.Dentry.IsSymlink() {
		return 0, unix.EOPNOTSUPP
	}
	return chmod(t, vd, err, a[2])
}

func chown(t *kernel.Task, vd vfs.VirtualDentry, err error, uid, gid uintptr) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	var o vfs.SetStat
	if int32(uid) != -1 {
		o.Mask |= vfs.SetStatUID
		o.UID = uint32(uid)
	}
	if int32(gid) != -1 {
		o.Mask |= vfs.SetStatGID
		o.GID = uint32(gid)
	}
	if o.Mask == 0 {
		return 0, nil
	}
	return 0, t.Kernel().VFS.SetStatAt(t.Caller(), vd, o, false)
}

// Chown implements chown(2).
func Chown(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	return chown(t, vd, err, a[1], a[2])
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], false, false)
	return chown(t, vd, err, a[1], a[2])
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := fdDentry(t, a[0])
	return chown(t, vd, err, a[1], a[2])
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := a[4]
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, err := resolveAt(t, fd(a[0]), a[1], flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	return chown(t, vd, err, a[2], a[3])
}

func truncate(t *kernel.Task, vd vfs.VirtualDentry, length int64) (uintptr, error) {
	if length < 0 {
		return 0, unix.EINVAL
	}
	return 0, t.Kernel().VFS.SetStatAt(t.Caller(), vd, vfs.SetStat{Mask: vfs.SetStatSize, Size: uint64(length)}, false)
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return truncate(t, vd, int64(a[1]))
}

// Ftruncate implements ftruncate(2): the file must be open for writing (EINVAL
// otherwise, as do_sys_ftruncate).
func Ftruncate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int64(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	acc := f.StatusFlags() & unix.O_ACCMODE
	if acc == unix.O_RDONLY || f.StatusFlags()&unix.O_PATH != 0 {
		return 0, unix.EINVAL
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	// An open description's own write access is what counts, not the mode.
	o := vfs.SetStat{Mask: vfs.SetStatSize, Size: uint64(a[1])}
	if err := f.VirtualDentry().Dentry.Inode().SetStat(o); err != nil {
		return 0, err
	}
	t.Kernel().VFS.NotifyAttr(f.VirtualDentry().Dentry, o)
	return 0, nil
}

// Utimensat implements utimensat(2).
func Utimensat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := a[3]
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	var ts *[2]unix.Timespec
	if a[2] != 0 {
		ts = new([2]unix.Timespec)
		if err := t.CopyInObj(a[2], ts); err != nil {
			return 0, err
		}
	}
	return 0, setTimes(t, a[0], a[1], ts, flags)
}

// atFDCWD is AT_FDCWD as a system call argument.
var atFDCWD = func() uintptr { v := int64(unix.AT_FDCWD); return uintptr(v) }()

// Utimes implements utimes(2): utimensat(AT_FDCWD, path, times, 0) with microseconds.
func Utimes(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return futimesat(t, atFDCWD, a[0], a[1])
}

// Futimesat implements futimesat(2).
func Futimesat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return futimesat(t, a[0], a[1], a[2])
}

// futimesat is do_futimesat: each timeval's microseconds must be in [0, 1e6).
func futimesat(t *kernel.Task, dirfd, path, times uintptr) (uintptr, error) {
	var ts *[2]unix.Timespec
	if times != 0 {
		var tv [2]unix.Timeval
		if err := t.CopyInObj(times, &tv); err != nil {
			return 0, err
		}
		ts = new([2]unix.Timespec)
		for i, v := range tv {
			if v.Usec < 0 || v.Usec >= 1e6 {
				return 0, unix.EINVAL
			}
			ts[i] = unix.Timespec{Sec: v.Sec, Nsec: v.Usec * 1000}
		}
	}
	return 0, setTimes(t, dirfd, path, ts, 0)
}

// Utime implements utime(2): whole seconds, or now for a NULL buffer.
func Utime(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var ts *[2]unix.Timespec
	if a[1] != 0 {
		var buf [2]int64 // struct utimbuf {actime, modtime}
		if err := t.CopyInObj(a[1], &buf); err != nil {
			return 0, err
		}
		ts = &[2]unix.Timespec{{Sec: buf[0]}, {Sec: buf[1]}}
	}
	return 0, setTimes(t, atFDCWD, a[0], ts, 0)
}

// setTimes sets the access and modification times of the file at dirfd/path (or of
// dirfd itself with a NULL path) as utimensat does: ts nil means both now; UTIME_NOW
// and UTIME_OMIT as the man page says. Setting both to now needs only write access.
func setTimes(t *kernel.Task, dirfd, pathAddr uintptr, ts *[2]unix.Timespec, flags uintptr) error {
	if ts == nil {
		ts = &[2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	}
	now := unix.NsecToTimespec(timeNow())
	var o vfs.SetStat
	allNow := true
	for i, tsp := range ts {
		switch tsp.Nsec {
		case unix.UTIME_OMIT:
			continue
		case unix.UTIME_NOW:
			tsp = now
		default:
			if tsp.Nsec < 0 || tsp.Nsec >= 1e9 {
				return unix.EINVAL
			}
			allNow = false
		}
		if i == 0 {
			o.Mask |= vfs.SetStatAtime
			o.Atime = tsp
		} else {
			o.Mask |= vfs.SetStatMtime
			o.Mtime = tsp
		}
	}
	var vd vfs.VirtualDentry
	var err error
	if pathAddr == 0 {
		// A NULL path: the file of dirfd itself (Linux's utimes-on-fd form).
		vd, err = fdDentry(t, dirfd)
	} else {
		vd, err = resolveAt(t, fd(dirfd), pathAddr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	}
	if err != nil {
		return err
	}
	if o.Mask == 0 {
		return nil
	}
	return t.Kernel().VFS.SetStatAt(t.Caller(), vd, o, allNow)
}

func faccessat(t *kernel.Task, dirfd int32, addr, mode, flags uintptr) (uintptr, error) {
	if mode&^(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return 0, unix.EINVAL
	}
	if flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, err := path(t, addr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	op, err := t.PathOp(dirfd, p)
	if err != nil {
		return 0, err
	}
	if p == "" {
		op.Path = "."
	}
	// Without AT_EACCESS the check is made as the real user (access_override_creds).
	c := t.AccessCaller()
	if flags&unix.AT_EACCESS != 0 {
		c = t.Caller()
	}
	return 0, t.Kernel().VFS.AccessAt(c, op, flags&unix.AT_SYMLINK_NOFOLLOW == 0, uint32(mode))
}

// Access implements access(2).
func Access(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return faccessat(t, unix.AT_FDCWD, a[0], a[1], 0)
}

// Faccessat implements faccessat(2).
func Faccessat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return faccessat(t, fd(a[0]), a[1], a[2], 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return faccessat(t, fd(a[0]), a[1], a[2], a[3])
}

// Umask implements umask(2).
func Umask(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.FS.SwapUmask(uint32(a[0]))), nil
}

// Getcwd implements getcwd(2): ERANGE if the buffer is too small, ENOENT if the working
// directory was removed.
func Getcwd(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	p, err := t.Kernel().VFS.PathOf(t.FS.Root(), t.FS.Cwd())
	if err != nil {
		return 0, err
	}
	b := append([]byte(p), 0)
	if uintptr(len(b)) > a[1] {
		return 0, unix.ERANGE
	}
	if _, err := t.MM.CopyOut(a[0], b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// searchable checks that vd is a directory the task may search (ENOTDIR, EACCES), as
// chdir and chroot need.
func searchable(t *kernel.Task, vd vfs.VirtualDentry) error {
	if !vd.Dentry.IsDir() {
		return unix.ENOTDIR
	}
	st, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return err
	}
	return t.Creds.MayAccess(unix.X_OK, &st)
}

// chdirTo makes vd the working directory: it must be a searchable directory.
func chdirTo(t *kernel.Task, vd vfs.VirtualDentry) (uintptr, error) {
	if err := searchable(t, vd); err != nil {
		return 0, err
	}
	t.FS.SetCwd(vd)
	return 0, nil
}

// Chroot implements chroot(2): path must name a searchable directory (ENOTDIR,
// EACCES), and the caller needs CAP_SYS_CHROOT (EPERM); paths then resolve from it,
// and ".." never climbs above it. The working directory stays where it is.
func Chroot(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	if err := searchable(t, vd); err != nil {
		return 0, err
	}
	if !t.Creds.HasCap(vfs.CapSysChroot) {
		return 0, unix.EPERM
	}
	t.FS.SetRoot(vd)
	return 0, nil
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return chdirTo(t, vd)
}

// Fchdir implements fchdir(2).
func Fchdir(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	vd, err := fdDentry(t, a[0])
	if err != nil {
		return 0, err
	}
	return chdirTo(t, vd)
}
