package gofer

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// maxInFlight bounds the requests of one connection handled at once.
const maxInFlight = 16

// Mount is one directory tree the server exposes. Mount 0 of a Config is the
// container's root filesystem; the others are its bind mounts.
type Mount struct {
	HostPath string
	ReadOnly bool
}

// Config is what a Server serves.
type Config struct {
	Mounts []Mount
	// NodeFDs is the most host FDs the server's nodes keep open when no
	// request uses them (fdCache); 0 derives it from RLIMIT_NOFILE.
	NodeFDs int
}

// Server holds the roots of the configured mounts and serves connections.
type Server struct {
	mounts []*mount
	isRoot bool // the server may give files any owner
	fds    *fdCache
}

// mount is an opened Mount.
type mount struct {
	index    uint32
	readOnly bool
	rootFD   int // O_PATH|O_DIRECTORY
}

// NewServer opens the root of every mount of cfg.
func NewServer(cfg Config) (*Server, error) {
	limit := cfg.NodeFDs
	if limit <= 0 {
		limit = nodeFDLimit()
	}
	s := &Server{isRoot: os.Geteuid() == 0, fds: &fdCache{limit: limit, unnamedLimit: max(limit/unnamedShare, 1)}}
	for i, m := range cfg.Mounts {
		fd, err := unix.Open(m.HostPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("opening mount %d %q: %w", i, m.HostPath, err)
		}
		s.mounts = append(s.mounts, &mount{index: uint32(i), readOnly: m.ReadOnly, rootFD: fd})
	}
	return s, nil
}

// Close closes the mount roots. Call it once no connection is being served.
func (s *Server) Close() error {
	for _, m := range s.mounts {
		unix.Close(m.rootFD)
	}
	s.mounts = nil
	return nil
}

// Serve serves one connection on the SOCK_SEQPACKET socket fd with a new
// Server for cfg, and closes the mounts' roots afterwards.
func Serve(fd int, cfg Config) error {
	s, err := NewServer(cfg)
	if err != nil {
		unix.Close(fd)
		return err
	}
	defer s.Close()
	return s.Serve(fd)
}

// Serve serves the SOCK_SEQPACKET socket fd until the client closes it,
// and closes fd before returning. It returns nil when the client closed the
// connection, else why the connection was given up.
func (s *Server) Serve(fd int) error {
	c := &conn{srv: s, fd: fd, fids: make(map[protocol.FID]*node)}
	var handlers sync.WaitGroup
	defer func() {
		handlers.Wait()
		c.clunkAll()
		unix.Close(fd)
	}()
	if err := unix.SetNonblock(fd, false); err != nil {
		return fmt.Errorf("gofer connection: %w", err)
	}
	slots := make(chan struct{}, maxInFlight)
	buf := make([]byte, protocol.MaxMessageSize)
	// Room for many FDs, so that any a client sends are received and closed
	// here rather than left for the kernel to drop.
	oob := make([]byte, unix.CmsgSpace(4*64))
	for {
		n, fds, err := protocol.RecvPacket(fd, buf, oob)
		protocol.CloseFDs(fds)
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, protocol.ErrTruncated) || errors.Is(err, protocol.ErrMalformed):
			// Answered below if the tag is readable.
		case err != nil:
			return fmt.Errorf("gofer connection: receiving: %w", err)
		}
		tag, ok := protocol.PeekTag(buf[:n])
		if !ok {
			return fmt.Errorf("gofer connection: %d-byte packet has no header", n)
		}
		var req protocol.Message
		if err == nil && len(fds) == 0 {
			_, req, err = protocol.Decode(buf[:n])
		}
		if err != nil || len(fds) > 0 || !req.Type().IsRequest() {
			errno := unix.EINVAL
			if h, herr := protocol.ParseHeader(buf[:n]); herr == nil && h.Type > protocol.MsgRclunk {
				errno = unix.ENOSYS
			}
			c.reply(tag, rerror(errno), nil)
			continue
		}
		slots <- struct{}{}
		handlers.Add(1)
		go func() {
			defer func() {
				<-slots
				handlers.Done()
			}()
			resp, rfds := c.handle(req)
			c.reply(tag, resp, rfds)
			protocol.CloseFDs(rfds)
		}()
	}
}

// conn is the state of one connection: its FID table.
type conn struct {
	srv *Server
	fd  int

	// treeMu guards node.parent and node.name of every node of this
	// connection.
	treeMu sync.RWMutex

	fidsMu  sync.Mutex
	fids    map[protocol.FID]*node // guarded by fidsMu
	lastFID protocol.FID           // guarded by fidsMu
}

// reply sends resp with fds. A send fails only when the client is gone, and
// the reader loop notices that by itself.
func (c *conn) reply(tag uint32, resp protocol.Message, fds []int) {
	b, err := protocol.Encode(tag, resp)
	if err != nil {
		// Replies are built to fit; this is a bug, not the client's doing.
		b, _ = protocol.Encode(tag, rerror(unix.EIO))
		fds = nil
	}
	protocol.SendPacket(c.fd, b, fds)
}

func rerror(errno unix.Errno) *protocol.Rerror { return &protocol.Rerror{Errno: uint32(errno)} }

// node is one host file a connection holds, named by one or more FIDs. Its
// identity (mount, parent and name, dev, ino, type) lasts as long as the node;
// its host FDs come and go with the server's fdCache.
type node struct {
	refs  atomic.Int64
	cache *fdCache
	mount *mount
	dev   uint64
	ino   uint64
	ftype uint32 // st_mode & S_IFMT; an inode's type never changes
	// isRoot is set, before the node is shared, on a mount root: its FD is
	// reopened by duplicating mount.rootFD.
	isRoot bool

	// parent and name are where the node was last seen: the parent
	// directory node (referenced) and the node's name in it. A mount root
	// has no parent, and neither has a node whose name was removed through
	// this connection (unnamed). Guarded by conn.treeMu.
	parent *node
	name   string

	// Guarded by cache.mu; fd and dirFD change only while users is 0, so a
	// handler that uses the node reads them without the lock.
	fd      int           // O_PATH|O_NOFOLLOW, owned, or -1 while evicted
	dirFD   int           // a readable directory FD for Treaddir, or -1
	users   int           // handlers using the FDs (conn.use)
	unnamed bool          // its name was removed through the connection
	elem    *list.Element // in cache.idle, or nil
	uelem   *list.Element // in cache.unnamed, or nil

	dirMu sync.Mutex // serializes Treaddir's seek and read of dirFD
}

// newNode wraps fd, whose Stat is st, as a node with one reference, in use by
// the caller (who releases it), and takes a reference on parent.
func (c *conn) newNode(fd int, m *mount, st *unix.Stat_t, parent *node, name string) *node {
	n := &node{
		cache:  c.srv.fds,
		fd:     fd,
		mount:  m,
		dev:    st.Dev,
		ino:    st.Ino,
		ftype:  st.Mode & unix.S_IFMT,
		parent: parent,
		name:   name,
		dirFD:  -1,
		users:  1,
	}
	n.refs.Store(1)
	if parent != nil {
		parent.incRef()
	}
	c.srv.fds.mu.Lock()
	c.srv.fds.held++
	c.srv.fds.mu.Unlock()
	return n
}

func (n *node) incRef() { n.refs.Add(1) }

// decRef drops a reference; the last one closes the node's FDs and drops
// its reference on its parent.
func (n *node) decRef() {
	for n != nil {
		if n.refs.Add(-1) != 0 {
			return
		}
		n.cache.forget(n)
		n = n.parent
	}
}

func (n *node) isDir() bool { return n.ftype == unix.S_IFDIR }

// sameFile reports whether st describes n's inode.
func (n *node) sameFile(st *unix.Stat_t) bool { return st.Dev == n.dev && st.Ino == n.ino }

// newFID registers n, whose reference passes to the FID.
func (c *conn) newFID(n *node) protocol.FID {
	c.fidsMu.Lock()
	defer c.fidsMu.Unlock()
	c.lastFID++
	c.fids[c.lastFID] = n
	return c.lastFID
}

// lookup returns the node of fid with a reference the caller must drop.
func (c *conn) lookup(fid protocol.FID) (*node, error) {
	c.fidsMu.Lock()
	defer c.fidsMu.Unlock()
	n, ok := c.fids[fid]
	if !ok {
		return nil, unix.EBADF
	}
	n.incRef()
	return n, nil
}

// clunk forgets fid.
func (c *conn) clunk(fid protocol.FID) bool {
	c.fidsMu.Lock()
	n, ok := c.fids[fid]
	delete(c.fids, fid)
	c.fidsMu.Unlock()
	if ok {
		n.decRef()
	}
	return ok
}

// clunkAll forgets every FID, when the connection ends.
func (c *conn) clunkAll() {
	c.fidsMu.Lock()
	fids := c.fids
	c.fids = make(map[protocol.FID]*node)
	c.fidsMu.Unlock()
	for _, n := range fids {
		n.decRef()
	}
}
