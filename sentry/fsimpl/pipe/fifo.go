package pipe

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// FIFOs are named pipes (mkfifo): the pipe of a FIFO inode, made at its first open
// and forgotten when the last of its ends closes (Linux frees the pipe then, with
// whatever it held). Opening follows fifo_open:
//   - for reading: the reader counts at once; without O_NONBLOCK it waits until a
//     writer has opened (one that opened and closed meanwhile counts);
//   - for writing: with O_NONBLOCK and no reader, ENXIO; else it waits for a reader
//     as a reader waits for a writer;
//   - for reading and writing: both, never waiting.
//
// A wait ends with ERESTARTSYS when the opener is interrupted. A reader opened with
// O_NONBLOCK before any writer sees no hang-up until a writer has come (f_pipe).
//
// The FIFOs are the Sentry's, whatever filesystem holds the name: a FIFO in a Gofer's
// directory connects the sandbox's processes, never the host's.
type FIFOs struct {
	mu sync.Mutex
	m  map[vfs.Inode]*pipe
}

// NewFIFOs returns an empty set of FIFOs, for a VFS (vfs.VFS.SetFIFOOpener).
func NewFIFOs() *FIFOs { return &FIFOs{m: map[vfs.Inode]*pipe{}} }

// Open opens the FIFO of in with flags, as ctx.
func (fs *FIFOs) Open(in vfs.Inode, ctx vfs.Context, flags int) (vfs.FileImpl, error) {
	fs.mu.Lock()
	p := fs.m[in]
	if p == nil {
		p = newPipe()
		p.fifo = func() {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.readers == 0 && p.writers == 0 && fs.m[in] == p {
				delete(fs.m, in)
			}
		}
		fs.m[in] = p
	}
	p.mu.Lock()
	fs.mu.Unlock()
	defer p.mu.Unlock()
	if p.readers == 0 && p.writers == 0 {
		p.data, p.segs = nil, nil // what the last ends left went with them
	}
	nonblock := flags&unix.O_NONBLOCK != 0
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		p.rCounter++
		p.readers++
		p.changedLocked()
		e := &end{p: p, reader: true}
		if p.writers == 0 {
			if nonblock {
				e.hideHup, e.fPipe = true, p.wCounter // no hang-up until a writer comes
			} else if err := p.waitCounter(ctx, &p.wCounter); err != nil {
				p.readers--
				p.changedLocked()
				p.releasedLocked()
				return nil, err
			}
		}
		return e, nil
	case unix.O_WRONLY:
		if nonblock && p.readers == 0 {
			p.releasedLocked()
			return nil, unix.ENXIO
		}
		p.wCounter++
		p.writers++
		p.changedLocked()
		if p.readers == 0 {
			if err := p.waitCounter(ctx, &p.rCounter); err != nil {
				p.writers--
				p.changedLocked()
				p.releasedLocked()
				return nil, err
			}
		}
		return &end{p: p, writer: true}, nil
	default:
		p.readers++
		p.writers++
		p.rCounter++
		p.wCounter++
		p.changedLocked()
		return &end{p: p, reader: true, writer: true}, nil
	}
}

// waitCounter waits, p.mu held, until *c changes (a partner opened).
func (p *pipe) waitCounter(ctx vfs.Context, c *uint64) error {
	if ctx == nil {
		return unix.EAGAIN
	}
	start := *c
	for *c == start {
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// releasedLocked arranges, p.mu held, for a FIFO's pipe with no end left to be
// forgotten once p.mu is released.
func (p *pipe) releasedLocked() {
	if p.fifo != nil && p.readers == 0 && p.writers == 0 {
		go p.fifo()
	}
}
