// Package epoll is epoll(7): an interest list of (descriptor, file) entries, each with
// the events it asks for and the data it returns. A wait collects the entries whose file
// is ready for what they ask (errors and hang-ups always count); with none ready it
// sleeps until one of the files changes, the timeout passes or a signal interrupts it.
// Edge-triggered entries report when their file has changed since the last report
// (new data in a pipe is reported again though some was already there, as Linux's
// wake-up per arrival does; a change that is not an arrival, such as a read, may be
// reported too, which a program that drains to EAGAIN never notices) or gained a
// readiness; one-shot entries are disabled after one report.
//
// An epoll file is itself waitable (nested epoll): readable when one of its entries is
// ready. Adding one to another that would make a cycle, or nest more than 5 deep, is
// ELOOP, as ep_loop_check.
//
// Files are held by the descriptor they were added under: an entry whose descriptor no
// longer names its file (it was closed) is dropped, as Linux drops entries of released
// files.
package epoll

import (
	"reflect"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Flags of epoll_event.events that are not readiness bits.
const (
	EPOLLET      = 1 << 31
	EPOLLONESHOT = 1 << 30
	EPOLLEXCL    = 1 << 28
	EPOLLWAKEUP  = 1 << 29
)

// Instance is an epoll instance (the FileImpl of an epoll descriptor).
type Instance struct {
	mu      sync.Mutex
	entries map[int32]*entry
}

type entry struct {
	file     *vfs.FileDescription
	events   uint32
	data     uint64
	disabled bool   // a one-shot entry that reported
	last     uint32 // readiness last reported (edge-triggered)
	// seen is the file's change channel when it was last looked at (edge-triggered):
	// another one means the file changed since.
	seen <-chan struct{}
}

// New returns an epoll descriptor.
func New(v *vfs.VFS, flags int) (*vfs.FileDescription, *Instance) {
	in := &Instance{entries: map[int32]*entry{}}
	return vfs.NewFileDescription(v.Anonymous(inode{}, "anon_inode"), in, unix.O_RDWR), in
}

// Ctl adds, changes or removes the entry of fd, as epoll_ctl.
func (in *Instance) Ctl(op int, fd int32, file *vfs.FileDescription, events uint32, data uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	e, exists := in.entries[fd]
	if exists && e.file != file {
		exists = false // the descriptor was reused for another file
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		if exists {
			return unix.EEXIST
		}
		in.entries[fd] = &entry{file: file, events: events, data: data}
	case unix.EPOLL_CTL_MOD:
		if !exists {
			return unix.ENOENT
		}
		if e.events&EPOLLEXCL != 0 || events&EPOLLEXCL != 0 {
			return unix.EINVAL
		}
		e.events, e.data, e.disabled, e.last = events, data, false, 0
	case unix.EPOLL_CTL_DEL:
		if !exists {
			return unix.ENOENT
		}
		delete(in.entries, fd)
	default:
		return unix.EINVAL
	}
	return nil
}

// Event is one ready entry.
type Event struct {
	Events uint32
	Data   uint64
}

// Wait returns up to max ready entries, waiting until deadline (zero: forever; in the
// past: not at all) or until interrupted (EINTR). lookup says which file a descriptor
// names now.
func (in *Instance) Wait(ctx vfs.Context, max int, deadline time.Time, poll bool, lookup func(int32) *vfs.FileDescription) ([]Event, error) {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	for {
		ready, changes := in.collect(ctx, max, lookup)
		if len(ready) > 0 || poll {
			return ready, nil
		}
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Interrupted())}}
		if timer != nil {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)})
		}
		for _, ch := range changes {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		vfs.SleepStart(ctx)
		chosen, _, _ := reflect.Select(cases)
		vfs.SleepFinish(ctx)
		switch {
		case chosen == 0:
			return nil, unix.EINTR
		case timer != nil && chosen == 1:
			ready, _ := in.collect(ctx, max, lookup)
			return ready, nil
		}
	}
}

// collect returns the ready entries, as the waiting task ctx sees them, and the change
// channels of the others.
func (in *Instance) collect(ctx vfs.Context, max int, lookup func(int32) *vfs.FileDescription) ([]Event, []<-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var ready []Event
	var changes []<-chan struct{}
	for fd, e := range in.entries {
		if lookup(fd) != e.file {
			delete(in.entries, fd)
			continue
		}
		if e.disabled {
			continue
		}
		ch := e.file.ChangedFor(ctx)
		if ch != nil {
			changes = append(changes, ch)
		}
		r := e.file.ReadinessFor(ctx) & (e.events | vfs.EventErr | vfs.EventHup)
		if e.events&EPOLLET != 0 {
			if r == 0 {
				e.last, e.seen = 0, ch
				continue
			}
			if ch == e.seen && r&^e.last == 0 {
				continue // nothing new since the last report
			}
		}
		if r == 0 || len(ready) == max {
			continue
		}
		e.last, e.seen = r, ch
		ready = append(ready, Event{Events: r, Data: e.data})
		if e.events&EPOLLONESHOT != 0 {
			e.disabled = true
		}
	}
	return ready, changes
}

// Readiness implements vfs.Waitable: readable when an entry is ready (as ep_eventpoll_poll,
// without consuming edge-triggered or one-shot reports).
func (in *Instance) Readiness() uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, e := range in.entries {
		if !e.disabled && e.file.Readiness()&(e.events|vfs.EventErr|vfs.EventHup) != 0 {
			return vfs.EventIn | vfs.EventRdNorm
		}
	}
	return 0
}

// Changed implements vfs.Waitable: a channel closed when one of the entries' files
// changes, or after a second at the latest (a spurious change only makes the waiter
// look again), so that a watcher that goes away leaves nothing waiting for long.
func (in *Instance) Changed() <-chan struct{} {
	in.mu.Lock()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(time.Second))}}
	for _, e := range in.entries {
		if w, ok := e.file.Impl().(vfs.Waitable); ok {
			ch := w.Changed()
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
	}
	in.mu.Unlock()
	out := make(chan struct{})
	go func() {
		reflect.Select(cases)
		close(out)
	}()
	return out
}

// maxNesting is EP_MAX_NESTS.
const maxNesting = 4

// WouldLoop reports whether adding target (an epoll file) to in would make a cycle or
// nest too deep (ep_loop_check: ELOOP).
func (in *Instance) WouldLoop(target *Instance) bool {
	return target == in || target.depthTo(in, 0) < 0 || target.height() >= maxNesting
}

// depthTo is -1 if in reaches goal through nested epoll entries, else 0.
func (in *Instance) depthTo(goal *Instance, depth int) int {
	if depth > maxNesting {
		return 0
	}
	for _, n := range in.nested() {
		if n == goal || n.depthTo(goal, depth+1) < 0 {
			return -1
		}
	}
	return 0
}

// height is how deep the epoll files nested in in go.
func (in *Instance) height() int {
	h := 0
	for _, n := range in.nested() {
		if d := n.height() + 1; d > h && d <= maxNesting+1 {
			h = d
		}
	}
	return h
}

// nested returns the epoll files among in's entries.
func (in *Instance) nested() []*Instance {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []*Instance
	for _, e := range in.entries {
		if n, ok := e.file.Impl().(*Instance); ok {
			out = append(out, n)
		}
	}
	return out
}

// IsStream implements vfs.Stream.
func (*Instance) IsStream() {}

func (*Instance) Read([]byte, int64) (int, error)  { return 0, unix.EINVAL }
func (*Instance) Write([]byte, int64) (int, error) { return 0, unix.EINVAL }
func (*Instance) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (*Instance) Release() {}

type inode struct{}

func (inode) Stat() (vfs.Stat, error)        { return vfs.Stat{Mode: 0o600, Nlink: 1, Blksize: 4096}, nil }
func (inode) SetStat(vfs.SetStat) error      { return unix.EPERM }
func (inode) Open(int) (vfs.FileImpl, error) { return nil, unix.ENXIO }
