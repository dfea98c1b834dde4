package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// resolver walks paths for one caller: its credentials, its root, and the count of
// symlinks followed so far in this resolution (shared by the nested walks a symlink
// starts, as Linux's nameidata does).
type resolver struct {
	v        *VFS
	creds    *Credentials
	root     VirtualDentry
	symlinks int
	// openat2's restrictions (RESOLVE_*); beneath is the start RESOLVE_BENEATH keeps
	// the walk under.
	restrict uint64
	beneath  VirtualDentry
}

// openat2 resolve flags (include/uapi/linux/openat2.h).
const (
	ResolveNoXdev       = 0x01
	ResolveNoMagiclinks = 0x02
	ResolveNoSymlinks   = 0x04
	ResolveBeneath      = 0x08
	ResolveInRoot       = 0x10
	ResolveCached       = 0x20
)

// newResolver returns the resolver of an operation on p.
func (v *VFS) newResolver(creds *Credentials, p PathOp) *resolver {
	r := &resolver{v: v, creds: creds, root: p.Root, restrict: p.Resolve}
	if p.Resolve&ResolveInRoot != 0 {
		r.root = p.Start
	}
	if p.Resolve&ResolveBeneath != 0 {
		r.beneath = p.Start
	}
	return r
}

// cross checks a step from one mount to another under RESOLVE_NO_XDEV.
func (r *resolver) cross(from, to VirtualDentry) error {
	if r.restrict&ResolveNoXdev != 0 && from.Mount != to.Mount {
		return unix.EXDEV
	}
	return nil
}

// Resolve returns what path names, from start (relative paths) or root (absolute ones).
// With follow, a symlink in the last component is followed; one in any other component
// always is. A trailing slash requires a directory (and follows a final symlink).
func (v *VFS) Resolve(creds *Credentials, root, start VirtualDentry, path string, follow bool) (VirtualDentry, error) {
	r := &resolver{v: v, creds: creds, root: root}
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	return r.resolve(start, path, follow)
}

func (r *resolver) resolve(start VirtualDentry, path string, follow bool) (VirtualDentry, error) {
	parent, name, dirOnly, err := r.resolveParent(start, path)
	if err != nil {
		return VirtualDentry{}, err
	}
	return r.step(parent, name, follow || dirOnly, dirOnly)
}

// ResolveParent resolves all of path but its last component, and returns the directory
// that holds it and the component. The last component may be "." or ".." (callers that
// create or remove reject those with the errno their system call gives); a path of only
// slashes has the last component ".". dirOnly reports a trailing slash.
func (v *VFS) ResolveParent(creds *Credentials, root, start VirtualDentry, path string) (parent VirtualDentry, name string, dirOnly bool, err error) {
	r := &resolver{v: v, creds: creds, root: root}
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	return r.resolveParent(start, path)
}

func (r *resolver) resolveParent(start VirtualDentry, path string) (VirtualDentry, string, bool, error) {
	if path == "" {
		return VirtualDentry{}, "", false, unix.ENOENT
	}
	cur := start
	if path[0] == '/' {
		if r.restrict&ResolveBeneath != 0 {
			return VirtualDentry{}, "", false, unix.EXDEV
		}
		if err := r.cross(start, r.root); err != nil {
			return VirtualDentry{}, "", false, err
		}
		cur = r.root
	}
	dirOnly := strings.HasSuffix(path, "/")
	comps := strings.FieldsFunc(path, func(c rune) bool { return c == '/' })
	if len(comps) == 0 {
		return cur, ".", true, nil
	}
	for _, c := range comps[:len(comps)-1] {
		next, err := r.step(cur, c, true, true)
		if err != nil {
			return VirtualDentry{}, "", false, err
		}
		cur = next
	}
	return cur, comps[len(comps)-1], dirOnly, nil
}

// step resolves one component name in directory cur. With follow, a symlink there is
// followed; with dirOnly the result must be a directory.
func (r *resolver) step(cur VirtualDentry, name string, follow, dirOnly bool) (VirtualDentry, error) {
	if !cur.Dentry.IsDir() {
		return VirtualDentry{}, unix.ENOTDIR
	}
	if err := r.mayAccess(cur, permExec); err != nil {
		return VirtualDentry{}, err
	}
	if len(name) > NameMax {
		return VirtualDentry{}, unix.ENAMETOOLONG
	}
	var next VirtualDentry
	switch name {
	case ".":
		return cur, nil
	case "..":
		if r.restrict&ResolveBeneath != 0 && cur == r.beneath {
			return VirtualDentry{}, unix.EXDEV
		}
		up := r.dotdot(cur)
		return up, r.cross(cur, up)
	default:
		d, err := cur.Dentry.child(name)
		if err != nil {
			return VirtualDentry{}, err
		}
		next = r.v.crossMounts(VirtualDentry{cur.Mount, d})
		if err := r.cross(cur, next); err != nil {
			return VirtualDentry{}, err
		}
	}
	if follow && next.Dentry.IsSymlink() && r.restrict&ResolveNoSymlinks != 0 {
		return VirtualDentry{}, unix.ELOOP
	}
	if follow && next.Dentry.IsSymlink() {
		r.symlinks++
		if r.symlinks > maxSymlinks {
			return VirtualDentry{}, unix.ELOOP
		}
		if ml, ok := next.Dentry.inode.(MagicLink); ok {
			switch {
			case r.restrict&ResolveNoMagiclinks != 0:
				return VirtualDentry{}, unix.ELOOP
			case r.restrict&ResolveBeneath != 0:
				return VirtualDentry{}, unix.EXDEV
			}
			to, err := ml.Jump()
			if err != nil {
				return VirtualDentry{}, err
			}
			if dirOnly && !to.Dentry.IsDir() {
				return VirtualDentry{}, unix.ENOTDIR
			}
			return to, nil
		}
		target, err := readlink(next.Dentry.inode, r.creds)
		if err != nil {
			return VirtualDentry{}, err
		}
		// The link's own directory is the start of a relative target.
		var err2 error
		if next, err2 = r.resolve(cur, target, true); err2 != nil {
			return VirtualDentry{}, err2
		}
	}
	if dirOnly && !next.Dentry.IsDir() {
		return VirtualDentry{}, unix.ENOTDIR
	}
	return next, nil
}

// dotdot is cur's parent, as follow_dotdot: it never goes above the caller's root,
// climbs out of a mount whose root it is at, and enters whatever is mounted on the
// parent.
func (r *resolver) dotdot(cur VirtualDentry) VirtualDentry {
	for {
		if cur == r.root {
			return cur
		}
		if cur.Dentry != cur.Mount.root {
			break
		}
		if cur.Mount.parent == nil {
			return cur // the namespace root, reached outside the caller's root
		}
		cur = VirtualDentry{cur.Mount.parent, cur.Mount.point}
	}
	p := cur.Dentry.Parent()
	if p == nil {
		return cur
	}
	return r.v.crossMounts(VirtualDentry{cur.Mount, p})
}

// crossMounts goes down through the mounts stacked on vd.
func (v *VFS) crossMounts(vd VirtualDentry) VirtualDentry {
	for vd.Dentry.isMountpoint() {
		m := v.mountedOn(vd.Mount, vd.Dentry)
		if m == nil {
			break
		}
		vd = VirtualDentry{m, m.root}
	}
	return vd
}

// mayAccess checks the caller's access to the file at vd.
func (r *resolver) mayAccess(vd VirtualDentry, ats uint32) error {
	st, err := vd.Dentry.inode.Stat()
	if err != nil {
		return err
	}
	return r.creds.MayAccess(ats, &st)
}
