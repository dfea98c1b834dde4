package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Shmget implements shmget(2).
func Shmget(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, err := t.ShmGet(int32(a[0]), uint64(a[1]), uintptr(int32(a[2])))
	return uintptr(id), err
}

// Shmat implements shmat(2).
func Shmat(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return t.ShmAt(int32(a[0]), a[1], uintptr(int32(a[2])))
}

// Shmdt implements shmdt(2).
func Shmdt(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.ShmDt(a[0])
}

// Shmctl implements shmctl(2), as ipc/shm.c:ksys_shmctl. On x86-64 the command has no
// IPC_64 bit (the ABI has only the 64-bit structures), so a command with it is unknown.
func Shmctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, cmd, buf := int32(a[0]), int32(a[1]), a[2]
	if cmd < 0 || id < 0 {
		return 0, unix.EINVAL
	}
	switch cmd {
	case linux.IPC_INFO:
		info := linux.ShmInfo64{Shmmax: linux.SHMMAX, Shmmin: linux.SHMMIN, Shmmni: linux.SHMMNI,
			Shmseg: linux.SHMMNI, Shmall: linux.SHMALL}
		return ipcInfoOut(t, buf, &info, t.ShmMaxIndex())
	case linux.SHM_INFO:
		info, maxIdx := t.ShmInfo()
		return ipcInfoOut(t, buf, &info, maxIdx)
	case unix.IPC_STAT, linux.SHM_STAT, linux.SHM_STAT_ANY:
		ds, sid, err := t.ShmStat(id, cmd != unix.IPC_STAT, cmd == linux.SHM_STAT_ANY)
		return ipcStatOut(t, buf, cmd == unix.IPC_STAT, &ds, sid, err)
	case unix.IPC_SET:
		var ds linux.ShmidDS
		if err := t.CopyInObj(buf, &ds); err != nil {
			return 0, unix.EFAULT
		}
		return 0, t.ShmSet(id, ds.Perm.UID, ds.Perm.GID, ds.Perm.Mode)
	case unix.IPC_RMID:
		return 0, t.ShmRemove(id)
	case linux.SHM_LOCK, linux.SHM_UNLOCK:
		return 0, t.ShmLock(id, cmd == linux.SHM_LOCK)
	}
	return 0, unix.EINVAL
}

// ipcInfoOut copies out an IPC_INFO-like result and returns the highest index in use,
// for shmctl, semctl and msgctl.
func ipcInfoOut(t *kernel.Task, buf uintptr, info any, maxIdx int32) (uintptr, error) {
	if err := t.CopyOutObj(buf, info); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(maxIdx), nil
}

// ipcStatOut copies out the result of an IPC_STAT-like command (ds, or err) and returns
// 0 for IPC_STAT, the object's identifier for the *_STAT commands that take an index.
func ipcStatOut(t *kernel.Task, buf uintptr, ipcStat bool, ds any, id int32, err error) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	if err := t.CopyOutObj(buf, ds); err != nil {
		return 0, unix.EFAULT
	}
	if ipcStat {
		return 0, nil
	}
	return uintptr(id), nil
}
