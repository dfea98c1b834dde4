// Package mqueue is the mqueue filesystem: POSIX message queues (mq_overview(7),
// ipc/mqueue.c). The sandbox has one IPC namespace and so one instance, which the
// kernel's mq_open and mq_unlink use through a mount of their own, and which a
// container's /dev/mqueue mounts too (sharing that mount's dentries, so a name made or
// removed through one is seen through the other).
//
// A queue is a file in the filesystem's root directory. It holds at most MaxMsg
// messages of at most MsgSize bytes, each with a priority below MQ_PRIO_MAX; a receive
// takes the oldest message of the highest priority. A sender that finds the queue full,
// or a receiver that finds it empty, waits (unless its description is O_NONBLOCK) until
// an absolute CLOCK_REALTIME deadline if it gave one, or until a signal interrupts it.
// Waiters are served in arrival order and, as Linux's pipelined send and receive, get
// their message handed over directly: a message sent while a receiver waits goes to
// that receiver and never enters the queue, and a receive that frees a place puts the
// first waiting sender's message in it.
//
// One process may ask to be told (mq_notify) when a message arrives in the empty queue
// while no receiver waits: the registration is used once, and dropped when any
// descriptor of the queue is closed from the registering process's FD table.
//
// Reading a queue's file gives "QSIZE:… NOTIFY:… SIGNO:… NOTIFY_PID:…"; unlinking it
// removes the name, and the queue goes when its last description is closed. Each queue
// is charged to its creator's real user, for RLIMIT_MSGQUEUE, as
// mqueue_get_inode does: MaxMsg × (MsgSize + the 96 bytes Linux counts per message).
//
// Lock order: FS.mu, then Queue.mu. A notification is delivered with neither held.
package mqueue

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Limits of the IPC namespace (ipc/mq_sysctl.c, include/linux/ipc_namespace.h).
const (
	DefaultQueuesMax  = 256  // DFLT_QUEUESMAX: /proc/sys/fs/mqueue/queues_max
	DefaultMsgMax     = 10   // DFLT_MSGMAX: msg_max
	DefaultMsgSizeMax = 8192 // DFLT_MSGSIZEMAX: msgsize_max
	DefaultMsg        = 10   // DFLT_MSG: msg_default
	DefaultMsgSize    = 8192 // DFLT_MSGSIZE: msgsize_default
	HardMsgMax        = 65536
	HardMsgSizeMax    = 16 * 1024 * 1024
	PrioMax           = 32768 // MQ_PRIO_MAX
	Magic             = 0x19800202
	direntSize        = 20 // DIRENT_SIZE: what each queue adds to the root's size
	filentSize        = 80 // FILENT_SIZE: a queue file's size
	msgOverhead       = 48 // sizeof(struct msg_msg) on x86-64
	treeNodeOverhead  = 48 // sizeof(struct posix_msg_tree_node)
	erestartsys       = unix.Errno(512)
	sigevSignal       = 0
)

// FS is one mqueue filesystem: the IPC namespace's queues and limits.
type FS struct {
	dev  uint64
	root *dir

	mu      sync.Mutex
	nextIno uint64
	// queues counts the queues that exist, linked or still open (mq_queues_count).
	queues int
	// bytes is what each real user's queues are charged (user_struct's mq_bytes).
	bytes map[uint32]uint64
	// Limits, as the /proc/sys/fs/mqueue files show them.
	QueuesMax, MsgMax, MsgSizeMax, MsgDefault, MsgSizeDefault int64
}

// New returns an empty mqueue filesystem.
func New(v *vfs.VFS) *FS {
	fs := &FS{dev: v.NewDev(), bytes: map[uint32]uint64{}, QueuesMax: DefaultQueuesMax,
		MsgMax: DefaultMsgMax, MsgSizeMax: DefaultMsgSizeMax, MsgDefault: DefaultMsg,
		MsgSizeDefault: DefaultMsgSize}
	now := unix.NsecToTimespec(time.Now().UnixNano())
	fs.root = &dir{fs: fs, ino: fs.newIno(), mode: unix.S_IFDIR | unix.S_ISVTX | 0o777,
		queues: map[string]*Queue{}, atime: now, mtime: now, ctime: now}
	return fs
}

// Root is the filesystem's root directory.
func (fs *FS) Root() vfs.DirInode { return fs.root }

// Limits returns the namespace's limits: queues_max, msg_max, msgsize_max,
// msg_default and msgsize_default.
func (fs *FS) Limits() [5]int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return [5]int64{fs.QueuesMax, fs.MsgMax, fs.MsgSizeMax, fs.MsgDefault, fs.MsgSizeDefault}
}

func (fs *FS) newIno() uint64 {
	fs.nextIno++
	return fs.nextIno
}

// Attr is struct mq_attr.
type Attr struct {
	Flags, MaxMsg, MsgSize, CurMsgs int64
	_                               [4]int64
}

// Creator is what mq_open knows of the task making a queue: OpenAt passes it to the
// root as vfs.Caller.CreateArg.
type Creator struct {
	// Attr is the queue's attributes, nil for the defaults.
	Attr *Attr
	// RealUID is the user the queue is charged to; Limit is its RLIMIT_MSGQUEUE.
	RealUID uint32
	Limit   uint64
	// SysResource is whether the creator has CAP_SYS_RESOURCE: no queues_max, and the
	// hard limits instead of msg_max and msgsize_max.
	SysResource bool
}

// charge is what a queue of attr costs its user (mqueue_get_inode's mq_bytes), or
// EOVERFLOW.
func charge(maxMsg, msgSize int64) (uint64, error) {
	if uint64(msgSize) > ^uint64(0)/uint64(maxMsg) {
		return 0, unix.EOVERFLOW
	}
	tree := uint64(maxMsg)*msgOverhead + uint64(min(maxMsg, PrioMax))*treeNodeOverhead
	b := uint64(maxMsg) * uint64(msgSize)
	if b+tree < b {
		return 0, unix.EOVERFLOW
	}
	return b + tree, nil
}

// dir is the root directory: the queues by name.
type dir struct {
	fs  *FS
	ino uint64

	// Guarded by fs.mu.
	mode                uint32
	uid, gid            uint32
	atime, mtime, ctime unix.Timespec
	queues              map[string]*Queue
}

func nowTS() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

// Stat implements vfs.Inode.
func (d *dir) Stat() (vfs.Stat, error) {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return vfs.Stat{Mode: d.mode, UID: d.uid, GID: d.gid, Nlink: 2, Ino: d.ino, Dev: d.fs.dev,
		Size: uint64(2*direntSize + direntSize*len(d.queues)), Blksize: 4096,
		Atime: d.atime, Mtime: d.mtime, Ctime: d.ctime}, nil
}

// SetStat implements vfs.Inode.
func (d *dir) SetStat(o vfs.SetStat) error {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	setStat(&o, &d.mode, &d.uid, &d.gid, &d.atime, &d.mtime, &d.ctime)
	return nil
}

func setStat(o *vfs.SetStat, mode, uid, gid *uint32, atime, mtime, ctime *unix.Timespec) {
	if o.Mask&vfs.SetStatMode != 0 {
		*mode = *mode&unix.S_IFMT | o.Mode&0o7777
	}
	if o.Mask&vfs.SetStatUID != 0 {
		*uid = o.UID
	}
	if o.Mask&vfs.SetStatGID != 0 {
		*gid = o.GID
	}
	if o.Mask&vfs.SetStatAtime != 0 {
		*atime = o.Atime
	}
	if o.Mask&vfs.SetStatMtime != 0 {
		*mtime = o.Mtime
	}
	*ctime = nowTS()
}

// Open implements vfs.Inode: the directory lists its queues.
func (d *dir) Open(int) (vfs.FileImpl, error) { return dirFile{}, nil }

type dirFile struct{}

func (dirFile) Read([]byte, int64) (int, error)  { return 0, unix.EISDIR }
func (dirFile) Write([]byte, int64) (int, error) { return 0, unix.EBADF }
func (dirFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (dirFile) Release() {}

// Lookup implements vfs.DirInode.
func (d *dir) Lookup(name string) (vfs.Inode, error) {
	if len(name) > vfs.NameMax {
		return nil, unix.ENAMETOOLONG // simple_lookup
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if q, ok := d.queues[name]; ok {
		return q, nil
	}
	return nil, unix.ENOENT
}

// Create implements vfs.DirInode: open(2) with O_CREAT in /dev/mqueue makes a queue with
// the default attributes (mqueue_create). The VFS does not say who the caller is: the
// queue is charged to its owner, without the RLIMIT_MSGQUEUE check.
func (d *dir) Create(name string, mode uint32, owner vfs.Owner) (vfs.Inode, error) {
	return d.CreateArg(name, mode, owner, &Creator{RealUID: owner.UID, Limit: ^uint64(0)})
}

// CreateArg implements vfs.ArgCreator: mq_open's creation (mqueue_create_attr and
// mqueue_get_inode), in Linux's order of checks: queues_max (ENOSPC), the attributes
// (EINVAL), their size (EOVERFLOW), the user's RLIMIT_MSGQUEUE (EMFILE).
func (d *dir) CreateArg(name string, mode uint32, owner vfs.Owner, arg any) (vfs.Inode, error) {
	c := arg.(*Creator)
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if int64(fs.queues) >= fs.QueuesMax && !c.SysResource {
		return nil, unix.ENOSPC
	}
	attr := Attr{MaxMsg: min(fs.MsgMax, fs.MsgDefault), MsgSize: min(fs.MsgSizeMax, fs.MsgSizeDefault)}
	if c.Attr != nil {
		attr.MaxMsg, attr.MsgSize = c.Attr.MaxMsg, c.Attr.MsgSize
	}
	if attr.MaxMsg <= 0 || attr.MsgSize <= 0 {
		return nil, unix.EINVAL
	}
	if c.SysResource {
		if attr.MaxMsg > HardMsgMax || attr.MsgSize > HardMsgSizeMax {
			return nil, unix.EINVAL
		}
	} else if attr.MaxMsg > fs.MsgMax || attr.MsgSize > fs.MsgSizeMax {
		return nil, unix.EINVAL
	}
	cost, err := charge(attr.MaxMsg, attr.MsgSize)
	if err != nil {
		return nil, err
	}
	used := fs.bytes[c.RealUID]
	if used+cost < used || used+cost > c.Limit {
		return nil, unix.EMFILE
	}
	fs.bytes[c.RealUID] = used + cost
	fs.queues++
	now := nowTS()
	q := &Queue{fs: fs, ino: fs.newIno(), mode: mode, uid: owner.UID, gid: owner.GID,
		atime: now, mtime: now, ctime: now, linked: true, user: c.RealUID, cost: cost,
		maxMsg: attr.MaxMsg, msgSize: attr.MsgSize, changed: make(chan struct{})}
	d.queues[name] = q
	d.mtime, d.ctime, d.atime = now, now, now
	return q, nil
}

// Unlink implements vfs.DirInode: the name goes; the queue goes with its last
// description.
func (d *dir) Unlink(name string) error {
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	q, ok := d.queues[name]
	if !ok {
		return unix.ENOENT
	}
	delete(d.queues, name)
	now := nowTS()
	d.mtime, d.ctime, d.atime = now, now, now
	q.linked = false
	q.maybeFreeLocked()
	return nil
}

// The directory holds queues only (mqueue_dir_inode_operations has no mkdir, symlink,
// link or rename): EPERM, as the VFS answers for a missing operation.
func (d *dir) Mkdir(string, uint32, vfs.Owner) (vfs.Inode, error)   { return nil, unix.EPERM }
func (d *dir) Symlink(string, string, vfs.Owner) (vfs.Inode, error) { return nil, unix.EPERM }
func (d *dir) Link(string, vfs.Inode) error                         { return unix.EPERM }
func (d *dir) Rmdir(string) error                                   { return unix.ENOTDIR }
func (d *dir) Rename(string, vfs.DirInode, string) error            { return unix.EPERM }

// Readdir implements vfs.DirInode.
func (d *dir) Readdir(cookie uint64, max int) ([]vfs.Dirent, error) {
	d.fs.mu.Lock()
	names := make([]string, 0, len(d.queues))
	for n := range d.queues {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []vfs.Dirent
	for i := int(cookie); i < len(names) && len(out) < max; i++ {
		out = append(out, vfs.Dirent{Name: names[i], Ino: d.queues[names[i]].ino,
			Type: vfs.DirentType(unix.S_IFREG), Next: uint64(i + 1)})
	}
	d.fs.mu.Unlock()
	return out, nil
}

// Statfs implements vfs.Statfser, as simple_statfs.
func (d *dir) Statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// message is one message.
type message struct {
	text []byte
	prio uint32
}

// waiter is a task blocked in a send (msg is what it sends) or a receive (msg is
// what it is handed); done says the exchange happened.
type waiter struct {
	msg  message
	done bool
	wake chan struct{}
}

// Notification is a process's mq_notify registration.
type Notification struct {
	// Proc is the registering process, as the kernel knows it: only it may remove the
	// registration with mq_notify(NULL).
	Proc any
	// Files is its FD table: closing a descriptor of the queue from it removes the
	// registration (mqueue_flush_file compares the closer's process).
	Files *vfs.FDTable
	// PID is the process's ID, shown as NOTIFY_PID.
	PID int32
	// Notify is SIGEV_SIGNAL or SIGEV_NONE; Signo the signal.
	Notify, Signo int32
	// Deliver sends the notification on behalf of sender, the task whose send made
	// the queue non-empty (SIGEV_SIGNAL).
	Deliver func(sender any)
}

// Queue is one message queue (struct mqueue_inode_info).
type Queue struct {
	fs  *FS
	ino uint64

	// Guarded by fs.mu: the name and the count of open descriptions.
	linked bool
	opens  int
	user   uint32
	cost   uint64

	mu                  sync.Mutex
	mode, uid, gid      uint32
	atime, mtime, ctime unix.Timespec
	maxMsg, msgSize     int64
	// msgs are the queued messages, highest priority first, oldest first within one.
	msgs  []message
	qsize uint64
	// senders and receivers wait, in arrival order.
	senders, receivers []*waiter
	notify             *Notification
	changed            chan struct{}
}

// maybeFreeLocked releases the queue's charge once it is neither named nor open
// (mqueue_evict_inode). fs.mu is held.
func (q *Queue) maybeFreeLocked() {
	if q.linked || q.opens > 0 || q.cost == 0 {
		return
	}
	q.fs.bytes[q.user] -= q.cost
	if q.fs.bytes[q.user] == 0 {
		delete(q.fs.bytes, q.user)
	}
	q.cost = 0
	q.fs.queues--
}

// Stat implements vfs.Inode.
func (q *Queue) Stat() (vfs.Stat, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return vfs.Stat{Mode: q.mode, UID: q.uid, GID: q.gid, Nlink: 1, Ino: q.ino, Dev: q.fs.dev,
		Size: filentSize, Blksize: 4096, Atime: q.atime, Mtime: q.mtime, Ctime: q.ctime}, nil
}

// SetStat implements vfs.Inode. A queue's size can't change (simple_setattr would
// truncate nothing): it is accepted and ignored.
func (q *Queue) SetStat(o vfs.SetStat) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	setStat(&o, &q.mode, &q.uid, &q.gid, &q.atime, &q.mtime, &q.ctime)
	return nil
}

// Open implements vfs.Inode.
func (q *Queue) Open(int) (vfs.FileImpl, error) {
	q.fs.mu.Lock()
	q.opens++
	q.fs.mu.Unlock()
	return &File{q: q}, nil
}

// File is an open queue: a message queue descriptor.
type File struct {
	q *Queue
}

// Queue is the file's queue.
func (f *File) Queue() *Queue { return f.q }

// Read implements vfs.FileImpl: the queue's status line, from off.
func (f *File) Read(dst []byte, off int64) (int, error) {
	q := f.q
	q.mu.Lock()
	notify, signo, pid := int32(0), int32(0), int32(0)
	if n := q.notify; n != nil {
		notify, pid = n.Notify, n.PID
		if n.Notify == sigevSignal {
			signo = n.Signo
		}
	}
	s := fmt.Sprintf("QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", q.qsize, notify, signo, pid)
	if len(s) > filentSize-1 {
		s = s[:filentSize-1]
	}
	if off >= int64(len(s)) {
		q.mu.Unlock()
		return 0, nil
	}
	n := copy(dst, s[off:])
	if n > 0 {
		q.atime = nowTS()
		q.ctime = q.atime
	}
	q.mu.Unlock()
	return n, nil
}

// Write implements vfs.FileImpl: a queue's file has no write (EINVAL, as a file
// without a write operation).
func (f *File) Write([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Ioctl implements vfs.FileImpl.
func (f *File) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) { return 0, unix.ENOTTY }

// Release implements vfs.FileImpl: the last description of an unlinked queue frees it.
func (f *File) Release() {
	q := f.q
	q.fs.mu.Lock()
	q.opens--
	q.maybeFreeLocked()
	q.fs.mu.Unlock()
}

// Flush implements vfs.Flusher: the registering process closing a descriptor of the
// queue drops its notification.
func (f *File) Flush(table *vfs.FDTable) {
	q := f.q
	q.mu.Lock()
	if q.notify != nil && q.notify.Files == table {
		q.notify = nil
		q.changedLocked()
	}
	q.mu.Unlock()
}

// Readiness implements vfs.Waitable (mqueue_poll_file).
func (f *File) Readiness() uint32 {
	q := f.q
	q.mu.Lock()
	defer q.mu.Unlock()
	var r uint32
	if len(q.msgs) > 0 {
		r |= vfs.EventIn | vfs.EventRdNorm
	}
	if int64(len(q.msgs)) < q.maxMsg {
		r |= vfs.EventOut | vfs.EventWrNorm
	}
	return r
}

// Changed implements vfs.Waitable.
func (f *File) Changed() <-chan struct{} {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	return f.q.changed
}

func (q *Queue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Attr returns the queue's attributes (mq_curmsgs counts the queued messages).
func (q *Queue) Attr() Attr {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Attr{MaxMsg: q.maxMsg, MsgSize: q.msgSize, CurMsgs: int64(len(q.msgs))}
}

// Touch sets the queue's access and change times (mq_getsetattr's change of flags).
func (q *Queue) Touch() {
	q.mu.Lock()
	q.atime = nowTS()
	q.ctime = q.atime
	q.mu.Unlock()
}

// insertLocked queues m after the messages of its priority and above.
func (q *Queue) insertLocked(m message) {
	i := sort.Search(len(q.msgs), func(i int) bool { return q.msgs[i].prio < m.prio })
	q.msgs = append(q.msgs, message{})
	copy(q.msgs[i+1:], q.msgs[i:])
	q.msgs[i] = m
	q.qsize += uint64(len(m.text))
}

// wait blocks w until it is done, the deadline (if any) passes, or ctx is interrupted;
// q.mu is held on entry and exit. list is the waiters w is on.
func (q *Queue) wait(ctx vfs.Context, w *waiter, list *[]*waiter, deadline time.Time) error {
	*list = append(*list, w)
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	q.mu.Unlock()
	var err error
	vfs.SleepStart(ctx)
	select {
	case <-w.wake:
	case <-timeout:
		err = unix.ETIMEDOUT
	case <-ctx.Interrupted():
		err = erestartsys
	}
	vfs.SleepFinish(ctx)
	q.mu.Lock()
	if w.done {
		return nil // handed over before the timeout or signal was seen
	}
	for i, x := range *list {
		if x == w {
			*list = append((*list)[:i], (*list)[i+1:]...)
			break
		}
	}
	return err
}

// Send queues text with priority prio for sender (do_mq_timedsend, once the
// description's write access and the size are checked by the caller): EAGAIN if the
// queue is full and nonblock, ETIMEDOUT at deadline, ERESTARTSYS if interrupted.
func (q *Queue) Send(ctx vfs.Context, text []byte, prio uint32, nonblock bool, deadline time.Time, sender any) error {
	q.mu.Lock()
	m := message{text: text, prio: prio}
	if int64(len(q.msgs)) == q.maxMsg {
		if nonblock {
			q.mu.Unlock()
			return unix.EAGAIN
		}
		// The deadline is checked only once the task would wait.
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			q.mu.Unlock()
			return unix.ETIMEDOUT
		}
		w := &waiter{msg: m, wake: make(chan struct{})}
		err := q.wait(ctx, w, &q.senders, deadline)
		q.mu.Unlock()
		return err
	}
	var deliver func(any)
	if len(q.receivers) > 0 {
		// pipelined_send: straight to the first receiver.
		r := q.receivers[0]
		q.receivers = q.receivers[1:]
		r.msg, r.done = m, true
		close(r.wake)
	} else {
		q.insertLocked(m)
		// __do_notify: the queue went from empty to not, and no receiver waits.
		if n := q.notify; n != nil && len(q.msgs) == 1 {
			q.notify = nil
			if n.Notify == sigevSignal {
				deliver = n.Deliver
			}
		}
	}
	q.atime = nowTS()
	q.mtime, q.ctime = q.atime, q.atime
	q.changedLocked()
	q.mu.Unlock()
	if deliver != nil {
		deliver(sender)
	}
	return nil
}

// Receive takes the oldest message of the highest priority (do_mq_timedreceive, once
// the description's read access and the buffer's size are checked by the caller):
// EAGAIN if the queue is empty and nonblock, ETIMEDOUT at deadline, ERESTARTSYS if
// interrupted.
func (q *Queue) Receive(ctx vfs.Context, nonblock bool, deadline time.Time) ([]byte, uint32, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		if nonblock {
			return nil, 0, unix.EAGAIN
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil, 0, unix.ETIMEDOUT
		}
		w := &waiter{wake: make(chan struct{})}
		if err := q.wait(ctx, w, &q.receivers, deadline); err != nil {
			return nil, 0, err
		}
		return w.msg.text, w.msg.prio, nil
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	q.qsize -= uint64(len(m.text))
	q.atime = nowTS()
	q.mtime, q.ctime = q.atime, q.atime
	// pipelined_receive: the first waiting sender's message takes the freed place.
	if len(q.senders) > 0 {
		s := q.senders[0]
		q.senders = q.senders[1:]
		q.insertLocked(s.msg)
		s.done = true
		close(s.wake)
	}
	q.changedLocked()
	return m.text, m.prio, nil
}

// MsgSize is the largest message the queue takes.
func (q *Queue) MsgSize() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgSize
}

// SetNotification registers n (mq_notify with a sigevent): EBUSY if a process is
// registered already.
func (q *Queue) SetNotification(n *Notification) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.notify != nil {
		return unix.EBUSY
	}
	q.notify = n
	q.atime = nowTS()
	q.ctime = q.atime
	q.changedLocked()
	return nil
}

// RemoveNotification drops the registration if proc made it (mq_notify(NULL)); another
// process's is left, silently.
func (q *Queue) RemoveNotification(proc any) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.notify != nil && q.notify.Proc == proc {
		q.notify = nil
		q.atime = nowTS()
		q.ctime = q.atime
		q.changedLocked()
	}
}
