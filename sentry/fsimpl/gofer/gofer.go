// Package gofer is the Sentry's client of the Gofer: a filesystem whose files are the
// host files a Gofer process serves (the container's root and bind mounts).
//
// Each inode is a FID of the Gofer's; a lookup is a Twalk of one component (the VFS
// resolves paths, symlinks and "..": the Gofer walks single names and never follows a
// link). Opening a file asks the Gofer for a host FD of it (Topen, Tcreate), which the
// Sentry then reads and writes itself: the Gofer is off the data path. Directory listings
// and every change of names or attributes are requests.
//
// Attributes are cached in the inode and kept up to date by the Sentry's own requests
// (each reply carries the new Stat) and, after writes through a host FD, by fstat of
// that FD: the Sentry is the only writer of the files it is served. FIDs live as long
// as the filesystem (the VFS keeps its dentries).
package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/sentry/mm"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Filesystem is one mount served by a Gofer.
type Filesystem struct {
	c   *protocol.Client
	dev uint64
	v   *vfs.VFS
}

// New attaches to mount number mount of the Gofer at c and returns its root.
func New(v *vfs.VFS, c *protocol.Client, mount uint32) (vfs.DirInode, error) {
	fid, st, err := c.Attach(mount)
	if err != nil {
		return nil, err
	}
	fs := &Filesystem{c: c, dev: v.NewDev(), v: v}
	in := fs.node(protocol.Node{FID: fid, Stat: st})
	d, ok := in.(*dir)
	if !ok {
		return nil, unix.ENOTDIR
	}
	return d, nil
}

// inode is what every file of the filesystem has.
type inode struct {
	fs  *Filesystem
	fid protocol.FID

	mu sync.Mutex
	st protocol.Stat

	self vfs.Inode // the node this is the inode of (a *file, a *dir…)
}

// node makes the inode of a node the Gofer returned.
func (fs *Filesystem) node(n protocol.Node) vfs.Inode {
	var in vfs.Inode
	var b *inode
	switch n.Stat.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		d := &dir{}
		in, b = d, &d.inode
	case unix.S_IFLNK:
		l := &symlink{}
		in, b = l, &l.inode
	default:
		f := &file{}
		in, b = f, &f.inode
	}
	b.fs, b.fid, b.st, b.self = fs, n.FID, n.Stat, in
	return in
}

func ts(t protocol.Timespec) unix.Timespec {
	return unix.Timespec{Sec: t.Sec, Nsec: int64(t.Nsec)}
}

// Stat implements vfs.Inode.Stat.
func (in *inode) Stat() (vfs.Stat, error) {
	in.mu.Lock()
	s := in.st
	in.mu.Unlock()
	return vfs.Stat{Mode: s.Mode, UID: s.UID, GID: s.GID, Nlink: s.Nlink, Ino: s.Ino,
		Dev: in.fs.dev, Rdev: s.Rdev, Size: s.Size, Blocks: s.Blocks, Blksize: s.Blksize,
		Atime: ts(s.Atime), Mtime: ts(s.Mtime), Ctime: ts(s.Ctime)}, nil
}

func (in *inode) setCached(st protocol.Stat) {
	in.mu.Lock()
	in.st = st
	in.mu.Unlock()
}

// refresh re-reads the attributes from the Gofer.
func (in *inode) refresh() {
	if st, err := in.fs.c.Stat(in.fid); err == nil {
		in.setCached(st)
	}
}

// SetStat implements vfs.Inode.SetStat.
func (in *inode) SetStat(o vfs.SetStat) error {
	var a protocol.Attr
	if o.Mask&vfs.SetStatMode != 0 {
		a.Mask |= protocol.SetattrMode
		a.Mode = o.Mode & 0o7777
	}
	if o.Mask&vfs.SetStatUID != 0 {
		a.Mask |= protocol.SetattrUID
		a.UID = o.UID
	}
	if o.Mask&vfs.SetStatGID != 0 {
		a.Mask |= protocol.SetattrGID
		a.GID = o.GID
	}
	if o.Mask&vfs.SetStatSize != 0 {
		a.Mask |= protocol.SetattrSize
		a.Size = o.Size
	}
	var cache *mm.Shared
	if f, ok := in.self.(*file); ok && o.Mask&vfs.SetStatSize != 0 {
		in.mu.Lock()
		cache = f.cache
		in.mu.Unlock()
		if cache != nil {
			// Mapped pages reach the file first; the truncation then applies to both.
			if err := cache.Flush(); err != nil {
				return err
			}
		}
	}
	if o.Mask&vfs.SetStatAtime != 0 {
		a.Mask |= protocol.SetattrAtime
		a.Atime = protocol.Timespec{Sec: o.Atime.Sec, Nsec: uint32(o.Atime.Nsec)}
	}
	if o.Mask&vfs.SetStatMtime != 0 {
		a.Mask |= protocol.SetattrMtime
		a.Mtime = protocol.Timespec{Sec: o.Mtime.Sec, Nsec: uint32(o.Mtime.Nsec)}
	}
	if a.Mask == 0 {
		return nil
	}
	st, err := in.fs.c.Setattr(in.fid, a)
	if err != nil {
		return err
	}
	in.setCached(st)
	if cache != nil {
		cache.SetSize(o.Size)
	}
	return nil
}

// openFlags are the flags the Gofer reopens a file with.
const openFlags = unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DIRECTORY

// file is a regular file (or another non-directory the Gofer can open).
type file struct {
	inode
	// cache is the file's page cache for shared mappings (mm.NewCache), made at the
	// first MAP_SHARED mapping; inode.mu guards the pointer. While it holds pages, a
	// read of the file first writes them back, and a write updates them, so that
	// mappings and read/write agree as they do on Linux's single page cache.
	cache *mm.Shared
}

// Open implements vfs.Inode.Open.
func (f *file) Open(flags int) (vfs.FileImpl, error) {
	hfd, err := f.fs.c.Open(f.fid, uint32(flags&openFlags))
	if err != nil {
		return nil, err
	}
	return &hostFile{in: &f.inode, f: f, fd: hfd}, nil
}

// hostFile is an open file: a host FD the Gofer donated.
type hostFile struct {
	in *inode
	f  *file // nil for descriptions of other kinds of nodes
	fd int
}

// cached returns the file's cache if it has one.
func (h *hostFile) cached() *mm.Shared {
	if h.f == nil {
		return nil
	}
	h.in.mu.Lock()
	defer h.in.mu.Unlock()
	return h.f.cache
}

// Cache returns the file's page cache for a MAP_SHARED mapping, making it the first
// time: its pages are read from, and written back to, a host FD of its own (a copy of
// this description's, which a mapping needs open for reading, and for writing if the
// mapping can write). A cache made for a description open only for reading gets a
// writable copy from the first description open for writing that maps the file (only
// such a mapping can write its pages). It lasts as long as the file's inode.
func (h *hostFile) Cache() (*mm.Shared, error) {
	if h.f == nil || h.in.fs.v.MemFile == nil {
		return nil, unix.ENODEV
	}
	fl, err := unix.FcntlInt(uintptr(h.fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	writable := fl&unix.O_ACCMODE == unix.O_RDWR
	h.in.mu.Lock()
	defer h.in.mu.Unlock()
	if c := h.f.cache; c != nil && (!writable || c.Writable()) {
		return c, nil
	}
	fd, err := unix.FcntlInt(uintptr(h.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if c := h.f.cache; c != nil {
		if old, ok := c.WritableBacking(fdBacking(fd)).(fdBacking); ok {
			unix.Close(int(old))
		}
		return c, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	h.f.cache = mm.NewCache(h.in.fs.v.MemFile, uint64(st.Size), fdBacking(fd), writable)
	return h.f.cache, nil
}

// fdBacking is a cache's host FD (mm.Backing).
type fdBacking int

func (b fdBacking) ReadAt(p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(int(b), p, off)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

func (b fdBacking) WriteAt(p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pwrite(int(b), p, off)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// Read implements vfs.FileImpl.Read.
func (h *hostFile) Read(dst []byte, off int64) (int, error) {
	if c := h.cached(); c != nil {
		if err := c.Flush(); err != nil {
			return 0, err
		}
	}
	for {
		n, err := unix.Pread(h.fd, dst, off)
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Write implements vfs.FileImpl.Write; off < 0 appends (the FD was opened O_APPEND).
func (h *hostFile) Write(src []byte, off int64) (int, error) {
	var n int
	var err error
	for {
		if off < 0 {
			n, err = unix.Write(h.fd, src)
		} else {
			n, err = unix.Pwrite(h.fd, src, off)
		}
		if err != unix.EINTR {
			break
		}
	}
	if n > 0 {
		h.syncStat()
		if c := h.cached(); c != nil {
			if off < 0 { // appended: the write ended at the new end of the file
				h.in.mu.Lock()
				off = int64(h.in.st.Size) - int64(n)
				h.in.mu.Unlock()
			}
			c.Update(src[:n], uint64(off))
		}
	}
	return max(n, 0), err
}

// syncStat updates the cached size and times from the host FD after a write.
func (h *hostFile) syncStat() {
	var st unix.Stat_t
	if unix.Fstat(h.fd, &st) != nil {
		return
	}
	h.in.mu.Lock()
	h.in.st.Size, h.in.st.Blocks = uint64(st.Size), uint64(st.Blocks)
	h.in.st.Mtime = protocol.Timespec{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)}
	h.in.st.Ctime = protocol.Timespec{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)}
	h.in.mu.Unlock()
}

// Ioctl implements vfs.FileImpl.Ioctl.
func (h *hostFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Release implements vfs.FileImpl.Release.
func (h *hostFile) Release() { unix.Close(h.fd) }

// symlink is a symbolic link.
type symlink struct {
	inode
	once   sync.Once
	target string
	err    error
}

// Open implements vfs.Inode.Open; the VFS opens a symlink only with O_PATH.
func (s *symlink) Open(int) (vfs.FileImpl, error) { return nil, unix.ELOOP }

// Readlink implements vfs.SymlinkInode.Readlink. A link's target never changes.
func (s *symlink) Readlink() (string, error) {
	s.once.Do(func() { s.target, s.err = s.fs.c.Readlink(s.fid) })
	return s.target, s.err
}

// Statfs implements vfs.Statfser: the host filesystem's figures, as a 9p filesystem.
func (in *inode) Statfs() (unix.Statfs_t, error) {
	s, err := in.fs.c.Statfs(in.fid)
	if err != nil {
		return unix.Statfs_t{}, err
	}
	return unix.Statfs_t{Type: vfs.V9fsMagic, Bsize: int64(s.Bsize), Blocks: s.Blocks, Bfree: s.Bfree,
		Bavail: s.Bavail, Files: s.Files, Ffree: s.Ffree, Namelen: int64(s.Namelen), Frsize: int64(s.Bsize)}, nil
}

// Sync implements vfs.Syncer: the cache's pages first, as fsync writes back mapped
// pages.
func (h *hostFile) Sync() error {
	if c := h.cached(); c != nil {
		if err := c.Flush(); err != nil {
			return err
		}
	}
	return unix.Fsync(h.fd)
}

// Allocate implements vfs.Allocator on the host file.
func (h *hostFile) Allocate(mode uint32, off, length int64) error {
	if err := unix.Fallocate(h.fd, mode, off, length); err != nil {
		return err
	}
	h.syncStat()
	return nil
}
