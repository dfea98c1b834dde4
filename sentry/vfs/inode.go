package vfs

import (
	"golang.org/x/sys/unix"
)

// Inode is a file as a filesystem implements it. The methods a file type does not
// support are those of its interface below: a directory is a DirInode, a symlink a
// SymlinkInode. Inode methods are called with no VFS lock held that the filesystem
// could need.
type Inode interface {
	// Stat returns the file's attributes.
	Stat() (Stat, error)
	// SetStat changes the attributes opts selects. Permission checks are the VFS's.
	SetStat(opts SetStat) error
	// Open returns the implementation of a new description of the file, opened with
	// flags (O_ACCMODE, O_TRUNC, O_APPEND, O_DIRECTORY…; O_CREAT and O_EXCL were
	// handled by the VFS).
	Open(flags int) (FileImpl, error)
}

// DirInode is a directory.
type DirInode interface {
	Inode
	// Lookup returns the child name, or ENOENT.
	Lookup(name string) (Inode, error)
	// Create makes a regular file (or FIFO, socket) name with mode and owner.
	Create(name string, mode uint32, owner Owner) (Inode, error)
	// Mkdir makes a directory.
	Mkdir(name string, mode uint32, owner Owner) (Inode, error)
	// Symlink makes a symbolic link to target.
	Symlink(name, target string, owner Owner) (Inode, error)
	// Link makes name another link to target, an inode of the same filesystem.
	Link(name string, target Inode) error
	// Unlink removes the non-directory name.
	Unlink(name string) error
	// Rmdir removes the empty directory name.
	Rmdir(name string) error
	// Rename moves name to newName in newDir (a directory of the same filesystem),
	// replacing what is there; the VFS has checked the types and emptiness.
	Rename(name string, newDir DirInode, newName string) error
	// Readdir returns entries starting at cookie (0 first), and the cookie after the
	// last; "." and ".." are the VFS's.
	Readdir(cookie uint64, max int) ([]Dirent, error)
}

// ArgCreator is a directory whose files can be made with more than a mode and an
// owner (the mqueue filesystem's root: mq_open's attributes): OpenAt calls CreateArg
// instead of Create when its Caller has a CreateArg.
type ArgCreator interface {
	CreateArg(name string, mode uint32, owner Owner, arg any) (Inode, error)
}

// SymlinkInode is a symbolic link.
type SymlinkInode interface {
	Inode
	Readlink() (string, error)
}

// Owner is who creates a file: its owner and group.
type Owner struct{ UID, GID uint32 }

// Dirent is a directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8  // DT_*
	Next uint64 // cookie of the entry after this one
}

// Stat is a file's attributes, as statx gives them.
type Stat struct {
	Mode                uint32 // type and permission bits, as st_mode
	UID, GID            uint32
	Nlink               uint64
	Ino, Dev, Rdev      uint64
	Size, Blocks        uint64
	Blksize             uint32
	Atime, Mtime, Ctime unix.Timespec
}

// IsDir reports whether the mode is a directory's.
func (s *Stat) IsDir() bool { return s.Mode&unix.S_IFMT == unix.S_IFDIR }

// SetStat selects and holds attribute changes.
type SetStat struct {
	Mask     uint32 // of the SetStat* bits
	Mode     uint32 // permission bits only
	UID, GID uint32
	Size     uint64
	Atime    unix.Timespec
	Mtime    unix.Timespec
}

// SetStat mask bits.
const (
	SetStatMode = 1 << iota
	SetStatUID
	SetStatGID
	SetStatSize
	SetStatAtime
	SetStatMtime
	SetStatCtime
)

// DirentType is the DT_* value of a mode.
func DirentType(mode uint32) uint8 { return uint8(mode & unix.S_IFMT >> 12) }

// Statfser is implemented by inodes whose filesystem reports statistics (statfs(2)).
// The VFS answers for those that don't with a generic in-memory filesystem's figures.
type Statfser interface {
	Statfs() (unix.Statfs_t, error)
}

// Filesystem magic numbers (include/uapi/linux/magic.h).
const (
	TmpfsMagic     = 0x01021994
	OverlayMagic   = 0x794c7630
	V9fsMagic      = 0x01021997
	ProcMagic      = 0x9fa0
	SysfsMagic     = 0x62656572
	DevptsMagic    = 0x1cd1
	PipefsMagic    = 0x50495045
	SockfsMagic    = 0x534f434b
	AnonInodeMagic = 0x09041934
	Cgroup2Magic   = 0x63677270 // CGROUP2_SUPER_MAGIC
)

// magicOf is the magic number statfs reports for a mount of fsType whose inodes report
// none of their own (synthetic filesystems and the pseudo-filesystems of pipes,
// sockets and anonymous files).
var magicOf = map[string]int64{
	"proc": ProcMagic, "sysfs": SysfsMagic, "devpts": DevptsMagic,
	"pipefs": PipefsMagic, "sockfs": SockfsMagic, "anon_inode": AnonInodeMagic,
}

// internalMount reports whether fsType is one of the kernel's internal mounts, which
// no path reaches.
func internalMount(fsType string) bool {
	return fsType == "pipefs" || fsType == "sockfs" || fsType == "anon_inode"
}

// StatfsOf returns the statistics of the filesystem holding vd.
func StatfsOf(vd VirtualDentry) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	if s, ok := vd.Dentry.inode.(Statfser); ok {
		var err error
		if st, err = s.Statfs(); err != nil {
			return st, err
		}
	} else {
		// A synthetic filesystem: no blocks or inodes to count, as Linux's proc,
		// sysfs, devpts and pseudo-filesystems report.
		st = unix.Statfs_t{Type: TmpfsMagic, Bsize: 4096, Namelen: NameMax, Frsize: 4096}
		if m, ok := magicOf[vd.Mount.FSType]; ok {
			st.Type = m
		}
	}
	// Mount flags show in f_flags (ST_RDONLY, ST_NOSUID, ST_NODEV, ST_NOEXEC), and
	// ST_RELATIME, a Linux mount's default atime behaviour, on every mount but the
	// kernel's internal ones (pipes, sockets, anonymous files).
	f := vd.Mount.Flags
	st.Flags = 0x20 // ST_VALID
	if !internalMount(vd.Mount.FSType) {
		st.Flags |= 0x1000 // ST_RELATIME
	}
	for _, b := range []struct {
		on  bool
		bit int64
	}{{f.ReadOnly, 1}, {f.NoSuid, 2}, {f.NoDev, 4}, {f.NoExec, 8}} {
		if b.on {
			st.Flags |= b.bit
		}
	}
	return st, nil
}

// Dynamic is implemented by directories whose children the VFS must not cache (/proc,
// whose entries come and go with tasks): every lookup asks the directory.
type Dynamic interface {
	IsDynamic()
}

// CallerSymlink is implemented by symlinks whose target depends on who reads them
// (/proc/self): the VFS reads them with the caller's credentials.
type CallerSymlink interface {
	ReadlinkFor(c *Credentials) (string, error)
}

// MagicLink is implemented by symlinks that name an open file or a task's directory
// rather than a path (/proc/PID/fd/N, cwd, root): following one goes to that file
// itself, as nd_jump_link, whatever its name now (removed, or none: a pipe). Readlink
// still gives a name. RESOLVE_NO_MAGICLINKS refuses to follow one (ELOOP), and
// RESOLVE_BENEATH too (EXDEV).
type MagicLink interface {
	Jump() (VirtualDentry, error)
}

// CallerOpener is implemented by files whose content depends on who opens them (a
// cgroup's cgroup.procs names processes as the opener's PID namespace numbers them):
// the VFS opens them with the caller's credentials instead of calling Open.
type CallerOpener interface {
	OpenFor(flags int, c *Credentials) (FileImpl, error)
}

// readlink reads a symlink as c.
func readlink(in Inode, c *Credentials) (string, error) {
	if cs, ok := in.(CallerSymlink); ok && c != nil {
		return cs.ReadlinkFor(c)
	}
	return in.(SymlinkInode).Readlink()
}
