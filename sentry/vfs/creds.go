package vfs

import (
	"golang.org/x/sys/unix"
)

// Credentials are what permission checks look at: the filesystem user and groups, and
// the effective capabilities.
type Credentials struct {
	UID, GID uint32
	Groups   []uint32
	Caps     uint64 // 1 << CAP_* of the effective set
	// Caller is the PID of the task these credentials belong to: what /proc/self
	// names.
	Caller int32
}

// Capabilities the VFS checks (include/uapi/linux/capability.h).
const (
	CapChown          = 0
	CapDACOverride    = 1
	CapDACReadSearch  = 2
	CapFowner         = 3
	CapFsetid         = 4
	CapSysAdmin       = 21
	CapMknod          = 27
	allCaps           = 1<<41 - 1
	rootUID           = 0
	permRead          = 4
	permWrite         = 2
	permExec          = 1
	permissionBitMask = 0o7777
)

// Root returns the credentials of root with every capability.
func Root() *Credentials { return &Credentials{Caps: allCaps} }

// HasCap reports whether c has capability cap.
func (c *Credentials) HasCap(cap int) bool { return c.Caps&(1<<cap) != 0 }

// InGroup reports whether gid is c's group or a supplementary one.
func (c *Credentials) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// MayAccess checks ats (a mask of permRead, permWrite, permExec) against a file's mode
// and owner, as fs/namei.c:generic_permission: the owner's bits, else the group's, else
// the others'; then CAP_DAC_OVERRIDE (anything but exec of a file with no x bit) and
// CAP_DAC_READ_SEARCH (read, and search of directories).
func (c *Credentials) MayAccess(ats uint32, st *Stat) error {
	mode := st.Mode
	var bits uint32
	switch {
	case c.UID == st.UID:
		bits = mode >> 6
	case c.InGroup(st.GID):
		bits = mode >> 3
	default:
		bits = mode
	}
	if bits&ats&7 == ats {
		return nil
	}
	isDir := mode&unix.S_IFMT == unix.S_IFDIR
	if c.HasCap(CapDACOverride) {
		if ats&permExec == 0 || isDir || mode&0o111 != 0 {
			return nil
		}
	}
	if c.HasCap(CapDACReadSearch) {
		if ats == permRead || isDir && ats&permWrite == 0 {
			return nil
		}
	}
	return unix.EACCES
}

// isOwner reports whether c may act as the owner of a file owned by uid (CAP_FOWNER).
func (c *Credentials) isOwner(uid uint32) bool {
	return c.UID == uid || c.HasCap(CapFowner)
}
