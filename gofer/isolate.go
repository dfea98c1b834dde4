package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Isolate gives the Gofer a mount namespace holding only what it serves, before its
// mounts are opened (NewServer). runsc starts the Gofer in a mount and a PID namespace of
// its own (CLONE_NEWNS|CLONE_NEWPID: it is PID 1 there); Isolate refuses to run in any
// other process, since it changes the root of the whole mount namespace.
//
//  1. Every mount becomes a slave (MS_SLAVE|MS_REC): nothing mounted here reaches the
//     namespace it was copied from (the Sentry's, or for runsc do the host's), while an
//     unmount there (a volume going away) still reaches here.
//  2. Each served path's mount tree is copied (open_tree with OPEN_TREE_CLONE and
//     AT_RECURSIVE) and made read-only where the mount is (mount_setattr, recursive).
//  3. A new root, a tmpfs on a temporary directory, gets the copies at /0, /1, ... in
//     order, and a procfs of the Gofer's own PID namespace at /proc, which shows no
//     process but the Gofer.
//  4. pivot_root makes the tmpfs the root, the temporary directory is removed and the
//     old root is detached (MNT_DETACH): the host's mounts are gone from the Gofer's
//     world. A walk up from a served mount's root (".." past its top) ends at the tmpfs
//     root, not in the host's tree, and /proc/self/fd (Box) leads to no other
//     process's root or files.
//
// It returns the mounts renamed to their paths in the new root.
func Isolate(mounts []Mount) ([]Mount, error) {
	if unix.Getpid() != 1 {
		return nil, fmt.Errorf("gofer: isolating: not PID 1 of a PID namespace of its own, " +
			"so not in a mount namespace of its own either (start the gofer with CLONE_NEWNS|CLONE_NEWPID)")
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("gofer: isolating: making mounts slaves: %w", err)
	}
	trees, err := copyTrees(mounts)
	defer func() {
		for _, t := range trees {
			if t.fd >= 0 {
				unix.Close(t.fd)
			}
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("gofer: isolating: %w", err)
	}
	dir, err := os.MkdirTemp("", "moat-gofer-mounts-")
	if err != nil {
		return nil, fmt.Errorf("gofer: isolating: %w", err)
	}
	out, err := newRoot(dir, mounts, trees)
	if err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
		return nil, fmt.Errorf("gofer: isolating: %w", err)
	}
	isolated = true
	return out, nil
}

// isolated: the root is Isolate's tmpfs.
var isolated bool

// open_tree(2) and mount_setattr(2); tests replace them to see what kernels without
// them get.
var (
	openTree     = unix.OpenTree
	mountSetattr = unix.MountSetattr
)

// tree is a detached copy of a mount's tree (fd, or -1 if there is none) and whether it
// is read-only already.
type tree struct {
	fd       int
	readOnly bool
}

// copyTrees returns a detached copy of each mount's tree, read-only where the mount is
// (but on a kernel without mount_setattr, before 5.12). On a kernel without open_tree
// (before 5.2) there are no copies, and newRoot binds the paths instead.
func copyTrees(mounts []Mount) ([]tree, error) {
	trees := make([]tree, len(mounts))
	for i := range trees {
		trees[i].fd = -1
	}
	for i, m := range mounts {
		fd, err := openTree(unix.AT_FDCWD, m.HostPath, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err == unix.ENOSYS {
			return trees, nil
		}
		if err != nil {
			return trees, fmt.Errorf("copying mount %d %q: %w", i, m.HostPath, err)
		}
		trees[i].fd = fd
		if !m.ReadOnly {
			continue
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		switch err := mountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err {
		case nil:
			trees[i].readOnly = true
		case unix.ENOSYS:
		default:
			return trees, fmt.Errorf("making mount %d %q read-only: %w", i, m.HostPath, err)
		}
	}
	return trees, nil
}

// newRoot mounts a tmpfs on dir holding the mounts' trees (or bind mounts of their
// paths) and a procfs, pivots into it, and removes dir.
func newRoot(dir string, mounts []Mount, trees []tree) ([]Mount, error) {
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	parent, err := unix.Open(filepath.Dir(dir), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer func() {
		if parent >= 0 {
			unix.Close(parent)
		}
	}()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "mode=0700"); err != nil {
		return nil, fmt.Errorf("mounting the new root: %w", err)
	}
	out := make([]Mount, len(mounts))
	for i, m := range mounts {
		name := "/" + strconv.Itoa(i)
		target := dir + name
		if err := os.Mkdir(target, 0o700); err != nil {
			return nil, err
		}
		if err := attach(trees[i], m, target, dir); err != nil {
			return nil, fmt.Errorf("mounting mount %d %q: %w", i, m.HostPath, err)
		}
		out[i] = Mount{HostPath: name, ReadOnly: m.ReadOnly}
	}
	if err := os.Mkdir(dir+"/proc", 0o500); err != nil {
		return nil, err
	}
	if err := unix.Mount("proc", dir+"/proc", "proc", flags, ""); err != nil {
		return nil, fmt.Errorf("mounting /proc: %w", err)
	}
	// pivot_root(".", "."): the old root ends up stacked on the new one until it is
	// detached. dir, in the old root, is no mount point any more: it is removed
	// through its parent, opened before.
	if err := unix.Chdir(dir); err != nil {
		return nil, err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return nil, fmt.Errorf("pivot_root: %w", err)
	}
	rmErr := unix.Unlinkat(parent, filepath.Base(dir), unix.AT_REMOVEDIR)
	unix.Close(parent)
	parent = -1
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return nil, fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return nil, err
	}
	if rmErr != nil {
		return nil, fmt.Errorf("removing %s: %w", dir, rmErr)
	}
	return out, nil
}

// attach mounts m at target: its tree's copy if there is one, else a recursive bind
// mount of its path (which would also copy the new root itself when root lies under
// m's path, as for runsc do, which serves /: that copy is detached). Where m is
// read-only and the tree is not yet, its top mount is remounted read-only.
func attach(t tree, m Mount, target, root string) error {
	if t.fd >= 0 {
		if err := unix.MoveMount(t.fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return err
		}
	} else {
		if err := unix.Mount(m.HostPath, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if rel, err := filepath.Rel(m.HostPath, root); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			if err := unix.Unmount(filepath.Join(target, rel), unix.MNT_DETACH); err != nil {
				return fmt.Errorf("detaching the new root's copy: %w", err)
			}
		}
	}
	if !m.ReadOnly || t.readOnly {
		return nil
	}
	return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}
