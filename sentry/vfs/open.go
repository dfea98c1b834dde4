package vfs

import (
	"golang.org/x/sys/unix"
)

// OpenAt opens (or creates) the file at p, as openat(2), in the order of fs/namei.c's
// path_openat, open_last_lookups and do_open.
func (v *VFS) OpenAt(c Caller, p PathOp, flags int, mode uint32) (*FileDescription, error) {
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		return nil, unix.EOPNOTSUPP // no filesystem supports unnamed files yet
	}
	creat := flags&unix.O_CREAT != 0
	follow := flags&unix.O_NOFOLLOW == 0 && !(creat && flags&unix.O_EXCL != 0)

	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	r := v.newResolver(c.Creds, p)
	start, path := p.Start, p.Path
	for {
		parent, name, dirOnly, err := r.resolveParent(start, path)
		if err != nil {
			return nil, err
		}
		if !creat {
			vd, err := r.step(parent, name, follow, dirOnly || flags&unix.O_DIRECTORY != 0 && follow)
			if err != nil {
				return nil, err
			}
			return v.openExisting(c, vd, flags, false)
		}
		// O_CREAT: the last component is looked up here, and a symlink to a missing
		// file creates that file.
		if dirOnly || isDots(name) {
			return nil, unix.EISDIR
		}
		if !parent.Dentry.IsDir() {
			return nil, unix.ENOTDIR
		}
		if err := r.mayAccess(parent, permExec); err != nil {
			return nil, err
		}
		if len(name) > NameMax {
			return nil, unix.ENAMETOOLONG
		}
		d, err := parent.Dentry.child(name)
		switch {
		case err == unix.ENOENT:
			return v.create(c, parent, name, flags, mode)
		case err != nil:
			return nil, err
		case flags&unix.O_EXCL != 0:
			return nil, unix.EEXIST
		}
		vd := v.crossMounts(VirtualDentry{parent.Mount, d})
		if err := r.cross(parent, vd); err != nil {
			return nil, err
		}
		if vd.Dentry.IsSymlink() && follow && p.Resolve&ResolveNoSymlinks != 0 {
			return nil, unix.ELOOP
		}
		if vd.Dentry.IsSymlink() && follow {
			r.symlinks++
			if r.symlinks > maxSymlinks {
				return nil, unix.ELOOP
			}
			if ml, ok := vd.Dentry.inode.(MagicLink); ok {
				// The open file itself (O_CREAT has nothing to make).
				switch {
				case p.Resolve&ResolveNoMagiclinks != 0:
					return nil, unix.ELOOP
				case p.Resolve&ResolveBeneath != 0:
					return nil, unix.EXDEV
				}
				to, err := ml.Jump()
				if err != nil {
					return nil, err
				}
				if to.Dentry.IsDir() {
					return nil, unix.EISDIR
				}
				return v.openExisting(c, to, flags, false)
			}
			target, err := readlink(vd.Dentry.inode, c.Creds)
			if err != nil {
				return nil, err
			}
			start, path = parent, target
			continue
		}
		if vd.Dentry.IsDir() {
			return nil, unix.EISDIR
		}
		return v.openExisting(c, vd, flags, false)
	}
}

// create makes and opens a regular file name in parent.
func (v *VFS) create(c Caller, parent VirtualDentry, name string, flags int, mode uint32) (*FileDescription, error) {
	if err := v.mayCreate(c, parent); err != nil {
		return nil, err
	}
	own, _, err := owner(c, parent.Dentry)
	if err != nil {
		return nil, err
	}
	mode = unix.S_IFREG | mode&0o7777&^c.Umask
	var in Inode
	if ac, ok := parent.Dentry.inode.(ArgCreator); ok && c.CreateArg != nil {
		in, err = ac.CreateArg(name, mode, own, c.CreateArg)
	} else {
		in, err = parent.Dentry.inode.(DirInode).Create(name, mode, own)
	}
	if err != nil {
		return nil, err
	}
	d := parent.Dentry.insert(name, in)
	v.notifyName(parent.Dentry, name, d, unix.IN_CREATE)
	// A file this call created is opened whatever its mode says, and not truncated.
	return v.openExisting(c, VirtualDentry{parent.Mount, d}, flags&^unix.O_TRUNC, true)
}

// openExisting opens the file at vd, as may_open and do_open.
func (v *VFS) openExisting(c Caller, vd VirtualDentry, flags int, created bool) (*FileDescription, error) {
	d := vd.Dentry
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && !d.IsDir() {
			return nil, unix.ENOTDIR
		}
		return NewFileDescription(vd, pathImpl{}, flags), nil
	}
	if d.IsSymlink() {
		return nil, unix.ELOOP // O_NOFOLLOW on a symlink
	}
	if flags&unix.O_DIRECTORY != 0 && !d.IsDir() {
		return nil, unix.ENOTDIR
	}
	acc := flags & unix.O_ACCMODE
	write := acc == unix.O_WRONLY || acc == unix.O_RDWR
	if d.IsDir() && (write || flags&unix.O_TRUNC != 0) {
		return nil, unix.EISDIR
	}
	truncated := false
	if !created {
		st, err := d.inode.Stat()
		if err != nil {
			return nil, err
		}
		var ats uint32
		if acc == unix.O_RDONLY || acc == unix.O_RDWR {
			ats |= permRead
		}
		if write || flags&unix.O_TRUNC != 0 {
			ats |= permWrite
		}
		ftype := st.Mode & unix.S_IFMT
		if ats&permWrite != 0 && vd.Mount.Flags.ReadOnly && (ftype == unix.S_IFREG || ftype == unix.S_IFDIR) {
			return nil, unix.EROFS
		}
		if err := c.Creds.MayAccess(ats, &st); err != nil {
			return nil, err
		}
		if (ftype == unix.S_IFCHR || ftype == unix.S_IFBLK) && vd.Mount.Flags.NoDev {
			return nil, unix.EACCES
		}
		if flags&unix.O_TRUNC != 0 && ftype == unix.S_IFREG {
			if err := d.inode.SetStat(SetStat{Mask: SetStatSize}); err != nil {
				return nil, err
			}
			truncated = true
		}
	}
	var impl FileImpl
	var err error
	isFIFO := false
	if _, anon := d.inode.(AnonymousPipe); v.fifo != nil && !anon {
		if st, err := d.inode.Stat(); err == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
			isFIFO = true
		}
	}
	if isFIFO {
		impl, err = v.fifo(d.inode, c.Ctx, flags)
	} else if co, ok := d.inode.(CallerOpener); ok {
		impl, err = co.OpenFor(flags, c.Creds)
	} else {
		impl, err = d.inode.Open(flags)
	}
	if err != nil {
		return nil, err
	}
	// As Linux 6's do_open: IN_OPEN, then the truncation's IN_MODIFY.
	v.notifyFile(d, unix.IN_OPEN, true)
	if truncated {
		v.notifyFile(d, unix.IN_MODIFY, false)
	}
	return NewFileDescription(vd, impl, flags), nil
}

// pathImpl is the implementation of an O_PATH description: it names a file and does no
// I/O (the description's checks return EBADF before reaching it).
type pathImpl struct{}

func (pathImpl) Read([]byte, int64) (int, error)  { return 0, unix.EBADF }
func (pathImpl) Write([]byte, int64) (int, error) { return 0, unix.EBADF }
func (pathImpl) Ioctl(UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.EBADF
}
func (pathImpl) Release() {}
