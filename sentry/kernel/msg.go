package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
)

// SysV message queues (ipc/msg.c). A queue holds typed messages up to q_qbytes bytes
// in all; msgsnd waits while the message does not fit, msgrcv while no message
// matches. Every change to a queue closes its changed channel (and makes a new one), so
// the tasks waiting on it retry; removal wakes them to find the queue gone (EIDRM). A
// signal interrupts the wait with ERESTARTNOHAND, as Linux: EINTR when a handler runs.

// msgMessage is one message.
type msgMessage struct {
	typ  int64
	text []byte
}

// msgQueue is one queue (struct msg_queue).
type msgQueue struct {
	ipc          ipcPerm
	msgs         []msgMessage
	cbytes       uint64
	qbytes       uint64
	stime, rtime time.Time
	lspid, lrpid int32
	removed      bool
	changed      chan struct{}
}

func (q *msgQueue) perm() *ipcPerm { return &q.ipc }

// changedLocked wakes the queue's waiters.
func (q *msgQueue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// MsgGet implements msgget(2).
func (t *Task) MsgGet(key int32, flag uintptr) (int32, error) {
	k := t.k
	k.msg.mu.Lock()
	defer k.msg.mu.Unlock()
	return ipcGet(&k.msg, t.Creds, key, flag, nil, func() (int32, error) {
		q := &msgQueue{ipc: newIPCPerm(t.Creds, key, flag), qbytes: linux.MSGMNB, changed: make(chan struct{})}
		return k.msg.add(q, linux.MSGMNI)
	})
}

// msgWait waits for q to change, or for the deadline-free interruption of a signal.
func (t *Task) msgWait(ch <-chan struct{}) error {
	t.SleepStart()
	defer t.SleepFinish()
	select {
	case <-ch:
		return nil
	case <-t.Interrupted():
		return ERESTARTNOHAND
	}
}

// MsgSnd implements msgsnd(2) once the message is copied in, as do_msgsnd's loop.
func (t *Task) MsgSnd(id int32, typ int64, text []byte, flag uintptr) error {
	k := t.k
	k.msg.mu.Lock()
	q, err := k.msg.lookup(id)
	if err != nil {
		k.msg.mu.Unlock()
		return err
	}
	for {
		if !q.ipc.permits(t.Creds, 0o222) {
			k.msg.mu.Unlock()
			return unix.EACCES
		}
		if q.removed {
			k.msg.mu.Unlock()
			return unix.EIDRM
		}
		// msg_fits_inqueue: the bytes, and the count of messages, within q_qbytes.
		if q.cbytes+uint64(len(text)) <= q.qbytes && uint64(len(q.msgs))+1 <= q.qbytes {
			break
		}
		if flag&unix.IPC_NOWAIT != 0 {
			k.msg.mu.Unlock()
			return unix.EAGAIN
		}
		ch := q.changed
		k.msg.mu.Unlock()
		if err := t.msgWait(ch); err != nil {
			return err
		}
		k.msg.mu.Lock()
	}
	q.msgs = append(q.msgs, msgMessage{typ: typ, text: text})
	q.cbytes += uint64(len(text))
	q.lspid, q.stime = t.Proc.PID, time.Now()
	q.changedLocked()
	k.msg.mu.Unlock()
	return nil
}

// msgFind returns the index of the message msgrcv takes (find_msg): the first of any
// type (typ 0), of type typ (or, with except, of another), or of the lowest type at
// most -typ.
func msgFind(msgs []msgMessage, typ int64, except bool) int {
	best := -1
	for i, m := range msgs {
		switch {
		case typ == 0:
			return i
		case typ > 0:
			if (m.typ == typ) != except {
				return i
			}
		default:
			if m.typ <= -typ && (best < 0 || m.typ < msgs[best].typ) {
				best = i
			}
		}
	}
	return best
}

// MsgRcv implements msgrcv(2) up to the copy-out, as do_msgrcv's loop: it returns the
// message's type and text, cut to size with MSG_NOERROR.
func (t *Task) MsgRcv(id int32, size uint64, typ int64, flag uintptr) (int64, []byte, error) {
	k := t.k
	k.msg.mu.Lock()
	q, err := k.msg.lookup(id)
	if err != nil {
		k.msg.mu.Unlock()
		return 0, nil, err
	}
	for {
		if !q.ipc.permits(t.Creds, 0o444) {
			k.msg.mu.Unlock()
			return 0, nil, unix.EACCES
		}
		if q.removed {
			k.msg.mu.Unlock()
			return 0, nil, unix.EIDRM
		}
		if i := msgFind(q.msgs, typ, flag&linux.MSG_EXCEPT != 0); i >= 0 {
			m := q.msgs[i]
			if uint64(len(m.text)) > size && flag&linux.MSG_NOERROR == 0 {
				k.msg.mu.Unlock()
				return 0, nil, unix.E2BIG
			}
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.cbytes -= uint64(len(m.text))
			q.lrpid, q.rtime = t.Proc.PID, time.Now()
			q.changedLocked()
			k.msg.mu.Unlock()
			return m.typ, m.text[:min(uint64(len(m.text)), size)], nil
		}
		if flag&unix.IPC_NOWAIT != 0 {
			k.msg.mu.Unlock()
			return 0, nil, unix.ENOMSG
		}
		ch := q.changed
		k.msg.mu.Unlock()
		if err := t.msgWait(ch); err != nil {
			return 0, nil, err
		}
		k.msg.mu.Lock()
	}
}

// MsgStat is a queue's msqid64_ds for IPC_STAT, MSG_STAT and MSG_STAT_ANY.
// The last sender's and receiver's PIDs are kept as the root namespace's and given in
// t's PID namespace (0 for a process outside it).
func (t *Task) MsgStat(id int32, byIndex, anyAccess bool) (linux.MsqidDS, int32, error) {
	ds, qid, err := t.msgStat(id, byIndex, anyAccess)
	if err == nil {
		ds.Lspid, ds.Lrpid = t.Proc.ns.IDOfRoot(ds.Lspid), t.Proc.ns.IDOfRoot(ds.Lrpid)
	}
	return ds, qid, err
}

// msgStat is MsgStat, the PIDs untranslated.
func (t *Task) msgStat(id int32, byIndex, anyAccess bool) (linux.MsqidDS, int32, error) {
	k := t.k
	k.msg.mu.Lock()
	defer k.msg.mu.Unlock()
	q, err := k.msg.lookupToStat(t.Creds, id, byIndex, anyAccess)
	if err != nil {
		return linux.MsqidDS{}, 0, err
	}
	return linux.MsqidDS{Perm: q.ipc.stat(), Stime: unixTime(q.stime), Rtime: unixTime(q.rtime),
		Ctime: unixTime(q.ipc.ctime), Cbytes: q.cbytes, Qnum: uint64(len(q.msgs)), Qbytes: q.qbytes,
		Lspid: q.lspid, Lrpid: q.lrpid}, q.ipc.id, nil
}

// MsgSet implements IPC_SET (msgctl_down): raising q_qbytes above MSGMNB needs
// CAP_SYS_RESOURCE.
func (t *Task) MsgSet(id int32, uid, gid, mode uint32, qbytes uint64) error {
	k := t.k
	k.msg.mu.Lock()
	defer k.msg.mu.Unlock()
	q, err := k.msg.lookupToChange(t.Creds, id)
	if err != nil {
		return err
	}
	if qbytes > linux.MSGMNB && !t.Creds.HasCap(unix.CAP_SYS_RESOURCE) {
		return unix.EPERM
	}
	q.qbytes = qbytes
	q.ipc.set(uid, gid, mode)
	q.changedLocked()
	return nil
}

// MsgRemove implements IPC_RMID (freeque): waiters wake with EIDRM.
func (t *Task) MsgRemove(id int32) error {
	k := t.k
	k.msg.mu.Lock()
	defer k.msg.mu.Unlock()
	q, err := k.msg.lookupToChange(t.Creds, id)
	if err != nil {
		return err
	}
	q.removed = true
	k.msg.remove(q)
	q.changedLocked()
	return nil
}

// MsgInfo returns IPC_INFO's (or, with usage, MSG_INFO's) figures and the highest
// index in use.
func (t *Task) MsgInfo(usage bool) (linux.Msginfo, int32) {
	k := t.k
	k.msg.mu.Lock()
	defer k.msg.mu.Unlock()
	info := linux.Msginfo{Msgpool: linux.MSGPOOL, Msgmap: linux.MSGMAP, Msgmax: linux.MSGMAX,
		Msgmnb: linux.MSGMNB, Msgmni: linux.MSGMNI, Msgssz: linux.MSGSSZ, Msgtql: linux.MSGTQL,
		Msgseg: linux.MSGSEG}
	if usage {
		// As msgctl_info: MSG_INFO reports the queues, messages and bytes in use.
		info.Msgpool, info.Msgmap, info.Msgtql = int32(len(k.msg.objs)), 0, 0
		for _, q := range k.msg.objs {
			info.Msgmap += int32(len(q.msgs))
			info.Msgtql += int32(q.cbytes)
		}
	}
	return info, k.msg.maxIndex()
}
