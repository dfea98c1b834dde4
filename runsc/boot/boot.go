// Package boot starts a Sentry: it creates the memory file and the platform, builds the
// kernel with its system call table and its filesystems, and runs the container's first
// process.
//
// The root is an overlay: a tmpfs upper layer over the root a Gofer serves (read-only
// for runsc do), so the container's writes never reach the host. The Sentry's own
// /proc, /sys and /dev are mounted over it. Today the Sentry runs inside the runsc process that asks for it
// (runsc do); the sandbox process of DESIGN.md (runsc boot: its own namespaces, an empty
// root, a seccomp filter) comes with the OCI runtime, and this package is where that
// process will start from.
package boot

import (
	"fmt"
	"io"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/fsimpl/dev"
	"github.com/moat-sandbox/moat/sentry/fsimpl/gofer"
	"github.com/moat-sandbox/moat/sentry/fsimpl/host"
	"github.com/moat-sandbox/moat/sentry/fsimpl/overlay"
	"github.com/moat-sandbox/moat/sentry/fsimpl/proc"
	"github.com/moat-sandbox/moat/sentry/fsimpl/sys"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/syscalls/linux"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// memoryFileSize is the memory file's size: sparse, so only what the application
// touches costs memory.
const memoryFileSize = 64 << 30

// Args is what to run.
type Args struct {
	Platform string
	Strace   bool
	// GoferFD is the Sentry's end of the socket to the Gofer serving the root.
	GoferFD int
	// Overlay: a tmpfs over the Gofer's root ("memory"), or the Gofer's root itself,
	// writable ("none").
	Overlay string
	Path    string   // the executable, in the sandbox
	Argv    []string // argv[0] included
	Envv    []string
	Cwd     string // the working directory, in the sandbox; "/" if it does not exist
	Stdio   [3]int // host FDs for the application's 0, 1, 2
	Log     io.Writer
}

// Run runs the program on a new Sentry and returns how it ended.
func Run(a Args) (kernel.ExitStatus, error) {
	if a.Platform != "ptrace" {
		return kernel.ExitStatus{}, fmt.Errorf("platform %q is not available (have ptrace)", a.Platform)
	}
	mf, err := pgalloc.New("moat-memory", memoryFileSize)
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("memory file: %w", err)
	}
	defer mf.Close()
	p, err := ptrace.New(mf.FD())
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	defer p.Close()
	v := vfs.New()
	k := kernel.New(p, mf, v, linux.Table(), a.Log)
	k.Strace = a.Strace

	gc := protocol.NewClient(a.GoferFD)
	defer gc.Close()
	root, err := rootMount(v, gc, a.Overlay)
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	if err := mountDefaults(v, k, root); err != nil {
		return kernel.ExitStatus{}, err
	}
	fs := kernel.NewFSContext(root, 0o022)
	if cwd, err := v.Resolve(vfs.Root(), root, root, a.Cwd, true); err == nil && cwd.Dentry.IsDir() {
		fs.SetCwd(cwd)
	}
	fds := vfs.NewFDTable()
	for i, hfd := range a.Stdio {
		in := &host.Inode{FD: hfd}
		impl, _ := in.Open(0)
		fds.Set(int32(i), vfs.NewFileDescription(v.Anonymous(in, "host"), impl, in.Flags()), false)
	}
	t, err := k.NewProcess(kernel.ProcessArgs{Path: a.Path, Argv: a.Argv, Envv: a.Envv,
		FDs: fds, FS: fs, Creds: vfs.Root()})
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("exec %s: %w", a.Path, err)
	}
	defer t.MM.Release()
	return t.Run(), nil
}

// rootMount makes the root: a tmpfs over the Gofer's mount 0, or with overlay "none"
// the Gofer's mount itself.
func rootMount(v *vfs.VFS, gc *protocol.Client, overlayMode string) (vfs.VirtualDentry, error) {
	lower, err := gofer.New(v, gc, 0)
	if err != nil {
		return vfs.VirtualDentry{}, fmt.Errorf("attaching to the gofer: %w", err)
	}
	if overlayMode == "none" {
		return v.NewMount(lower, "9p", "root", vfs.MountFlags{}).Root(), nil
	}
	st, err := lower.Stat()
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	_, upper := tmpfs.New(v, st.Mode&0o7777, vfs.Owner{UID: st.UID, GID: st.GID})
	return v.NewMount(overlay.New(v, upper, lower), "overlay", "root", vfs.MountFlags{}).Root(), nil
}

// mountDefaults makes the mounts every container has: /proc, /sys and /dev, the
// Sentry's own (the host's are never shown).
func mountDefaults(v *vfs.VFS, k *kernel.Kernel, root vfs.VirtualDentry) error {
	c := vfs.Caller{Creds: vfs.Root()}
	at := func(p string) vfs.PathOp { return vfs.PathOp{Root: root, Start: root, Path: p} }
	system := vfs.MountFlags{NoSuid: true, NoDev: true, NoExec: true}
	for _, m := range []struct {
		path, fsType string
		mode         uint32
		flags        vfs.MountFlags
		make         func() (vfs.DirInode, error)
	}{
		{"/proc", "proc", 0o555, system, func() (vfs.DirInode, error) { return proc.New(v, k), nil }},
		{"/sys", "sysfs", 0o555, system, func() (vfs.DirInode, error) { return sys.New(v), nil }},
		{"/dev", "tmpfs", 0o755, vfs.MountFlags{NoSuid: true}, func() (vfs.DirInode, error) { return dev.New(v) }},
	} {
		if err := v.MkdirAt(c, at(m.path), m.mode); err != nil && err != errExist {
			return fmt.Errorf("making %s: %w", m.path, err)
		}
		fsRoot, err := m.make()
		if err != nil {
			return fmt.Errorf("making %s: %w", m.path, err)
		}
		point, err := v.Resolve(c.Creds, root, root, m.path, true)
		if err != nil {
			return err
		}
		if err := v.Attach(v.NewMount(fsRoot, m.fsType, m.fsType, m.flags), point); err != nil {
			return err
		}
	}
	return nil
}
