package gofer

import (
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2 has returned ENOSYS; lookups then use openat
// with O_NOFOLLOW, which is equivalent for a single checked component.
var noOpenat2 atomic.Bool

// resolveFlags confine an openat2 lookup: never above the directory, through
// no symlink, through no procfs magic link.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// checkName refuses anything but a single path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return unix.EINVAL
	}
	if len(name) > unix.NAME_MAX {
		return unix.ENAMETOOLONG
	}
	return nil
}

// openChild opens name, a checked single component, in the directory dirFD
// with flags (O_NOFOLLOW and O_CLOEXEC are added), never following a
// symlink. mode is used with O_CREAT.
func openChild(dirFD int, name string, flags int, mode uint32) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: uint64(flags), Resolve: resolveFlags}
		if flags&unix.O_CREAT != 0 {
			how.Mode = uint64(mode)
		}
		for try := 0; ; try++ {
			fd, err := unix.Openat2(dirFD, name, &how)
			// EAGAIN: a concurrent rename or mount raced the lookup.
			if err == unix.EINTR || err == unix.EAGAIN && try < 16 {
				continue
			}
			if err != unix.ENOSYS {
				return fd, err
			}
			noOpenat2.Store(true)
			break
		}
	}
	for {
		fd, err := unix.Openat(dirFD, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// lookupChild opens name in dirFD as an O_PATH FD and stats it.
func lookupChild(dirFD int, name string) (int, *unix.Stat_t, error) {
	fd, err := openChild(dirFD, name, unix.O_PATH, 0)
	if err != nil {
		return -1, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, &st, nil
}

// procFDPath names fd through procfs, as a directory FD and a name in it. It is used
// only as a fallback for changing a node's mode or times on kernels whose fchmodat2
// or utimensat lack AT_EMPTY_PATH, and only for nodes that are not symlinks: the magic
// link then leads to exactly the node's inode, with no name lookup. A boxed Gofer has
// no /proc of its own any more, but the /proc/self/fd it opened before (Box).
func procFDPath(fd int) (int, string) {
	if procSelfFD >= 0 {
		return procSelfFD, strconv.Itoa(fd)
	}
	return unix.AT_FDCWD, "/proc/self/fd/" + strconv.Itoa(fd)
}

// chmodNode sets the permission bits of n to mode.
func chmodNode(n *node, mode uint32) error {
	if n.ftype == unix.S_IFLNK {
		return unix.EOPNOTSUPP // As Linux: symlink modes can't be changed.
	}
	err := unix.Fchmodat(n.fd, "", mode, unix.AT_EMPTY_PATH)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		dir, name := procFDPath(n.fd)
		err = unix.Fchmodat(dir, name, mode, 0)
	}
	return err
}

// chownNode sets the owner of n; -1 leaves an ID unchanged.
func chownNode(n *node, uid, gid int) error {
	return unix.Fchownat(n.fd, "", uid, gid, unix.AT_EMPTY_PATH)
}

// utimesNode sets the times of n (UTIME_OMIT and UTIME_NOW as utimensat).
func utimesNode(n *node, ts []unix.Timespec) error {
	err := unix.UtimesNanoAt(n.fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EINVAL && n.ftype != unix.S_IFLNK && validTimes(ts) {
		// Kernels before AT_EMPTY_PATH support in utimensat.
		dir, name := procFDPath(n.fd)
		err = unix.UtimesNanoAt(dir, name, ts, 0)
	}
	return err
}

func validTimes(ts []unix.Timespec) bool {
	for _, t := range ts {
		if t.Nsec != unix.UTIME_NOW && t.Nsec != unix.UTIME_OMIT && (t.Nsec < 0 || t.Nsec >= 1e9) {
			return false
		}
	}
	return true
}

// openFlags are the Topen flags passed on to the host; others are dropped.
const openFlags = unix.O_ACCMODE | unix.O_APPEND | unix.O_TRUNC | unix.O_NONBLOCK | unix.O_DIRECTORY

// reopen returns a new host FD for n opened with flags, which the caller has
// checked (an access mode, no O_CREAT or O_PATH).
func (c *conn) reopen(n *node, flags int) (int, error) {
	flags &= openFlags
	switch n.ftype {
	case unix.S_IFLNK:
		return -1, unix.ELOOP
	case unix.S_IFCHR, unix.S_IFBLK:
		return -1, unix.EPERM
	case unix.S_IFSOCK:
		return -1, unix.ENXIO
	case unix.S_IFDIR:
		// "." from the node's own FD is the node itself: no name lookup.
		nfd, err := c.use(n)
		if err != nil {
			return -1, err
		}
		defer c.release(n)
		for {
			fd, err := unix.Openat(nfd, ".", flags|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
			if err != unix.EINTR {
				return fd, err
			}
		}
	}
	if flags&unix.O_DIRECTORY != 0 {
		return -1, unix.ENOTDIR
	}

	// The node is a regular file or a FIFO: open it by name in its parent
	// and check that the name still leads to it. The name is checked with
	// an O_PATH lookup first, which has no side effects, so that a name
	// since taken by another file (a device node, say) is not even opened
	// unless it is swapped in between the two lookups; the file opened is
	// checked again after. O_TRUNC waits until then.
	hostFlags := flags&^unix.O_TRUNC | unix.O_NOCTTY
	if n.ftype == unix.S_IFIFO {
		hostFlags |= unix.O_NONBLOCK
	}
	var (
		fd  int
		err error
	)
	c.treeMu.RLock()
	if parent, name := n.parent, n.name; parent == nil {
		// Its name was removed through this connection.
		c.treeMu.RUnlock()
		fd, err = c.openUnnamed(n, hostFlags)
	} else {
		var dirFD int
		dirFD, err = c.useLocked(parent)
		if err == nil {
			fd, err = openNamed(n, dirFD, name, hostFlags)
			c.release(parent)
		}
		c.treeMu.RUnlock()
	}
	if err != nil {
		return -1, err
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	if !n.sameFile(st) {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	if n.ftype == unix.S_IFIFO && flags&unix.O_NONBLOCK == 0 {
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if flags&unix.O_TRUNC != 0 && n.ftype == unix.S_IFREG {
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			err = unix.Ftruncate(fd, 0)
		} else {
			// As Linux, O_RDONLY|O_TRUNC truncates too.
			err = c.truncate(n, 0)
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// openNamed opens name in dirFD with hostFlags if it is n's inode (else
// ESTALE), checking that first with an O_PATH lookup, which has no side
// effects.
func openNamed(n *node, dirFD int, name string, hostFlags int) (int, error) {
	pfd, pst, err := lookupChild(dirFD, name)
	if err != nil {
		return -1, err
	}
	unix.Close(pfd)
	if !n.sameFile(pst) {
		return -1, unix.ESTALE
	}
	return openChild(dirFD, name, hostFlags, 0)
}

// openUnnamed opens n, a regular file or FIFO whose name was removed through
// the connection, through the /proc/self/fd entry of its own O_PATH FD, as a
// Linux process reopens an unlinked file it holds: the magic link leads to
// exactly the node's inode, with no name lookup. Without its FD (fdCache) it
// is ESTALE.
func (c *conn) openUnnamed(n *node, hostFlags int) (int, error) {
	nfd, err := c.use(n)
	if err != nil {
		return -1, err
	}
	defer c.release(n)
	dir, name := procFDPath(nfd)
	for {
		fd, err := unix.Openat(dir, name, hostFlags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// truncate sets the size of n, a regular file.
func (c *conn) truncate(n *node, size uint64) error {
	switch {
	case n.ftype == unix.S_IFDIR:
		return unix.EISDIR
	case n.ftype != unix.S_IFREG:
		return unix.EINVAL
	case size > 1<<63-1:
		return unix.EINVAL
	}
	fd, err := c.reopen(n, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, int64(size))
}

// fixMode gives a node that was just created the permission bits mode
// exactly (the server's umask may have cleared some, and a chown may have
// cleared S_ISUID and S_ISGID); a directory keeps the S_ISGID it inherits
// from a setgid parent. st is n's Stat, updated on success.
func fixMode(n *node, st *unix.Stat_t, mode uint32) error {
	want := mode & 0o7777
	if n.isDir() {
		want |= st.Mode & unix.S_ISGID
	}
	if st.Mode&0o7777 == want {
		return nil
	}
	if err := chmodNode(n, want); err != nil {
		return err
	}
	st.Mode = st.Mode&unix.S_IFMT | want
	return nil
}
