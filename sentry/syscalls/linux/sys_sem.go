package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Semget implements semget(2).
func Semget(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, err := t.SemGet(int32(a[0]), int32(a[1]), uintptr(int32(a[2])))
	return uintptr(id), err
}

// Semop implements semop(2).
func Semop(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, semtimedop(t, int32(a[0]), a[1], a[2], nil)
}

// Semtimedop implements semtimedop(2).
func Semtimedop(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[3] == 0 {
		return 0, semtimedop(t, int32(a[0]), a[1], a[2], nil)
	}
	var ts unix.Timespec
	if err := t.CopyInObj(a[3], &ts); err != nil {
		return 0, unix.EFAULT
	}
	return 0, semtimedop(t, int32(a[0]), a[1], a[2], &ts)
}

// semtimedop is ipc/sem.c:do_semtimedop's argument checks, in its order.
func semtimedop(t *kernel.Task, id int32, sopsAddr, nsops uintptr, ts *unix.Timespec) error {
	if int(nsops) < 1 || id < 0 {
		return unix.EINVAL
	}
	if nsops > linux.SEMOPM {
		return unix.E2BIG
	}
	sops := make([]linux.Sembuf, nsops)
	buf := make([]byte, binary.Size(sops))
	if _, err := t.MM.CopyIn(sopsAddr, buf); err != nil {
		return unix.EFAULT
	}
	for i := range sops {
		b := buf[i*6:]
		sops[i] = linux.Sembuf{Num: binary.LittleEndian.Uint16(b), Op: int16(binary.LittleEndian.Uint16(b[2:])),
			Flg: int16(binary.LittleEndian.Uint16(b[4:]))}
	}
	var deadline time.Time
	if ts != nil {
		if !timespecValid(*ts) {
			return unix.EINVAL
		}
		deadline = time.Now().Add(time.Duration(ts.Nano()))
	}
	return t.SemOp(id, sops, deadline)
}

// Semctl implements semctl(2), as ipc/sem.c:ksys_semctl. The fourth argument is the
// union semun, passed by value: an int for SETVAL, a pointer otherwise.
func Semctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, num, cmd, arg := int32(a[0]), int32(a[1]), int32(a[2]), a[3]
	if id < 0 {
		return 0, unix.EINVAL
	}
	switch cmd {
	case linux.IPC_INFO, linux.SEM_INFO:
		info, maxIdx := t.SemInfo(cmd == linux.SEM_INFO)
		return ipcInfoOut(t, arg, &info, maxIdx)
	case unix.IPC_STAT, linux.SEM_STAT, linux.SEM_STAT_ANY:
		ds, sid, err := t.SemStat(id, cmd != unix.IPC_STAT, cmd == linux.SEM_STAT_ANY)
		return ipcStatOut(t, arg, cmd == unix.IPC_STAT, &ds, sid, err)
	case linux.GETALL:
		vals, err := t.SemGetAll(id)
		if err != nil {
			return 0, err
		}
		if err := t.CopyOutObj(arg, vals); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case linux.SETALL:
		n, err := t.SemCount(id, 0o222)
		if err != nil {
			return 0, err
		}
		vals := make([]uint16, n)
		if err := t.CopyInObj(arg, vals); err != nil {
			return 0, unix.EFAULT
		}
		return 0, t.SemSetAll(id, vals)
	case linux.GETVAL, linux.GETPID, linux.GETNCNT, linux.GETZCNT:
		v, err := t.SemGet1(id, num, cmd)
		return uintptr(v), err
	case linux.SETVAL:
		return 0, t.SemSetVal(id, num, int32(arg))
	case unix.IPC_SET:
		var ds linux.SemidDS
		if err := t.CopyInObj(arg, &ds); err != nil {
			return 0, unix.EFAULT
		}
		return 0, t.SemSet(id, ds.Perm.UID, ds.Perm.GID, ds.Perm.Mode)
	case unix.IPC_RMID:
		return 0, t.SemRemove(id)
	}
	return 0, unix.EINVAL
}
