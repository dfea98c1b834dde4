package gofer

import (
	"container/list"
	"sync"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// fdCache bounds the host FDs a Server's nodes hold: each node's O_PATH FD and,
// for a directory that has been listed, its readable directory FD. A node holds
// them while a handler uses it (node.users > 0); otherwise they wait in an LRU
// list, and the least recently used are closed while more than limit FDs are
// held. A node whose FDs were closed keeps its identity and reopens its O_PATH
// FD on its next use, from its parent's, or for a mount root by duplicating the
// mount's root FD, which the Server holds open (conn.useLocked).
//
// A node whose name was removed through the connection (Tunlink, or a Trename
// over it) can't be reopened by name, and the client may still be using the
// file (an open temporary file, unlinked, then fchmod or ftruncate through its
// descriptor). Such an unnamed node keeps its FDs while it is among the
// unnamedLimit most recently unnamed; an older one loses them once no handler
// uses it, and every request on it is then ESTALE. The client never says when it
// stops using a node (the Sentry keeps its FIDs), so only this bound keeps a
// removal of a large tree (rm -r) from holding an FD for every file removed.
type fdCache struct {
	limit        int // FDs held beyond which idle nodes' FDs are closed
	unnamedLimit int // unnamed nodes that keep their FDs

	mu      sync.Mutex
	held    int       // FDs nodes hold now; guarded by mu
	idle    list.List // of *node: named nodes with FDs and no users, least recently used first; guarded by mu
	unnamed list.List // of *node: unnamed nodes keeping their FDs, oldest first; guarded by mu
}

// The reserve is the room left below RLIMIT_NOFILE for FDs that are not nodes':
// the process's own (stdio, the connection, epoll, /proc/self/fd, mount roots)
// and each in-flight request's (an FD being sent to the client, the lookups of
// a walk or a Topen, nodes in use beyond the limit).
const (
	fdReserveBase       = 64
	fdReservePerRequest = 8
	// unnamedShare is the part of the limit that unnamed nodes may keep.
	unnamedShare = 4
	// maxNodeFDs caps the cache however high RLIMIT_NOFILE is: each FD pins a
	// host struct file and dentry.
	maxNodeFDs = 1 << 16
	// minNodeFDs is the least cache that still serves: a walk, its parent
	// chain being reopened and the mount roots.
	minNodeFDs = 16
)

// nodeFDLimit is the number of node FDs a Server keeps open by default: its
// soft RLIMIT_NOFILE less the reserve, within [minNodeFDs, maxNodeFDs].
func nodeFDLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1024 - fdReserveBase - fdReservePerRequest*maxInFlight
	}
	if rl.Cur > maxNodeFDs+fdReserveBase+fdReservePerRequest*maxInFlight {
		return maxNodeFDs
	}
	return max(int(rl.Cur)-fdReserveBase-fdReservePerRequest*maxInFlight, minNodeFDs)
}

// tryUse marks n in use and returns its O_PATH FD, if it has one.
func (fc *fdCache) tryUse(n *node) (int, bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if n.fd < 0 {
		return -1, false
	}
	n.users++
	if n.elem != nil {
		fc.idle.Remove(n.elem)
		n.elem = nil
	}
	return n.fd, true
}

// install gives n, which had no FD when looked at, the O_PATH FD fd, and marks
// it in use; if a concurrent reopen installed one first, fd is closed and
// that one is used.
func (fc *fdCache) install(n *node, fd int) int {
	fc.mu.Lock()
	if n.fd >= 0 {
		fc.mu.Unlock()
		unix.Close(fd)
		fd, _ = fc.tryUse(n)
		return fd
	}
	defer fc.mu.Unlock()
	n.fd = fd
	fc.held++
	n.users++
	return fd
}

// setDirFD gives n, which is in use and has none, the directory FD fd.
func (fc *fdCache) setDirFD(n *node, fd int) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	n.dirFD = fd
	fc.held++
}

// release ends one use of n. A named node no one uses goes to the
// back of the idle list, and the idle nodes at its front lose their FDs while
// more than the limit are held; an unnamed node past the unnamed list loses
// its FDs at once.
func (fc *fdCache) release(n *node) {
	var closing []int
	fc.mu.Lock()
	n.users--
	if n.users == 0 && n.fd >= 0 && n.refs.Load() > 0 && n.uelem == nil {
		if n.unnamed {
			closing = fc.dropLocked(n, closing)
		} else {
			n.elem = fc.idle.PushBack(n)
		}
	}
	for fc.held > fc.limit && fc.idle.Len() > 0 {
		m := fc.idle.Remove(fc.idle.Front()).(*node)
		m.elem = nil
		closing = fc.dropLocked(m, closing)
	}
	fc.mu.Unlock()
	closeAll(closing)
}

// dropLocked takes n's FDs away from it, appending them to fds for the caller to
// close once it unlocks mu.
func (fc *fdCache) dropLocked(n *node, fds []int) []int {
	k := len(fds)
	fds = n.takeFDs(fds)
	fc.held -= len(fds) - k
	return fds
}

// keepUnnamed marks n, which is in use, unnamed and puts it at the back of the
// unnamed list; the unnamed node at the front of a list longer than
// unnamedLimit leaves it, and its FDs are closed once no handler uses it.
func (fc *fdCache) keepUnnamed(n *node) {
	var closing []int
	fc.mu.Lock()
	n.unnamed = true
	n.uelem = fc.unnamed.PushBack(n)
	for fc.unnamed.Len() > fc.unnamedLimit {
		m := fc.unnamed.Remove(fc.unnamed.Front()).(*node)
		m.uelem = nil
		if m.users == 0 {
			closing = fc.dropLocked(m, closing)
		}
	}
	fc.mu.Unlock()
	closeAll(closing)
}

// forget closes the FDs of n, whose last reference went.
func (fc *fdCache) forget(n *node) {
	fc.mu.Lock()
	if n.elem != nil {
		fc.idle.Remove(n.elem)
		n.elem = nil
	}
	if n.uelem != nil {
		fc.unnamed.Remove(n.uelem)
		n.uelem = nil
	}
	fds := fc.dropLocked(n, nil)
	fc.mu.Unlock()
	closeAll(fds)
}

// takeFDs appends n's FDs to fds and leaves n without them. The caller holds
// fdCache.mu and adjusts held.
func (n *node) takeFDs(fds []int) []int {
	if n.fd >= 0 {
		fds = append(fds, n.fd)
		n.fd = -1
	}
	if n.dirFD >= 0 {
		fds = append(fds, n.dirFD)
		n.dirFD = -1
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// use marks n in use by the calling handler and returns its O_PATH FD,
// reopening it if it was closed; the FD stays open until release(n).
func (c *conn) use(n *node) (int, error) {
	if fd, ok := c.srv.fds.tryUse(n); ok {
		return fd, nil
	}
	c.treeMu.RLock()
	defer c.treeMu.RUnlock()
	return c.useLocked(n)
}

// useLocked is use for a caller holding treeMu. A node without an FD is looked
// up again by its name in its parent (itself in use for the lookup, reopened
// the same way if need be, up to the mount root), with the
// walk's lookup: one component, no symlink followed. The name must still lead
// to the node's inode: another file there is ESTALE, none ENOENT. An unnamed
// node that lost its FDs has no name to be looked up by: ESTALE.
func (c *conn) useLocked(n *node) (int, error) {
	if fd, ok := c.srv.fds.tryUse(n); ok {
		return fd, nil
	}
	p := n.parent
	if p == nil && n.isRoot {
		fd, err := unix.FcntlInt(uintptr(n.mount.rootFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		return c.srv.fds.install(n, fd), nil
	}
	if p == nil {
		return -1, unix.ESTALE
	}
	pfd, err := c.useLocked(p)
	if err != nil {
		return -1, err
	}
	fd, st, err := lookupChild(pfd, n.name)
	c.release(p)
	if err != nil {
		return -1, err
	}
	if !n.sameFile(st) {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return c.srv.fds.install(n, fd), nil
}

// release ends a use of n begun by use.
func (c *conn) release(n *node) { c.srv.fds.release(n) }

// acquire looks up fid and marks its node in use; put undoes both.
func (c *conn) acquire(fid protocol.FID) (*node, error) {
	n, err := c.lookup(fid)
	if err != nil {
		return nil, err
	}
	if _, err := c.use(n); err != nil {
		n.decRef()
		return nil, err
	}
	return n, nil
}

// put ends the use and drops the reference that acquire took.
func (c *conn) put(n *node) {
	c.release(n)
	n.decRef()
}
