package vfs

import (
	"golang.org/x/sys/unix"
)

// PathOp names a path for an operation: the caller's root, the directory a relative path
// starts from (the working directory, or a dirfd's), and the path.
type PathOp struct {
	Root, Start VirtualDentry
	Path        string
	// Resolve holds openat2's RESOLVE_* restrictions (OpenAt only).
	Resolve uint64
}

// Caller is who performs an operation.
type Caller struct {
	Creds *Credentials
	Umask uint32
	// Ctx, if not nil, lets an open wait (a FIFO's for its partner) and be
	// interrupted.
	Ctx Context
	// CreateArg, when not nil, is passed to the ArgCreator directory in which OpenAt
	// creates a file: what the system call knows of the new file that open(2) can't say
	// (mq_open's attributes and the caller's limits).
	CreateArg any
}

func isDots(name string) bool { return name == "." || name == ".." }

// owner is who a new file in parent belongs to: the caller, with the directory's group
// if the directory is set-group-ID (which new subdirectories also get).
func owner(c Caller, parent *Dentry) (Owner, uint32, error) {
	st, err := parent.inode.Stat()
	if err != nil {
		return Owner{}, 0, err
	}
	if st.Mode&unix.S_ISGID != 0 {
		return Owner{c.Creds.UID, st.GID}, unix.S_ISGID, nil
	}
	return Owner{c.Creds.UID, c.Creds.GID}, 0, nil
}

// mayCreate checks that c may add a name to the directory parent, as may_create.
func (v *VFS) mayCreate(c Caller, parent VirtualDentry) error {
	if parent.Mount.Flags.ReadOnly {
		return unix.EROFS
	}
	parent.Dentry.mu.Lock()
	dead := parent.Dentry.dead
	parent.Dentry.mu.Unlock()
	if dead {
		return unix.ENOENT
	}
	st, err := parent.Dentry.inode.Stat()
	if err != nil {
		return err
	}
	return c.Creds.MayAccess(permWrite|permExec, &st)
}

// createParent resolves the directory a new name goes into, and checks the name is free,
// as filename_create: "." and ".." are EEXIST, an existing name is EEXIST, and a trailing
// slash on a missing name is ENOENT unless a directory is being made.
func (v *VFS) createParent(c Caller, p PathOp, dir bool) (VirtualDentry, string, error) {
	r := &resolver{v: v, creds: c.Creds, root: p.Root}
	parent, name, dirOnly, err := r.resolveParent(p.Start, p.Path)
	if err != nil {
		return VirtualDentry{}, "", err
	}
	if !parent.Dentry.IsDir() {
		return VirtualDentry{}, "", unix.ENOTDIR
	}
	if err := r.mayAccess(parent, permExec); err != nil {
		return VirtualDentry{}, "", err
	}
	if isDots(name) {
		return VirtualDentry{}, "", unix.EEXIST
	}
	if len(name) > NameMax {
		return VirtualDentry{}, "", unix.ENAMETOOLONG
	}
	if _, err := parent.Dentry.child(name); err == nil {
		return VirtualDentry{}, "", unix.EEXIST
	} else if err != unix.ENOENT {
		return VirtualDentry{}, "", err
	}
	if dirOnly && !dir {
		return VirtualDentry{}, "", unix.ENOENT
	}
	if err := v.mayCreate(c, parent); err != nil {
		return VirtualDentry{}, "", err
	}
	return parent, name, nil
}

// MkdirAt makes a directory, as mkdirat(2).
func (v *VFS) MkdirAt(c Caller, p PathOp, mode uint32) error {
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	parent, name, err := v.createParent(c, p, true)
	if err != nil {
		return err
	}
	own, sgid, err := owner(c, parent.Dentry)
	if err != nil {
		return err
	}
	in, err := parent.Dentry.inode.(DirInode).Mkdir(name, mode&0o1777&^c.Umask|sgid, own)
	if err != nil {
		return err
	}
	v.notifyName(parent.Dentry, name, parent.Dentry.insert(name, in), unix.IN_CREATE)
	return nil
}

// MknodAt makes a regular file, FIFO, socket or device node, as mknodat(2): a device
// node (rdev its number) needs CAP_MKNOD and a filesystem that holds them (EPERM
// otherwise, as Linux's filesystems without mknod).
func (v *VFS) MknodAt(c Caller, p PathOp, mode uint32, rdev uint64) error {
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		if !c.Creds.HasCap(CapMknod) {
			return unix.EPERM
		}
	case unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	parent, name, err := v.createParent(c, p, false)
	if err != nil {
		return err
	}
	if mode&unix.S_IFMT == unix.S_IFCHR || mode&unix.S_IFMT == unix.S_IFBLK {
		dm, ok := parent.Dentry.inode.(DeviceMaker)
		if !ok {
			return unix.EPERM
		}
		own, _, err := owner(c, parent.Dentry)
		if err != nil {
			return err
		}
		in, err := dm.Mknod(name, mode&unix.S_IFMT|mode&0o7777&^c.Umask, rdev, own)
		if err != nil {
			return err
		}
		v.notifyName(parent.Dentry, name, parent.Dentry.insert(name, in), unix.IN_CREATE)
		return nil
	}
	own, _, err := owner(c, parent.Dentry)
	if err != nil {
		return err
	}
	in, err := parent.Dentry.inode.(DirInode).Create(name, mode&unix.S_IFMT|mode&0o7777&^c.Umask, own)
	if err != nil {
		return err
	}
	v.notifyName(parent.Dentry, name, parent.Dentry.insert(name, in), unix.IN_CREATE)
	return nil
}

// SymlinkAt makes a symbolic link at p to target, as symlinkat(2).
func (v *VFS) SymlinkAt(c Caller, target string, p PathOp) error {
	if target == "" {
		return unix.ENOENT
	}
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	parent, name, err := v.createParent(c, p, false)
	if err != nil {
		return err
	}
	own, _, err := owner(c, parent.Dentry)
	if err != nil {
		return err
	}
	in, err := parent.Dentry.inode.(DirInode).Symlink(name, target, own)
	if err != nil {
		return err
	}
	v.notifyName(parent.Dentry, name, parent.Dentry.insert(name, in), unix.IN_CREATE)
	return nil
}

// LinkAt makes newp another name of the file at oldp, as linkat(2).
func (v *VFS) LinkAt(c Caller, oldp PathOp, follow bool, newp PathOp) error {
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	r := &resolver{v: v, creds: c.Creds, root: oldp.Root}
	old, err := r.resolve(oldp.Start, oldp.Path, follow)
	if err != nil {
		return err
	}
	parent, name, err := v.createParent(c, newp, false)
	if err != nil {
		return err
	}
	if old.Mount != parent.Mount {
		return unix.EXDEV
	}
	if old.Dentry.IsDir() {
		return unix.EPERM
	}
	if err := parent.Dentry.inode.(DirInode).Link(name, old.Dentry.inode); err != nil {
		return err
	}
	parent.Dentry.insert(name, old.Dentry.inode)
	v.notifyLink(parent.Dentry, name, old.Dentry)
	return nil
}

// deleteParent resolves the directory holding a name to remove, with the checks that
// come before the lookup in do_unlinkat and do_rmdir.
func (v *VFS) deleteParent(c Caller, p PathOp, rmdir bool) (VirtualDentry, string, bool, error) {
	r := &resolver{v: v, creds: c.Creds, root: p.Root}
	parent, name, dirOnly, err := r.resolveParent(p.Start, p.Path)
	if err != nil {
		return VirtualDentry{}, "", false, err
	}
	if !parent.Dentry.IsDir() {
		return VirtualDentry{}, "", false, unix.ENOTDIR
	}
	if err := r.mayAccess(parent, permExec); err != nil {
		return VirtualDentry{}, "", false, err
	}
	switch {
	case rmdir && name == "..":
		return VirtualDentry{}, "", false, unix.ENOTEMPTY
	case rmdir && name == "." && p.Path != "" && trimSlashes(p.Path) == "":
		return VirtualDentry{}, "", false, unix.EBUSY // "/"
	case rmdir && name == ".":
		return VirtualDentry{}, "", false, unix.EINVAL
	case isDots(name):
		return VirtualDentry{}, "", false, unix.EISDIR
	}
	if parent.Mount.Flags.ReadOnly {
		return VirtualDentry{}, "", false, unix.EROFS
	}
	return parent, name, dirOnly, nil
}

func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	return s
}

// mayDelete checks that c may remove victim from parent, as may_delete: write and search
// on the directory, the sticky bit, and the victim's type.
func (v *VFS) mayDelete(c Caller, parent VirtualDentry, victim *Dentry, isDir bool) error {
	pst, err := parent.Dentry.inode.Stat()
	if err != nil {
		return err
	}
	if err := c.Creds.MayAccess(permWrite|permExec, &pst); err != nil {
		return err
	}
	vst, err := victim.inode.Stat()
	if err != nil {
		return err
	}
	if pst.Mode&unix.S_ISVTX != 0 && !c.Creds.isOwner(vst.UID) && !c.Creds.isOwner(pst.UID) {
		return unix.EPERM
	}
	if isDir {
		if !victim.IsDir() {
			return unix.ENOTDIR
		}
	} else if victim.IsDir() {
		return unix.EISDIR
	}
	if victim.isMountpoint() {
		return unix.EBUSY
	}
	return nil
}

// UnlinkAt removes a non-directory, as unlinkat(2) without AT_REMOVEDIR.
func (v *VFS) UnlinkAt(c Caller, p PathOp) error {
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	parent, name, dirOnly, err := v.deleteParent(c, p, false)
	if err != nil {
		return err
	}
	victim, err := parent.Dentry.child(name)
	if err != nil {
		return err
	}
	if dirOnly {
		if victim.IsDir() {
			return unix.EISDIR
		}
		return unix.ENOTDIR
	}
	if err := v.mayDelete(c, parent, victim, false); err != nil {
		return err
	}
	last := v.lastLink(victim)
	if err := parent.Dentry.inode.(DirInode).Unlink(name); err != nil {
		return err
	}
	parent.Dentry.remove(name)
	v.notifyRemove(parent.Dentry, name, victim, last)
	return nil
}

// RmdirAt removes an empty directory, as rmdir(2).
func (v *VFS) RmdirAt(c Caller, p PathOp) error {
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	parent, name, _, err := v.deleteParent(c, p, true)
	if err != nil {
		return err
	}
	victim, err := parent.Dentry.child(name)
	if err != nil {
		return err
	}
	if err := v.mayDelete(c, parent, victim, true); err != nil {
		return err
	}
	last := v.lastLink(victim)
	if err := parent.Dentry.inode.(DirInode).Rmdir(name); err != nil {
		return err
	}
	parent.Dentry.remove(name)
	v.notifyRemove(parent.Dentry, name, victim, last)
	return nil
}

// RenameAt moves oldp to newp, as renameat2(2) with flags 0 or RENAME_NOREPLACE.
func (v *VFS) RenameAt(c Caller, oldp, newp PathOp, noReplace bool) error {
	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	r := &resolver{v: v, creds: c.Creds, root: oldp.Root}
	oldParent, oldName, oldSlash, err := r.resolveParent(oldp.Start, oldp.Path)
	if err != nil {
		return err
	}
	r.root = newp.Root
	newParent, newName, newSlash, err := r.resolveParent(newp.Start, newp.Path)
	if err != nil {
		return err
	}
	for _, d := range []VirtualDentry{oldParent, newParent} {
		if !d.Dentry.IsDir() {
			return unix.ENOTDIR
		}
		if err := r.mayAccess(d, permExec); err != nil {
			return err
		}
	}
	if oldParent.Mount != newParent.Mount {
		return unix.EXDEV
	}
	if isDots(oldName) || isDots(newName) {
		return unix.EBUSY
	}
	if oldParent.Mount.Flags.ReadOnly {
		return unix.EROFS
	}
	src, err := oldParent.Dentry.child(oldName)
	if err != nil {
		return err
	}
	if (oldSlash || newSlash) && !src.IsDir() {
		return unix.ENOTDIR
	}
	dst, err := newParent.Dentry.child(newName)
	if err != nil && err != unix.ENOENT {
		return err
	}
	if err == nil && noReplace {
		return unix.EEXIST
	}
	if err := v.mayDelete(c, oldParent, src, src.IsDir()); err != nil {
		return err
	}
	if dst != nil {
		if dst == src || dst.inode == src.inode {
			return nil // the same file: nothing to do, as Linux
		}
		if err := v.mayDelete(c, newParent, dst, src.IsDir()); err != nil {
			return err
		}
	} else if err := v.mayCreate(c, newParent); err != nil {
		return err
	}
	// A directory can't move below itself; nothing can replace an ancestor of the source.
	for d := newParent.Dentry; d != nil; d = d.Parent() {
		if d == src {
			return unix.EINVAL
		}
		if dst != nil && d == dst {
			return unix.ENOTEMPTY
		}
	}
	if src.isMountpoint() {
		return unix.EBUSY
	}
	dstLast := dst != nil && v.lastLink(dst)
	if err := oldParent.Dentry.inode.(DirInode).Rename(oldName, newParent.Dentry.inode.(DirInode), newName); err != nil {
		return err
	}
	// Move the dentry.
	if dst != nil {
		newParent.Dentry.remove(newName)
	}
	oldParent.Dentry.mu.Lock()
	delete(oldParent.Dentry.children, oldName)
	oldParent.Dentry.mu.Unlock()
	src.mu.Lock()
	src.name, src.parent = newName, newParent.Dentry
	src.mu.Unlock()
	newParent.Dentry.mu.Lock()
	if newParent.Dentry.children == nil {
		newParent.Dentry.children = map[string]*Dentry{}
	}
	newParent.Dentry.children[newName] = src
	newParent.Dentry.mu.Unlock()
	v.notifyRename(oldParent.Dentry, oldName, newParent.Dentry, newName, src, dst, dstLast)
	return nil
}

// ReadlinkAt returns a symlink's target, as readlinkat(2): EINVAL if it is not one.
func (v *VFS) ReadlinkAt(c Caller, p PathOp) (string, error) {
	vd, err := v.Resolve(c.Creds, p.Root, p.Start, p.Path, false)
	if err != nil {
		return "", err
	}
	if _, ok := vd.Dentry.inode.(SymlinkInode); !ok {
		return "", unix.EINVAL
	}
	return readlink(vd.Dentry.inode, c.Creds)
}

// StatAt returns the attributes of the file at p, as fstatat(2).
func (v *VFS) StatAt(c Caller, p PathOp, follow bool) (Stat, error) {
	vd, err := v.Resolve(c.Creds, p.Root, p.Start, p.Path, follow)
	if err != nil {
		return Stat{}, err
	}
	return vd.Dentry.inode.Stat()
}

// AccessAt checks access to the file at p, as faccessat2(2); mode is a mask of R_OK,
// W_OK, X_OK (F_OK: existence only).
func (v *VFS) AccessAt(c Caller, p PathOp, follow bool, mode uint32) error {
	vd, err := v.Resolve(c.Creds, p.Root, p.Start, p.Path, follow)
	if err != nil {
		return err
	}
	if mode == 0 {
		return nil
	}
	st, err := vd.Dentry.inode.Stat()
	if err != nil {
		return err
	}
	if mode&unix.W_OK != 0 && vd.Mount.Flags.ReadOnly && st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return unix.EROFS
	}
	return c.Creds.MayAccess(mode, &st)
}

// SetStatAt changes attributes of the file at vd with the checks chmod, chown, truncate
// and utimensat make (fs/attr.c:setattr_prepare and its callers).
func (v *VFS) SetStatAt(c Caller, vd VirtualDentry, opts SetStat, timesNow bool) error {
	st, err := vd.Dentry.inode.Stat()
	if err != nil {
		return err
	}
	if opts.Mask&SetStatSize != 0 {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.EISDIR
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return unix.EINVAL
		}
	}
	if vd.Mount.Flags.ReadOnly {
		return unix.EROFS
	}
	switch {
	case opts.Mask&SetStatSize != 0:
		if err := c.Creds.MayAccess(permWrite, &st); err != nil {
			return err
		}
	case opts.Mask&(SetStatUID|SetStatGID) != 0:
		if opts.Mask&SetStatUID != 0 && opts.UID != st.UID && !c.Creds.HasCap(CapChown) {
			return unix.EPERM
		}
		if opts.Mask&SetStatGID != 0 && opts.GID != st.GID && !c.Creds.HasCap(CapChown) &&
			!(c.Creds.UID == st.UID && c.Creds.InGroup(opts.GID)) {
			return unix.EPERM
		}
		// A change of owner clears set-user-ID, and set-group-ID on group-executable
		// files (as should_remove_suid).
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			opts.Mask |= SetStatMode
			opts.Mode = st.Mode &^ unix.S_ISUID
			if st.Mode&0o010 != 0 {
				opts.Mode &^= unix.S_ISGID
			}
			opts.Mode &= 0o7777
		}
	case opts.Mask&SetStatMode != 0:
		if !c.Creds.isOwner(st.UID) {
			return unix.EPERM
		}
		if !c.Creds.InGroup(st.GID) && !c.Creds.HasCap(CapFsetid) {
			opts.Mode &^= unix.S_ISGID
		}
	case opts.Mask&(SetStatAtime|SetStatMtime) != 0:
		if !c.Creds.isOwner(st.UID) {
			if !timesNow {
				return unix.EPERM
			}
			if err := c.Creds.MayAccess(permWrite, &st); err != nil {
				return err
			}
		}
	}
	if err := vd.Dentry.inode.SetStat(opts); err != nil {
		return err
	}
	v.NotifyAttr(vd.Dentry, opts)
	return nil
}
