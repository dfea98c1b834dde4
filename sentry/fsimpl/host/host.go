// Package host is files backed by host file descriptors the Sentry was given: the
// container's stdio. The application never holds the host FD; its reads, writes and
// terminal ioctls are made by the Sentry on the application's behalf, on that FD only.
package host

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Inode is a host FD as a file.
type Inode struct {
	FD int
	// Owned: the FD was given for this file alone (an exec'd process's stdio), and is
	// closed when its last description is released.
	Owned bool
}

// Stat implements vfs.Inode.Stat: the host file's attributes.
func (h *Inode) Stat() (vfs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(h.FD, &st); err != nil {
		return vfs.Stat{}, err
	}
	return vfs.Stat{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Nlink: st.Nlink, Ino: st.Ino,
		Dev: st.Dev, Rdev: st.Rdev, Size: uint64(st.Size), Blocks: uint64(st.Blocks),
		Blksize: uint32(st.Blksize), Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim}, nil
}

// SetStat implements vfs.Inode.SetStat: the container may not change the host's
// files' attributes through its stdio.
func (h *Inode) SetStat(vfs.SetStat) error { return unix.EPERM }

// IsAnonymousPipe implements vfs.AnonymousPipe: a host FD, whatever it is, is no name
// of a FIFO; it opens itself.
func (*Inode) IsAnonymousPipe() {}

// File returns the description of the host FD itself, which closes it if the inode
// owns it: the first and usually only one (the sandbox's stdio).
func (h *Inode) File() *File { return &File{FD: h.FD, owned: h.Owned} }

// Open implements vfs.Inode.Open.
func (h *Inode) Open(int) (vfs.FileImpl, error) {
	// Another description of the same host file (/proc/PID/fd/N): a descriptor of its
	// own, which it closes.
	fd, err := unix.FcntlInt(uintptr(h.FD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &File{FD: fd, owned: true}, nil
}

// Flags returns the host description's status flags.
func (h *Inode) Flags() int {
	fl, err := unix.FcntlInt(uintptr(h.FD), unix.F_GETFL, 0)
	if err != nil {
		return unix.O_RDWR
	}
	return fl
}

// File is an open host FD. It has no offset of its own (stdio is a stream).
type File struct {
	FD    int
	owned bool
}

// IsStream implements vfs.Stream.
func (*File) IsStream() {}

// Read implements vfs.FileImpl.Read.
func (f *File) Read(dst []byte, _ int64) (int, error) {
	return retry(func() (int, error) { return unix.Read(f.FD, dst) })
}

// Write implements vfs.FileImpl.Write.
func (f *File) Write(src []byte, _ int64) (int, error) {
	return retry(func() (int, error) { return unix.Write(f.FD, src) })
}

func retry(op func() (int, error)) (int, error) {
	for {
		n, err := op()
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Ioctl implements vfs.FileImpl.Ioctl: the terminal queries of a host terminal.
func (f *File) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	switch req {
	case unix.TCGETS:
		tio, err := unix.IoctlGetTermios(f.FD, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		// The kernel's struct termios (TCGETS) ends before the speeds that
		// unix.Termios, glibc's struct, holds: 36 bytes, not 44.
		return 0, copyOutN(mem, arg, tio, termiosSize)
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(f.FD, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		return 0, copyOut(mem, arg, ws)
	}
	return 0, unix.ENOTTY
}

// Release implements vfs.FileImpl.Release. The host FD is the Sentry's: it stays open,
// unless it was given for this file alone (Inode.Owned).
func (f *File) Release() {
	if f.owned {
		unix.Close(f.FD)
	}
}
