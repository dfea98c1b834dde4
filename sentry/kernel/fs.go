package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// FSContext is a process's root, working directory and umask (struct fs_struct).
type FSContext struct {
	mu    sync.Mutex
	root  vfs.VirtualDentry
	cwd   vfs.VirtualDentry
	umask uint32
}

// NewFSContext returns a context with root and working directory at root.
func NewFSContext(root vfs.VirtualDentry, umask uint32) *FSContext {
	return &FSContext{root: root, cwd: root, umask: umask}
}

// Root is the process's root directory.
func (f *FSContext) Root() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.root
}

// Cwd is the working directory.
func (f *FSContext) Cwd() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cwd
}

// SetRoot makes vd the root directory (chroot).
func (f *FSContext) SetRoot(vd vfs.VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root = vd
}

// SetCwd changes the working directory.
func (f *FSContext) SetCwd(vd vfs.VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd = vd
}

// SwapUmask sets the umask and returns the old one.
func (f *FSContext) SwapUmask(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = mask & 0o777
	return old
}

// Caller is who the task is, for the VFS.
func (t *Task) Caller() vfs.Caller {
	t.FS.mu.Lock()
	defer t.FS.mu.Unlock()
	return vfs.Caller{Creds: t.Creds, Umask: t.FS.umask, Ctx: t}
}

// PathOp names path relative to dirfd (AT_FDCWD: the working directory), as the *at
// system calls take it: EBADF for a bad dirfd, ENOTDIR for one that is not a directory
// when the path is relative.
func (t *Task) PathOp(dirfd int32, path string) (vfs.PathOp, error) {
	p := vfs.PathOp{Root: t.FS.Root(), Path: path}
	switch {
	case len(path) > 0 && path[0] == '/':
		p.Start = p.Root
	case dirfd == unix.AT_FDCWD:
		p.Start = t.FS.Cwd()
	default:
		fd, err := t.FDs.Get(dirfd)
		if err != nil {
			return p, err
		}
		defer fd.DecRef()
		p.Start = fd.VirtualDentry()
		if path != "" && !p.Start.Dentry.IsDir() {
			return p, unix.ENOTDIR
		}
	}
	return p, nil
}

// Fork returns a copy of the context for a new process.
func (f *FSContext) Fork() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &FSContext{root: f.root, cwd: f.cwd, umask: f.umask}
}
