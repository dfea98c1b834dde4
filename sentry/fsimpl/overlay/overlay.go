// Package overlay is a filesystem that shows a writable upper filesystem over a
// read-only lower one, as Linux's overlayfs: a container's root is a tmpfs over the
// Gofer's view of the image, so the container's writes never reach the host.
//
// An overlay inode holds the upper inode, the lower one, or both (a directory present
// in both layers is merged). Lookups look in the upper directory first and then, unless
// the directory is opaque or the name is whited out, in the lower one. Reads go to the
// upper file if there is one, else the lower. Anything that changes a file copies it up
// first: its parents are made in the upper layer, then the file (its data, mode, owner
// and times). Removing a name that the lower layer has leaves a whiteout; a directory made
// over a whiteout is opaque. Renaming a directory that has lower content is EXDEV, as in
// Linux without redirect_dir (mv falls back to copying).
//
// Whiteouts and opaque marks are kept in the overlay's own inodes rather than as special
// files in the upper layer: the upper layer is always the Sentry's tmpfs, which lives no
// longer than the overlay.
//
// Lock order: the VFS's rename lock (held by every caller that changes names), then an
// overlay inode's mu, then the layers' locks.
package overlay

import (
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Filesystem is one overlay.
type Filesystem struct {
	dev       uint64
	upperRoot vfs.DirInode // statfs reports its filesystem's figures
}

// New returns an overlay of upper over lower (both directories).
func New(v *vfs.VFS, upper, lower vfs.DirInode) vfs.DirInode {
	fs := &Filesystem{dev: v.NewDev(), upperRoot: upper}
	return &inode{fs: fs, upper: upper, lower: lower}
}

// inode is a file of the overlay.
type inode struct {
	fs     *Filesystem
	parent *inode // nil at the root
	name   string

	mu    sync.Mutex
	upper vfs.Inode // nil until copied up (or made)
	lower vfs.Inode // nil if only in the upper layer
	// Directories: names removed from the lower layer, and whether the lower layer
	// is hidden altogether.
	whiteouts map[string]bool
	opaque    bool
	// children are the overlay inodes made for names in this directory: one inode per
	// name, so state kept in it (the upper copy, whiteouts) is seen by every user.
	children map[string]vfs.Inode
}

var (
	_ vfs.DirInode     = (*inode)(nil)
	_ vfs.SymlinkInode = (*symlink)(nil)
)

// wrap returns the overlay inode of a child: a symlink gets its own type, so the VFS
// sees a vfs.SymlinkInode.
func (in *inode) wrap(name string, upper, lower vfs.Inode) vfs.Inode {
	c := &inode{fs: in.fs, parent: in, name: name, upper: upper, lower: lower}
	if isSymlink(upper, lower) {
		return &symlink{file{c}}
	}
	if !isDir(upper, lower) {
		return &file{c}
	}
	return c
}

func isDir(upper, lower vfs.Inode) bool {
	if upper != nil {
		_, ok := upper.(vfs.DirInode)
		return ok
	}
	_, ok := lower.(vfs.DirInode)
	return ok
}

func isSymlink(upper, lower vfs.Inode) bool {
	top := upper
	if top == nil {
		top = lower
	}
	_, ok := top.(vfs.SymlinkInode)
	return ok
}

// top is the inode that shows: the upper one if any.
func (in *inode) top() vfs.Inode {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.upper != nil {
		return in.upper
	}
	return in.lower
}

// Stat implements vfs.Inode.Stat: the top layer's attributes on the overlay's device.
func (in *inode) Stat() (vfs.Stat, error) {
	st, err := in.top().Stat()
	st.Dev = in.fs.dev
	return st, err
}

// Statfs implements vfs.Statfser: the upper layer's space, as overlayfs reports
// (ovl_statfs: the upper filesystem's figures under the overlay's magic).
func (in *inode) Statfs() (unix.Statfs_t, error) {
	st := unix.Statfs_t{Type: vfs.OverlayMagic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}
	if s, ok := in.fs.upperRoot.(vfs.Statfser); ok {
		up, err := s.Statfs()
		if err != nil {
			return st, err
		}
		up.Type, up.Namelen = st.Type, st.Namelen
		return up, nil
	}
	return st, nil
}

// SetStat implements vfs.Inode.SetStat, after copying up.
func (in *inode) SetStat(o vfs.SetStat) error {
	if err := in.copyUp(); err != nil {
		return err
	}
	return in.upper.SetStat(o)
}

// Open implements vfs.Inode.Open: writers get the upper file (copied up first).
func (in *inode) Open(flags int) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		if err := in.copyUp(); err != nil {
			return nil, err
		}
	}
	return in.top().Open(flags)
}

// file is an overlay inode that is not a directory. It holds the inode in a named
// field, so that it has none of a directory's methods (the VFS tells directories by
// their interface).
type file struct{ o *inode }

// Stat implements vfs.Inode.Stat.
func (f *file) Stat() (vfs.Stat, error) { return f.o.Stat() }

// Statfs implements vfs.Statfser.
func (f *file) Statfs() (unix.Statfs_t, error) { return f.o.Statfs() }

// SetStat implements vfs.Inode.SetStat.
func (f *file) SetStat(opts vfs.SetStat) error { return f.o.SetStat(opts) }

// Open implements vfs.Inode.Open.
func (f *file) Open(flags int) (vfs.FileImpl, error) { return f.o.Open(flags) }

// symlink is an overlay symbolic link.
type symlink struct{ file }

// Readlink implements vfs.SymlinkInode.Readlink.
func (s *symlink) Readlink() (string, error) {
	return s.o.top().(vfs.SymlinkInode).Readlink()
}

// dirs returns the layers of a directory: the upper one (nil if not made yet) and the
// lower one (nil if hidden or absent).
func (in *inode) dirs() (upper, lower vfs.DirInode) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.upper != nil {
		upper = in.upper.(vfs.DirInode)
	}
	if in.lower != nil && !in.opaque {
		lower, _ = in.lower.(vfs.DirInode)
	}
	return upper, lower
}

// cached returns the inode made for name, if any.
func (in *inode) cached(name string) vfs.Inode {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.children[name]
}

// setChild records c as name's inode (nil: forget it).
func (in *inode) setChild(name string, c vfs.Inode) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c == nil {
		delete(in.children, name)
		return
	}
	if in.children == nil {
		in.children = map[string]vfs.Inode{}
	}
	in.children[name] = c
}

// Lookup implements vfs.DirInode.Lookup.
func (in *inode) Lookup(name string) (vfs.Inode, error) {
	if c := in.cached(name); c != nil {
		return c, nil
	}
	upperDir, lowerDir := in.dirs()
	var upper, lower vfs.Inode
	if upperDir != nil {
		u, err := upperDir.Lookup(name)
		if err != nil && err != unix.ENOENT {
			return nil, err
		}
		upper = u
	}
	in.mu.Lock()
	hidden := in.whiteouts[name]
	in.mu.Unlock()
	if lowerDir != nil && !hidden {
		l, err := lowerDir.Lookup(name)
		if err != nil && err != unix.ENOENT {
			return nil, err
		}
		// A lower directory merges only under an upper directory; any other upper
		// file hides what is below it.
		if l != nil && (upper == nil || isDir(upper, nil) && isDir(nil, l)) {
			lower = l
		}
	}
	if upper == nil && lower == nil {
		return nil, unix.ENOENT
	}
	c := in.wrap(name, upper, lower)
	in.setChild(name, c)
	return c, nil
}

// copyUp makes in present in the upper layer, with its parents.
func (in *inode) copyUp() error {
	in.mu.Lock()
	if in.upper != nil {
		in.mu.Unlock()
		return nil
	}
	lower := in.lower
	in.mu.Unlock()
	if in.parent == nil {
		return unix.EROFS // the root always has an upper directory
	}
	if err := in.parent.copyUp(); err != nil {
		return err
	}
	pdir, _ := in.parent.dirs()
	st, err := lower.Stat()
	if err != nil {
		return err
	}
	own := vfs.Owner{UID: st.UID, GID: st.GID}
	var up vfs.Inode
	switch l := lower.(type) {
	case vfs.DirInode:
		up, err = pdir.Mkdir(in.name, st.Mode&0o7777, own)
	case vfs.SymlinkInode:
		target, terr := l.Readlink()
		if terr != nil {
			return terr
		}
		up, err = pdir.Symlink(in.name, target, own)
	default:
		if t := st.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
			dm, ok := pdir.(vfs.DeviceMaker)
			if !ok {
				return unix.EPERM
			}
			up, err = dm.Mknod(in.name, st.Mode, st.Rdev, own)
			break
		}
		up, err = pdir.Create(in.name, st.Mode, own)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			err = copyData(lower, up, st.Size)
		}
	}
	if err != nil {
		return err
	}
	times := vfs.SetStat{Mask: vfs.SetStatAtime | vfs.SetStatMtime, Atime: st.Atime, Mtime: st.Mtime}
	if _, isLink := up.(vfs.SymlinkInode); !isLink {
		times.Mask |= vfs.SetStatMode
		times.Mode = st.Mode & 0o7777
	}
	up.SetStat(times)
	in.mu.Lock()
	in.upper = up
	in.mu.Unlock()
	return nil
}

// copyData copies a regular file's bytes from the lower layer to its upper copy.
func copyData(from, to vfs.Inode, size uint64) error {
	r, err := from.Open(unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer r.Release()
	w, err := to.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer w.Release()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < int64(size); {
		n, err := r.Read(buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n], off); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// upperDir copies in up and returns its upper directory.
func (in *inode) upperDir() (vfs.DirInode, error) {
	if err := in.copyUp(); err != nil {
		return nil, err
	}
	d, _ := in.dirs()
	return d, nil
}

// made records that name now exists in the upper layer: a whiteout there is gone, and
// a directory made over one hides the lower layer's.
func (in *inode) made(name string, c vfs.Inode, dir bool) vfs.Inode {
	in.mu.Lock()
	whited := in.whiteouts[name]
	delete(in.whiteouts, name)
	in.mu.Unlock()
	o := in.wrap(name, c, nil)
	if dir && whited {
		o.(*inode).opaque = true
	}
	in.setChild(name, o)
	return o
}

// Create implements vfs.DirInode.Create.
func (in *inode) Create(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	d, err := in.upperDir()
	if err != nil {
		return nil, err
	}
	c, err := d.Create(name, mode, owner)
	if err != nil {
		return nil, err
	}
	return in.made(name, c, false), nil
}

// Mknod implements vfs.DeviceMaker, in the upper layer (EPERM if it holds no device
// nodes).
func (in *inode) Mknod(name string, mode uint32, rdev uint64, owner vfs.Owner) (vfs.Inode, error) {
	d, err := in.upperDir()
	if err != nil {
		return nil, err
	}
	dm, ok := d.(vfs.DeviceMaker)
	if !ok {
		return nil, unix.EPERM
	}
	c, err := dm.Mknod(name, mode, rdev, owner)
	if err != nil {
		return nil, err
	}
	return in.made(name, c, false), nil
}

// Mkdir implements vfs.DirInode.Mkdir.
func (in *inode) Mkdir(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	d, err := in.upperDir()
	if err != nil {
		return nil, err
	}
	c, err := d.Mkdir(name, mode, owner)
	if err != nil {
		return nil, err
	}
	return in.made(name, c, true), nil
}

// Symlink implements vfs.DirInode.Symlink.
func (in *inode) Symlink(name, target string, owner vfs.Owner) (vfs.Inode, error) {
	d, err := in.upperDir()
	if err != nil {
		return nil, err
	}
	c, err := d.Symlink(name, target, owner)
	if err != nil {
		return nil, err
	}
	return in.made(name, c, false), nil
}

// base returns the overlay inode inside a wrapper.
func base(v vfs.Inode) *inode {
	switch o := v.(type) {
	case *inode:
		return o
	case *file:
		return o.o
	case *symlink:
		return o.o
	}
	return nil
}

// Link implements vfs.DirInode.Link: the target is copied up and linked there.
func (in *inode) Link(name string, target vfs.Inode) error {
	t := base(target)
	if t == nil || t.fs != in.fs {
		return unix.EXDEV
	}
	if err := t.copyUp(); err != nil {
		return err
	}
	d, err := in.upperDir()
	if err != nil {
		return err
	}
	if err := d.Link(name, t.top()); err != nil {
		return err
	}
	in.mu.Lock()
	delete(in.whiteouts, name)
	in.mu.Unlock()
	in.setChild(name, target) // a hard link: the same file
	return nil
}

// inLower reports whether the lower layer shows name in this directory.
func (in *inode) inLower(name string) bool {
	_, lower := in.dirs()
	if lower == nil {
		return false
	}
	_, err := lower.Lookup(name)
	return err == nil
}

// remove takes name out of the directory: from the upper layer if it is there, and
// with a whiteout if the lower layer has it.
func (in *inode) remove(name string, rm func(vfs.DirInode, string) error) error {
	d, err := in.upperDir()
	if err != nil {
		return err
	}
	lower := in.inLower(name)
	if _, err := d.Lookup(name); err == nil {
		if err := rm(d, name); err != nil {
			return err
		}
	} else if !lower {
		return unix.ENOENT
	}
	if lower {
		in.mu.Lock()
		if in.whiteouts == nil {
			in.whiteouts = map[string]bool{}
		}
		in.whiteouts[name] = true
		in.mu.Unlock()
	}
	in.setChild(name, nil)
	return nil
}

// Unlink implements vfs.DirInode.Unlink.
func (in *inode) Unlink(name string) error {
	return in.remove(name, vfs.DirInode.Unlink)
}

// Rmdir implements vfs.DirInode.Rmdir: the merged directory must be empty.
func (in *inode) Rmdir(name string) error {
	c, err := in.Lookup(name)
	if err != nil {
		return err
	}
	cd, ok := c.(*inode)
	if !ok {
		return unix.ENOTDIR
	}
	ents, err := cd.Readdir(0, 1)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return unix.ENOTEMPTY
	}
	return in.remove(name, func(d vfs.DirInode, n string) error {
		// The upper copy may hold only whiteouts' absence: it is empty as a tmpfs dir.
		return d.Rmdir(n)
	})
}

// Rename implements vfs.DirInode.Rename.
func (in *inode) Rename(name string, newDir vfs.DirInode, newName string) error {
	nd := base(newDir)
	if nd == nil || nd.fs != in.fs {
		return unix.EXDEV
	}
	c, err := in.Lookup(name)
	if err != nil {
		return err
	}
	src := base(c)
	if _, isDir := c.(*inode); isDir {
		src.mu.Lock()
		hasLower := src.lower != nil && !src.opaque
		src.mu.Unlock()
		if hasLower {
			return unix.EXDEV
		}
	}
	if err := src.copyUp(); err != nil {
		return err
	}
	if old, err := nd.Lookup(newName); err == nil {
		if od, ok := old.(*inode); ok {
			if ents, _ := od.Readdir(0, 1); len(ents) > 0 {
				return unix.ENOTEMPTY
			}
		}
	}
	ud, err := in.upperDir()
	if err != nil {
		return err
	}
	nud, err := nd.upperDir()
	if err != nil {
		return err
	}
	if err := ud.Rename(name, nud, newName); err != nil {
		return err
	}
	oldInLower := in.inLower(name)
	in.mu.Lock()
	if oldInLower {
		if in.whiteouts == nil {
			in.whiteouts = map[string]bool{}
		}
		in.whiteouts[name] = true
	}
	in.mu.Unlock()
	nd.mu.Lock()
	delete(nd.whiteouts, newName)
	nd.mu.Unlock()
	src.mu.Lock()
	src.parent, src.name = nd, newName
	src.mu.Unlock()
	in.setChild(name, nil)
	nd.setChild(newName, c)
	return nil
}

// Readdir implements vfs.DirInode.Readdir: the upper entries, then the lower ones that
// are neither hidden nor shadowed, in one list whose positions are the cookies.
func (in *inode) Readdir(cookie uint64, max int) ([]vfs.Dirent, error) {
	upper, lower := in.dirs()
	var all []vfs.Dirent
	seen := map[string]bool{}
	for _, d := range []vfs.DirInode{upper, lower} {
		if d == nil {
			continue
		}
		ents, err := readAll(d)
		if err != nil {
			return nil, err
		}
		in.mu.Lock()
		for _, e := range ents {
			if seen[e.Name] || d == lower && in.whiteouts[e.Name] {
				continue
			}
			seen[e.Name] = true
			all = append(all, e)
		}
		in.mu.Unlock()
	}
	var out []vfs.Dirent
	for i := int(cookie); i < len(all) && (max <= 0 || len(out) < max); i++ {
		e := all[i]
		e.Next = uint64(i + 1)
		out = append(out, e)
	}
	return out, nil
}

func readAll(d vfs.DirInode) ([]vfs.Dirent, error) {
	var all []vfs.Dirent
	var cookie uint64
	for {
		ents, err := d.Readdir(cookie, 1024)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			return all, nil
		}
		all = append(all, ents...)
		cookie = ents[len(ents)-1].Next
	}
}
