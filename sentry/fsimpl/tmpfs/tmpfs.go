// Package tmpfs is a filesystem in the Sentry's memory, for a container's writable
// layers, /tmp and /dev/shm.
//
// Every file is an inode holding its attributes under its own mutex. A directory keeps
// its entries in a map and, for getdents, a sequence number per entry in creation order:
// a directory cookie is the sequence number of the last entry returned, so a listing
// goes on correctly while entries are added or removed. A regular file's data is an
// mm.Shared object in the sandbox's memory file: read and write copy through the
// Sentry's view of its pages, and a MAP_SHARED mapping maps the same pages, so both see
// each other's writes at once (as Linux's shmem page cache).
//
// Lock order: an inode's mu, then the memory manager's, then the data's (mm.Shared).
package tmpfs

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Filesystem is one tmpfs instance.
type Filesystem struct {
	v       *vfs.VFS // whose drivers its device nodes open
	dev     uint64
	nextIno atomic.Uint64
	mf      *pgalloc.MemoryFile // where file data lives
}

// New returns a tmpfs whose root directory has mode and owner. Its files keep their
// data in v's memory file (in one of their own when v has none: unit tests).
func New(v *vfs.VFS, mode uint32, owner vfs.Owner) (*Filesystem, vfs.DirInode) {
	mf := v.MemFile
	if mf == nil {
		mf = testMemFile()
	}
	fs := &Filesystem{v: v, dev: v.NewDev(), mf: mf}
	root := fs.newDir(mode, owner)
	root.parent = root
	return fs, root
}

// inode is what every tmpfs file has.
type inode struct {
	fs *Filesystem
	mu sync.Mutex
	st vfs.Stat
}

func now() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

func (fs *Filesystem) initInode(in *inode, mode uint32, owner vfs.Owner) {
	t := now()
	in.fs = fs
	in.st = vfs.Stat{Mode: mode, UID: owner.UID, GID: owner.GID, Nlink: 1,
		Ino: fs.nextIno.Add(1), Dev: fs.dev, Blksize: 4096, Atime: t, Mtime: t, Ctime: t}
}

// Stat implements vfs.Inode.Stat.
func (in *inode) Stat() (vfs.Stat, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.st, nil
}

// setStat applies the attribute changes other than size.
func (in *inode) setStat(o vfs.SetStat) {
	t := now()
	if o.Mask&vfs.SetStatMode != 0 {
		in.st.Mode = in.st.Mode&unix.S_IFMT | o.Mode&0o7777
	}
	if o.Mask&vfs.SetStatUID != 0 {
		in.st.UID = o.UID
	}
	if o.Mask&vfs.SetStatGID != 0 {
		in.st.GID = o.GID
	}
	if o.Mask&vfs.SetStatAtime != 0 {
		in.st.Atime = o.Atime
	}
	if o.Mask&vfs.SetStatMtime != 0 {
		in.st.Mtime = o.Mtime
	}
	in.st.Ctime = t
}

func (in *inode) touch(mtime bool) {
	t := now()
	in.st.Ctime = t
	if mtime {
		in.st.Mtime = t
	}
}

// dir is a directory.
type dir struct {
	inode
	parent  *dir
	entries map[string]*entry
	seq     uint64
}

type entry struct {
	in  vfs.Inode
	seq uint64
}

func (fs *Filesystem) newDir(mode uint32, owner vfs.Owner) *dir {
	d := &dir{entries: map[string]*entry{}}
	fs.initInode(&d.inode, unix.S_IFDIR|mode&0o7777, owner)
	d.st.Nlink = 2
	return d
}

// SetStat implements vfs.Inode.SetStat.
func (d *dir) SetStat(o vfs.SetStat) error {
	if o.Mask&vfs.SetStatSize != 0 {
		return unix.EISDIR
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setStat(o)
	return nil
}

// Open implements vfs.Inode.Open.
func (d *dir) Open(flags int) (vfs.FileImpl, error) { return dirFile{}, nil }

// Lookup implements vfs.DirInode.Lookup.
func (d *dir) Lookup(name string) (vfs.Inode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[name]; ok {
		return e.in, nil
	}
	return nil, unix.ENOENT
}

// add links in as name; d.mu is held.
func (d *dir) add(name string, in vfs.Inode) error {
	if _, ok := d.entries[name]; ok {
		return unix.EEXIST
	}
	d.seq++
	d.entries[name] = &entry{in: in, seq: d.seq}
	if _, ok := in.(*dir); ok {
		d.st.Nlink++
	}
	d.touch(true)
	return nil
}

// Create implements vfs.DirInode.Create.
func (d *dir) Create(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	var in vfs.Inode
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		f := d.fs.newRegular(unix.F_SEAL_SEAL) // only memfds take seals
		d.fs.initInode(&f.inode, mode, owner)
		in = f
	default:
		// FIFOs and sockets exist as names; opening them needs pipes and sockets.
		s := &special{}
		d.fs.initInode(&s.inode, mode, owner)
		in = s
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return in, d.add(name, in)
}

// Mknod implements vfs.DeviceMaker: a device node, which opens as the VFS's driver
// for its number does.
func (d *dir) Mknod(name string, mode uint32, rdev uint64, owner vfs.Owner) (vfs.Inode, error) {
	n := &deviceNode{}
	d.fs.initInode(&n.inode, mode, owner)
	n.st.Rdev = rdev
	d.mu.Lock()
	defer d.mu.Unlock()
	return n, d.add(name, n)
}

// Mkdir implements vfs.DirInode.Mkdir.
func (d *dir) Mkdir(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	c := d.fs.newDir(mode, owner)
	c.parent = d
	d.mu.Lock()
	defer d.mu.Unlock()
	return c, d.add(name, c)
}

// Symlink implements vfs.DirInode.Symlink.
func (d *dir) Symlink(name, target string, owner vfs.Owner) (vfs.Inode, error) {
	s := &symlink{target: target}
	d.fs.initInode(&s.inode, unix.S_IFLNK|0o777, owner)
	s.st.Size = uint64(len(target))
	d.mu.Lock()
	defer d.mu.Unlock()
	return s, d.add(name, s)
}

// base returns the tmpfs inode of in.
func base(in vfs.Inode) *inode {
	switch f := in.(type) {
	case *regular:
		return &f.inode
	case *dir:
		return &f.inode
	case *symlink:
		return &f.inode
	case *special:
		return &f.inode
	case *deviceNode:
		return &f.inode
	}
	return nil
}

// Link implements vfs.DirInode.Link.
func (d *dir) Link(name string, target vfs.Inode) error {
	b := base(target)
	if b == nil || b.fs != d.fs {
		return unix.EXDEV
	}
	d.mu.Lock()
	if err := d.add(name, target); err != nil {
		d.mu.Unlock()
		return err
	}
	d.mu.Unlock()
	b.mu.Lock()
	b.st.Nlink++
	b.touch(false)
	b.mu.Unlock()
	return nil
}

// drop removes name from d (d.mu held) and updates the link counts.
func (d *dir) drop(name string) vfs.Inode {
	e := d.entries[name]
	delete(d.entries, name)
	d.touch(true)
	if c, ok := e.in.(*dir); ok {
		d.st.Nlink--
		c.mu.Lock()
		c.st.Nlink = 0
		c.mu.Unlock()
	} else if b := base(e.in); b != nil {
		b.mu.Lock()
		b.st.Nlink--
		b.touch(false)
		if r, ok := e.in.(*regular); ok {
			r.maybeFree()
		}
		b.mu.Unlock()
	}
	return e.in
}

// Unlink implements vfs.DirInode.Unlink.
func (d *dir) Unlink(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[name]
	if !ok {
		return unix.ENOENT
	}
	if _, isDir := e.in.(*dir); isDir {
		return unix.EISDIR
	}
	d.drop(name)
	return nil
}

// Rmdir implements vfs.DirInode.Rmdir.
func (d *dir) Rmdir(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[name]
	if !ok {
		return unix.ENOENT
	}
	c, isDir := e.in.(*dir)
	if !isDir {
		return unix.ENOTDIR
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 0 {
		return unix.ENOTEMPTY
	}
	d.drop(name)
	return nil
}

// Rename implements vfs.DirInode.Rename. The VFS holds its rename lock, so no other
// rename runs; the two directories are locked in a fixed order.
func (d *dir) Rename(name string, newDir vfs.DirInode, newName string) error {
	nd, ok := newDir.(*dir)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	lock2(d, nd)
	defer unlock2(d, nd)
	e, ok := d.entries[name]
	if !ok {
		return unix.ENOENT
	}
	if old, ok := nd.entries[newName]; ok {
		if od, isDir := old.in.(*dir); isDir {
			od.mu.Lock()
			n := len(od.entries)
			od.mu.Unlock()
			if n > 0 {
				return unix.ENOTEMPTY
			}
		}
		nd.drop(newName)
	}
	delete(d.entries, name)
	d.touch(true)
	nd.seq++
	nd.entries[newName] = &entry{in: e.in, seq: nd.seq}
	nd.touch(true)
	if c, isDir := e.in.(*dir); isDir && nd != d {
		d.st.Nlink--
		nd.st.Nlink++
		c.parent = nd
	}
	return nil
}

func lock2(a, b *dir) {
	if a == b {
		a.mu.Lock()
		return
	}
	if a.st.Ino < b.st.Ino {
		a.mu.Lock()
		b.mu.Lock()
	} else {
		b.mu.Lock()
		a.mu.Lock()
	}
}

func unlock2(a, b *dir) {
	a.mu.Unlock()
	if a != b {
		b.mu.Unlock()
	}
}

// Readdir implements vfs.DirInode.Readdir: entries with a sequence number above
// cookie, in creation order.
func (d *dir) Readdir(cookie uint64, max int) ([]vfs.Dirent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []vfs.Dirent
	for name, e := range d.entries {
		if e.seq <= cookie {
			continue
		}
		st, _ := e.in.Stat()
		out = append(out, vfs.Dirent{Name: name, Ino: st.Ino, Type: vfs.DirentType(st.Mode), Next: e.seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Next < out[j].Next })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// dirFile is an open directory: getdents is the VFS's, reads are EISDIR.
type dirFile struct{}

func (dirFile) Read([]byte, int64) (int, error)  { return 0, unix.EISDIR }
func (dirFile) Write([]byte, int64) (int, error) { return 0, unix.EBADF }
func (dirFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (dirFile) Release() {}

// symlink is a symbolic link.
type symlink struct {
	inode
	target string
}

// SetStat implements vfs.Inode.SetStat.
func (s *symlink) SetStat(o vfs.SetStat) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setStat(o)
	return nil
}

// Open implements vfs.Inode.Open; the VFS never opens a symlink but with O_PATH.
func (s *symlink) Open(int) (vfs.FileImpl, error) { return nil, unix.ELOOP }

// Readlink implements vfs.SymlinkInode.Readlink.
func (s *symlink) Readlink() (string, error) { return s.target, nil }

// special is a FIFO or socket name.
type special struct{ inode }

// SetStat implements vfs.Inode.SetStat.
func (s *special) SetStat(o vfs.SetStat) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setStat(o)
	return nil
}

// Open implements vfs.Inode.Open: FIFOs and sockets need their subsystems (ENXIO is what
// open of a socket gives on Linux).
func (s *special) Open(int) (vfs.FileImpl, error) { return nil, unix.ENXIO }

// deviceNode is a character or block device's name.
type deviceNode struct{ inode }

// SetStat implements vfs.Inode.SetStat; truncating a device does nothing.
func (n *deviceNode) SetStat(o vfs.SetStat) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setStat(o)
	return nil
}

// Open implements vfs.Inode.Open.
func (n *deviceNode) Open(flags int) (vfs.FileImpl, error) {
	st, _ := n.Stat()
	return n.fs.v.OpenDevice(st.Mode&unix.S_IFMT, st.Rdev, flags)
}

// AddChild links in, an inode of another filesystem (a device), into the tmpfs
// directory dir as name: how /dev gets its devices.
func AddChild(parent vfs.DirInode, name string, in vfs.Inode) error {
	d, ok := parent.(*dir)
	if !ok {
		return unix.EINVAL
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.add(name, in)
}

// Statfs implements vfs.Statfser with Linux's default size for a tmpfs, half the
// host's RAM, in blocks and in inodes (shmem_default_max_blocks and _inodes). No size
// is enforced: the free blocks are those of that size that the sandbox's memory file
// (which every tmpfs and every process of the sandbox share) does not hold, and the
// free inodes those of that number this filesystem has not made yet.
func (in *inode) Statfs() (unix.Statfs_t, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return unix.Statfs_t{}, err
	}
	const bsize = 4096
	half := si.Totalram * uint64(si.Unit) / 2 / bsize
	used := in.fs.mf.Used() / bsize
	made := in.fs.nextIno.Load()
	return unix.Statfs_t{Type: vfs.TmpfsMagic, Bsize: bsize, Frsize: bsize, Namelen: vfs.NameMax,
		Blocks: half, Bfree: half - min(half, used), Bavail: half - min(half, used),
		Files: half, Ffree: half - min(half, made)}, nil
}
