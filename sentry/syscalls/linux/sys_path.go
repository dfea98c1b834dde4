package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// pathOp copies in a path and names it relative to dirfd.
func pathOp(t *kernel.Task, dirfd int32, addr uintptr) (vfs.PathOp, error) {
	p, err := path(t, addr, false)
	if err != nil {
		return vfs.PathOp{}, err
	}
	return t.PathOp(dirfd, p)
}

func mkdirat(t *kernel.Task, dirfd int32, addr uintptr, mode uint32) (uintptr, error) {
	op, err := pathOp(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS.MkdirAt(t.Caller(), op, mode)
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return mkdirat(t, unix.AT_FDCWD, a[0], uint32(a[1]))
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return mkdirat(t, fd(a[0]), a[1], uint32(a[2]))
}

// mknodat makes the node; dev is the kernel's 32-bit device number (new_decode_dev),
// which for these sizes is the low half of the 64-bit encoding st_rdev uses.
func mknodat(t *kernel.Task, dirfd int32, addr uintptr, mode, dev uint32) (uintptr, error) {
	op, err := pathOp(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS.MknodAt(t.Caller(), op, mode, uint64(dev))
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return mknodat(t, unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]))
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return mknodat(t, fd(a[0]), a[1], uint32(a[2]), uint32(a[3]))
}

func unlinkat(t *kernel.Task, dirfd int32, addr uintptr, flags uintptr) (uintptr, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	op, err := pathOp(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return 0, t.Kernel().VFS.RmdirAt(t.Caller(), op)
	}
	return 0, t.Kernel().VFS.UnlinkAt(t.Caller(), op)
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, a[0], 0)
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, a[0], unix.AT_REMOVEDIR)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return unlinkat(t, fd(a[0]), a[1], a[2])
}

func symlinkat(t *kernel.Task, targetAddr uintptr, dirfd int32, addr uintptr) (uintptr, error) {
	target, err := t.MM.CopyInString(targetAddr, vfs.PathMax-1)
	if err != nil {
		return 0, err
	}
	op, err := pathOp(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS.SymlinkAt(t.Caller(), target, op)
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return symlinkat(t, a[0], unix.AT_FDCWD, a[1])
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return symlinkat(t, a[0], fd(a[1]), a[2])
}

func linkat(t *kernel.Task, olddir int32, oldAddr uintptr, newdir int32, newAddr uintptr, flags uintptr) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return 0, unsupported(t, "linkat with AT_EMPTY_PATH")
	}
	oldp, err := pathOp(t, olddir, oldAddr)
	if err != nil {
		return 0, err
	}
	newp, err := pathOp(t, newdir, newAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS.LinkAt(t.Caller(), oldp, flags&unix.AT_SYMLINK_FOLLOW != 0, newp)
}

// Link implements link(2).
func Link(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return linkat(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return linkat(t, fd(a[0]), a[1], fd(a[2]), a[3], a[4])
}

func renameat2(t *kernel.Task, olddir int32, oldAddr uintptr, newdir int32, newAddr uintptr, flags uintptr) (uintptr, error) {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return 0, unix.EINVAL
	}
	oldp, err := pathOp(t, olddir, oldAddr)
	if err != nil {
		return 0, err
	}
	newp, err := pathOp(t, newdir, newAddr)
	if err != nil {
		return 0, err
	}
	if flags&(unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return 0, unsupported(t, "renameat2 with RENAME_EXCHANGE or RENAME_WHITEOUT")
	}
	return 0, t.Kernel().VFS.RenameAt(t.Caller(), oldp, newp, flags&unix.RENAME_NOREPLACE != 0)
}

// Rename implements rename(2).
func Rename(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return renameat2(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return renameat2(t, fd(a[0]), a[1], fd(a[2]), a[3], 0)
}

// Renameat2 implements renameat2(2).
func Renameat2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return renameat2(t, fd(a[0]), a[1], fd(a[2]), a[3], a[4])
}

func readlinkat(t *kernel.Task, dirfd int32, addr, buf, size uintptr) (uintptr, error) {
	if int(size) <= 0 {
		return 0, unix.EINVAL
	}
	op, err := pathOp(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	target, err := t.Kernel().VFS.ReadlinkAt(t.Caller(), op)
	if err != nil {
		return 0, err
	}
	b := []byte(target)
	if uintptr(len(b)) > size {
		b = b[:size]
	}
	n, err := t.MM.CopyOut(buf, b)
	return uintptr(n), err
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return readlinkat(t, unix.AT_FDCWD, a[0], a[1], a[2])
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return readlinkat(t, fd(a[0]), a[1], a[2], a[3])
}
