package gofer

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// dir is a directory.
type dir struct{ inode }

// Open implements vfs.Inode.Open: listings are requests, so no host FD is needed.
func (d *dir) Open(int) (vfs.FileImpl, error) { return dirFile{}, nil }

// Lookup implements vfs.DirInode.Lookup.
func (d *dir) Lookup(name string) (vfs.Inode, error) {
	nodes, err := d.fs.c.Walk(d.fid, []string{name})
	if err != nil {
		return nil, err
	}
	if len(nodes) != 1 {
		return nil, unix.ENOENT
	}
	return d.fs.node(nodes[0]), nil
}

// changed refreshes the directory's attributes after a change of its entries.
func (d *dir) changed() { d.refresh() }

// Create implements vfs.DirInode.Create.
func (d *dir) Create(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	var n protocol.Node
	var err error
	if mode&unix.S_IFMT == unix.S_IFREG {
		var hfd int
		n, hfd, err = d.fs.c.Create(d.fid, name, unix.O_RDONLY, mode&0o7777, owner.UID, owner.GID)
		if err == nil {
			unix.Close(hfd) // the VFS opens the new file itself
		}
	} else {
		n, err = d.fs.c.Mknod(d.fid, name, mode, 0, owner.UID, owner.GID)
	}
	if err != nil {
		return nil, err
	}
	d.changed()
	return d.fs.node(n), nil
}

// Mkdir implements vfs.DirInode.Mkdir.
func (d *dir) Mkdir(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	n, err := d.fs.c.Mkdir(d.fid, name, mode&0o7777, owner.UID, owner.GID)
	if err != nil {
		return nil, err
	}
	d.changed()
	return d.fs.node(n), nil
}

// Symlink implements vfs.DirInode.Symlink.
func (d *dir) Symlink(name, target string, owner vfs.Owner) (vfs.Inode, error) {
	n, err := d.fs.c.Symlink(d.fid, name, target, owner.UID, owner.GID)
	if err != nil {
		return nil, err
	}
	d.changed()
	return d.fs.node(n), nil
}

// base returns the gofer inode of a vfs inode of this filesystem.
func base(in vfs.Inode) *inode {
	switch f := in.(type) {
	case *file:
		return &f.inode
	case *dir:
		return &f.inode
	case *symlink:
		return &f.inode
	}
	return nil
}

// Link implements vfs.DirInode.Link.
func (d *dir) Link(name string, target vfs.Inode) error {
	t := base(target)
	if t == nil || t.fs != d.fs {
		return unix.EXDEV
	}
	if _, err := d.fs.c.Link(d.fid, name, t.fid); err != nil {
		return err
	}
	t.refresh()
	d.changed()
	return nil
}

// Unlink implements vfs.DirInode.Unlink.
func (d *dir) Unlink(name string) error {
	if err := d.fs.c.Unlink(d.fid, name, 0); err != nil {
		return err
	}
	d.changed()
	return nil
}

// Rmdir implements vfs.DirInode.Rmdir.
func (d *dir) Rmdir(name string) error {
	if err := d.fs.c.Unlink(d.fid, name, unix.AT_REMOVEDIR); err != nil {
		return err
	}
	d.changed()
	return nil
}

// Rename implements vfs.DirInode.Rename.
func (d *dir) Rename(name string, newDir vfs.DirInode, newName string) error {
	nd, ok := newDir.(*dir)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if err := d.fs.c.Rename(d.fid, name, nd.fid, newName, 0); err != nil {
		return err
	}
	d.changed()
	if nd != d {
		nd.changed()
	}
	return nil
}

// Readdir implements vfs.DirInode.Readdir.
func (d *dir) Readdir(cookie uint64, max int) ([]vfs.Dirent, error) {
	if max <= 0 || max > 1024 {
		max = 1024
	}
	ents, err := d.fs.c.Readdir(d.fid, cookie, uint32(max))
	if err != nil {
		return nil, err
	}
	out := make([]vfs.Dirent, len(ents))
	for i, e := range ents {
		out[i] = vfs.Dirent{Name: e.Name, Ino: e.Ino, Type: e.Type, Next: e.Next}
	}
	return out, nil
}

// dirFile is an open directory.
type dirFile struct{}

func (dirFile) Read([]byte, int64) (int, error)  { return 0, unix.EISDIR }
func (dirFile) Write([]byte, int64) (int, error) { return 0, unix.EBADF }
func (dirFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (dirFile) Release() {}
