package vfs

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Notifier is told of the changes the VFS makes to files, for inotify(7)
// (sentry/fsimpl/inotify), as Linux's fsnotify hooks: each operation reports what it did
// once it has succeeded, naming files by a dentry (the Notifier decides what identifies
// the file behind it: its Inode, which hard links made in the sandbox share). The VFS
// has no Notifier until the first inotify file is made, and reports nothing before.
type Notifier interface {
	// Event reports mask (IN_* bits, IN_ISDIR included) to the watches of dir, about
	// its entry name, when dir is not nil; then to those of the file d, about itself,
	// when d is not nil. cookie pairs IN_MOVED_FROM and IN_MOVED_TO; unlinked says the
	// event comes from an open file no longer in dir (IN_EXCL_UNLINK).
	Event(dir *Dentry, name string, d *Dentry, mask, cookie uint32, unlinked bool)
	// Gone reports that the file d has no name left: IN_DELETE_SELF, and the end of
	// its watches.
	Gone(d *Dentry)
	// Watched reports whether the file d has watches.
	Watched(d *Dentry) bool
	// Cookie returns a new cookie for a rename's pair of events.
	Cookie() uint32
	// Active reports whether any file has watches: while none does, the VFS
	// reports nothing (it must be cheap).
	Active() bool
}

// notifierBox holds the VFS's Notifier for an atomic.Pointer.
type notifierBox struct{ n Notifier }

// notifyAtomic is the VFS's Notifier slot.
type notifyAtomic = atomic.Pointer[notifierBox]

// NotifierOr returns the VFS's Notifier, installing the one mk makes if there is none.
func (v *VFS) NotifierOr(mk func() Notifier) Notifier {
	if b := v.notifier.Load(); b != nil {
		return b.n
	}
	v.notifier.CompareAndSwap(nil, &notifierBox{mk()})
	return v.notifier.Load().n
}

// watching returns the Notifier, or nil while no file is watched.
func (v *VFS) watching() Notifier {
	if v == nil {
		return nil
	}
	if b := v.notifier.Load(); b != nil && b.n.Active() {
		return b.n
	}
	return nil
}

// isDirBit is IN_ISDIR for a directory.
func isDirBit(d *Dentry) uint32 {
	if d.IsDir() {
		return unix.IN_ISDIR
	}
	return 0
}

// notifyFile reports mask on the file d, to its parent's watches with its name and to
// its own, as fsnotify_parent and fsnotify_dentry. fromFile says the event comes from
// an open description (fsnotify's path events), which IN_EXCL_UNLINK watches don't see
// once the file is unlinked.
func (v *VFS) notifyFile(d *Dentry, mask uint32, fromFile bool) {
	n := v.watching()
	if n == nil {
		return
	}
	d.mu.Lock()
	parent, name, dead := d.parent, d.name, d.dead
	d.mu.Unlock()
	n.Event(parent, name, d, mask|isDirBit(d), 0, dead && fromFile)
}

// notifyName reports mask (with IN_ISDIR if child is a directory) on the entry name of
// the directory dir: IN_CREATE.
func (v *VFS) notifyName(dir *Dentry, name string, child *Dentry, mask uint32) {
	if n := v.watching(); n != nil {
		n.Event(dir, name, nil, mask|isDirBit(child), 0, false)
	}
}

// NotifyAttr reports the attribute changes opts made to the file d, as
// fsnotify_change: a size or a modification time alone is IN_MODIFY, an access time
// alone IN_ACCESS, anything else IN_ATTRIB.
func (v *VFS) NotifyAttr(d *Dentry, opts SetStat) {
	var mask uint32
	m := opts.Mask
	if m&(SetStatUID|SetStatGID|SetStatMode) != 0 {
		mask |= unix.IN_ATTRIB
	}
	if m&SetStatSize != 0 {
		mask |= unix.IN_MODIFY
	}
	switch {
	case m&SetStatAtime != 0 && m&SetStatMtime != 0:
		mask |= unix.IN_ATTRIB
	case m&SetStatAtime != 0:
		mask |= unix.IN_ACCESS
	case m&SetStatMtime != 0:
		mask |= unix.IN_MODIFY
	}
	if mask != 0 {
		v.notifyFile(d, mask, false)
	}
}

// lastLink reports whether removing a name of d leaves it with none (a directory
// always), asking the file only when someone watches it.
func (v *VFS) lastLink(d *Dentry) bool {
	n := v.watching()
	if n == nil || !n.Watched(d) {
		return false
	}
	if d.IsDir() {
		return true
	}
	st, err := d.inode.Stat()
	return err == nil && st.Nlink <= 1
}

// notifyRemove reports that name, the file victim, left the directory dir, as
// vfs_unlink and vfs_rmdir: IN_ATTRIB (its link count) for a non-directory, then
// IN_DELETE_SELF if it was its last name, then IN_DELETE on dir.
func (v *VFS) notifyRemove(dir *Dentry, name string, victim *Dentry, last bool) {
	n := v.watching()
	if n == nil {
		return
	}
	if !victim.IsDir() {
		n.Event(nil, "", victim, unix.IN_ATTRIB, 0, false)
	}
	if last {
		victim.gone(n)
	}
	n.Event(dir, name, nil, unix.IN_DELETE|isDirBit(victim), 0, false)
}

// notifyRename reports a rename, as fsnotify_move: IN_MOVED_FROM and IN_MOVED_TO with
// one cookie, IN_ATTRIB on a replaced file, IN_MOVE_SELF on the moved one, and the end
// of the replaced one if that was its last name.
func (v *VFS) notifyRename(oldDir *Dentry, oldName string, newDir *Dentry, newName string, src, dst *Dentry, dstLast bool) {
	n := v.watching()
	if n == nil {
		return
	}
	isDir := isDirBit(src)
	cookie := n.Cookie()
	n.Event(oldDir, oldName, nil, unix.IN_MOVED_FROM|isDir, cookie, false)
	n.Event(newDir, newName, nil, unix.IN_MOVED_TO|isDir, cookie, false)
	if dst != nil {
		n.Event(nil, "", dst, unix.IN_ATTRIB|isDirBit(dst), 0, false)
	}
	n.Event(nil, "", src, unix.IN_MOVE_SELF, 0, false)
	if dst != nil && dstLast {
		dst.gone(n)
	}
}

// gone reports that d's file lost its last name: now, or, as Linux (where the dentry
// an open file holds keeps the inode until its last close, dentry_unlink_inode), at
// the last close of the descriptions open on it.
func (d *Dentry) gone(n Notifier) {
	d.mu.Lock()
	if d.opens > 0 {
		d.goneOnClose = true
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	n.Gone(d)
}

// opened counts a new description of d.
func (d *Dentry) opened() {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.opens++
	d.mu.Unlock()
}

// closed counts the release of a description of d (in mount m), and reports d's file
// gone if it lost its last name while open.
func (d *Dentry) closed(m *Mount) {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.opens--
	fire := d.opens == 0 && d.goneOnClose
	if fire {
		d.goneOnClose = false
	}
	d.mu.Unlock()
	if fire && m != nil {
		if n := m.vfs.watching(); n != nil {
			n.Gone(d)
		}
	}
}

// notifyLink reports name, a new name in dir of the file d, as fsnotify_link:
// IN_ATTRIB on the file, then IN_CREATE on the directory.
func (v *VFS) notifyLink(dir *Dentry, name string, d *Dentry) {
	if n := v.watching(); n != nil {
		n.Event(nil, "", d, unix.IN_ATTRIB, 0, false)
		n.Event(dir, name, nil, unix.IN_CREATE, 0, false)
	}
}

// notifyIO reports a read (IN_ACCESS) or a write (IN_MODIFY) of n > 0 bytes through fd.
func (fd *FileDescription) notifyIO(n int, mask uint32) {
	if n > 0 && fd.vd.Ok() && fd.vd.Mount != nil {
		fd.vd.Mount.vfs.notifyFile(fd.vd.Dentry, mask, true)
	}
}

// NotifyModify reports a change of the file's data made other than by a write
// (fallocate): IN_MODIFY.
func (fd *FileDescription) NotifyModify() { fd.notifyIO(1, unix.IN_MODIFY) }

// notifyClose reports the last close of fd: IN_CLOSE_WRITE if it was open for
// writing, else IN_CLOSE_NOWRITE (none for an O_PATH description).
func (fd *FileDescription) notifyClose() {
	if !fd.vd.Ok() || fd.vd.Mount == nil || fd.isPath() {
		return
	}
	mask := uint32(unix.IN_CLOSE_NOWRITE)
	if fd.writable() {
		mask = unix.IN_CLOSE_WRITE
	}
	fd.vd.Mount.vfs.notifyFile(fd.vd.Dentry, mask, true)
}
