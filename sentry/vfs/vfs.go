// Package vfs is the Sentry's virtual filesystem: the mount tree, the dentry cache, path
// resolution, permission checks, file descriptions and the FD table. Filesystems
// (sentry/fsimpl/...) implement Inode and FileImpl; everything that depends only on names,
// mounts and modes is done here, once, the way Linux's fs/namei.c does it.
//
// # Names
//
// A Dentry is a name in the tree: its parent, its name, the Inode behind it, and a cache
// of the children looked up so far. The VFS is the only writer of the tree: every
// creation, removal and rename goes through it, so the cache stays true for filesystems
// whose files change only through the Sentry (tmpfs; the Gofer's, whose host files belong
// to the container). A Mount puts a filesystem's root dentry over a mountpoint dentry of
// its parent mount; a VirtualDentry is a (mount, dentry) pair, which is what a path
// names.
//
// # Resolution
//
// Resolve walks a path from a starting point one component at a time (resolve.go):
// each directory must be searchable by the caller; "." stays, ".." goes to the parent
// (across mount roots, never above the caller's root); a mountpoint is crossed into the
// mount on it; a symlink is followed (relative to its directory, or the root) unless it
// is the last component and the caller asked not to; more than 40 symlinks is ELOOP.
//
// # Notification
//
// Once an inotify file exists, each operation that succeeded reports what it did to
// the VFS's Notifier (notify.go), as Linux's fsnotify hooks: IN_OPEN, IN_ACCESS,
// IN_MODIFY, IN_CLOSE_*, IN_ATTRIB, IN_CREATE, IN_DELETE, the moves, and a file's
// loss of its last name. Changes made behind the VFS's back (a host file changed
// under the Gofer) are not seen.
//
// Lock order: VFS.renameMu, then Dentry.mu (parent before child), then the inode's
// locks; the Notifier's locks come after the VFS's (it is called with renameMu held
// and no Dentry.mu).
package vfs

import (
	"cmp"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/vfs/lock"
)

// Limits of names and paths (include/uapi/linux/limits.h).
const (
	NameMax     = 255  // a component
	PathMax     = 4096 // a path, NUL included
	maxSymlinks = 40   // MAXSYMLINKS
)

// VFS is one sandbox's virtual filesystem.
type VFS struct {
	// renameMu serializes renames with the walks that must not see a half-done one.
	renameMu sync.RWMutex

	mu       sync.Mutex
	nextDev  uint64
	mounts   map[*Dentry][]*Mount // mountpoint dentry → the mounts on it, last on top
	attached uint64               // mounts attached so far (Mount.seq)
	anonDevs map[uint64]bool
	devices  map[devKey]Device // device drivers by number (device.go)

	// locks are the files' advisory locks (locks.go).
	locks lock.Manager

	// fifo opens FIFO inodes (SetFIFOOpener).
	fifo func(in Inode, ctx Context, flags int) (FileImpl, error)

	// notifier is told of file events once inotify is used (notify.go).
	notifier notifyAtomic

	// MemFile is the sandbox's memory file, which memory-backed filesystems (tmpfs)
	// keep file data in, so that shared mappings map the files' own pages. Set once,
	// before any such filesystem is made.
	MemFile *pgalloc.MemoryFile
}

// AnonymousPipe is implemented by inodes that show as FIFOs but are open pipes, not
// names of FIFOs (a pipe(2) pipe, a host pipe given as stdio): reached through
// /proc/PID/fd, they open themselves, not through the FIFO opener.
type AnonymousPipe interface {
	IsAnonymousPipe()
}

// SetFIFOOpener makes open the way every FIFO inode opens (sentry/fsimpl/pipe's
// FIFOs): whatever filesystem holds a FIFO, its pipe is the Sentry's. Set once, before
// any open.
func (v *VFS) SetFIFOOpener(open func(in Inode, ctx Context, flags int) (FileImpl, error)) {
	v.fifo = open
}

// New returns an empty VFS.
func New() *VFS {
	return &VFS{nextDev: 1, mounts: map[*Dentry][]*Mount{}, anonDevs: map[uint64]bool{}}
}

// NewDev returns a new anonymous device number for a filesystem (st_dev), as
// get_anon_bdev: major 0.
func (v *VFS) NewDev() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.nextDev
	v.nextDev++
	return unix.Mkdev(0, uint32(d))
}

// MountFlags are per-mount flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC).
type MountFlags struct {
	ReadOnly, NoSuid, NoDev, NoExec bool
}

// Mount is a filesystem mounted over a mountpoint.
type Mount struct {
	vfs    *VFS
	root   *Dentry // the filesystem's root
	parent *Mount  // nil for a namespace's root mount
	point  *Dentry // the mountpoint in parent
	Flags  MountFlags
	// seq orders mounts by when they were attached, as /proc/mounts lists them.
	seq uint64
	// detached is set (under VFS.mu) once the mount is unmounted (Detach).
	detached bool
	// FSType is the filesystem's name for /proc/mounts.
	FSType string
	Source string
	// FSRoot is the path, within the filesystem it came from, of the filesystem's
	// root: a host directory bound into the sandbox (served as a filesystem of its
	// own) names it, as Linux's mountinfo names a bind mount's root. "" is "/".
	FSRoot string
}

// RootPath is the path of the mount's root within its filesystem, mountinfo's fourth
// field: "/" for a whole filesystem, the bound directory's path for a bind mount.
func (m *Mount) RootPath() string {
	var names []string
	for d := m.root; d.Parent() != nil; d = d.Parent() {
		names = append(names, d.Name())
	}
	p := m.FSRoot
	for i := len(names) - 1; i >= 0; i-- {
		p += "/" + names[i]
	}
	if p == "" {
		return "/"
	}
	return p
}

// Root is the mounted filesystem's root.
func (m *Mount) Root() VirtualDentry { return VirtualDentry{m, m.root} }

// Parent returns the mount m is mounted on, nil for a namespace's root.
func (m *Mount) Parent() *Mount { return m.parent }

// VirtualDentry is a name in a mount: what a path resolves to.
type VirtualDentry struct {
	Mount  *Mount
	Dentry *Dentry
}

// Ok reports whether vd names something.
func (vd VirtualDentry) Ok() bool { return vd.Dentry != nil }

// NewMount makes a mount of the filesystem whose root is root. It is attached nowhere:
// it is a namespace's root mount until Attach puts it over a mountpoint.
func (v *VFS) NewMount(root Inode, fsType, source string, flags MountFlags) *Mount {
	d := &Dentry{inode: root, name: "/"}
	return &Mount{vfs: v, root: d, Flags: flags, FSType: fsType, Source: source}
}

// NewMountOf makes another mount of m's filesystem that shares m's root dentry, as a
// bind mount of m's root: names made or removed through one are seen through the
// other (the mqueue filesystem the kernel uses for mq_open and its /dev/mqueue mount).
func (v *VFS) NewMountOf(m *Mount, fsType, source string, flags MountFlags) *Mount {
	return &Mount{vfs: v, root: m.root, Flags: flags, FSType: fsType, Source: source}
}

// NewBindMount makes a mount whose root is vd, as a bind mount of vd: the same
// filesystem (its type, source and FSRoot), with flags of its own.
func (v *VFS) NewBindMount(vd VirtualDentry, flags MountFlags) *Mount {
	return &Mount{vfs: v, root: vd.Dentry, Flags: flags, FSType: vd.Mount.FSType, Source: vd.Mount.Source, FSRoot: vd.Mount.FSRoot}
}

// Attach mounts m over the file at point: a directory over a directory, anything else
// over anything but a directory (ENOTDIR otherwise), as do_move_mount's check.
func (v *VFS) Attach(m *Mount, point VirtualDentry) error {
	if point.Dentry.IsDir() != m.root.IsDir() {
		return unix.ENOTDIR
	}
	if p := point.Dentry.parent; p != nil {
		if _, dynamic := p.inode.(Dynamic); dynamic {
			// A dynamic directory does not cache its children: keep this one, or
			// the next lookup of its name would find a dentry with nothing on it.
			p.pin(point.Dentry)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m.parent, m.point = point.Mount, point.Dentry
	v.mounts[point.Dentry] = append(v.mounts[point.Dentry], m)
	v.attached++
	m.seq = v.attached
	point.Dentry.mu.Lock()
	point.Dentry.mounted++
	point.Dentry.mu.Unlock()
	return nil
}

// mountedOn returns the top mount on d in parent mount pm, or nil.
func (v *VFS) mountedOn(pm *Mount, d *Dentry) *Mount {
	v.mu.Lock()
	defer v.mu.Unlock()
	ms := v.mounts[d]
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].parent == pm {
			return ms[i]
		}
	}
	return nil
}

// Mounts returns every mount under root, root first and the rest in the order they
// were attached, as /proc/mounts lists a namespace's mounts.
func (v *VFS) Mounts(root *Mount) []*Mount {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := []*Mount{root}
	for i := 0; i < len(out); i++ {
		for _, ms := range v.mounts {
			for _, m := range ms {
				if m.parent == out[i] {
					out = append(out, m)
				}
			}
		}
	}
	slices.SortStableFunc(out[1:], func(a, b *Mount) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// Anonymous returns a name for a file that is in no directory (a host FD, a pipe): a
// dentry of its own on a mount attached nowhere, so the description can stat it.
func (v *VFS) Anonymous(in Inode, fsType string) VirtualDentry {
	m := v.NewMount(in, fsType, fsType, MountFlags{})
	return m.Root()
}

// PathOf returns the absolute path of vd as seen from root, as d_path: ENOENT if vd was
// removed, and a path starting "(unreachable)" if vd is not below root.
func (v *VFS) PathOf(root, vd VirtualDentry) (string, error) {
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	vd.Dentry.mu.Lock()
	dead := vd.Dentry.dead
	vd.Dentry.mu.Unlock()
	if dead {
		return "", unix.ENOENT
	}
	var names []string
	for vd != root {
		if vd.Dentry == vd.Mount.root {
			if vd.Mount.parent == nil {
				return "(unreachable)/" + join(names), nil
			}
			vd = VirtualDentry{vd.Mount.parent, vd.Mount.point}
			continue
		}
		names = append(names, vd.Dentry.Name())
		vd = VirtualDentry{vd.Mount, vd.Dentry.Parent()}
	}
	return "/" + join(names), nil
}

// join joins reversed path components.
func join(rev []string) string {
	s := ""
	for i := len(rev) - 1; i >= 0; i-- {
		s += rev[i]
		if i > 0 {
			s += "/"
		}
	}
	return s
}

// Detach unmounts m, as umount2: EINVAL if m is a namespace's root; EBUSY if mounts
// are on it, unless lazy (MNT_DETACH), which detaches them with it. Descriptions and
// working directories on m keep it (the Sentry does not count them, so a non-lazy
// unmount of a mount in use succeeds where Linux says EBUSY).
func (v *VFS) Detach(m *Mount, lazy bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.parent == nil || m.detached {
		return unix.EINVAL
	}
	var children []*Mount
	for _, ms := range v.mounts {
		for _, c := range ms {
			if c.parent == m {
				children = append(children, c)
			}
		}
	}
	if len(children) > 0 && !lazy {
		return unix.EBUSY
	}
	v.detachLocked(m)
	return nil
}

// detachLocked removes m and the mounts on it from the tree and marks them detached;
// descriptions still open on them keep them (and their parent and mountpoint, for
// their paths). v.mu is held.
func (v *VFS) detachLocked(m *Mount) {
	var children []*Mount
	for _, ms := range v.mounts {
		for _, c := range ms {
			if c.parent == m {
				children = append(children, c)
			}
		}
	}
	for _, c := range children {
		v.detachLocked(c)
	}
	ms := v.mounts[m.point]
	for i, o := range ms {
		if o == m {
			ms = append(ms[:i:i], ms[i+1:]...)
			break
		}
	}
	if len(ms) == 0 {
		delete(v.mounts, m.point)
	} else {
		v.mounts[m.point] = ms
	}
	m.point.mu.Lock()
	m.point.mounted--
	m.point.mu.Unlock()
	m.detached = true
}
