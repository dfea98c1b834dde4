// Package pipe is pipe(2): a buffer in the Sentry's memory with a read end and a write
// end, each an open file description of the same FIFO inode.
//
// A reader waits while the pipe is empty and a writer exists, and gets end-of-file
// when there is none. A writer waits while the pipe is full (its capacity, 64 KiB
// unless F_SETPIPE_SZ changed it); writes of at most PIPE_BUF bytes are atomic, larger
// ones may be split between readers' turns. A writer whose description has O_DIRECT
// writes packets (PIPE_BUF at most each; segs records them): a read takes at most one,
// and what of it doesn't fit is dropped, as pipe_read does with PIPE_BUF_FLAG_PACKET.
// splice and tee move bytes and ignore packet boundaries. Writing with no
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
	// MaxSize is /proc/sys/fs/pipe-max-size: above it F_SETPIPE_SZ needs
	// CAP_SYS_RESOURCE.
	MaxSize = 1 << 20
)

var inodes atomic.Uint64

// erestartsys is what a wait interrupted by a signal returns: EINTR, or the call made
// again, as the signal's disposition says (ERESTARTSYS, include/linux/errno.h).
const erestartsys = unix.Errno(512)

// pipe is the shared state of the two ends.
type pipe struct {
	mu       sync.Mutex
	data     []byte
	capacity int
	// segs are the runs of data, front first, when any is a packet; nil otherwise.
	segs    []seg
	readers int
	writers int
	changed chan struct{}
	// rCounter and wCounter count the opens for reading and writing, as a FIFO's
	// opener waits for its partner (fifo.go); fifo, for a FIFO's pipe, forgets it
	// once no end is left.
	rCounter, wCounter uint64
	fifo               func()
	// the inode's attributes
	ino   uint64
	dev   uint64
	mtime unix.Timespec
}

// New makes a pipe and returns its read and write ends, with flags (O_NONBLOCK) on
// both.
func New(v *vfs.VFS, flags int) (r, w *vfs.FileDescription) {
	p := newPipe()
	p.readers, p.writers, p.rCounter, p.wCounter = 1, 1, 1, 1
	vd := v.Anonymous(&inode{p}, "pipefs")
	p.dev = 0
	keep := flags & (unix.O_NONBLOCK | unix.O_DIRECT)
	r = vfs.NewFileDescription(vd, &end{p: p, reader: true}, unix.O_RDONLY|keep)
	w = vfs.NewFileDescription(vd, &end{p: p, writer: true}, unix.O_WRONLY|keep)
	return r, w
}

// newPipe returns a pipe with no end yet.
func newPipe() *pipe {
	return &pipe{capacity: Capacity, changed: make(chan struct{}), ino: inodes.Add(1),
		mtime: unix.NsecToTimespec(time.Now().UnixNano())}
}

// seg is a run of a pipe's data: a packet, or bytes written without O_DIRECT.
type seg struct {
	n      int
	packet bool
}

// room is how many bytes fit.
func (p *pipe) room() int { return p.capacity - len(p.data) }

// add appends b, as one packet or as plain bytes. As pipe_write, a write merges into
// the last buffer when that holds plain bytes and its page has room, packet mode or
// not: a packet only starts a new buffer.
func (p *pipe) add(b []byte, packet bool) {
	if packet && len(p.data) > 0 {
		last := len(p.data)
		if n := len(p.segs); n > 0 {
			last = p.segs[n-1].n
			if p.segs[n-1].packet {
				last = 0
			}
		}
		if used := last % PipeBuf; used != 0 && used+len(b) <= PipeBuf {
			packet = false
		}
	}
	if packet && p.segs == nil && len(p.data) > 0 {
		p.segs = []seg{{n: len(p.data)}}
	}
	p.data = append(p.data, b...)
	switch n := len(p.segs); {
	case packet:
		p.segs = append(p.segs, seg{n: len(b), packet: true})
	case n > 0 && !p.segs[n-1].packet:
		p.segs[n-1].n += len(b)
	case n > 0:
		p.segs = append(p.segs, seg{n: len(b)})
	}
}

// take removes n bytes from the front.
func (p *pipe) take(n int) {
	p.data = p.data[n:]
	if len(p.data) == 0 {
		p.data, p.segs = nil, nil
	}
	for n > 0 && len(p.segs) > 0 {
		k := min(n, p.segs[0].n)
		p.segs[0].n -= k
		n -= k
		if p.segs[0].n == 0 {
			p.segs = p.segs[1:]
		}
	}
}

// readLocked copies what one read takes into dst and removes it: plain bytes up to a
// packet, and of a packet at the front (or met with room left) what fits, dropping the
// rest of it.
func (p *pipe) readLocked(dst []byte) int {
	if p.segs == nil {
		n := copy(dst, p.data)
		p.take(n)
		return n
	}
	done := 0
	for done < len(dst) && len(p.segs) > 0 {
		s := p.segs[0]
		n := copy(dst[done:], p.data[:s.n])
		done += n
		if s.packet {
			p.take(s.n)
			break
		}
		p.take(n)
	}
	return done
}

// Size is F_GETPIPE_SZ.
func (p *Pipe) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.capacity
}

// SetSize is F_SETPIPE_SZ, as pipe_set_size: size rounded up to a power of two pages;
// EINVAL past 2 GiB, EPERM past MaxSize without CAP_SYS_RESOURCE (privileged), EBUSY
// if the data doesn't fit. It returns the new size.
func (p *Pipe) SetSize(size uint64, privileged bool) (int, error) {
	if size > 1<<31 {
		return 0, unix.EINVAL
	}
	n := PipeBuf
	for uint64(n) < size {
		n <<= 1
	}
	if n > MaxSize && !privileged {
		return 0, unix.EPERM
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.data) > n {
		return 0, unix.EBUSY
	}
	p.capacity = n
	p.changedLocked()
	return n, nil
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
	vfs.SleepStart(ctx)
	defer vfs.SleepFinish(ctx)
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

// IsAnonymousPipe implements vfs.AnonymousPipe.
func (*inode) IsAnonymousPipe() {}

// Open implements vfs.Inode.Open: an open of /proc/PID/fd/N naming one of the pipe's
// ends makes another end, for reading, writing or both, as fifo_open does for a pipe
// (with no waiting: an anonymous pipe's opener never waits for a partner).
func (in *inode) Open(flags int) (vfs.FileImpl, error) {
	p := in.p
	p.mu.Lock()
	defer p.mu.Unlock()
	e := &end{p: p}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.reader = true
	case unix.O_WRONLY:
		e.writer = true
	default:
		e.reader, e.writer = true, true
	}
	if e.reader {
		p.readers++
		p.rCounter++
	}
	if e.writer {
		p.writers++
		p.wCounter++
	}
	p.changedLocked()
	return e, nil
}

// end is one end of a pipe: its read end, its write end, or (a FIFO or a pipe opened
// O_RDWR) both.
type end struct {
	p              *pipe
	reader, writer bool
	// fPipe, for a FIFO read end opened with O_NONBLOCK before any writer (hideHup):
	// the write count then, which hides the hang-up until a writer has come (f_pipe).
	hideHup bool
	fPipe   uint64
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
	n := p.readLocked(dst)
	p.changedLocked()
	return n, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx.
func (e *end) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	return e.write(ctx, src, nonblock, false)
}

// WriteFlags implements vfs.FlagsWriter: O_DIRECT writes packets.
func (e *end) WriteFlags(ctx vfs.Context, src []byte, flags int) (int, error) {
	return e.write(ctx, src, flags&unix.O_NONBLOCK != 0, flags&unix.O_DIRECT != 0)
}

func (e *end) write(ctx vfs.Context, src []byte, nonblock, packets bool) (int, error) {
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
		space := p.room()
		rest := len(src) - done
		switch {
		case packets && space >= min(rest, PipeBuf):
			// A packet of at most PIPE_BUF, in one piece.
			n := min(rest, PipeBuf)
			p.add(src[done:done+n], true)
			done += n
			p.changedLocked()
			continue
		case !packets && space > 0 && (rest > PipeBuf || space >= rest):
			// A write of at most PIPE_BUF goes in one piece or not at all.
			n := min(space, rest)
			p.add(src[done:done+n], false)
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
	}
	if e.writer {
		p.writers--
	}
	p.changedLocked()
	p.releasedLocked()
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
		if p.writers == 0 && !(e.hideHup && e.fPipe == p.wCounter) {
			r |= vfs.EventHup
		}
	}
	if e.writer {
		if p.room() >= min(PipeBuf, p.capacity) {
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
