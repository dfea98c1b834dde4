package pipe

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Splicing (splice(2), tee(2), sendfile(2) to a pipe): a pipe's buffer is read from or
// written to directly, with the waits of fs/splice.c. The data is copied; Linux moves
// page references instead, which only shows in the sizes of what one call moves.

// Pipe is the pipe behind either end, as splice sees it (get_pipe_info).
type Pipe = pipe

// Of returns the pipe impl is an end of, or nil.
func Of(impl vfs.FileImpl) *Pipe {
	if e, ok := impl.(*end); ok {
		return e.p
	}
	return nil
}

// Drain waits for data (EAGAIN with nonblock; 0 if the pipe is empty with no writer),
// then passes up to n bytes to write and takes from the pipe what it accepted, as
// splice_from_pipe.
func (p *Pipe) Drain(ctx vfs.Context, n int, nonblock bool, write func([]byte) (int, error)) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.data) == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			return 0, err
		}
	}
	w, err := write(p.data[:min(n, len(p.data))])
	if w > 0 {
		p.take(w)
		p.changedLocked()
		return w, nil
	}
	return 0, err
}

// Fill waits for room (EPIPE with no reader, EAGAIN with nonblock), then appends what
// read gives into up to min(n, room) bytes, as splice_file_to_pipe.
func (p *Pipe) Fill(ctx vfs.Context, n int, nonblock bool, read func([]byte) (int, error)) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.readers == 0 {
			return 0, unix.EPIPE
		}
		if p.room() > 0 {
			break
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, min(n, p.room()))
	got, err := read(buf)
	if got > 0 {
		p.add(buf[:got], false)
		p.changedLocked()
		return got, nil
	}
	return 0, err
}

// Transfer moves up to n bytes from in to out (splice), or with keep copies them,
// leaving in as it was (tee). It waits for data in in (0 if it is empty with no
// writer), then for room in out (EPIPE with no reader), or is EAGAIN with nonblock, as
// splice_pipe_to_pipe and link_pipe. in and out are different pipes.
func Transfer(ctx vfs.Context, in, out *Pipe, n int, nonblock, keep bool) (int, error) {
	for {
		first, second := in, out
		if second.ino < first.ino {
			first, second = second, first
		}
		first.mu.Lock()
		second.mu.Lock()
		var wait chan struct{}
		switch {
		case len(in.data) == 0 && in.writers == 0:
			second.mu.Unlock()
			first.mu.Unlock()
			return 0, nil
		case len(in.data) == 0:
			wait = in.changed
		case out.readers == 0:
			second.mu.Unlock()
			first.mu.Unlock()
			return 0, unix.EPIPE
		case out.room() <= 0:
			wait = out.changed
		default:
			k := min(n, len(in.data), out.room())
			out.add(in.data[:k], false)
			out.changedLocked()
			if !keep {
				in.take(k)
				in.changedLocked()
			}
			second.mu.Unlock()
			first.mu.Unlock()
			return k, nil
		}
		second.mu.Unlock()
		first.mu.Unlock()
		if nonblock {
			return 0, unix.EAGAIN
		}
		vfs.SleepStart(ctx)
		select {
		case <-wait:
		case <-ctx.Interrupted():
			vfs.SleepFinish(ctx)
			return 0, erestartsys
		}
		vfs.SleepFinish(ctx)
	}
}
