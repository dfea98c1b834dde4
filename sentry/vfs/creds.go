package vfs

import (
	"golang.org/x/sys/unix"
)

// Credentials are a task's identity, as include/linux/cred.h's struct cred. Permission
// checks look at the filesystem user and group (UID, GID), the supplementary groups
// and the effective capabilities (Caps). A task's Credentials are never changed in
// place once other tasks may see them: a change makes a copy (the kernel's
// prepare_creds and commit_creds), so a reader holding the pointer sees a consistent set.
type Credentials struct {
	UID, GID uint32 // the filesystem user and group (fsuid, fsgid)
	Groups   []uint32
	Caps     uint64 // 1 << CAP_* of the effective set
	// The real, effective and saved user and group IDs.
	RealUID, EffectiveUID, SavedUID uint32
	RealGID, EffectiveGID, SavedGID uint32
	// The other capability sets, and the securebits (SECBIT_*; KEEP_CAPS is
	// prctl(PR_SET_KEEPCAPS)).
	Permitted, Inheritable, Bounding, Ambient uint64
	Securebits                                uint32
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
	CapKill           = 5
	CapSetgid         = 6
	CapSetuid         = 7
	CapSetpcap        = 8
	CapLinuxImmutable = 9
	CapIPCLock        = 14
	CapSysChroot      = 18
	CapSysPtrace      = 19
	CapMacOverride    = 32
	// CapLastCap is the highest capability (CAP_CHECKPOINT_RESTORE), AllCaps all of them.
	CapLastCap        = 40
	AllCaps           = 1<<(CapLastCap+1) - 1
	CapSysAdmin       = 21
	CapSysNice        = 23
	CapSysResource    = 24
	CapMknod          = 27
	allCaps           = AllCaps
	rootUID           = 0
	permRead          = 4
	permWrite         = 2
	permExec          = 1
	permissionBitMask = 0o7777
)

// Root returns the credentials of root with every capability.
func Root() *Credentials {
	return &Credentials{Caps: allCaps, Permitted: allCaps, Bounding: allCaps}
}

// User returns the credentials of user uid in group gid with groups: root's
// capabilities if uid is 0, none otherwise (all in the bounding set).
func User(uid, gid uint32, groups []uint32) *Credentials {
	c := &Credentials{UID: uid, GID: gid, Groups: groups, Bounding: allCaps,
		RealUID: uid, EffectiveUID: uid, SavedUID: uid, RealGID: gid, EffectiveGID: gid, SavedGID: gid}
	if uid == rootUID {
		c.Caps, c.Permitted = allCaps, allCaps
	}
	return c
}

// Copy returns a copy of c that shares nothing with it.
func (c *Credentials) Copy() *Credentials {
	n := *c
	n.Groups = append([]uint32(nil), c.Groups...)
	return &n
}

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
