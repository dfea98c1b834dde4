package protocol

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrConnClosed is wrapped by the error of every call made on, or pending
// when, a connection that has failed or been closed.
var ErrConnClosed = errors.New("gofer connection closed")

// Client is the client end of one Gofer connection. It is safe for
// concurrent use; see the package comment for how calls are matched with
// replies.
//
// Lock order: Client.sendMu before Client.mu.
type Client struct {
	fd int

	// sendMu is held for reading across every use of fd outside the reader
	// goroutine, and for writing by Close when it closes fd, so that fd is
	// never used after it is closed (and perhaps reused for another file).
	sendMu sync.RWMutex
	closed bool // guarded by sendMu

	mu      sync.Mutex
	pending map[uint32]chan reply // guarded by mu
	nextTag uint32                // guarded by mu
	err     error                 // guarded by mu; set once the connection is dead

	readerDone chan struct{}
	closeOnce  sync.Once
}

// reply is what the reader goroutine hands to a waiting call.
type reply struct {
	m   Message
	fds []int
	err error
}

// NewClient returns a client for the SOCK_SEQPACKET socket fd and starts its
// reader goroutine. The client owns fd from now on; Close closes it.
func NewClient(fd int) *Client {
	c := &Client{
		fd:         fd,
		pending:    make(map[uint32]chan reply),
		readerDone: make(chan struct{}),
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		c.err = fmt.Errorf("%w: %v", ErrConnClosed, err)
		close(c.readerDone)
		return c
	}
	go c.reader()
	return c
}

// Close shuts the connection down, fails every pending call and closes the
// socket. It is safe to call more than once and concurrently with calls.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.shutdown()
		<-c.readerDone
		c.fail(ErrConnClosed)
		c.sendMu.Lock()
		c.closed = true
		unix.Close(c.fd)
		c.sendMu.Unlock()
	})
	return nil
}

// shutdown wakes the reader goroutine and makes later sends fail.
func (c *Client) shutdown() {
	c.sendMu.RLock()
	if !c.closed {
		unix.Shutdown(c.fd, unix.SHUT_RDWR)
	}
	c.sendMu.RUnlock()
}

// fail marks the connection dead with err (the first error wins) and hands
// that error to every pending call.
func (c *Client) fail(err error) {
	if !errors.Is(err, ErrConnClosed) {
		err = fmt.Errorf("%w: %w", ErrConnClosed, err)
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	pending := c.pending
	c.pending = make(map[uint32]chan reply)
	c.mu.Unlock()
	for _, ch := range pending {
		ch <- reply{err: err}
	}
}

// reader receives every reply and hands it to the call waiting on its tag.
func (c *Client) reader() {
	defer close(c.readerDone)
	buf := make([]byte, MaxMessageSize)
	// Room for more FDs than any reply carries, so that extra ones are
	// received and closed here rather than dropped.
	oob := make([]byte, unix.CmsgSpace(4*8))
	for {
		n, fds, err := RecvPacket(c.fd, buf, oob)
		if err != nil {
			c.fail(fmt.Errorf("receiving: %w", err))
			c.shutdown()
			return
		}
		tag, m, err := Decode(buf[:n])
		if err != nil {
			CloseFDs(fds)
			if _, herr := ParseHeader(buf[:n]); herr != nil {
				// No trustworthy tag: the stream can't be followed.
				c.fail(err)
				c.shutdown()
				return
			}
			// The header is sound: fail only the call it answers.
			fds, m = nil, nil
		}
		c.mu.Lock()
		ch, ok := c.pending[tag]
		delete(c.pending, tag)
		c.mu.Unlock()
		if !ok {
			CloseFDs(fds)
			c.fail(fmt.Errorf("%w: reply with unknown tag %d", ErrMalformed, tag))
			c.shutdown()
			return
		}
		ch <- reply{m: m, fds: fds, err: err}
	}
}

// call sends req and waits for its reply, which must be of type
// req.Type()+1 and carry exactly wantFDs FDs, or be an Rerror (returned as
// a unix.Errno). On any error every FD received is closed.
func (c *Client) call(req Message, wantFDs int) (Message, []int, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, nil, err
	}
	tag := c.nextTag
	for {
		if _, busy := c.pending[tag]; !busy {
			break
		}
		tag++
	}
	c.nextTag = tag + 1
	c.pending[tag] = ch
	c.mu.Unlock()

	b, err := Encode(tag, req)
	if err == nil {
		c.sendMu.RLock()
		if c.closed {
			err = unix.EBADF
		} else {
			err = SendPacket(c.fd, b, nil)
		}
		c.sendMu.RUnlock()
		if err != nil {
			// A SOCK_SEQPACKET send fails only when the connection is broken.
			err = fmt.Errorf("sending %v: %w", req.Type(), err)
			c.fail(err)
			c.shutdown()
		}
	} else {
		c.mu.Lock()
		_, mine := c.pending[tag]
		delete(c.pending, tag)
		c.mu.Unlock()
		if mine {
			return nil, nil, err
		}
		// The connection failed meanwhile and a failure is on its way to ch.
	}

	r := <-ch
	if r.err != nil {
		CloseFDs(r.fds)
		return nil, nil, r.err
	}
	if e, ok := r.m.(*Rerror); ok {
		CloseFDs(r.fds)
		if e.Errno == 0 {
			return nil, nil, unix.EIO
		}
		return nil, nil, unix.Errno(e.Errno)
	}
	if r.m.Type() != req.Type()+1 {
		CloseFDs(r.fds)
		return nil, nil, fmt.Errorf("%w: %v answered with %v", ErrMalformed, req.Type(), r.m.Type())
	}
	if len(r.fds) != wantFDs {
		CloseFDs(r.fds)
		return nil, nil, fmt.Errorf("%w: %v came with %d FDs, want %d", ErrMalformed, r.m.Type(), len(r.fds), wantFDs)
	}
	return r.m, r.fds, nil
}

// call0 is call for replies without FDs.
func (c *Client) call0(req Message) (Message, error) {
	m, _, err := c.call(req, 0)
	return m, err
}

// Attach returns a FID for the root of mount number mount.
func (c *Client) Attach(mount uint32) (FID, Stat, error) {
	m, err := c.call0(&Tattach{Mount: mount})
	if err != nil {
		return 0, Stat{}, err
	}
	r := m.(*Rattach)
	return r.FID, r.Stat, nil
}

// Walk walks from fid through names. It returns a Node for every name
// walked; when the walk stopped early the error says why (unix.ENOENT,
// unix.ENOTDIR, ...) and the nodes are those of the prefix walked, which the
// caller must clunk like any others.
func (c *Client) Walk(fid FID, names []string) ([]Node, error) {
	m, err := c.call0(&Twalk{FID: fid, Names: names})
	if err != nil {
		return nil, err
	}
	r := m.(*Rwalk)
	if r.Errno != 0 {
		return r.Nodes, unix.Errno(r.Errno)
	}
	return r.Nodes, nil
}

// Stat returns the node's Stat.
func (c *Client) Stat(fid FID) (Stat, error) {
	m, err := c.call0(&Tstat{FID: fid})
	if err != nil {
		return Stat{}, err
	}
	return m.(*Rstat).Stat, nil
}

// Open returns a host FD for the node opened with flags.
func (c *Client) Open(fid FID, flags uint32) (int, error) {
	_, fds, err := c.call(&Topen{FID: fid, Flags: flags}, 1)
	if err != nil {
		return -1, err
	}
	return fds[0], nil
}

// Create creates regular file name in dir and returns its Node and a host
// FD opened with flags.
func (c *Client) Create(dir FID, name string, flags, mode, uid, gid uint32) (Node, int, error) {
	m, fds, err := c.call(&Tcreate{DirFID: dir, Name: name, Flags: flags, Mode: mode, UID: uid, GID: gid}, 1)
	if err != nil {
		return Node{}, -1, err
	}
	r := m.(*Rcreate)
	return Node{FID: r.FID, Stat: r.Stat}, fds[0], nil
}

// Mkdir creates directory name in dir.
func (c *Client) Mkdir(dir FID, name string, mode, uid, gid uint32) (Node, error) {
	m, err := c.call0(&Tmkdir{DirFID: dir, Name: name, Mode: mode, UID: uid, GID: gid})
	if err != nil {
		return Node{}, err
	}
	r := m.(*Rmkdir)
	return Node{FID: r.FID, Stat: r.Stat}, nil
}

// Symlink creates symlink name in dir pointing at target.
func (c *Client) Symlink(dir FID, name, target string, uid, gid uint32) (Node, error) {
	m, err := c.call0(&Tsymlink{DirFID: dir, Name: name, Target: target, UID: uid, GID: gid})
	if err != nil {
		return Node{}, err
	}
	r := m.(*Rsymlink)
	return Node{FID: r.FID, Stat: r.Stat}, nil
}

// Mknod creates a regular file, FIFO or socket name in dir; mode includes
// the S_IFMT type bits.
func (c *Client) Mknod(dir FID, name string, mode uint32, rdev uint64, uid, gid uint32) (Node, error) {
	m, err := c.call0(&Tmknod{DirFID: dir, Name: name, Mode: mode, Rdev: rdev, UID: uid, GID: gid})
	if err != nil {
		return Node{}, err
	}
	r := m.(*Rmknod)
	return Node{FID: r.FID, Stat: r.Stat}, nil
}

// Link creates hard link name in dir to target.
func (c *Client) Link(dir FID, name string, target FID) (Node, error) {
	m, err := c.call0(&Tlink{DirFID: dir, Name: name, TargetFID: target})
	if err != nil {
		return Node{}, err
	}
	r := m.(*Rlink)
	return Node{FID: r.FID, Stat: r.Stat}, nil
}

// Unlink removes name from dir; flags is 0 or unix.AT_REMOVEDIR.
func (c *Client) Unlink(dir FID, name string, flags uint32) error {
	_, err := c.call0(&Tunlink{DirFID: dir, Name: name, Flags: flags})
	return err
}

// Rename renames oldName in oldDir to newName in newDir; flags are
// renameat2 flags.
func (c *Client) Rename(oldDir FID, oldName string, newDir FID, newName string, flags uint32) error {
	_, err := c.call0(&Trename{OldDirFID: oldDir, OldName: oldName, NewDirFID: newDir, NewName: newName, Flags: flags})
	return err
}

// Readlink returns a symlink's target.
func (c *Client) Readlink(fid FID) (string, error) {
	m, err := c.call0(&Treadlink{FID: fid})
	if err != nil {
		return "", err
	}
	return m.(*Rreadlink).Target, nil
}

// Readdir returns at most count entries of directory fid after cookie (0
// for the start); pass the last entry's Next to continue. No entries means
// the end of the directory. "." and ".." are never returned.
func (c *Client) Readdir(fid FID, cookie uint64, count uint32) ([]Dirent, error) {
	m, err := c.call0(&Treaddir{FID: fid, Cookie: cookie, Count: count})
	if err != nil {
		return nil, err
	}
	return m.(*Rreaddir).Entries, nil
}

// Setattr applies the changes of attr that attr.Mask selects and returns
// the node's Stat afterwards.
func (c *Client) Setattr(fid FID, attr Attr) (Stat, error) {
	m, err := c.call0(&Tsetattr{FID: fid, Attr: attr})
	if err != nil {
		return Stat{}, err
	}
	return m.(*Rsetattr).Stat, nil
}

// Statfs returns the statistics of the filesystem holding fid.
func (c *Client) Statfs(fid FID) (Statfs, error) {
	m, err := c.call0(&Tstatfs{FID: fid})
	if err != nil {
		return Statfs{}, err
	}
	return m.(*Rstatfs).Statfs, nil
}

// Clunk forgets fids.
func (c *Client) Clunk(fids ...FID) error {
	_, err := c.call0(&Tclunk{FIDs: fids})
	return err
}
