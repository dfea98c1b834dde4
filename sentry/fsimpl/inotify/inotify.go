// Package inotify is inotify(7): files (instances) that report events on the files they
// watch, as Linux's fs/notify/inotify.
//
// The VFS reports every change it makes, once it has succeeded, to its Notifier
// (sentry/vfs/notify.go, the counterpart of Linux's fsnotify hooks): an event on a file
// goes to the watches of its directory, with its name, then to its own watches, without
// one. The Registry is that Notifier: it is installed on the VFS by the first
// inotify_init, and keeps, for each watched file (identified by its vfs.Inode, which
// the hard links made in the sandbox share, or by its dentry when the Inode is not a
// pointer), the watches of every instance on it. A
// watch whose mask has the event's bit queues an inotify_event on its instance; a
// read(2) takes whole events from the queue, blocking (interruptibly) while it is
// empty unless the file is O_NONBLOCK.
//
// As Linux: an event identical to the last one queued is dropped; a queue of
// MaxQueuedEvents events takes one IN_Q_OVERFLOW (wd -1) more and then drops events
// until it is read; a watch ends (IN_IGNORED) with inotify_rm_watch, after its first
// event if it is IN_ONESHOT, and when its file is gone (after IN_DELETE_SELF): when it
// loses its last name, or, if it is open or mapped then, at its last close;
// IN_EXCL_UNLINK drops the events of open files that were unlinked.
//
// Not seen: changes the host makes to files the Gofer serves (the Sentry learns of
// none), writes through shared mappings (as on Linux, which reports none either),
// IN_UNMOUNT (unmounting a watched filesystem sends nothing), the events of executing
// a file (exec reads it without a file description), and the hard links of a
// Gofer file that existed before the sandbox looked them up, which have inodes of their
// own in the Sentry. /proc/PID/fdinfo shows no inotify lines.
//
// Lock order: Registry.mu, then Instance.mu.
package inotify

import (
	"encoding/binary"
	"reflect"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Limits, as Linux's defaults (/proc/sys/fs/inotify).
const (
	MaxQueuedEvents  = 16384
	MaxUserInstances = 128
	MaxUserWatches   = 1048576
)

// eventHeader is the size of struct inotify_event without its name.
const eventHeader = 16

// fileKey identifies a watched file: its Inode when that is a pointer (every
// filesystem's files but a few synthetic ones), else the dentry, since an Inode of
// another kind (a kernfs map, a shared anonymous inode value) is not an identity and
// may not even be comparable.
type fileKey any

func keyOf(d *vfs.Dentry) fileKey {
	in := d.Inode()
	if in != nil && reflect.TypeOf(in).Kind() == reflect.Pointer {
		return in
	}
	return d
}

// Registry is the watches of a VFS, by file: the VFS's vfs.Notifier.
type Registry struct {
	// count is how many watches there are, so that events on a VFS with none cost
	// one atomic load.
	count atomic.Int64

	mu      sync.Mutex
	watches map[fileKey][]*watch
	// instances and watchCount count, per user, the instances and watches made.
	instances  map[uint32]int
	watchCount map[uint32]int

	cookie atomic.Uint32
}

// RegistryOf returns v's Registry, installing one as its Notifier on first use.
func RegistryOf(v *vfs.VFS) *Registry {
	return v.NotifierOr(func() vfs.Notifier {
		return &Registry{watches: map[fileKey][]*watch{}, instances: map[uint32]int{}, watchCount: map[uint32]int{}}
	}).(*Registry)
}

// watch is one instance's watch on a file.
type watch struct {
	inst *Instance
	wd   int32
	file fileKey
	// mask is the event bits, with IN_ONESHOT and IN_EXCL_UNLINK; written under the
	// Registry's mu.
	mask uint32
}

// event is a queued inotify_event.
type event struct {
	wd           int32
	mask, cookie uint32
	name         string
}

// size is the event's size as read returns it: the name padded with NULs to a
// multiple of the header's size, as round_event_name_len.
func (e *event) size() int {
	if e.name == "" {
		return eventHeader
	}
	return eventHeader + (len(e.name)+1+eventHeader-1)/eventHeader*eventHeader
}

// Instance is an inotify file.
type Instance struct {
	reg *Registry
	uid uint32

	// Registry.mu guards the watches.
	nextWD int32
	byWD   map[int32]*watch
	byFile map[fileKey]*watch

	mu       sync.Mutex
	queue    []event
	overflow bool // an IN_Q_OVERFLOW is queued
	released bool
	changed  chan struct{}
}

// inode is the anonymous inode of inotify files, which /proc/PID/fd shows as
// "anon_inode:inotify" (without brackets, as anon_inode_getfile("inotify", ...)).
type inode struct{ vfs.AnonInode }

// FDName implements vfs.FDNamer.
func (inode) FDName() string { return "anon_inode:inotify" }

// New makes an inotify file for user uid, with flags O_NONBLOCK: EMFILE if uid has
// MaxUserInstances already.
func New(v *vfs.VFS, uid uint32, flags int) (*vfs.FileDescription, error) {
	r := RegistryOf(v)
	r.mu.Lock()
	if r.instances[uid] >= MaxUserInstances {
		r.mu.Unlock()
		return nil, unix.EMFILE
	}
	r.instances[uid]++
	r.mu.Unlock()
	in := &Instance{reg: r, uid: uid, nextWD: 1, byWD: map[int32]*watch{}, byFile: map[fileKey]*watch{}, changed: make(chan struct{})}
	vd := v.Anonymous(inode{vfs.AnonInode{Name: "inotify"}}, "anon_inode")
	return vfs.NewFileDescription(vd, in, unix.O_RDONLY|flags&unix.O_NONBLOCK), nil
}

// AddWatch watches the file d for mask, as inotify_update_watch: the wd of the
// instance's watch on the file, made or changed (IN_MASK_ADD adds to its mask,
// IN_MASK_CREATE fails with EEXIST). The caller has checked the flags and the
// permission.
func (in *Instance) AddWatch(d *vfs.Dentry, mask uint32) (int32, error) {
	file := keyOf(d)
	r := in.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	const kept = unix.IN_ALL_EVENTS | unix.IN_ONESHOT | unix.IN_EXCL_UNLINK
	if w, ok := in.byFile[file]; ok {
		if mask&unix.IN_MASK_CREATE != 0 {
			return 0, unix.EEXIST
		}
		if mask&unix.IN_MASK_ADD != 0 {
			w.mask |= mask & kept
		} else {
			w.mask = mask & kept
		}
		return w.wd, nil
	}
	if r.watchCount[in.uid] >= MaxUserWatches {
		return 0, unix.ENOSPC
	}
	r.watchCount[in.uid]++
	// Watch descriptors are handed out in turn and not reused at once, as
	// idr_alloc_cyclic.
	wd := in.nextWD
	for in.byWD[wd] != nil || wd <= 0 {
		if wd <= 0 {
			wd = 1
		} else {
			wd++
		}
	}
	in.nextWD = wd + 1
	w := &watch{inst: in, wd: wd, file: file, mask: mask & kept}
	in.byWD[wd] = w
	in.byFile[file] = w
	r.watches[file] = append(r.watches[file], w)
	r.count.Add(1)
	return wd, nil
}

// RemoveWatch ends watch wd, queueing IN_IGNORED: EINVAL if there is none.
func (in *Instance) RemoveWatch(wd int32) error {
	r := in.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := in.byWD[wd]
	if !ok {
		return unix.EINVAL
	}
	r.removeLocked(w)
	return nil
}

// removeLocked ends w: it leaves its file and its instance, which gets IN_IGNORED.
func (r *Registry) removeLocked(w *watch) {
	ws := r.watches[w.file]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(r.watches, w.file)
	} else {
		r.watches[w.file] = ws
	}
	in := w.inst
	delete(in.byWD, w.wd)
	delete(in.byFile, w.file)
	r.watchCount[in.uid]--
	r.count.Add(-1)
	in.enqueue(event{wd: w.wd, mask: unix.IN_IGNORED})
}

// Event implements vfs.Notifier.Event.
func (r *Registry) Event(dir *vfs.Dentry, name string, d *vfs.Dentry, mask, cookie uint32, unlinked bool) {
	if r.count.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir != nil {
		r.deliverLocked(keyOf(dir), event{mask: mask, cookie: cookie, name: name}, unlinked)
	}
	if d != nil {
		r.deliverLocked(keyOf(d), event{mask: mask, cookie: cookie}, unlinked)
	}
}

// deliverLocked queues e on the watches of file that want it.
func (r *Registry) deliverLocked(file fileKey, e event, unlinked bool) {
	var oneshots []*watch
	for _, w := range r.watches[file] {
		if w.mask&e.mask&unix.IN_ALL_EVENTS == 0 {
			continue
		}
		if unlinked && w.mask&unix.IN_EXCL_UNLINK != 0 {
			continue
		}
		e.wd = w.wd
		w.inst.enqueue(e)
		if w.mask&unix.IN_ONESHOT != 0 {
			oneshots = append(oneshots, w)
		}
	}
	for _, w := range oneshots {
		r.removeLocked(w)
	}
}

// Gone implements vfs.Notifier.Gone: IN_DELETE_SELF to the watches that want it (never
// with IN_ISDIR, as Linux's inotify reports it), then every watch of file ends.
func (r *Registry) Gone(d *vfs.Dentry) {
	if r.count.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var rest []*watch
	for _, w := range r.watches[keyOf(d)] {
		if w.mask&unix.IN_DELETE_SELF != 0 {
			w.inst.enqueue(event{wd: w.wd, mask: unix.IN_DELETE_SELF})
		}
		rest = append(rest, w)
	}
	for _, w := range rest {
		r.removeLocked(w)
	}
}

// Watched implements vfs.Notifier.Watched.
func (r *Registry) Watched(d *vfs.Dentry) bool {
	if r.count.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.watches[keyOf(d)]) > 0
}

// Active implements vfs.Notifier.Active.
func (r *Registry) Active() bool { return r.count.Load() > 0 }

// Cookie implements vfs.Notifier.Cookie.
func (r *Registry) Cookie() uint32 {
	for {
		if c := r.cookie.Add(1); c != 0 {
			return c
		}
	}
}

// enqueue adds e to the queue, as fsnotify_insert_event: a full queue takes one
// IN_Q_OVERFLOW, and an event equal to the last one queued is dropped.
func (in *Instance) enqueue(e event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.released {
		return
	}
	if len(in.queue) >= MaxQueuedEvents {
		if in.overflow {
			return
		}
		in.overflow = true
		e = event{wd: -1, mask: unix.IN_Q_OVERFLOW}
	} else if n := len(in.queue); n > 0 && in.queue[n-1] == e {
		return
	}
	in.queue = append(in.queue, e)
	close(in.changed)
	in.changed = make(chan struct{})
}

// IsStream implements vfs.Stream.
func (*Instance) IsStream() {}

// Llseek implements vfs.Seeker: lseek succeeds and changes nothing (noop_llseek).
func (*Instance) Llseek(_ int64, _ int, cur int64) (int64, error) { return cur, nil }

// Read implements vfs.FileImpl.Read, for callers that can't block.
func (in *Instance) Read(dst []byte, _ int64) (int, error) { return in.ReadCtx(nil, dst, true) }

// Write implements vfs.FileImpl.Write: an inotify file is open for reading only, so the
// description refuses writes first.
func (in *Instance) Write([]byte, int64) (int, error) { return 0, unix.EINVAL }

// ReadCtx implements vfs.BlockingFile.ReadCtx, as inotify_read: as many whole events as
// dst holds; EINVAL if it can't hold the first; EAGAIN or a wait while there is none.
func (in *Instance) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.queue) == 0 {
		if nonblock || ctx == nil {
			return 0, unix.EAGAIN
		}
		ch := in.changed
		in.mu.Unlock()
		vfs.SleepStart(ctx)
		select {
		case <-ch:
			vfs.SleepFinish(ctx)
			in.mu.Lock()
		case <-ctx.Interrupted():
			vfs.SleepFinish(ctx)
			in.mu.Lock()
			return 0, unix.Errno(512) // ERESTARTSYS
		}
	}
	n := 0
	for len(in.queue) > 0 {
		e := &in.queue[0]
		sz := e.size()
		if sz > len(dst)-n {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		b := dst[n : n+sz]
		binary.LittleEndian.PutUint32(b[0:], uint32(e.wd))
		binary.LittleEndian.PutUint32(b[4:], e.mask)
		binary.LittleEndian.PutUint32(b[8:], e.cookie)
		binary.LittleEndian.PutUint32(b[12:], uint32(sz-eventHeader))
		clear(b[eventHeader:])
		copy(b[eventHeader:], e.name)
		if e.mask&unix.IN_Q_OVERFLOW != 0 && e.wd == -1 {
			in.overflow = false
		}
		in.queue[0] = event{}
		in.queue = in.queue[1:]
		n += sz
	}
	if len(in.queue) == 0 {
		in.queue = nil
	}
	close(in.changed)
	in.changed = make(chan struct{})
	return n, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx (never reached: see Write).
func (in *Instance) WriteCtx(vfs.Context, []byte, bool) (int, error) { return 0, unix.EINVAL }

// pending is the size of the queued events, in bytes.
func (in *Instance) pending() int {
	n := 0
	for i := range in.queue {
		n += in.queue[i].size()
	}
	return n
}

// Ioctl implements vfs.FileImpl.Ioctl: FIONREAD gives the size of the queued events.
func (in *Instance) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	const fionread = 0x541b // FIONREAD (include/uapi/asm-generic/ioctls.h)
	if req != fionread {
		return 0, unix.ENOTTY
	}
	in.mu.Lock()
	n := in.pending()
	in.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(int32(n)))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Readiness implements vfs.Waitable: readable while events are queued.
func (in *Instance) Readiness() uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) > 0 {
		return vfs.EventIn | vfs.EventRdNorm
	}
	return 0
}

// Changed implements vfs.Waitable.
func (in *Instance) Changed() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.changed
}

// Release implements vfs.FileImpl.Release: the instance's watches end, silently.
func (in *Instance) Release() {
	r := in.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	in.mu.Lock()
	in.released = true
	in.queue = nil
	in.mu.Unlock()
	for _, w := range in.byWD {
		r.removeLocked(w)
	}
	r.instances[in.uid]--
}
