// Package boot starts a Sentry: it creates the memory file and the platform, builds the
// kernel with its system call table, and runs the container's first process.
//
// Today the Sentry runs inside the runsc process that asks for it (runsc do), its root
// filesystem is a tmpfs holding /tmp, and the executable is read from the host by runsc.
// The sandbox process of DESIGN.md (runsc boot: its own namespaces, an empty root, a
// seccomp filter) and the Gofer serving the container's files (an overlay over the
// Gofer's root) come next; this package is where that process will start from.
package boot

import (
	"fmt"
	"io"
	"os"

	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/fsimpl/dev"
	"github.com/moat-sandbox/moat/sentry/fsimpl/host"
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
	Path     string   // host path of the executable
	Argv     []string // argv[0] included
	Envv     []string
	Stdio    [3]int // host FDs for the application's 0, 1, 2
	Log      io.Writer
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

	// The root is a tmpfs until the Gofer serves the container's files.
	_, rootIno := tmpfs.New(v, 0o755, vfs.Owner{})
	root := v.NewMount(rootIno, "tmpfs", "none", vfs.MountFlags{}).Root()
	if err := mountDefaults(v, root); err != nil {
		return kernel.ExitStatus{}, err
	}

	// Until the Gofer serves the root, the first executable comes from the host path
	// runsc was given (static programs only: an interpreter is looked up in the VFS).
	f, err := os.Open(a.Path)
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	fds := vfs.NewFDTable()
	for i, hfd := range a.Stdio {
		in := &host.Inode{FD: hfd}
		impl, _ := in.Open(0)
		fds.Set(int32(i), vfs.NewFileDescription(v.Anonymous(in, "host"), impl, in.Flags()), false)
	}
	exe := &kernel.Executable{ReaderAt: f, Size: fi.Size(), Path: a.Path}
	t, err := k.NewProcess(kernel.ProcessArgs{Exe: exe, Path: a.Path, Argv: a.Argv, Envv: a.Envv,
		FDs: fds, FS: kernel.NewFSContext(root, 0o022), Creds: vfs.Root()})
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("exec %s: %w", a.Path, err)
	}
	defer t.MM.Release()
	return t.Run(), nil
}

// mountDefaults makes the directories and mounts every container has: /tmp, and /dev.
func mountDefaults(v *vfs.VFS, root vfs.VirtualDentry) error {
	c := vfs.Caller{Creds: vfs.Root()}
	at := func(p string) vfs.PathOp { return vfs.PathOp{Root: root, Start: root, Path: p} }
	if err := v.MkdirAt(c, at("/tmp"), 0o1777); err != nil {
		return fmt.Errorf("making /tmp: %w", err)
	}
	if err := v.MkdirAt(c, at("/dev"), 0o755); err != nil {
		return fmt.Errorf("making /dev: %w", err)
	}
	devRoot, err := dev.New(v)
	if err != nil {
		return fmt.Errorf("making /dev: %w", err)
	}
	point, err := v.Resolve(c.Creds, root, root, "/dev", true)
	if err != nil {
		return err
	}
	return v.Attach(v.NewMount(devRoot, "tmpfs", "dev", vfs.MountFlags{NoSuid: true}), point)
}
