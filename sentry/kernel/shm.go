package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/mm"
)

// SysV shared memory (ipc/shm.c). A segment's bytes are an mm.Shared object that the
// table holds a reference to until the segment is destroyed. shmat maps the segment
// itself (it is an mm.Mappable): each VMA attached holds an attach (shm_nattch counts
// VMAs, as Linux's shm_open and shm_close do on map, split, fork and unmap), so forked
// children share their parent's attachments, and exec and exit detach them. IPC_RMID
// destroys a segment at once if nothing is attached, else marks it SHM_DEST, makes its
// key private and destroys it at the last detach.
//
// Divergence: shm_lpid and shm_dtime change at shmat and shmdt only, not when an exit,
// exec or munmap drops an attachment.

// shmSegment is one segment (struct shmid_kernel).
type shmSegment struct {
	k      *Kernel
	ipc    ipcPerm
	mem    *mm.Shared
	size   uint64 // shm_segsz, as asked for
	atime  time.Time
	dtime  time.Time
	cpid   int32
	lpid   int32
	nattch int64 // guarded by k.shm.mu
}

func (s *shmSegment) perm() *ipcPerm { return &s.ipc }

// IncRef implements mm.Mappable: a VMA attaches.
func (s *shmSegment) IncRef() {
	s.k.shm.mu.Lock()
	defer s.k.shm.mu.Unlock()
	s.nattch++
}

// DecRef implements mm.Mappable: a VMA detaches; the last detach of a removed segment
// destroys it.
func (s *shmSegment) DecRef() {
	s.k.shm.mu.Lock()
	defer s.k.shm.mu.Unlock()
	s.nattch--
	if s.nattch == 0 && s.ipc.mode&linux.SHM_DEST != 0 {
		s.destroyLocked()
	}
}

// Page implements mm.Mappable.
func (s *shmSegment) Page(off uint64) (platform.FileRange, error) { return s.mem.Page(off) }

// destroyLocked removes the segment from the table and frees its pages (shm_destroy).
func (s *shmSegment) destroyLocked() {
	s.k.shm.remove(s)
	s.k.shmTot -= (s.size + platform.PageSize - 1) / platform.PageSize
	s.mem.DecRef()
}

// ShmGet implements shmget(2).
func (t *Task) ShmGet(key int32, size uint64, flag uintptr) (int32, error) {
	k := t.k
	k.shm.mu.Lock()
	defer k.shm.mu.Unlock()
	more := func(s *shmSegment) error {
		if s.size < size {
			return unix.EINVAL // shm_more_checks
		}
		return nil
	}
	return ipcGet(&k.shm, t.Creds, key, flag, more, func() (int32, error) {
		// As newseg.
		if size < linux.SHMMIN || size > linux.SHMMAX {
			return 0, unix.EINVAL
		}
		pages := (size + platform.PageSize - 1) / platform.PageSize
		if pages*platform.PageSize < size || k.shmTot+pages < k.shmTot || k.shmTot+pages > linux.SHMALL {
			return 0, unix.ENOSPC
		}
		s := &shmSegment{k: k, ipc: newIPCPerm(t.Creds, key, flag), size: size, cpid: t.Proc.PID,
			mem: mm.NewShared(k.MemFile, size)}
		id, err := k.shm.add(s, linux.SHMMNI)
		if err != nil {
			s.mem.DecRef()
			return 0, err
		}
		k.shmTot += pages
		return id, nil
	})
}

// ShmAt implements shmat(2), in the order of do_shmat.
func (t *Task) ShmAt(id int32, addr uintptr, flag uintptr) (uintptr, error) {
	if id < 0 {
		return 0, unix.EINVAL
	}
	fixed := false
	if addr != 0 {
		if addr%linux.SHMLBA != 0 {
			if flag&unix.SHM_RND == 0 {
				return 0, unix.EINVAL
			}
			addr &^= linux.SHMLBA - 1
			if addr == 0 && flag&linux.SHM_REMAP != 0 {
				return 0, unix.EINVAL
			}
		}
		fixed = true
	} else if flag&linux.SHM_REMAP != 0 {
		return 0, unix.EINVAL
	}
	perms := platform.ReadWrite
	acc := uint32(0o444 | 0o222)
	if flag&unix.SHM_RDONLY != 0 {
		perms, acc = platform.Read, 0o444
	}
	if flag&linux.SHM_EXEC != 0 {
		perms.Execute = true
		acc |= 0o111
	}
	k := t.k
	k.shm.mu.Lock()
	s, err := k.shm.lookup(id)
	if err != nil {
		k.shm.mu.Unlock()
		return 0, err
	}
	if !s.ipc.permits(t.Creds, acc) {
		k.shm.mu.Unlock()
		return 0, unix.EACCES
	}
	// Hold an attach while mapping without the table's lock (the lock order), so an
	// IPC_RMID meanwhile can't destroy the segment.
	s.nattch++
	size := s.size
	k.shm.mu.Unlock()
	defer s.DecRef()
	if fixed && flag&linux.SHM_REMAP == 0 {
		if addr+uintptr(size) < addr {
			return 0, unix.EINVAL
		}
		if t.MM.Overlaps(addr, uintptr(size)) {
			return 0, unix.EINVAL
		}
	}
	a, err := t.MM.MMap(mm.MMapOpts{Addr: addr, Length: uintptr(size), Perms: perms, NoWrite: !perms.Write,
		Fixed: fixed, Shared: s, SysV: true, Offset: 0, Name: sysvName(s.ipc.key)})
	if err != nil {
		return 0, err
	}
	k.shm.mu.Lock()
	s.atime, s.lpid = time.Now(), t.Proc.PID
	k.shm.mu.Unlock()
	return a, nil
}

// sysvName is what /proc/PID/maps names an attachment: the segment's file in Linux's
// internal shm mount.
func sysvName(key int32) string {
	const digits = "0123456789abcdef"
	b := []byte("/SYSV00000000 (deleted)")
	for i, k := 12, uint32(key); i >= 5; i, k = i-1, k>>4 {
		b[i] = digits[k&0xf]
	}
	return string(b)
}

// ShmDt implements shmdt(2).
func (t *Task) ShmDt(addr uintptr) error {
	var seg *shmSegment
	err := t.MM.DetachSysV(addr, func(m mm.Mappable) uint64 {
		seg = m.(*shmSegment)
		return seg.size
	})
	if err == nil {
		t.k.shm.mu.Lock()
		seg.dtime, seg.lpid = time.Now(), t.Proc.PID
		t.k.shm.mu.Unlock()
	}
	return err
}

// ShmStat is a segment's shmid64_ds, for IPC_STAT, SHM_STAT and SHM_STAT_ANY. With
// byIndex, id is an index and the segment's identifier is returned.
// The creator's and last operator's PIDs are kept as the root namespace's and given
// in t's PID namespace (0 for a process outside it).
func (t *Task) ShmStat(id int32, byIndex, anyAccess bool) (linux.ShmidDS, int32, error) {
	ds, sid, err := t.shmStat(id, byIndex, anyAccess)
	if err == nil {
		ds.Cpid, ds.Lpid = t.Proc.ns.IDOfRoot(ds.Cpid), t.Proc.ns.IDOfRoot(ds.Lpid)
	}
	return ds, sid, err
}

// shmStat is ShmStat, the PIDs untranslated.
func (t *Task) shmStat(id int32, byIndex, anyAccess bool) (linux.ShmidDS, int32, error) {
	k := t.k
	k.shm.mu.Lock()
	defer k.shm.mu.Unlock()
	s, err := k.shm.lookupToStat(t.Creds, id, byIndex, anyAccess)
	if err != nil {
		return linux.ShmidDS{}, 0, err
	}
	return linux.ShmidDS{Perm: s.ipc.stat(), Segsz: s.size, Atime: unixTime(s.atime),
		Dtime: unixTime(s.dtime), Ctime: unixTime(s.ipc.ctime), Cpid: s.cpid, Lpid: s.lpid,
		Nattch: uint64(s.nattch)}, s.ipc.id, nil
}

func unixTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// ShmSet implements IPC_SET.
func (t *Task) ShmSet(id int32, uid, gid, mode uint32) error {
	return ipcSet(&t.k.shm, t.Creds, id, uid, gid, mode)
}

// ShmRemove implements IPC_RMID (do_shm_rmid).
func (t *Task) ShmRemove(id int32) error {
	k := t.k
	k.shm.mu.Lock()
	defer k.shm.mu.Unlock()
	s, err := k.shm.lookupToChange(t.Creds, id)
	if err != nil {
		return err
	}
	if s.nattch > 0 {
		s.ipc.mode |= linux.SHM_DEST
		s.ipc.key = unix.IPC_PRIVATE
		return nil
	}
	s.destroyLocked()
	return nil
}

// ShmLock implements SHM_LOCK and SHM_UNLOCK (shmctl_do_lock): the owner, creator or
// CAP_IPC_LOCK may; locking needs a RLIMIT_MEMLOCK above zero without the capability.
// Memory is never swapped here, so only the SHM_LOCKED flag changes.
func (t *Task) ShmLock(id int32, lock bool) error {
	k := t.k
	k.shm.mu.Lock()
	defer k.shm.mu.Unlock()
	s, err := k.shm.lookup(id)
	if err != nil {
		return err
	}
	if !t.Creds.HasCap(unix.CAP_IPC_LOCK) {
		if t.Creds.EffectiveUID != s.ipc.uid && t.Creds.EffectiveUID != s.ipc.cuid {
			return unix.EPERM
		}
		if lock && t.Limits[unix.RLIMIT_MEMLOCK].Cur == 0 {
			return unix.EPERM
		}
	}
	if lock {
		s.ipc.mode |= linux.SHM_LOCKED
	} else {
		s.ipc.mode &^= linux.SHM_LOCKED
	}
	return nil
}

// ShmInfo returns SHM_INFO's figures and the highest index in use.
func (t *Task) ShmInfo() (linux.ShmInfo, int32) {
	k := t.k
	k.shm.mu.Lock()
	defer k.shm.mu.Unlock()
	info := linux.ShmInfo{UsedIDs: int32(len(k.shm.objs)), ShmTot: k.shmTot}
	for _, s := range k.shm.objs {
		info.ShmRss += s.mem.Resident() / platform.PageSize
	}
	return info, k.shm.maxIndex()
}

// ShmMaxIndex is the highest index in use (IPC_INFO's result).
func (t *Task) ShmMaxIndex() int32 {
	t.k.shm.mu.Lock()
	defer t.k.shm.mu.Unlock()
	return t.k.shm.maxIndex()
}
