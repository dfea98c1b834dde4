package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Dentry is a name in the tree.
type Dentry struct {
	inode Inode

	mu       sync.Mutex
	name     string
	parent   *Dentry            // nil for a filesystem's root
	children map[string]*Dentry // looked up so far (positive entries only)
	mounted  int                // mounts on this dentry
	dead     bool               // unlinked, or its directory removed
	// opens counts the descriptions open on the dentry; goneOnClose says its file
	// lost its last name while some were, and is reported gone at the last close
	// (notify.go).
	opens       int
	goneOnClose bool
}

// Inode is the file behind the dentry.
func (d *Dentry) Inode() Inode { return d.inode }

// IsDir reports whether the dentry is a directory.
func (d *Dentry) IsDir() bool {
	_, ok := d.inode.(DirInode)
	return ok
}

// IsSymlink reports whether the dentry is a symbolic link.
func (d *Dentry) IsSymlink() bool {
	_, ok := d.inode.(SymlinkInode)
	return ok
}

// Name is the dentry's name in its parent.
func (d *Dentry) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.name
}

// Parent is the dentry's parent, nil at a filesystem's root.
func (d *Dentry) Parent() *Dentry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.parent
}

// child returns the child name, looking it up in the filesystem if it is not cached.
func (d *Dentry) child(name string) (*Dentry, error) {
	d.mu.Lock()
	if c, ok := d.children[name]; ok {
		d.mu.Unlock()
		return c, nil
	}
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return nil, unix.ENOENT
	}
	dir, ok := d.inode.(DirInode)
	if !ok {
		return nil, unix.ENOTDIR
	}
	in, err := dir.Lookup(name)
	if err != nil {
		return nil, err
	}
	if _, dynamic := d.inode.(Dynamic); dynamic {
		return &Dentry{inode: in, name: name, parent: d}, nil
	}
	return d.insert(name, in), nil
}

// insert caches in as child name and returns its dentry (the one already cached if a
// concurrent lookup won).
func (d *Dentry) insert(name string, in Inode) *Dentry {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.children[name]; ok {
		return c
	}
	if d.children == nil {
		d.children = map[string]*Dentry{}
	}
	c := &Dentry{inode: in, name: name, parent: d}
	d.children[name] = c
	return c
}

// pin caches c, a child of d looked up without caching (d is Dynamic), so that later
// lookups of its name find it: something is being mounted on it.
func (d *Dentry) pin(c *Dentry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.children[c.name]; ok {
		return
	}
	if d.children == nil {
		d.children = map[string]*Dentry{}
	}
	d.children[c.name] = c
}

// remove forgets child name after the filesystem removed it.
func (d *Dentry) remove(name string) {
	d.mu.Lock()
	c := d.children[name]
	delete(d.children, name)
	d.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
	}
}

// isMountpoint reports whether something is mounted on d.
func (d *Dentry) isMountpoint() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mounted > 0
}
