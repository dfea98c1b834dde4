package kernel

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Credentials: the set*id family, supplementary groups and capabilities, with Linux's
// permission rules (kernel/sys.c, kernel/groups.c, kernel/capability.c) and the
// capability fix-ups a change of user makes (security/commoncap.c). A change builds a
// new vfs.Credentials and installs it (commitCreds); the old one is never modified.
//
// There is one user namespace: every ID but -1 is valid, and "ns_capable" is a test
// of the effective set.

// noID is the ID (uid_t)-1: "leave unchanged", or invalid.
const noID = ^uint32(0)

// Securebits (include/uapi/linux/securebits.h).
const (
	SecbitNoroot              = 1 << 0
	SecbitNorootLocked        = 1 << 1
	SecbitNoSetuidFixup       = 1 << 2
	SecbitNoSetuidFixupLocked = 1 << 3
	SecbitKeepCaps            = 1 << 4
	SecbitKeepCapsLocked      = 1 << 5
	SecbitNoCapAmbientRaise   = 1 << 6
	SecbitNoCapAmbientLocked  = 1 << 7
)

// capFSSet is CAP_FS_SET: the capabilities a filesystem user change takes or gives.
const capFSSet = 1<<vfs.CapChown | 1<<vfs.CapDACOverride | 1<<vfs.CapDACReadSearch |
	1<<vfs.CapFowner | 1<<vfs.CapFsetid | 1<<vfs.CapLinuxImmutable | 1<<vfs.CapMknod |
	1<<vfs.CapMacOverride

// commitCreds installs n as t's credentials. As kernel/cred.c:commit_creds, a change of
// effective or filesystem ID, or a permitted set that grew, makes the process
// undumpable and clears its parent-death signal.
func (t *Task) commitCreds(n *vfs.Credentials) {
	o := t.Creds
	if o.EffectiveUID != n.EffectiveUID || o.EffectiveGID != n.EffectiveGID ||
		o.UID != n.UID || o.GID != n.GID || n.Permitted&^o.Permitted != 0 {
		t.Undumpable = true
		t.PdeathSig = 0
	}
	n.Caller = t.TID
	t.Creds = n
}

// fixSetuid adjusts n's capabilities after a change of real, effective or saved user
// from o's, as security/commoncap.c:cap_emulate_setxuid: leaving root in all three
// clears the permitted and effective sets (unless SECBIT_KEEP_CAPS) and the ambient
// set; leaving effective root clears the effective set; becoming it restores it.
func fixSetuid(n, o *vfs.Credentials) {
	if o.Securebits&SecbitNoSetuidFixup != 0 {
		return
	}
	wasRoot := o.RealUID == 0 || o.EffectiveUID == 0 || o.SavedUID == 0
	isRoot := n.RealUID == 0 || n.EffectiveUID == 0 || n.SavedUID == 0
	if wasRoot && !isRoot {
		if o.Securebits&SecbitKeepCaps == 0 {
			n.Permitted, n.Caps = 0, 0
		}
		n.Ambient = 0
	}
	if o.EffectiveUID == 0 && n.EffectiveUID != 0 {
		n.Caps = 0
	}
	if o.EffectiveUID != 0 && n.EffectiveUID == 0 {
		n.Caps = n.Permitted
	}
}

// SetUID is setuid(2): with CAP_SETUID every user ID becomes uid; otherwise the
// effective and filesystem ones, if uid is the real or saved one (EPERM).
func (t *Task) SetUID(uid uint32) error {
	if uid == noID {
		return unix.EINVAL
	}
	o := t.Creds
	n := o.Copy()
	if o.HasCap(vfs.CapSetuid) {
		n.RealUID, n.SavedUID = uid, uid
	} else if uid != o.RealUID && uid != o.SavedUID {
		return unix.EPERM
	}
	n.EffectiveUID, n.UID = uid, uid
	fixSetuid(n, o)
	t.commitCreds(n)
	return nil
}

// SetGID is setgid(2), as SetUID with CAP_SETGID.
func (t *Task) SetGID(gid uint32) error {
	if gid == noID {
		return unix.EINVAL
	}
	o := t.Creds
	n := o.Copy()
	if o.HasCap(vfs.CapSetgid) {
		n.RealGID, n.SavedGID = gid, gid
	} else if gid != o.RealGID && gid != o.SavedGID {
		return unix.EPERM
	}
	n.EffectiveGID, n.GID = gid, gid
	t.commitCreds(n)
	return nil
}

// SetREUID is setreuid(2): the real ID may become the real or effective one, the
// effective ID the real, effective or saved one, anything with CAP_SETUID; the saved
// ID follows the effective one if the real one was set or the effective one changed
// to other than the old real one.
func (t *Task) SetREUID(ruid, euid uint32) error {
	o := t.Creds
	n := o.Copy()
	priv := o.HasCap(vfs.CapSetuid)
	if ruid != noID {
		n.RealUID = ruid
		if ruid != o.RealUID && ruid != o.EffectiveUID && !priv {
			return unix.EPERM
		}
	}
	if euid != noID {
		n.EffectiveUID = euid
		if euid != o.RealUID && euid != o.EffectiveUID && euid != o.SavedUID && !priv {
			return unix.EPERM
		}
	}
	if ruid != noID || euid != noID && euid != o.RealUID {
		n.SavedUID = n.EffectiveUID
	}
	n.UID = n.EffectiveUID
	fixSetuid(n, o)
	t.commitCreds(n)
	return nil
}

// SetREGID is setregid(2), as SetREUID with CAP_SETGID.
func (t *Task) SetREGID(rgid, egid uint32) error {
	o := t.Creds
	n := o.Copy()
	priv := o.HasCap(vfs.CapSetgid)
	if rgid != noID {
		n.RealGID = rgid
		if rgid != o.RealGID && rgid != o.EffectiveGID && !priv {
			return unix.EPERM
		}
	}
	if egid != noID {
		n.EffectiveGID = egid
		if egid != o.RealGID && egid != o.EffectiveGID && egid != o.SavedGID && !priv {
			return unix.EPERM
		}
	}
	if rgid != noID || egid != noID && egid != o.RealGID {
		n.SavedGID = n.EffectiveGID
	}
	n.GID = n.EffectiveGID
	t.commitCreds(n)
	return nil
}

// setRES is setresuid and setresgid's rule: without priv each ID given (not -1) must
// be one of the three current ones.
func setRES(ids [3]uint32, cur [3]uint32, priv bool) error {
	if priv {
		return nil
	}
	for _, id := range ids {
		if id != noID && id != cur[0] && id != cur[1] && id != cur[2] {
			return unix.EPERM
		}
	}
	return nil
}

// SetRESUID is setresuid(2): each ID not -1 is set; without CAP_SETUID each must be
// one of the current real, effective and saved IDs. The filesystem ID follows the
// effective one.
func (t *Task) SetRESUID(ruid, euid, suid uint32) error {
	o := t.Creds
	if (ruid == noID || ruid == o.RealUID) && (euid == noID || euid == o.EffectiveUID && euid == o.UID) &&
		(suid == noID || suid == o.SavedUID) {
		return nil
	}
	if err := setRES([3]uint32{ruid, euid, suid}, [3]uint32{o.RealUID, o.EffectiveUID, o.SavedUID},
		o.HasCap(vfs.CapSetuid)); err != nil {
		return err
	}
	n := o.Copy()
	setIfGiven(&n.RealUID, ruid)
	setIfGiven(&n.EffectiveUID, euid)
	setIfGiven(&n.SavedUID, suid)
	n.UID = n.EffectiveUID
	fixSetuid(n, o)
	t.commitCreds(n)
	return nil
}

// SetRESGID is setresgid(2), as SetRESUID with CAP_SETGID.
func (t *Task) SetRESGID(rgid, egid, sgid uint32) error {
	o := t.Creds
	if (rgid == noID || rgid == o.RealGID) && (egid == noID || egid == o.EffectiveGID && egid == o.GID) &&
		(sgid == noID || sgid == o.SavedGID) {
		return nil
	}
	if err := setRES([3]uint32{rgid, egid, sgid}, [3]uint32{o.RealGID, o.EffectiveGID, o.SavedGID},
		o.HasCap(vfs.CapSetgid)); err != nil {
		return err
	}
	n := o.Copy()
	setIfGiven(&n.RealGID, rgid)
	setIfGiven(&n.EffectiveGID, egid)
	setIfGiven(&n.SavedGID, sgid)
	n.GID = n.EffectiveGID
	t.commitCreds(n)
	return nil
}

func setIfGiven(id *uint32, v uint32) {
	if v != noID {
		*id = v
	}
}

// SetFSUID is setfsuid(2): it returns the old filesystem user ID and changes it to
// uid if uid is the real, effective, saved or filesystem ID, or with CAP_SETUID.
// Leaving filesystem root drops the filesystem capabilities from the effective set;
// becoming it raises the permitted ones (cap_task_fix_setuid's LSM_SETID_FS).
func (t *Task) SetFSUID(uid uint32) uint32 {
	o := t.Creds
	old := o.UID
	if uid == noID || uid == old {
		return old
	}
	if uid != o.RealUID && uid != o.EffectiveUID && uid != o.SavedUID && !o.HasCap(vfs.CapSetuid) {
		return old
	}
	n := o.Copy()
	n.UID = uid
	if o.Securebits&SecbitNoSetuidFixup == 0 {
		if old == 0 && uid != 0 {
			n.Caps &^= capFSSet
		}
		if old != 0 && uid == 0 {
			n.Caps |= n.Permitted & capFSSet
		}
	}
	t.commitCreds(n)
	return old
}

// SetFSGID is setfsgid(2), as SetFSUID with CAP_SETGID and no capability change.
func (t *Task) SetFSGID(gid uint32) uint32 {
	o := t.Creds
	old := o.GID
	if gid == noID || gid == old {
		return old
	}
	if gid != o.RealGID && gid != o.EffectiveGID && gid != o.SavedGID && !o.HasCap(vfs.CapSetgid) {
		return old
	}
	n := o.Copy()
	n.GID = gid
	t.commitCreds(n)
	return old
}

// SetGroups is setgroups(2) after the list is read: EPERM without CAP_SETGID. The
// list is kept sorted, as groups_sort.
func (t *Task) SetGroups(groups []uint32) error {
	if !t.Creds.HasCap(vfs.CapSetgid) {
		return unix.EPERM
	}
	n := t.Creds.Copy()
	n.Groups = slices.Clone(groups)
	slices.Sort(n.Groups)
	t.commitCreds(n)
	return nil
}

// CapSets are the three capability sets capget and capset exchange.
type CapSets struct{ Effective, Permitted, Inheritable uint64 }

// Capabilities returns the capability sets of thread tid (0: t), as capget: ESRCH if
// there is no such thread.
func (t *Task) Capabilities(tid int32) (CapSets, error) {
	target := t
	if tid != 0 && tid != t.TID {
		if target = t.k.Task(tid); target == nil {
			return CapSets{}, unix.ESRCH
		}
	}
	c := target.Creds
	return CapSets{c.Caps, c.Permitted, c.Inheritable}, nil
}

// SetCapabilities sets t's capability sets, as capset and security/commoncap.c:
// cap_capset: a new inheritable capability must be inheritable or permitted already
// (unless t has CAP_SETPCAP) and in the bounding set; the permitted set may only
// shrink; the effective set must be within it. The ambient set keeps what is still
// permitted and inheritable.
func (t *Task) SetCapabilities(s CapSets) error {
	o := t.Creds
	s.Effective &= vfs.AllCaps
	s.Permitted &= vfs.AllCaps
	s.Inheritable &= vfs.AllCaps
	if !o.HasCap(vfs.CapSetpcap) && s.Inheritable&^(o.Inheritable|o.Permitted) != 0 {
		return unix.EPERM
	}
	if s.Inheritable&^(o.Inheritable|o.Bounding) != 0 {
		return unix.EPERM
	}
	if s.Permitted&^o.Permitted != 0 || s.Effective&^s.Permitted != 0 {
		return unix.EPERM
	}
	n := o.Copy()
	n.Caps, n.Permitted, n.Inheritable = s.Effective, s.Permitted, s.Inheritable
	n.Ambient &= s.Permitted & s.Inheritable
	t.commitCreds(n)
	return nil
}

// execCreds computes the credentials after an exec of a file with no file capabilities
// (set-ID bits are not honoured, as on a nosuid mount), as security/commoncap.c:cap_bprm_creds_from_file: the
// permitted and effective sets become the ambient set; for root (real or effective
// user 0, SECBIT_NOROOT clear) the permitted set is the inheritable and bounding sets,
// and effective user 0 makes it effective too. SECBIT_KEEP_CAPS is cleared.
func (t *Task) execCreds() {
	o := t.Creds
	n := o.Copy()
	n.Permitted, n.Caps = o.Ambient, o.Ambient
	if o.Securebits&SecbitNoroot == 0 && (o.RealUID == 0 || o.EffectiveUID == 0) {
		n.Permitted = o.Inheritable | o.Bounding
		if o.EffectiveUID == 0 {
			n.Caps = n.Permitted
		}
	}
	n.Securebits &^= SecbitKeepCaps
	n.Caller = t.TID
	t.Creds = n
	// As begin_new_exec: dumpable unless the real and effective IDs differ.
	t.Undumpable = n.EffectiveUID != n.RealUID || n.EffectiveGID != n.RealGID
}

// MayPtraceRead reports whether t may read target's state (/proc files, robust lists),
// as kernel/ptrace.c:__ptrace_may_access with PTRACE_MODE_READ_REALCREDS: its own
// thread group; otherwise the target's real, effective and saved user and group IDs
// must be t's real ones, or t must have CAP_SYS_PTRACE; and an undumpable target
// needs CAP_SYS_PTRACE.
func (t *Task) MayPtraceRead(target *Task) bool {
	if target.Proc == t.Proc {
		return true
	}
	c, tc := t.Creds, target.Creds
	if c.HasCap(vfs.CapSysPtrace) {
		return true
	}
	if c.RealUID != tc.RealUID || c.RealUID != tc.EffectiveUID || c.RealUID != tc.SavedUID ||
		c.RealGID != tc.RealGID || c.RealGID != tc.EffectiveGID || c.RealGID != tc.SavedGID {
		return false
	}
	return !target.Undumpable
}

// mayKill reports whether t may send sig to target, as kernel/signal.c:
// check_kill_permission: its own thread group; a target whose real or saved user ID
// is t's real or effective one; CAP_KILL; or SIGCONT within t's session.
func (t *Task) mayKill(target *Task, sig unix.Signal) bool {
	if target.Proc == t.Proc {
		return true
	}
	c, tc := t.Creds, target.Creds
	if c.EffectiveUID == tc.SavedUID || c.EffectiveUID == tc.RealUID || c.RealUID == tc.SavedUID ||
		c.RealUID == tc.RealUID || c.HasCap(vfs.CapKill) {
		return true
	}
	return sig == unix.SIGCONT && target.Proc.sid == t.Proc.sid
}

// AccessCaller is the caller access(2) checks as, without AT_EACCESS: the real user and
// group in place of the filesystem ones, and for a non-root real user no effective
// capabilities, for root the permitted ones (fs/open.c:access_override_creds).
func (t *Task) AccessCaller() vfs.Caller {
	c := t.Caller()
	o := c.Creds
	n := o.Copy()
	n.UID, n.GID = o.RealUID, o.RealGID
	if o.Securebits&SecbitNoSetuidFixup == 0 {
		if n.UID != 0 {
			n.Caps = 0
		} else {
			n.Caps = o.Permitted
		}
	}
	c.Creds = n
	return c
}

// SetKeepCaps sets or clears SECBIT_KEEP_CAPS, as prctl(PR_SET_KEEPCAPS): EPERM if
// SECBIT_KEEP_CAPS_LOCKED is set.
func (t *Task) SetKeepCaps(keep bool) error {
	o := t.Creds
	if o.Securebits&SecbitKeepCapsLocked != 0 {
		return unix.EPERM
	}
	n := o.Copy()
	if keep {
		n.Securebits |= SecbitKeepCaps
	} else {
		n.Securebits &^= SecbitKeepCaps
	}
	t.commitCreds(n)
	return nil
}

// The securebits and their locks (SECURE_ALL_BITS, SECURE_ALL_LOCKS).
const (
	secureAllBits  = SecbitNoroot | SecbitNoSetuidFixup | SecbitKeepCaps | SecbitNoCapAmbientRaise
	secureAllLocks = secureAllBits << 1
)

// SetSecurebits is prctl(PR_SET_SECUREBITS), as cap_task_prctl: EPERM to change a
// locked bit, to clear a lock, to set an unknown bit, or without CAP_SETPCAP.
func (t *Task) SetSecurebits(bits uintptr) error {
	o := t.Creds
	old := uintptr(o.Securebits)
	if (old&secureAllLocks)>>1&(old^bits) != 0 || old&secureAllLocks&^bits != 0 ||
		bits&^(secureAllLocks|secureAllBits) != 0 || !o.HasCap(vfs.CapSetpcap) {
		return unix.EPERM
	}
	n := o.Copy()
	n.Securebits = uint32(bits)
	t.commitCreds(n)
	return nil
}

// DropBounding removes cap from t's bounding set (PR_CAPBSET_DROP, checked by the
// caller).
func (t *Task) DropBounding(cap int) {
	n := t.Creds.Copy()
	n.Bounding &^= 1 << cap
	t.commitCreds(n)
}

// ClearAmbient empties t's ambient set (PR_CAP_AMBIENT_CLEAR_ALL).
func (t *Task) ClearAmbient() {
	n := t.Creds.Copy()
	n.Ambient = 0
	t.commitCreds(n)
}

// SetAmbient raises or lowers cap in t's ambient set (PR_CAP_AMBIENT_RAISE, _LOWER):
// raising needs cap permitted and inheritable, and SECBIT_NO_CAP_AMBIENT_RAISE clear
// (EPERM).
func (t *Task) SetAmbient(cap int, raise bool) error {
	o := t.Creds
	if raise && (o.Permitted&o.Inheritable>>cap&1 == 0 || o.Securebits&SecbitNoCapAmbientRaise != 0) {
		return unix.EPERM
	}
	n := o.Copy()
	if raise {
		n.Ambient |= 1 << cap
	} else {
		n.Ambient &^= 1 << cap
	}
	t.commitCreds(n)
	return nil
}
