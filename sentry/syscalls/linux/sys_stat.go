package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// statAt resolves the file a stat-family call names: dirfd and path, with
// AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH (the dirfd's own file).
func statAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int) (vfs.Stat, error) {
	emptyOK := flags&unix.AT_EMPTY_PATH != 0
	p, err := path(t, pathAddr, emptyOK)
	if err != nil {
		return vfs.Stat{}, err
	}
	if p == "" {
		if dirfd == unix.AT_FDCWD {
			return t.FS.Cwd().Dentry.Inode().Stat()
		}
		f, err := t.FDs.Get(dirfd)
		if err != nil {
			return vfs.Stat{}, err
		}
		defer f.DecRef()
		return f.Stat()
	}
	op, err := t.PathOp(dirfd, p)
	if err != nil {
		return vfs.Stat{}, err
	}
	return t.Kernel().VFS.StatAt(t.Caller(), op, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

func toStat(s vfs.Stat) unix.Stat_t {
	return unix.Stat_t{Dev: s.Dev, Ino: s.Ino, Nlink: s.Nlink, Mode: s.Mode, Uid: s.UID, Gid: s.GID,
		Rdev: s.Rdev, Size: int64(s.Size), Blksize: int64(s.Blksize), Blocks: int64(s.Blocks),
		Atim: s.Atime, Mtim: s.Mtime, Ctim: s.Ctime}
}

func copyOutStat(t *kernel.Task, addr uintptr, s vfs.Stat) error {
	st := toStat(s)
	return t.CopyOutObj(addr, &st)
}

// Stat implements stat(2).
func Stat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	s, err := statAt(t, unix.AT_FDCWD, a[0], 0)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, a[1], s)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	s, err := statAt(t, unix.AT_FDCWD, a[0], unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, a[1], s)
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	s, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, a[1], s)
}

// Newfstatat implements newfstatat(2) (fstatat).
func Newfstatat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := int(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	s, err := statAt(t, fd(a[0]), a[1], flags)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, a[2], s)
}

// Statx implements statx(2). The Sentry fills the basic fields (STATX_BASIC_STATS).
func Statx(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags, mask := int(a[2]), uint32(a[3])
	const syncMask = 0x6000 // AT_STATX_SYNC_TYPE
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_EMPTY_PATH|syncMask) != 0 ||
		flags&syncMask == syncMask || mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	s, err := statAt(t, fd(a[0]), a[1], flags)
	if err != nil {
		return 0, err
	}
	var b [256]byte // struct statx
	le := binary.LittleEndian
	le.PutUint32(b[0:], unix.STATX_BASIC_STATS)
	le.PutUint32(b[4:], s.Blksize)
	le.PutUint32(b[16:], uint32(s.Nlink))
	le.PutUint32(b[20:], s.UID)
	le.PutUint32(b[24:], s.GID)
	le.PutUint16(b[28:], uint16(s.Mode))
	le.PutUint64(b[32:], s.Ino)
	le.PutUint64(b[40:], s.Size)
	le.PutUint64(b[48:], s.Blocks)
	for i, ts := range []unix.Timespec{s.Atime, {}, s.Ctime, s.Mtime} { // atime, btime, ctime, mtime
		le.PutUint64(b[64+16*i:], uint64(ts.Sec))
		le.PutUint32(b[72+16*i:], uint32(ts.Nsec))
	}
	le.PutUint32(b[128:], unix.Major(s.Rdev))
	le.PutUint32(b[132:], unix.Minor(s.Rdev))
	le.PutUint32(b[136:], unix.Major(s.Dev))
	le.PutUint32(b[140:], unix.Minor(s.Dev))
	_, err = t.MM.CopyOut(a[4], b[:])
	return 0, err
}
