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
//
// Only t replaces its credentials, so t reads its own without a lock; other tasks read
// them (and PdeathSig) under k.mu, which guards the replacement.
func (t *Task) commitCreds(n *vfs.Credentials) {
	o := t.Creds
	n.Caller = t.TID
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if o.EffectiveUID != n.EffectiveUID || o.EffectiveGID != n.EffectiveGID ||
		o.UID != n.UID || o.GID != n.GID || n.Permitted&^o.Permitted != 0 {
		t.Undumpable = true
		t.PdeathSig = 0
	}
	t.Creds = n
}

// SetPdeathSig sets the signal t gets when its parent thread exits (PR_SET_PDEATHSIG).
func (t *Task) SetPdeathSig(sig unix.Signal) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.PdeathSig = sig
}

// credsOf returns another task's credentials.
func (t *Task) credsOf(target *Task) *vfs.Credentials {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return target.Creds
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

// IDKind is which IDs a set*id call changes: the users' or the groups'.
type IDKind int

// The kinds of IDs.
const (
	UserIDs IDKind = iota
	GroupIDs
)

// idSet points at the four IDs of one kind in a Credentials, with the capability that
// lets a task set them freely.
type idSet struct {
	real, eff, saved, fs *uint32
	cap                  int
}

func (k IDKind) of(c *vfs.Credentials) idSet {
	if k == UserIDs {
		return idSet{&c.RealUID, &c.EffectiveUID, &c.SavedUID, &c.UID, vfs.CapSetuid}
	}
	return idSet{&c.RealGID, &c.EffectiveGID, &c.SavedGID, &c.GID, vfs.CapSetgid}
}

// commitIDs installs n after a change of o's IDs of kind k; a change of users adjusts
// the capabilities first (fixSetuid).
func (t *Task) commitIDs(k IDKind, n, o *vfs.Credentials) {
	if k == UserIDs {
		fixSetuid(n, o)
	}
	t.commitCreds(n)
}

// SetID is setuid(2) and setgid(2): with CAP_SETUID (CAP_SETGID) the real, effective,
// saved and filesystem IDs all become id; otherwise the effective and filesystem ones,
// if id is the real or saved one (EPERM). -1 is EINVAL.
func (t *Task) SetID(k IDKind, id uint32) error {
	if id == noID {
		return unix.EINVAL
	}
	o := t.Creds
	n := o.Copy()
	old, ids := k.of(o), k.of(n)
	if o.HasCap(old.cap) {
		*ids.real, *ids.saved = id, id
	} else if id != *old.real && id != *old.saved {
		return unix.EPERM
	}
	*ids.eff, *ids.fs = id, id
	t.commitIDs(k, n, o)
	return nil
}

// SetREID is setreuid(2) and setregid(2): the real ID may become the real or effective
// one, the effective ID the real, effective or saved one, anything with the capability;
// the saved ID follows the effective one if the real one was set or the effective one
// changed to other than the old real one.
func (t *Task) SetREID(k IDKind, rid, eid uint32) error {
	o := t.Creds
	n := o.Copy()
	old, ids := k.of(o), k.of(n)
	priv := o.HasCap(old.cap)
	if rid != noID {
		*ids.real = rid
		if rid != *old.real && rid != *old.eff && !priv {
			return unix.EPERM
		}
	}
	if eid != noID {
		*ids.eff = eid
		if eid != *old.real && eid != *old.eff && eid != *old.saved && !priv {
			return unix.EPERM
		}
	}
	if rid != noID || eid != noID && eid != *old.real {
		*ids.saved = *ids.eff
	}
	*ids.fs = *ids.eff
	t.commitIDs(k, n, o)
	return nil
}

// SetRESID is setresuid(2) and setresgid(2): each ID not -1 is set; without the
// capability each must be one of the current real, effective and saved IDs (EPERM).
// The filesystem ID follows the effective one. A call that changes nothing succeeds
// at once.
func (t *Task) SetRESID(k IDKind, rid, eid, sid uint32) error {
	o := t.Creds
	old := k.of(o)
	if (rid == noID || rid == *old.real) && (eid == noID || eid == *old.eff && eid == *old.fs) &&
		(sid == noID || sid == *old.saved) {
		return nil
	}
	if !o.HasCap(old.cap) {
		for _, id := range [3]uint32{rid, eid, sid} {
			if id != noID && id != *old.real && id != *old.eff && id != *old.saved {
				return unix.EPERM
			}
		}
	}
	n := o.Copy()
	ids := k.of(n)
	for _, p := range [3]struct {
		dst *uint32
		v   uint32
	}{{ids.real, rid}, {ids.eff, eid}, {ids.saved, sid}} {
		if p.v != noID {
			*p.dst = p.v
		}
	}
	*ids.fs = *ids.eff
	t.commitIDs(k, n, o)
	return nil
}

// SetFSID is setfsuid(2) and setfsgid(2): it returns the old filesystem ID and changes
// it to id if id is the real, effective, saved or filesystem ID, or with the
// capability. For users, leaving filesystem root drops the filesystem capabilities
// from the effective set and becoming it raises the permitted ones
// (cap_task_fix_setuid's LSM_SETID_FS).
func (t *Task) SetFSID(k IDKind, id uint32) uint32 {
	o := t.Creds
	old := k.of(o)
	prev := *old.fs
	if id == noID || id == prev {
		return prev
	}
	if id != *old.real && id != *old.eff && id != *old.saved && !o.HasCap(old.cap) {
		return prev
	}
	n := o.Copy()
	*k.of(n).fs = id
	if k == UserIDs && o.Securebits&SecbitNoSetuidFixup == 0 {
		if prev == 0 && id != 0 {
			n.Caps &^= capFSSet
		}
		if prev != 0 && id == 0 {
			n.Caps |= n.Permitted & capFSSet
		}
	}
	t.commitCreds(n)
	return prev
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
	if tid != 0 && tid != t.ThreadID() {
		if target = t.Proc.ns.TaskWithID(tid); target == nil {
			return CapSets{}, unix.ESRCH
		}
	}
	c := t.credsOf(target)
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

// execCreds computes the credentials a program runs with after exec of exe, and
// whether the exec raised privileges (AT_SECURE), as fs/exec.c:bprm_fill_uid and
// security/commoncap.c:cap_bprm_creds_from_file for a file without file capabilities:
//
//   - set-user-ID and set-group-ID bits (the latter only with group execute) make the
//     file's owner and group the effective IDs, unless its mount is nosuid or the task
//     has no_new_privs;
//   - the permitted set starts empty; for root (real or effective user 0,
//     SECBIT_NOROOT clear) it is the inheritable and bounding sets, and effective user
//     0 makes it effective;
//   - an exec that would raise privileges under no_new_privs keeps the real IDs and no
//     more capabilities than the task had (the set-ID bits are already ignored then;
//     this bounds root's rule);
//   - file capabilities (security.capability) are not read: there are no xattrs, so a
//     file has none; nor are a shared fs_struct or a tracer "unsafe" here;
//   - the saved and filesystem IDs become the effective ones; a set-ID exec clears the
//     ambient set; the ambient set joins the permitted one, and is the effective set
//     when root's rule did not make it all effective.
func (t *Task) execCreds(exe *Executable) (*vfs.Credentials, bool) {
	o := t.Creds
	n := o.Copy()
	if exe.SetIDAllowed && !t.NoNewPrivs {
		if exe.Mode&unix.S_ISUID != 0 {
			n.EffectiveUID = exe.UID
		}
		if exe.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
			n.EffectiveGID = exe.GID
		}
	}
	n.Permitted = 0
	effective := false
	if o.Securebits&SecbitNoroot == 0 && (n.RealUID == 0 || n.EffectiveUID == 0) {
		n.Permitted = o.Inheritable | o.Bounding
		effective = n.EffectiveUID == 0
	}
	isSetID := n.EffectiveUID != o.RealUID || n.EffectiveGID != o.RealGID
	gained := n.Permitted&^o.Permitted != 0
	if (isSetID || gained) && t.NoNewPrivs {
		// LSM_UNSAFE_NO_NEW_PRIVS: no more than the task had.
		n.EffectiveUID, n.EffectiveGID = n.RealUID, n.RealGID
		n.Permitted &= o.Permitted
	}
	n.SavedUID, n.UID = n.EffectiveUID, n.EffectiveUID
	n.SavedGID, n.GID = n.EffectiveGID, n.EffectiveGID
	if isSetID {
		n.Ambient = 0
	}
	n.Permitted |= n.Ambient
	if effective {
		n.Caps = n.Permitted
	} else {
		n.Caps = n.Ambient
	}
	n.Securebits &^= SecbitKeepCaps
	secure := isSetID || (n.RealUID != 0 && (effective || n.Permitted&^n.Ambient != 0))
	return n, secure
}

// commitExecCreds makes n, from execCreds, the task's credentials at exec. As
// begin_new_exec: the task is dumpable unless its real and effective IDs differ, and
// an exec that raised privileges (secure) clears the parent-death signal.
func (t *Task) commitExecCreds(n *vfs.Credentials, secure bool) {
	n.Caller = t.TID
	t.k.mu.Lock()
	t.Creds = n
	if secure {
		t.PdeathSig = 0
	}
	t.k.mu.Unlock()
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
	c, tc := t.Creds, t.credsOf(target)
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
// is t's real or effective one; CAP_KILL; or SIGCONT within t's session. k.mu is held.
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
