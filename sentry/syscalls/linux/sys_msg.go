package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Msgget implements msgget(2).
func Msgget(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, err := t.MsgGet(int32(a[0]), uintptr(int32(a[1])))
	return uintptr(id), err
}

// Msgsnd implements msgsnd(2), in the order of ksys_msgsnd and do_msgsnd: the type is
// read first, then the size, identifier and type are checked, then the text is read.
func Msgsnd(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, addr, size, flag := int32(a[0]), a[1], a[2], uintptr(int32(a[3]))
	var typ int64
	if err := t.CopyInObj(addr, &typ); err != nil {
		return 0, unix.EFAULT
	}
	if size > linux.MSGMAX || id < 0 {
		return 0, unix.EINVAL
	}
	if typ < 1 {
		return 0, unix.EINVAL
	}
	text := make([]byte, size)
	if _, err := t.MM.CopyIn(addr+8, text); err != nil {
		return 0, unix.EFAULT
	}
	return 0, t.MsgSnd(id, typ, text, flag)
}

// Msgrcv implements msgrcv(2) (do_msgrcv). MSG_COPY is for checkpoint/restore, which
// Linux builds without by default; it then fails as here, with ENOSYS.
func Msgrcv(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, addr, size, typ, flag := int32(a[0]), a[1], a[2], int64(a[3]), uintptr(int32(a[4]))
	if id < 0 || int64(size) < 0 {
		return 0, unix.EINVAL
	}
	if flag&linux.MSG_COPY != 0 {
		if flag&linux.MSG_EXCEPT != 0 || flag&unix.IPC_NOWAIT == 0 {
			return 0, unix.EINVAL
		}
		return 0, unsupported(t, "msgrcv with MSG_COPY")
	}
	mtype, text, err := t.MsgRcv(id, uint64(size), typ, flag)
	if err != nil {
		return 0, err
	}
	if err := t.CopyOutObj(addr, mtype); err != nil {
		return 0, unix.EFAULT
	}
	if _, err := t.MM.CopyOut(addr+8, text); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(text)), nil
}

// Msgctl implements msgctl(2), as ipc/msg.c:ksys_msgctl.
func Msgctl(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	id, cmd, buf := int32(a[0]), int32(a[1]), a[2]
	if id < 0 || cmd < 0 {
		return 0, unix.EINVAL
	}
	switch cmd {
	case linux.IPC_INFO, linux.MSG_INFO:
		info, maxIdx := t.MsgInfo(cmd == linux.MSG_INFO)
		return ipcInfoOut(t, buf, &info, maxIdx)
	case unix.IPC_STAT, linux.MSG_STAT, linux.MSG_STAT_ANY:
		ds, qid, err := t.MsgStat(id, cmd != unix.IPC_STAT, cmd == linux.MSG_STAT_ANY)
		return ipcStatOut(t, buf, cmd == unix.IPC_STAT, &ds, qid, err)
	case unix.IPC_SET:
		var ds linux.MsqidDS
		if err := t.CopyInObj(buf, &ds); err != nil {
			return 0, unix.EFAULT
		}
		return 0, t.MsgSet(id, ds.Perm.UID, ds.Perm.GID, ds.Perm.Mode, ds.Qbytes)
	case unix.IPC_RMID:
		return 0, t.MsgRemove(id)
	}
	return 0, unix.EINVAL
}
