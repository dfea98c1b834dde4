package gofer

import (
	"errors"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// handle performs one request and returns its reply and the FDs to send
// with it (which the caller closes after sending).
func (c *conn) handle(req protocol.Message) (protocol.Message, []int) {
	var (
		resp protocol.Message
		fd   = -1
		err  error
	)
	switch m := req.(type) {
	case *protocol.Tattach:
		resp, err = c.attach(m)
	case *protocol.Twalk:
		resp, err = c.walk(m)
	case *protocol.Tstat:
		resp, err = c.stat(m)
	case *protocol.Topen:
		resp, fd, err = c.open(m)
	case *protocol.Tcreate:
		resp, fd, err = c.create(m)
	case *protocol.Tmkdir:
		resp, err = c.mkdir(m)
	case *protocol.Tsymlink:
		resp, err = c.symlink(m)
	case *protocol.Tmknod:
		resp, err = c.mknod(m)
	case *protocol.Tlink:
		resp, err = c.link(m)
	case *protocol.Tunlink:
		resp, err = c.unlink(m)
	case *protocol.Trename:
		resp, err = c.rename(m)
	case *protocol.Treadlink:
		resp, err = c.readlink(m)
	case *protocol.Treaddir:
		resp, err = c.readdir(m)
	case *protocol.Tsetattr:
		resp, err = c.setattr(m)
	case *protocol.Tstatfs:
		resp, err = c.statfs(m)
	case *protocol.Tclunk:
		resp, err = c.clunkFIDs(m)
	default:
		err = unix.ENOSYS
	}
	if err != nil {
		return rerror(errnoOf(err)), nil
	}
	if fd >= 0 {
		return resp, []int{fd}
	}
	return resp, nil
}

// errnoOf is the errno to answer err with.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return unix.EIO
}

func toStat(st *unix.Stat_t) protocol.Stat {
	return protocol.Stat{
		Mode:    st.Mode,
		UID:     st.Uid,
		GID:     st.Gid,
		Nlink:   uint64(st.Nlink),
		Ino:     st.Ino,
		Dev:     st.Dev,
		Rdev:    st.Rdev,
		Size:    uint64(st.Size),
		Blocks:  uint64(st.Blocks),
		Blksize: uint32(st.Blksize),
		Atime:   protocol.Timespec{Sec: st.Atim.Sec, Nsec: uint32(st.Atim.Nsec)},
		Mtime:   protocol.Timespec{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)},
		Ctime:   protocol.Timespec{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)},
	}
}

func fstat(fd int) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// dirFor looks up the directory dirFID for a request naming name in it;
// change says the request would modify the directory. The returned node is
// in use (its fd open) until the caller puts it.
func (c *conn) dirFor(dirFID protocol.FID, name string, change bool) (*node, error) {
	d, err := c.lookup(dirFID)
	if err != nil {
		return nil, err
	}
	switch {
	case checkName(name) != nil:
		err = checkName(name)
	case !d.isDir():
		err = unix.ENOTDIR
	case change && d.mount.readOnly:
		err = unix.EROFS
	}
	if err == nil {
		_, err = c.use(d)
	}
	if err != nil {
		d.decRef()
		return nil, err
	}
	return d, nil
}

func (c *conn) attach(m *protocol.Tattach) (protocol.Message, error) {
	if uint64(m.Mount) >= uint64(len(c.srv.mounts)) {
		return nil, unix.ENOENT
	}
	mnt := c.srv.mounts[m.Mount]
	fd, err := unix.FcntlInt(uintptr(mnt.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	n := c.newNode(fd, mnt, st, nil, "")
	n.isRoot = true
	c.release(n)
	return &protocol.Rattach{FID: c.newFID(n), Stat: toStat(st)}, nil
}

// walk walks one component at a time. Each name is looked up in the node
// reached so far, without following symlinks, and becomes a FID; the walk
// stops at the first name that fails and reports why in Rwalk.Errno.
func (c *conn) walk(m *protocol.Twalk) (protocol.Message, error) {
	if len(m.Names) > protocol.MaxWalkNames {
		return nil, unix.EINVAL
	}
	for _, name := range m.Names {
		if err := checkName(name); err != nil {
			return nil, err
		}
	}
	cur, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	// cur always holds a reference and a use of ours, so that a Tclunk of a
	// FID just handed out (FID numbers are predictable) can't close it
	// under us, nor can the cache.
	defer func() { c.put(cur) }()
	r := &protocol.Rwalk{}
	for _, name := range m.Names {
		if !cur.isDir() {
			r.Errno = uint32(unix.ENOTDIR)
			break
		}
		fd, st, err := lookupChild(cur.fd, name)
		if err != nil {
			r.Errno = uint32(errnoOf(err))
			break
		}
		n := c.newNode(fd, cur.mount, st, cur, name)
		n.incRef()
		r.Nodes = append(r.Nodes, protocol.Node{FID: c.newFID(n), Stat: toStat(st)})
		c.put(cur)
		cur = n
	}
	return r, nil
}

func (c *conn) stat(m *protocol.Tstat) (protocol.Message, error) {
	n, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.put(n)
	st, err := fstat(n.fd)
	if err != nil {
		return nil, err
	}
	return &protocol.Rstat{Stat: toStat(st)}, nil
}

func (c *conn) open(m *protocol.Topen) (protocol.Message, int, error) {
	n, err := c.lookup(m.FID)
	if err != nil {
		return nil, -1, err
	}
	defer n.decRef()
	flags := int(m.Flags)
	acc := flags & unix.O_ACCMODE
	switch {
	case acc == unix.O_ACCMODE, flags&(unix.O_CREAT|unix.O_PATH|unix.O_TMPFILE&^unix.O_DIRECTORY) != 0:
		return nil, -1, unix.EINVAL
	case n.mount.readOnly && (acc != unix.O_RDONLY || flags&unix.O_TRUNC != 0):
		return nil, -1, unix.EROFS
	}
	fd, err := c.reopen(n, flags)
	if err != nil {
		return nil, -1, err
	}
	return &protocol.Ropen{}, fd, nil
}

// newChild finishes a creation: it looks name up in d as an O_PATH node,
// checks that it has the type ftype and, if want is not nil, is want's inode
// (else someone raced the creation: ESTALE), gives it the requested owner
// and, unless it is a symlink, exactly the requested mode, and registers a
// FID for it. On failure other than ESTALE the caller removes what it
// created.
func (c *conn) newChild(d *node, name string, want *unix.Stat_t, ftype, mode, uid, gid uint32) (protocol.FID, protocol.Stat, error) {
	fd, st, err := lookupChild(d.fd, name)
	if err != nil {
		return 0, protocol.Stat{}, err
	}
	if st.Mode&unix.S_IFMT != ftype || want != nil && (st.Dev != want.Dev || st.Ino != want.Ino) {
		unix.Close(fd)
		return 0, protocol.Stat{}, unix.ESTALE
	}
	n := c.newNode(fd, d.mount, st, d, name)
	if c.srv.isRoot {
		err = chownNode(n, int(int32(uid)), int(int32(gid)))
	}
	if err == nil && ftype != unix.S_IFLNK {
		// The chown may have cleared S_ISUID and S_ISGID: restat first.
		if st, err = fstat(fd); err == nil {
			err = fixMode(n, st, mode)
		}
	}
	if err == nil {
		st, err = fstat(fd)
	}
	c.release(n)
	if err != nil {
		n.decRef()
		return 0, protocol.Stat{}, err
	}
	return c.newFID(n), toStat(st), nil
}

// createFlags are the Tcreate flags passed on to the host.
const createFlags = unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK

func (c *conn) create(m *protocol.Tcreate) (protocol.Message, int, error) {
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, -1, err
	}
	defer c.put(d)
	flags := int(m.Flags)
	if flags&unix.O_ACCMODE == unix.O_ACCMODE {
		return nil, -1, unix.EINVAL
	}
	mode := m.Mode & 0o7777
	fd, err := openChild(d.fd, m.Name, flags&createFlags|unix.O_CREAT|unix.O_EXCL|unix.O_NOCTTY, mode)
	if err != nil {
		return nil, -1, err
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		unix.Unlinkat(d.fd, m.Name, 0)
		return nil, -1, err
	}
	fid, pst, err := c.newChild(d, m.Name, st, unix.S_IFREG, mode, m.UID, m.GID)
	if err != nil {
		unix.Close(fd)
		if err != unix.ESTALE {
			unix.Unlinkat(d.fd, m.Name, 0)
		}
		return nil, -1, err
	}
	return &protocol.Rcreate{FID: fid, Stat: pst}, fd, nil
}

func (c *conn) mkdir(m *protocol.Tmkdir) (protocol.Message, error) {
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, err
	}
	defer c.put(d)
	mode := m.Mode & 0o7777
	if err := unix.Mkdirat(d.fd, m.Name, mode); err != nil {
		return nil, err
	}
	fid, st, err := c.newChild(d, m.Name, nil, unix.S_IFDIR, mode, m.UID, m.GID)
	if err != nil {
		if err != unix.ESTALE {
			unix.Unlinkat(d.fd, m.Name, unix.AT_REMOVEDIR)
		}
		return nil, err
	}
	return &protocol.Rmkdir{FID: fid, Stat: st}, nil
}

func (c *conn) symlink(m *protocol.Tsymlink) (protocol.Message, error) {
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, err
	}
	defer c.put(d)
	switch {
	case m.Target == "":
		return nil, unix.ENOENT // As Linux symlink(2).
	case len(m.Target) >= unix.PathMax:
		return nil, unix.ENAMETOOLONG
	}
	if err := unix.Symlinkat(m.Target, d.fd, m.Name); err != nil {
		return nil, err
	}
	fid, st, err := c.newChild(d, m.Name, nil, unix.S_IFLNK, 0, m.UID, m.GID)
	if err != nil {
		if err != unix.ESTALE {
			unix.Unlinkat(d.fd, m.Name, 0)
		}
		return nil, err
	}
	return &protocol.Rsymlink{FID: fid, Stat: st}, nil
}

func (c *conn) mknod(m *protocol.Tmknod) (protocol.Message, error) {
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, err
	}
	defer c.put(d)
	ftype := m.Mode & unix.S_IFMT
	switch ftype {
	case 0:
		ftype = unix.S_IFREG // As Linux mknod(2).
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		return nil, unix.EPERM
	default:
		return nil, unix.EINVAL
	}
	mode := m.Mode & 0o7777
	if err := unix.Mknodat(d.fd, m.Name, ftype|mode, 0); err != nil {
		return nil, err
	}
	fid, st, err := c.newChild(d, m.Name, nil, ftype, mode, m.UID, m.GID)
	if err != nil {
		if err != unix.ESTALE {
			unix.Unlinkat(d.fd, m.Name, 0)
		}
		return nil, err
	}
	return &protocol.Rmknod{FID: fid, Stat: st}, nil
}

// link links the target node itself (linkat with AT_EMPTY_PATH on its
// O_PATH FD) and, where the host refuses that (it needs
// CAP_DAC_READ_SEARCH), the name the target was last seen at, checking
// afterwards that the new link is the target's inode.
func (c *conn) link(m *protocol.Tlink) (protocol.Message, error) {
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, err
	}
	defer c.put(d)
	t, err := c.acquire(m.TargetFID)
	if err != nil {
		return nil, err
	}
	defer c.put(t)
	switch {
	case t.mount != d.mount:
		return nil, unix.EXDEV
	case t.isDir():
		return nil, unix.EPERM // As Linux link(2).
	}
	err = unix.Linkat(t.fd, "", d.fd, m.Name, unix.AT_EMPTY_PATH)
	if err == unix.ENOENT {
		c.treeMu.RLock()
		if p := t.parent; p != nil {
			var pfd int
			if pfd, err = c.useLocked(p); err == nil {
				err = unix.Linkat(pfd, t.name, d.fd, m.Name, 0)
				c.release(p)
			}
		}
		c.treeMu.RUnlock()
	}
	if err != nil {
		return nil, err
	}
	fd, st, err := lookupChild(d.fd, m.Name)
	if err != nil {
		return nil, err
	}
	if !t.sameFile(st) {
		unix.Close(fd)
		return nil, unix.ESTALE
	}
	n := c.newNode(fd, d.mount, st, d, m.Name)
	c.release(n)
	return &protocol.Rlink{FID: c.newFID(n), Stat: toStat(st)}, nil
}

func (c *conn) unlink(m *protocol.Tunlink) (protocol.Message, error) {
	if m.Flags&^unix.AT_REMOVEDIR != 0 {
		return nil, unix.EINVAL
	}
	d, err := c.dirFor(m.DirFID, m.Name, true)
	if err != nil {
		return nil, err
	}
	defer c.put(d)
	c.treeMu.Lock()
	defer c.treeMu.Unlock()
	gone := c.holdNamed(d, m.Name, nil)
	err = unix.Unlinkat(d.fd, m.Name, int(m.Flags))
	c.unnamed(gone, err == nil)
	if err != nil {
		return nil, err
	}
	return &protocol.Runlink{}, nil
}

// holdNamed returns the nodes of this connection seen at name in d (any node
// of d's directory) that are still the file there, each in use with its FD
// open, except those that are keep's inode: the nodes a removal of name or a
// rename over it would leave without a name, so that their FDs can be kept
// (unnamed). The caller holds treeMu for writing.
func (c *conn) holdNamed(d *node, name string, keep *unix.Stat_t) []*node {
	var at []*node
	c.fidsMu.Lock()
	for _, n := range c.fids {
		if p := n.parent; p != nil && p.dev == d.dev && p.ino == d.ino && n.name == name &&
			(keep == nil || !n.sameFile(keep)) {
			n.incRef()
			at = append(at, n)
		}
	}
	c.fidsMu.Unlock()
	held := at[:0]
	for _, n := range at {
		if _, err := c.useLocked(n); err != nil {
			// Not the file there: nothing it names is removed.
			n.decRef()
			continue
		}
		held = append(held, n)
	}
	return held
}

// unnamed ends what holdNamed began: if the name was removed, each node
// forgets its parent and name and is kept as unnamed (fdCache.keepUnnamed):
// it can't be looked up again, and the client may still use it. The caller
// holds treeMu for writing.
func (c *conn) unnamed(ns []*node, removed bool) {
	for _, n := range ns {
		if removed && n.parent != nil {
			c.srv.fds.keepUnnamed(n)
			n.parent.decRef()
			n.parent, n.name = nil, ""
		}
		c.put(n)
	}
}

func (c *conn) rename(m *protocol.Trename) (protocol.Message, error) {
	const known = unix.RENAME_NOREPLACE | unix.RENAME_EXCHANGE
	if m.Flags&^known != 0 || m.Flags == known {
		// RENAME_WHITEOUT makes a device node: refused like mknod.
		return nil, unix.EINVAL
	}
	od, err := c.dirFor(m.OldDirFID, m.OldName, true)
	if err != nil {
		return nil, err
	}
	defer c.put(od)
	nd, err := c.dirFor(m.NewDirFID, m.NewName, true)
	if err != nil {
		return nil, err
	}
	defer c.put(nd)
	if od.mount != nd.mount {
		return nil, unix.EXDEV
	}
	c.treeMu.Lock()
	defer c.treeMu.Unlock()
	var replaced []*node
	if m.Flags&unix.RENAME_EXCHANGE == 0 {
		// A file renamed over loses its name, unless it is the file
		// renamed (a rename between links of one file does nothing).
		var st unix.Stat_t
		if err := unix.Fstatat(od.fd, m.OldName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, err
		}
		replaced = c.holdNamed(nd, m.NewName, &st)
	}
	err = unix.Renameat2(od.fd, m.OldName, nd.fd, m.NewName, uint(m.Flags))
	c.unnamed(replaced, err == nil)
	if err != nil {
		return nil, err
	}
	c.moved(od, m.OldName, nd, m.NewName, m.Flags&unix.RENAME_EXCHANGE != 0)
	return &protocol.Rrename{}, nil
}

// moved makes the nodes seen at oldName in od (any node of od's directory)
// be at newName in nd, and with exchange the other way round too. The
// caller holds treeMu for writing.
func (c *conn) moved(od *node, oldName string, nd *node, newName string, exchange bool) {
	at := func(n *node, d *node, name string) bool {
		return n.parent != nil && n.parent.dev == d.dev && n.parent.ino == d.ino && n.name == name
	}
	var fwd, back []*node
	c.fidsMu.Lock()
	for _, n := range c.fids {
		switch {
		case at(n, od, oldName):
			n.incRef()
			fwd = append(fwd, n)
		case exchange && at(n, nd, newName):
			n.incRef()
			back = append(back, n)
		}
	}
	c.fidsMu.Unlock()
	move := func(ns []*node, d *node, name string) {
		for _, n := range ns {
			if n.parent != d {
				d.incRef()
				n.parent.decRef()
				n.parent = d
			}
			n.name = name
			n.decRef()
		}
	}
	move(fwd, nd, newName)
	move(back, od, oldName)
}

func (c *conn) readlink(m *protocol.Treadlink) (protocol.Message, error) {
	n, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.put(n)
	if n.ftype != unix.S_IFLNK {
		return nil, unix.EINVAL // As Linux readlink(2).
	}
	buf := make([]byte, unix.PathMax)
	k, err := unix.Readlinkat(n.fd, "", buf)
	if err != nil {
		return nil, err
	}
	if k >= len(buf) {
		return nil, unix.ENAMETOOLONG
	}
	return &protocol.Rreadlink{Target: string(buf[:k])}, nil
}

func (c *conn) setattr(m *protocol.Tsetattr) (protocol.Message, error) {
	n, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.put(n)
	a := &m.Attr
	switch {
	case a.Mask&^protocol.SetattrAll != 0:
		return nil, unix.EINVAL
	case a.Mask != 0 && n.mount.readOnly:
		return nil, unix.EROFS
	}
	// Size first and times last, as a truncate changes mtime; the owner
	// before the mode, as a chown clears S_ISUID and S_ISGID.
	if a.Mask&protocol.SetattrSize != 0 {
		if err := c.truncate(n, a.Size); err != nil {
			return nil, err
		}
	}
	if a.Mask&(protocol.SetattrUID|protocol.SetattrGID) != 0 {
		uid, gid := -1, -1
		if a.Mask&protocol.SetattrUID != 0 {
			uid = int(a.UID)
		}
		if a.Mask&protocol.SetattrGID != 0 {
			gid = int(a.GID)
		}
		if err := chownNode(n, uid, gid); err != nil {
			return nil, err
		}
	}
	if a.Mask&protocol.SetattrMode != 0 {
		if err := chmodNode(n, a.Mode&0o7777); err != nil {
			return nil, err
		}
	}
	if a.Mask&(protocol.SetattrAtime|protocol.SetattrMtime|protocol.SetattrAtimeNow|protocol.SetattrMtimeNow) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if a.Mask&protocol.SetattrAtime != 0 {
			ts[0] = unix.Timespec{Sec: a.Atime.Sec, Nsec: int64(a.Atime.Nsec)}
		}
		if a.Mask&protocol.SetattrAtimeNow != 0 {
			ts[0] = unix.Timespec{Nsec: unix.UTIME_NOW}
		}
		if a.Mask&protocol.SetattrMtime != 0 {
			ts[1] = unix.Timespec{Sec: a.Mtime.Sec, Nsec: int64(a.Mtime.Nsec)}
		}
		if a.Mask&protocol.SetattrMtimeNow != 0 {
			ts[1] = unix.Timespec{Nsec: unix.UTIME_NOW}
		}
		if err := utimesNode(n, ts); err != nil {
			return nil, err
		}
	}
	st, err := fstat(n.fd)
	if err != nil {
		return nil, err
	}
	return &protocol.Rsetattr{Stat: toStat(st)}, nil
}

func (c *conn) statfs(m *protocol.Tstatfs) (protocol.Message, error) {
	n, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.put(n)
	var sf unix.Statfs_t
	if err := unix.Fstatfs(n.fd, &sf); err != nil {
		return nil, err
	}
	return &protocol.Rstatfs{Statfs: protocol.Statfs{
		Type:    uint64(sf.Type),
		Bsize:   uint64(sf.Bsize),
		Blocks:  sf.Blocks,
		Bfree:   sf.Bfree,
		Bavail:  sf.Bavail,
		Files:   sf.Files,
		Ffree:   sf.Ffree,
		Namelen: uint64(sf.Namelen),
	}}, nil
}

// clunkFIDs forgets every FID named; if any was unknown the reply is EBADF
// (the known ones are forgotten all the same).
func (c *conn) clunkFIDs(m *protocol.Tclunk) (protocol.Message, error) {
	var err error
	for _, fid := range m.FIDs {
		if !c.clunk(fid) {
			err = unix.EBADF
		}
	}
	if err != nil {
		return nil, err
	}
	return &protocol.Rclunk{}, nil
}
