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
	"strings"
	"time"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/platform/systrap"
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

	// Container settings (runsc run); the zero values are runsc do's.
	Hostname     string
	UID, GID     uint32
	Groups       []uint32
	ReadOnlyRoot bool
	// Mounts are mounted in order over the root; nil means /proc, /sys and /dev.
	Mounts []Mount
}

// MountKind is what a Mount mounts.
type MountKind int

// Mount kinds.
const (
	MountProc  MountKind = iota // the Sentry's /proc
	MountSys                    // the Sentry's /sys
	MountDev                    // the Sentry's /dev (a tmpfs with the devices)
	MountTmpfs                  // an empty tmpfs
	MountGofer                  // the Gofer's mount number GoferMount (a bind mount)
)

// Mount is one mount of the container.
type Mount struct {
	Dest       string
	Kind       MountKind
	GoferMount uint32
	Mode       uint32 // of a tmpfs's root
	Flags      vfs.MountFlags
}

// DefaultMounts are what every sandbox has: the Sentry's own /proc, /sys and /dev (the
// host's are never shown).
func DefaultMounts() []Mount {
	system := vfs.MountFlags{NoSuid: true, NoDev: true, NoExec: true}
	return []Mount{
		{Dest: "/proc", Kind: MountProc, Flags: system},
		{Dest: "/sys", Kind: MountSys, Flags: system},
		{Dest: "/dev", Kind: MountDev, Flags: vfs.MountFlags{NoSuid: true}},
	}
}

// Run runs the program on a new Sentry and returns how it ended.
func Run(a Args) (kernel.ExitStatus, error) {
	mf, err := pgalloc.New("moat-memory", memoryFileSize)
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("memory file: %w", err)
	}
	defer mf.Close()
	var p *ptrace.Platform
	switch a.Platform {
	case "ptrace":
		p, err = ptrace.New(mf.FD())
	case "systrap":
		p, err = systrap.New(mf.FD())
	default:
		err = fmt.Errorf("platform %q is not available (have ptrace, systrap)", a.Platform)
	}
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	defer p.Close()
	v := vfs.New()
	v.MemFile = mf
	k := kernel.New(p, mf, v, linux.Table(), a.Log)
	k.Strace = a.Strace
	if a.Hostname != "" {
		k.Hostname = a.Hostname
	}

	gc := protocol.NewClient(a.GoferFD)
	defer gc.Close()
	root, err := rootMount(v, gc, a.Overlay)
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	mounts := a.Mounts
	if mounts == nil {
		mounts = DefaultMounts()
	}
	if err := mountAll(v, k, gc, root, mounts); err != nil {
		return kernel.ExitStatus{}, err
	}
	root.Mount.Flags.ReadOnly = a.ReadOnlyRoot
	creds := vfs.User(a.UID, a.GID, a.Groups)
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
		FDs: fds, FS: fs, Creds: creds})
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("exec %s: %w", a.Path, err)
	}
	st := t.Run()
	// init is gone: the other processes are being killed. Let them finish before the
	// platform goes.
	k.WaitIdle(5 * time.Second)
	return st, nil
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

// mountAll mounts ms over root, in order, making each mountpoint (and its parents) if it
// is missing.
func mountAll(v *vfs.VFS, k *kernel.Kernel, gc *protocol.Client, root vfs.VirtualDentry, ms []Mount) error {
	c := vfs.Caller{Creds: vfs.Root()}
	for _, m := range ms {
		if err := mkdirAll(v, c, root, m.Dest); err != nil {
			return fmt.Errorf("making mountpoint %s: %w", m.Dest, err)
		}
		var fsRoot vfs.DirInode
		var fsType string
		var err error
		switch m.Kind {
		case MountProc:
			fsRoot, fsType = proc.New(v, k), "proc"
		case MountSys:
			fsRoot, fsType = sys.New(v), "sysfs"
		case MountDev:
			fsRoot, err = dev.New(v)
			fsType = "tmpfs"
		case MountTmpfs:
			mode := m.Mode
			if mode == 0 {
				mode = 0o1777
			}
			_, fsRoot = tmpfs.New(v, mode, vfs.Owner{})
			fsType = "tmpfs"
		case MountGofer:
			fsRoot, err = gofer.New(v, gc, m.GoferMount)
			fsType = "9p"
		}
		if err != nil {
			return fmt.Errorf("mounting %s: %w", m.Dest, err)
		}
		point, err := v.Resolve(c.Creds, root, root, m.Dest, true)
		if err != nil {
			return err
		}
		if err := v.Attach(v.NewMount(fsRoot, fsType, fsType, m.Flags), point); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Dest, err)
		}
	}
	return nil
}

// mkdirAll makes path and its missing parents in root.
func mkdirAll(v *vfs.VFS, c vfs.Caller, root vfs.VirtualDentry, path string) error {
	at := func(p string) vfs.PathOp { return vfs.PathOp{Root: root, Start: root, Path: p} }
	if _, err := v.StatAt(c, at(path), true); err == nil {
		return nil
	}
	cur := ""
	for _, comp := range strings.Split(strings.Trim(path, "/"), "/") {
		cur += "/" + comp
		if err := v.MkdirAt(c, at(cur), 0o755); err != nil && err != errExist {
			return err
		}
	}
	return nil
}
