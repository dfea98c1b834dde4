package vfs

import (
	"reflect"

	"github.com/moat-sandbox/moat/sentry/vfs/lock"
)

// File locks (flock(2), fcntl(2) record locks) are the VFS's lock.Manager's, keyed by
// the file's inode. A description's flock and OFD locks go at its last close; a POSIX
// owner's (an FD table's) record locks on a file go when it closes any descriptor of
// the file (FDTable.close).

// lockKey is the file's identity for locks: its inode, or its dentry for an inode
// type that can't be a map key.
func (fd *FileDescription) lockKey() any {
	in := fd.vd.Dentry.inode
	if reflect.TypeOf(in).Comparable() {
		return in
	}
	return fd.vd.Dentry
}

func (fd *FileDescription) lockManager() *lock.Manager { return &fd.vd.Mount.vfs.locks }

// lockable reports whether the description names a file that can hold locks.
func (fd *FileDescription) lockable() bool { return fd.vd.Dentry != nil && fd.vd.Mount != nil }

// Flock takes or drops the description's flock lock (lock.Read, Write or Unlock).
func (fd *FileDescription) Flock(ctx Context, typ int16, block bool) error {
	return fd.lockManager().Flock(ctx, fd.lockKey(), fd, typ, block)
}

// TestLock returns the first record lock of another owner than owner that conflicts
// with r (F_GETLK).
func (fd *FileDescription) TestLock(owner any, r lock.Range) (lock.Range, bool) {
	return fd.lockManager().Test(fd.lockKey(), owner, r)
}

// SetLock sets a record lock for owner: the FD table (posix) or the description
// itself (an OFD lock).
func (fd *FileDescription) SetLock(ctx Context, owner any, r lock.Range, block, posix bool) error {
	return fd.lockManager().Set(ctx, fd.lockKey(), owner, r, block, posix)
}

// releaseLocks drops the description's own locks at its last close.
func (fd *FileDescription) releaseLocks() {
	if fd.lockable() {
		fd.lockManager().ReleaseDescription(fd.lockKey(), fd)
	}
}

// close is a descriptor of fd's being closed by table t: t's POSIX locks on the file
// go, the file is told (Flusher), then the reference.
func (t *FDTable) close(fd *FileDescription) {
	if fd.lockable() {
		fd.lockManager().ReleaseRecords(fd.lockKey(), t)
	}
	if f, ok := fd.impl.(Flusher); ok {
		f.Flush(t)
	}
	fd.DecRef()
}

// Flusher is implemented by FileImpls that act on every close of a descriptor, not only
// the last (Linux's flush: a message queue drops the notification its closer's process
// registered). It is told the FD table the descriptor was in.
type Flusher interface {
	Flush(table *FDTable)
}
