package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/fsimpl/mqueue"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// POSIX message queues (ipc/mqueue.c): the queues are sentry/fsimpl/mqueue's; here are
// the parts that need the task: opening and unlinking by name in the kernel's own mount
// of the filesystem, and notifications, which signal a process.

// SI_MESGQ is the si_code of a message queue's notification signal.
const SI_MESGQ = -3

// Mqueue is the IPC namespace's mqueue filesystem.
func (k *Kernel) Mqueue() *mqueue.FS { return k.mq }

// MqueueMount is the kernel's mount of the mqueue filesystem: a /dev/mqueue mount is
// made of it (vfs.NewMountOf), so that both see the same names.
func (k *Kernel) MqueueMount() *vfs.Mount { return k.mqMount }

// MqOpen opens (or with O_CREAT makes) the queue name, as do_mq_open once the name is
// checked: attr (nil for the defaults) is used if the queue is made. The description
// has oflag's access mode and O_NONBLOCK.
func (t *Task) MqOpen(name string, oflag int, mode uint32, attr *mqueue.Attr) (*vfs.FileDescription, error) {
	k := t.k
	k.mqMu.Lock()
	defer k.mqMu.Unlock()
	root := k.mqMount.Root()
	op := vfs.PathOp{Root: root, Start: root, Path: name}
	c := t.Caller()
	// prepare_open: for an existing queue, O_CREAT|O_EXCL is EEXIST, then an access
	// mode of 3 is EINVAL, then the access mode is checked.
	if _, err := k.VFS.StatAt(c, op, false); err == nil {
		if oflag&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
			return nil, unix.EEXIST
		}
		if oflag&unix.O_ACCMODE == unix.O_ACCMODE {
			return nil, unix.EINVAL
		}
	}
	c.CreateArg = &mqueue.Creator{Attr: attr, RealUID: t.Creds.RealUID,
		Limit: t.Limits[unix.RLIMIT_MSGQUEUE].Cur, SysResource: t.Creds.HasCap(vfs.CapSysResource)}
	// dentry_open keeps the flags but for the opening ones; it truncates nothing.
	flags := oflag &^ (unix.O_TRUNC | unix.O_PATH | unix.O_TMPFILE | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC)
	return k.VFS.OpenAt(c, op, flags, mode)
}

// MqUnlink removes the queue name (mq_unlink once the name is checked).
func (t *Task) MqUnlink(name string) error {
	k := t.k
	k.mqMu.Lock()
	defer k.mqMu.Unlock()
	root := k.mqMount.Root()
	return k.VFS.UnlinkAt(t.Caller(), vfs.PathOp{Root: root, Start: root, Path: name})
}

// MqNotify registers t's process for ev's notification on q, or with ev nil removes
// its registration (do_mq_notify once ev and the descriptor are checked). A
// SIGEV_SIGNAL notification is a signal with si_code SI_MESGQ, the sender's PID and
// real user, and ev's value, sent to the process if the sender may signal it, as
// kill_pid_info does.
func (t *Task) MqNotify(q *mqueue.Queue, ev *SigEvent) error {
	if ev == nil {
		q.RemoveNotification(t.Proc)
		return nil
	}
	n := &mqueue.Notification{Proc: t.Proc, Files: t.FDs, PID: t.ProcessID(), Notify: ev.Notify, Signo: ev.Signo}
	if ev.Notify == SIGEV_SIGNAL {
		k, proc, sig, value := t.k, t.Proc, unix.Signal(ev.Signo), ev.Value
		n.Deliver = func(from any) {
			sender := from.(*Task)
			var info arch.SignalInfo
			info.Code = SI_MESGQ
			le := binary.LittleEndian
			le.PutUint32(info.Fields[0:], uint32(sender.ProcessID()))
			le.PutUint32(info.Fields[4:], sender.Creds.RealUID)
			le.PutUint64(info.Fields[8:], value)
			k.mu.Lock()
			var target *Task
			if proc.exit == nil && len(proc.threads) > 0 {
				target = proc.signalTarget(sig)
				if !sender.mayKill(target, sig) {
					target = nil
				}
			}
			k.mu.Unlock()
			if target != nil {
				sender.sendTo(target, sig, info)
			}
		}
	}
	return q.SetNotification(n)
}
