// Package eventfd is eventfd(2): a 64-bit counter that writes add to and reads take,
// whole or (EFD_SEMAPHORE) one at a time. A read of zero waits, a write that would pass
// 0xfffffffffffffffe waits; with O_NONBLOCK both are EAGAIN.
package eventfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

const max = 0xfffffffffffffffe

type eventfd struct {
	mu        sync.Mutex
	count     uint64
	semaphore bool
	changed   chan struct{}
}

// New returns an eventfd starting at initval.
func New(v *vfs.VFS, initval uint64, semaphore bool, flags int) *vfs.FileDescription {
	e := &eventfd{count: initval, semaphore: semaphore, changed: make(chan struct{})}
	vd := v.Anonymous(inode{}, "anon_inode")
	return vfs.NewFileDescription(vd, e, unix.O_RDWR|flags&unix.O_NONBLOCK)
}

func (e *eventfd) changedLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// IsStream implements vfs.Stream.
func (*eventfd) IsStream() {}

func (e *eventfd) Read(dst []byte, _ int64) (int, error)  { return e.ReadCtx(nil, dst, true) }
func (e *eventfd) Write(src []byte, _ int64) (int, error) { return e.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile.ReadCtx.
func (e *eventfd) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.count == 0 {
		if nonblock || ctx == nil {
			return 0, unix.EAGAIN
		}
		if err := e.wait(ctx); err != nil {
			return 0, err
		}
	}
	v := e.count
	if e.semaphore {
		v = 1
	}
	e.count -= v
	binary.LittleEndian.PutUint64(dst, v)
	e.changedLocked()
	return 8, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx.
func (e *eventfd) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	if len(src) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.LittleEndian.Uint64(src)
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for max-e.count < v {
		if nonblock || ctx == nil {
			return 0, unix.EAGAIN
		}
		if err := e.wait(ctx); err != nil {
			return 0, err
		}
	}
	e.count += v
	e.changedLocked()
	return 8, nil
}

func (e *eventfd) wait(ctx vfs.Context) error {
	ch := e.changed
	e.mu.Unlock()
	defer e.mu.Lock()
	vfs.SleepStart(ctx)
	defer vfs.SleepFinish(ctx)
	select {
	case <-ch:
		return nil
	case <-ctx.Interrupted():
		return unix.Errno(512) // ERESTARTSYS
	}
}

// Readiness implements vfs.Waitable.
func (e *eventfd) Readiness() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var r uint32
	if e.count > 0 {
		r |= vfs.EventIn
	}
	if e.count < max {
		r |= vfs.EventOut
	}
	return r
}

// Changed implements vfs.Waitable.
func (e *eventfd) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

func (e *eventfd) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (e *eventfd) Release() {}

// inode is the anonymous inode eventfds share.
type inode struct{}

func (inode) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Blksize: 4096}, nil
}
func (inode) SetStat(vfs.SetStat) error      { return unix.EPERM }
func (inode) Open(int) (vfs.FileImpl, error) { return nil, unix.ENXIO }
