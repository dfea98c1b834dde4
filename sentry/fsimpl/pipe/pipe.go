// Package pipe is pipe(2): a buffer in the Sentry's memory with a read end and a write
// end, each an open file description of the same FIFO inode.
//
// A reader waits while the pipe is empty and a writer exists, and gets end-of-file
// when there is none. A writer waits while the pipe is full; writes of at most PIPE_BUF
// bytes are atomic, larger ones may be split between readers' turns. Writing with no
// reader is EPIPE (the system call layer raises SIGPIPE). O_NONBLOCK turns each wait
// into EAGAIN (after a partial transfer, the count). Waits end with ERESTARTSYS when the
// caller's context is interrupted. Waiters sleep on a generation channel that every
// change closes and replaces.
package pipe

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Sizes (include/linux/pipe_fs_i.h, include/uapi/linux/limits.h).
const (
	Capacity = 65536 // the default pipe size, 16 pages
	PipeBuf  = 4096  // PIPE_BUF: writes up to this size are atomic
)

var inodes atomic.Uint64

// erestartsys is what a wait interrupted by a signal returns: EINTR, or the call made
// again, as the signal's disposition says (ERESTARTSYS, include/linux/errno.h).
const erestartsys = unix.Errno(512)

// pipe is the shared state of the two ends.
type pipe struct {
	mu      sync.Mutex
	data    []byte
	readers int
	writers int
	changed chan struct{}
	// the inode's attributes
	ino   uint64
	dev   uint64
	mtime unix.Timespec
}

// New makes a pipe and returns its read and write ends, with flags (O_NONBLOCK) on
// both.
func New(v *vfs.VFS, flags int) (r, w *vfs.FileDescription) {
	p := &pipe{readers: 1, writers: 1, changed: make(chan struct{}), ino: inodes.Add(1),
		mtime: unix.NsecToTimespec(time.Now().UnixNano())}
	vd := v.Anonymous(&inode{p}, "pipefs")
	p.dev = 0
	r = vfs.NewFileDescription(vd, &end{p: p, reader: true}, unix.O_RDONLY|flags&unix.O_NONBLOCK)
	w = vfs.NewFileDescription(vd, &end{p: p}, unix.O_WRONLY|flags&unix.O_NONBLOCK)
	return r, w
}

// changedLocked wakes every waiter.
func (p *pipe) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait releases p.mu, waits for a change or an interruption, and takes p.mu again.
func (p *pipe) wait(ctx vfs.Context) error {
	ch := p.changed
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Interrupted():
		return erestartsys
	}
}

// inode is the pipe's inode, as fstat shows it.
type inode struct{ p *pipe }

// Stat implements vfs.Inode.Stat.
func (in *inode) Stat() (vfs.Stat, error) {
	in.p.mu.Lock()
	defer in.p.mu.Unlock()
	return vfs.Stat{Mode: unix.S_IFIFO | 0o600, Nlink: 1, Ino: in.p.ino, Blksize: 4096,
		Atime: in.p.mtime, Mtime: in.p.mtime, Ctime: in.p.mtime}, nil
}

// SetStat implements vfs.Inode.SetStat.
func (in *inode) SetStat(vfs.SetStat) error { return unix.EPERM }

// Open implements vfs.Inode.Open; a pipe is opened only by pipe(2).
func (in *inode) Open(int) (vfs.FileImpl, error) { return nil, unix.ENXIO }

// end is one end of a pipe.
type end struct {
	p      *pipe
	reader bool
}

// IsStream implements vfs.Stream.
func (*end) IsStream() {}

// Read implements vfs.FileImpl.Read for callers that can't block: no data is EAGAIN.
func (e *end) Read(dst []byte, _ int64) (int, error) { return e.ReadCtx(nil, dst, true) }

// Write implements vfs.FileImpl.Write for callers that can't block.
func (e *end) Write(src []byte, _ int64) (int, error) { return e.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile.ReadCtx.
func (e *end) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(dst) == 0 {
		return 0, nil
	}
	for len(p.data) == 0 {
		if p.writers == 0 {
			return 0, nil // end of file
		}
		if nonblock || ctx == nil {
			return 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			return 0, err
		}
	}
	n := copy(dst, p.data)
	p.data = p.data[n:]
	if len(p.data) == 0 {
		p.data = nil
	}
	p.changedLocked()
	return n, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx.
func (e *end) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(src) {
		if p.readers == 0 {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EPIPE
		}
		space := Capacity - len(p.data)
		rest := len(src) - done
		// A write of at most PIPE_BUF goes in one piece or not at all.
		if space > 0 && (rest > PipeBuf || space >= rest) {
			n := min(space, rest)
			p.data = append(p.data, src[done:done+n]...)
			done += n
			p.changedLocked()
			continue
		}
		if nonblock || ctx == nil {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
	return done, nil
}

// Ioctl implements vfs.FileImpl.Ioctl: FIONREAD, the bytes waiting.
func (e *end) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	const fionread = 0x541b // FIONREAD (TIOCINQ)
	if req != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := int32(len(e.p.data))
	e.p.mu.Unlock()
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	_, err := mem.CopyOut(arg, b)
	return 0, err
}

// Release implements vfs.FileImpl.Release: the end is gone.
func (e *end) Release() {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.reader {
		p.readers--
	} else {
		p.writers--
	}
	p.changedLocked()
}

// Readiness implements vfs.Waitable, as pipe_poll: the read end is readable with data
// (or hung up with no writer), the write end writable with room (or in error with no
// reader).
func (e *end) Readiness() uint32 {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if e.reader {
		if len(p.data) > 0 {
			r |= vfs.EventIn | vfs.EventRdNorm
		}
		if p.writers == 0 {
			r |= vfs.EventHup
		}
	} else {
		if Capacity-len(p.data) >= PipeBuf {
			r |= vfs.EventOut | vfs.EventWrNorm
		}
		if p.readers == 0 {
			r |= vfs.EventErr
		}
	}
	return r
}

// Changed implements vfs.Waitable.
func (e *end) Changed() <-chan struct{} {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.changed
}
