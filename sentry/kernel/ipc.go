package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// SysV IPC (ipc/util.c): shared memory segments (shm.go) and semaphore sets (sem.go),
// each kind a table of objects named by a key and an identifier, with an owner, a
// creator and a mode checked as ipcperms does. The sandbox has one IPC namespace, the
// kernel's.
//
// An identifier is the object's index in its table plus its sequence number times
// ipcMNI, as Linux's ipc_buildid: a removed object's identifier does not name the next
// object made at its index.
//
// Lock order: the memory manager's, then ipcTable.mu (one kind's): unmapping a segment
// drops its attach count under the former. shmat looks the segment up, unlocks the
// table, and maps it.

const (
	ipcMNI    = 32768 // IPCMNI: how far apart the identifiers of one index are
	ipcSeqMax = 1<<31/ipcMNI - 1
)

// ipcPerm is an object's kern_ipc_perm.
type ipcPerm struct {
	key                  int32
	uid, gid, cuid, cgid uint32
	mode                 uint32 // the low 9 bits are the permissions; the rest, kind flags
	seq                  uint16
	id                   int32
	ctime                time.Time
}

func newIPCPerm(c *vfs.Credentials, key int32, flag uintptr) ipcPerm {
	return ipcPerm{key: key, uid: c.EffectiveUID, cuid: c.EffectiveUID, gid: c.EffectiveGID,
		cgid: c.EffectiveGID, mode: uint32(flag) & 0o777, ctime: time.Now()}
}

// permits reports whether c may access p as flag asks (its 0o777 bits, or S_IRUGO,
// S_IWUGO), as ipc/util.c:ipcperms: the owner's or creator's bits, else the group's,
// else the others', unless c has CAP_IPC_OWNER.
func (p *ipcPerm) permits(c *vfs.Credentials, flag uint32) bool {
	requested := (flag >> 6) | (flag >> 3) | flag
	granted := p.mode
	if c.EffectiveUID == p.cuid || c.EffectiveUID == p.uid {
		granted >>= 6
	} else if c.InGroup(p.cgid) || c.InGroup(p.gid) { // in_group_p: the fsgid
		granted >>= 3
	}
	return requested&^granted&0o7 == 0 || c.HasCap(unix.CAP_IPC_OWNER)
}

// mayChange reports whether c may IPC_SET or IPC_RMID p, as ipcctl_obtain_check: its
// owner or creator, or CAP_SYS_ADMIN.
func (p *ipcPerm) mayChange(c *vfs.Credentials) bool {
	return c.EffectiveUID == p.cuid || c.EffectiveUID == p.uid || c.HasCap(vfs.CapSysAdmin)
}

// set applies IPC_SET's owner and mode, as ipc_update_perm.
func (p *ipcPerm) set(uid, gid, mode uint32) {
	p.uid, p.gid = uid, gid
	p.mode = p.mode&^0o777 | mode&0o777
	p.ctime = time.Now()
}

// stat is the ipc64_perm of an object for IPC_STAT.
func (p *ipcPerm) stat() linux.IPC64Perm {
	return linux.IPC64Perm{Key: p.key, UID: p.uid, GID: p.gid, CUID: p.cuid, CGID: p.cgid,
		Mode: p.mode, Seq: p.seq}
}

// ipcObject is what an ipcTable holds.
type ipcObject interface {
	perm() *ipcPerm
}

// ipcTable is one kind's objects, by index.
type ipcTable[T ipcObject] struct {
	mu   sync.Mutex
	objs map[int32]T // by index
	seq  uint16
}

// findKey returns the object with key (not IPC_PRIVATE).
func (t *ipcTable[T]) findKey(key int32) (T, bool) {
	for _, o := range t.objs {
		if o.perm().key == key {
			return o, true
		}
	}
	var zero T
	return zero, false
}

// lookup returns the object id names: EINVAL if none (ipc_obtain_object_check).
func (t *ipcTable[T]) lookup(id int32) (T, error) {
	var zero T
	if id < 0 {
		return zero, unix.EINVAL
	}
	o, ok := t.objs[id%ipcMNI]
	if !ok || o.perm().id != id {
		return zero, unix.EINVAL
	}
	return o, nil
}

// lookupToChange returns the object id names if c may change it (IPC_SET, IPC_RMID),
// as ipcctl_obtain_check: EINVAL if there is none, EPERM if c may not.
func (t *ipcTable[T]) lookupToChange(c *vfs.Credentials, id int32) (T, error) {
	o, err := t.lookup(id)
	if err == nil && !o.perm().mayChange(c) {
		err = unix.EPERM
	}
	return o, err
}

// lookupToStat returns the object IPC_STAT (id is an identifier) or *_STAT and
// *_STAT_ANY (byIndex: id is an index) read, checking c's read access unless anyAccess.
func (t *ipcTable[T]) lookupToStat(c *vfs.Credentials, id int32, byIndex, anyAccess bool) (T, error) {
	var o T
	if byIndex {
		var ok bool
		if o, ok = t.byIndex(id); !ok {
			return o, unix.EINVAL
		}
	} else {
		var err error
		if o, err = t.lookup(id); err != nil {
			return o, err
		}
	}
	if !anyAccess && !o.perm().permits(c, 0o444) {
		return o, unix.EACCES
	}
	return o, nil
}

// ipcSet implements IPC_SET for an object of t.
func ipcSet[T ipcObject](t *ipcTable[T], c *vfs.Credentials, id int32, uid, gid, mode uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.lookupToChange(c, id)
	if err != nil {
		return err
	}
	o.perm().set(uid, gid, mode)
	return nil
}

// add gives o the lowest free index and the next sequence number, and returns its
// identifier: ENOSPC when all mni indices are used.
func (t *ipcTable[T]) add(o T, mni int32) (int32, error) {
	if t.objs == nil {
		t.objs = map[int32]T{}
	}
	idx := int32(0)
	for ; idx < mni; idx++ {
		if _, used := t.objs[idx]; !used {
			break
		}
	}
	if idx == mni {
		return 0, unix.ENOSPC
	}
	p := o.perm()
	p.seq = t.seq
	if t.seq++; t.seq > ipcSeqMax {
		t.seq = 0
	}
	p.id = int32(p.seq)*ipcMNI + idx
	t.objs[idx] = o
	return p.id, nil
}

func (t *ipcTable[T]) remove(o T) { delete(t.objs, o.perm().id%ipcMNI) }

// maxIndex is the highest index in use, or 0 with none (ipc_get_maxidx, as IPC_INFO
// returns it).
func (t *ipcTable[T]) maxIndex() int32 {
	m := int32(0)
	for idx := range t.objs {
		m = max(m, idx)
	}
	return m
}

// byIndex returns the object at index idx (SHM_STAT and friends).
func (t *ipcTable[T]) byIndex(idx int32) (T, bool) {
	o, ok := t.objs[idx]
	return o, ok
}

// ipcGet is ipcget: IPC_PRIVATE always makes a new object; otherwise the object with
// key is returned after its checks (EEXIST with IPC_CREAT|IPC_EXCL, then more's, then
// access as flag asks), or made with IPC_CREAT (ENOENT without). The table is locked.
func ipcGet[T ipcObject](t *ipcTable[T], c *vfs.Credentials, key int32, flag uintptr,
	more func(T) error, make func() (int32, error)) (int32, error) {
	if key == unix.IPC_PRIVATE {
		return make()
	}
	o, ok := t.findKey(key)
	if !ok {
		if flag&unix.IPC_CREAT == 0 {
			return 0, unix.ENOENT
		}
		return make()
	}
	if flag&unix.IPC_CREAT != 0 && flag&unix.IPC_EXCL != 0 {
		return 0, unix.EEXIST
	}
	if more != nil {
		if err := more(o); err != nil {
			return 0, err
		}
	}
	if !o.perm().permits(c, uint32(flag)) {
		return 0, unix.EACCES
	}
	return o.perm().id, nil
}
