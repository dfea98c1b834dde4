// Package kernfs builds synthetic filesystems (/proc, /sys) whose files are made by
// the Sentry: a directory lists and looks up its children through functions, a file's
// content is generated when it is opened (so a read sees one consistent snapshot, as
// seq_file does), and a symlink's target is computed when read.
//
// Nothing here can be created, removed or renamed by the application (EPERM); files
// made writable take their writes through a function.
package kernfs

import (
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// FS is one synthetic filesystem: its device and inode numbers and its clock.
type FS struct {
	dev   uint64
	ino   atomic.Uint64
	mtime unix.Timespec
}

// New returns a synthetic filesystem.
func New(v *vfs.VFS) *FS {
	return &FS{dev: v.NewDev(), mtime: unix.NsecToTimespec(time.Now().UnixNano())}
}

// base holds what every synthetic inode has.
type base struct {
	fs   *FS
	ino  uint64
	mode uint32
}

func (fs *FS) base(mode uint32) base {
	return base{fs: fs, ino: fs.ino.Add(1), mode: mode}
}

// Stat implements vfs.Inode.Stat.
func (b *base) Stat() (vfs.Stat, error) {
	n := uint64(1)
	if b.mode&unix.S_IFMT == unix.S_IFDIR {
		n = 2
	}
	return vfs.Stat{Mode: b.mode, Nlink: n, Ino: b.ino, Dev: b.fs.dev, Blksize: 4096,
		Atime: b.fs.mtime, Mtime: b.fs.mtime, Ctime: b.fs.mtime}, nil
}

// SetStat implements vfs.Inode.SetStat.
func (b *base) SetStat(vfs.SetStat) error { return unix.EPERM }

// Children produces a directory's entries: names in order, and the inode of a name.
type Children interface {
	Names() []string
	Lookup(name string) (vfs.Inode, error)
}

// Dir is a synthetic directory.
type Dir struct {
	base
	c Children
}

// NewDir returns a directory with mode (permission bits) whose entries c gives.
func (fs *FS) NewDir(mode uint32, c Children) *Dir {
	return &Dir{base: fs.base(unix.S_IFDIR | mode), c: c}
}

// Open implements vfs.Inode.Open.
func (d *Dir) Open(int) (vfs.FileImpl, error) { return dirFile{}, nil }

// DynamicDir is a directory whose children the VFS looks up afresh each time.
type DynamicDir struct{ *Dir }

// IsDynamic implements vfs.Dynamic.
func (DynamicDir) IsDynamic() {}

// NewDynamicDir returns a directory whose entries are not cached by the VFS.
func (fs *FS) NewDynamicDir(mode uint32, c Children) DynamicDir {
	return DynamicDir{fs.NewDir(mode, c)}
}

// Lookup implements vfs.DirInode.Lookup.
func (d *Dir) Lookup(name string) (vfs.Inode, error) { return d.c.Lookup(name) }

// Create implements vfs.DirInode.Create.
func (d *Dir) Create(string, uint32, vfs.Owner) (vfs.Inode, error) { return nil, unix.EPERM }

// Mkdir implements vfs.DirInode.Mkdir.
func (d *Dir) Mkdir(string, uint32, vfs.Owner) (vfs.Inode, error) { return nil, unix.EPERM }

// Symlink implements vfs.DirInode.Symlink.
func (d *Dir) Symlink(string, string, vfs.Owner) (vfs.Inode, error) { return nil, unix.EPERM }

// Link implements vfs.DirInode.Link.
func (d *Dir) Link(string, vfs.Inode) error { return unix.EPERM }

// Unlink implements vfs.DirInode.Unlink.
func (d *Dir) Unlink(string) error { return unix.EPERM }

// Rmdir implements vfs.DirInode.Rmdir.
func (d *Dir) Rmdir(string) error { return unix.EPERM }

// Rename implements vfs.DirInode.Rename.
func (d *Dir) Rename(string, vfs.DirInode, string) error { return unix.EPERM }

// Readdir implements vfs.DirInode.Readdir: cookies are positions in Names.
func (d *Dir) Readdir(cookie uint64, max int) ([]vfs.Dirent, error) {
	names := d.c.Names()
	var out []vfs.Dirent
	for i := int(cookie); i < len(names) && (max <= 0 || len(out) < max); i++ {
		in, err := d.c.Lookup(names[i])
		if err != nil {
			continue // gone since listed
		}
		st, _ := in.Stat()
		out = append(out, vfs.Dirent{Name: names[i], Ino: st.Ino, Type: vfs.DirentType(st.Mode), Next: uint64(i + 1)})
	}
	return out, nil
}

type dirFile struct{}

func (dirFile) Read([]byte, int64) (int, error)  { return 0, unix.EISDIR }
func (dirFile) Write([]byte, int64) (int, error) { return 0, unix.EBADF }
func (dirFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (dirFile) Release() {}

// Static is a fixed set of children, made once.
type Static map[string]vfs.Inode

// Names implements Children.
func (s Static) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup implements Children.
func (s Static) Lookup(name string) (vfs.Inode, error) {
	if in, ok := s[name]; ok {
		return in, nil
	}
	return nil, unix.ENOENT
}

// File is a synthetic file whose content gen makes at each open.
type File struct {
	base
	gen   func() ([]byte, error)
	write func([]byte) error
}

// NewFile returns a read-only file (mode 0444) with content from gen.
func (fs *FS) NewFile(gen func() ([]byte, error)) *File {
	return &File{base: fs.base(unix.S_IFREG | 0o444), gen: gen}
}

// NewText returns a read-only file whose content is fixed.
func (fs *FS) NewText(s string) *File {
	return fs.NewFile(func() ([]byte, error) { return []byte(s), nil })
}

// NewWritable returns a file (mode 0644) with content from gen whose writes go to
// write.
func (fs *FS) NewWritable(gen func() ([]byte, error), write func([]byte) error) *File {
	return &File{base: fs.base(unix.S_IFREG | 0o644), gen: gen, write: write}
}

// SetStat implements vfs.Inode.SetStat: a writable file's size cannot change, but
// truncating it (open with O_TRUNC, as a shell's ">" does) succeeds and does nothing,
// as for Linux's proc files; any other change is EPERM.
func (f *File) SetStat(o vfs.SetStat) error {
	if f.write != nil && o.Mask == vfs.SetStatSize {
		return nil
	}
	return unix.EPERM
}

// Open implements vfs.Inode.Open: the content is generated now.
func (f *File) Open(flags int) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY && f.write == nil {
		return nil, unix.EACCES
	}
	data, err := f.gen()
	if err != nil {
		return nil, err
	}
	return &snapshot{data: data, write: f.write}, nil
}

type snapshot struct {
	data  []byte
	write func([]byte) error
}

func (s *snapshot) Read(dst []byte, off int64) (int, error) {
	if off >= int64(len(s.data)) {
		return 0, nil
	}
	return copy(dst, s.data[off:]), nil
}

func (s *snapshot) Write(src []byte, _ int64) (int, error) {
	if s.write == nil {
		return 0, unix.EBADF
	}
	if err := s.write(src); err != nil {
		return 0, err
	}
	return len(src), nil
}

func (s *snapshot) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

func (s *snapshot) Release() {}

// Symlink is a synthetic symbolic link whose target is computed when read.
type Symlink struct {
	base
	target func() (string, error)
}

// NewSymlink returns a symlink whose target target computes.
func (fs *FS) NewSymlink(target func() (string, error)) *Symlink {
	return &Symlink{base: fs.base(unix.S_IFLNK | 0o777), target: target}
}

// Open implements vfs.Inode.Open.
func (s *Symlink) Open(int) (vfs.FileImpl, error) { return nil, unix.ELOOP }

// Readlink implements vfs.SymlinkInode.Readlink.
func (s *Symlink) Readlink() (string, error) { return s.target() }

// MagicLink is a symlink that names an open file or a directory (vfs.MagicLink).
type MagicLink struct {
	*Symlink
	jump func() (vfs.VirtualDentry, error)
}

// NewMagicLink returns a magic link whose name target gives and which jump follows.
func (fs *FS) NewMagicLink(target func() (string, error), jump func() (vfs.VirtualDentry, error)) *MagicLink {
	return &MagicLink{Symlink: fs.NewSymlink(target), jump: jump}
}

// Jump implements vfs.MagicLink.
func (m *MagicLink) Jump() (vfs.VirtualDentry, error) { return m.jump() }

// Funcs adapts two functions to Children.
type Funcs struct {
	NamesFn  func() []string
	LookupFn func(string) (vfs.Inode, error)
}

// Names implements Children.
func (f Funcs) Names() []string { return f.NamesFn() }

// Lookup implements Children.
func (f Funcs) Lookup(n string) (vfs.Inode, error) { return f.LookupFn(n) }

// CallerSymlink is a symlink whose target depends on who reads it.
type CallerSymlink struct {
	*Symlink
	target func(c *vfs.Credentials) (string, error)
}

// NewCallerSymlink returns a symlink whose target target computes for each reader.
func (fs *FS) NewCallerSymlink(target func(c *vfs.Credentials) (string, error)) CallerSymlink {
	s := fs.NewSymlink(func() (string, error) { return target(nil) })
	return CallerSymlink{Symlink: s, target: target}
}

// ReadlinkFor implements vfs.CallerSymlink.
func (s CallerSymlink) ReadlinkFor(c *vfs.Credentials) (string, error) { return s.target(c) }

// CallerFile is a file whose content depends on who opens it, and whose writes are
// taken for who opened it: genFor makes the content for the opener's credentials
// (vfs.CallerOpener), writeFor takes a write with them.
type CallerFile struct {
	*File
	genFor   func(c *vfs.Credentials) ([]byte, error)
	writeFor func(c *vfs.Credentials, b []byte) error
}

// NewCallerFile returns a file with permission bits mode whose content genFor makes
// at each open for the opener; a writable one (writeFor not nil) takes its writes
// through writeFor, with the opener's credentials.
func (fs *FS) NewCallerFile(mode uint32, genFor func(c *vfs.Credentials) ([]byte, error), writeFor func(c *vfs.Credentials, b []byte) error) CallerFile {
	f := &File{base: fs.base(unix.S_IFREG | mode), gen: func() ([]byte, error) { return genFor(nil) }}
	if writeFor != nil {
		f.write = func(b []byte) error { return writeFor(nil, b) }
	}
	return CallerFile{File: f, genFor: genFor, writeFor: writeFor}
}

// NewModeFile returns a file with permission bits mode whose content gen makes at
// each open; a writable one (write not nil) takes its writes through write.
func (fs *FS) NewModeFile(mode uint32, gen func() ([]byte, error), write func([]byte) error) *File {
	return &File{base: fs.base(unix.S_IFREG | mode), gen: gen, write: write}
}

// OpenFor implements vfs.CallerOpener.
func (f CallerFile) OpenFor(flags int, c *vfs.Credentials) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY && f.write == nil {
		return nil, unix.EACCES
	}
	data, err := f.genFor(c)
	if err != nil {
		return nil, err
	}
	s := &snapshot{data: data}
	if f.writeFor != nil {
		s.write = func(b []byte) error { return f.writeFor(c, b) }
	}
	return s, nil
}
