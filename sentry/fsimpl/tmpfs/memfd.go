package tmpfs

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Memfds and seals (memfd_create(2), mm/memfd.c). A memfd is a regular tmpfs file in
// no directory. Every tmpfs regular file has seals, as every shmem file does; a file
// made by open(O_CREAT) starts with F_SEAL_SEAL (no seal can be added), a memfd with
// none when made with MFD_ALLOW_SEALING. The seals are checked where Linux's shmem
// checks them: SetStat (size and exec bits), Write and Allocate.

// allSeals is F_ALL_SEALS.
const allSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE |
	unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_EXEC

// memfd is a memfd's inode: a regular file /proc/PID/fd names "/memfd:NAME (deleted)".
type memfd struct {
	*regular
	name string
}

// FDName implements vfs.FDNamer.
func (m memfd) FDName() string { return "/memfd:" + m.name + " (deleted)" }

// NewMemfd returns a read-write description of a new empty memfd of fs named name,
// with mode 0777 less the exec bits if noexec; sealing allows seals to be added, noexec
// adds F_SEAL_EXEC (MFD_NOEXEC_SEAL).
func (fs *Filesystem) NewMemfd(v *vfs.VFS, name string, sealing, noexec bool, owner vfs.Owner) *vfs.FileDescription {
	f := fs.newRegular(unix.F_SEAL_SEAL)
	f.anon, f.opens = true, 1
	mode := uint32(unix.S_IFREG | 0o777)
	if noexec {
		mode &^= 0o111
		f.seals = unix.F_SEAL_EXEC
	} else if sealing {
		f.seals = 0
	}
	fs.initInode(&f.inode, mode, owner)
	in := memfd{f, name}
	vd := v.Anonymous(in, "tmpfs")
	return vfs.NewFileDescription(vd, &regularFile{f: f}, unix.O_RDWR|unix.O_LARGEFILE)
}

// Seals implements vfs.Sealer.
func (r *regularFile) Seals() uint32 {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.f.seals
}

// AddSeals implements vfs.Sealer, with memfd_add_seals' checks after the description's
// write access (the caller's): unknown bits EINVAL, a sealed seal EPERM.
func (r *regularFile) AddSeals(seals uint32) error {
	if seals&^allSeals != 0 {
		return unix.EINVAL
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seals&unix.F_SEAL_SEAL != 0 {
		return unix.EPERM
	}
	// F_SEAL_WRITE is EBUSY on Linux while the file has writable shared mappings;
	// the Sentry does not count those yet, so it seals them anyway (a divergence).
	if seals&unix.F_SEAL_EXEC != 0 && f.st.Mode&0o111 != 0 {
		seals |= unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_FUTURE_WRITE
	}
	f.seals |= seals
	return nil
}
