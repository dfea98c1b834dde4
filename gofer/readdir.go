package gofer

import (
	"bytes"
	"encoding/binary"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// readdir pages through a directory without per-client state: a cookie is a
// host getdents64 d_off, the position after an entry, which the filesystem
// keeps valid across calls and across opens of the directory (ext4's are
// hashes, xfs's and btrfs's are offsets or indices, tmpfs's are counters).
// Each request seeks the node's directory FD (opened on the first Treaddir
// and kept with the node's O_PATH FD, in the fdCache) to the cookie and reads
// from there, so requests for the same cookie see the same entries unless the
// directory changed, whether the FD is the one an earlier request used or a
// new one opened after the cache closed that. The reply holds at most Count
// entries and at most what fits in one message; an empty reply is the end of
// the directory.
func (c *conn) readdir(m *protocol.Treaddir) (protocol.Message, error) {
	n, err := c.acquire(m.FID)
	if err != nil {
		return nil, err
	}
	defer c.put(n)
	switch {
	case !n.isDir():
		return nil, unix.ENOTDIR
	case m.Count == 0, m.Cookie > 1<<63-1:
		return nil, unix.EINVAL
	}

	n.dirMu.Lock()
	defer n.dirMu.Unlock()
	if n.dirFD < 0 {
		fd, err := unix.Openat(n.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		c.srv.fds.setDirFD(n, fd)
	}
	if _, err := unix.Seek(n.dirFD, int64(m.Cookie), 0); err != nil {
		return nil, err
	}

	r := &protocol.Rreaddir{}
	size := protocol.HeaderSize + 4
	buf := make([]byte, 32<<10)
	for uint32(len(r.Entries)) < m.Count {
		k, err := getdents(n.dirFD, buf)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			break
		}
		for b := buf[:k]; len(b) > 0 && uint32(len(r.Entries)) < m.Count; {
			de, reclen, ok := parseDirent(b)
			if !ok {
				return nil, unix.EIO
			}
			b = b[reclen:]
			if de.Name == "." || de.Name == ".." {
				continue
			}
			if size+protocol.DirentSize(de.Name) > protocol.MaxMessageSize {
				return r, nil
			}
			size += protocol.DirentSize(de.Name)
			r.Entries = append(r.Entries, de)
		}
	}
	return r, nil
}

func getdents(fd int, buf []byte) (int, error) {
	for {
		k, err := unix.Getdents(fd, buf)
		if err != unix.EINTR {
			return k, err
		}
	}
}

// parseDirent decodes the struct linux_dirent64 at the start of b:
//
//	u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[];
func parseDirent(b []byte) (protocol.Dirent, int, bool) {
	const nameOff = 19
	if len(b) < nameOff {
		return protocol.Dirent{}, 0, false
	}
	reclen := int(binary.NativeEndian.Uint16(b[16:]))
	if reclen < nameOff || reclen > len(b) {
		return protocol.Dirent{}, 0, false
	}
	name := b[nameOff:reclen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return protocol.Dirent{
		Name: string(name),
		Ino:  binary.NativeEndian.Uint64(b[0:]),
		Type: b[18],
		Next: binary.NativeEndian.Uint64(b[8:]),
	}, reclen, true
}
