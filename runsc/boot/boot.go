// Package boot starts a Sentry: it creates the memory file and the platform, builds the
// kernel with its system call table and its filesystems, and runs the container's first
// process.
//
// The root is an overlay: a tmpfs upper layer over the root a Gofer serves (read-only
// for runsc do), so the container's writes never reach the host. The Sentry's own
// /proc, /sys and /dev are mounted over it. For runsc do the Sentry runs inside the
// runsc process that asks for it. For the OCI lifecycle it runs in the sandbox
// process, runsc boot: New builds the Sentry and creates init at create time, Start
// runs init when runsc start asks. Between the two the caller boxes the process (runsc
// boot: namespaces, its state directory as root, no capabilities) and installs the
// Sentry's seccomp allow-list (InstallFilter, filter.go) on every thread, so that init's
// first instruction runs with the Sentry filtered; runsc do installs the same list.
//
// Exec (exec.go) starts more processes in a running Sandbox (runsc exec), with host
// FDs sent by runsc exec as their stdio. A Console (console.go) is a Sentry terminal
// joined to a host terminal FD: init's (process.terminal) or an exec'd process's
// (--tty), its stdio and controlling terminal.
//
// A Sandbox is a pod's when other containers join it (pod.go): each has its own root
// over its own Gofer, its own init and processes, in the same kernel, and its own PID
// namespace (a child of the sandbox container's, the kernel's root one) unless it
// joins the pod's. /proc shows the namespace of the container it is mounted for.
package boot

import (
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/kvm"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/platform/systrap"
	"github.com/moat-sandbox/moat/sentry/fsimpl/cgroupfs"
	"github.com/moat-sandbox/moat/sentry/fsimpl/dev"
	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
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
	// Console, when not 0, is the host terminal (a pty slave in raw mode) to join to a
	// Sentry terminal that is the application's 0, 1, 2 and controlling terminal
	// (process.terminal); Stdio is unused then.
	Console int
	Log     io.Writer `json:"-"`

	// Container settings (runsc run); the zero values are runsc do's.
	Hostname     string
	Domainname   string
	UID, GID     uint32
	Groups       []uint32
	ReadOnlyRoot bool
	// Mounts are mounted in order over the root; nil means /proc, /sys and /dev.
	Mounts []Mount
	// Devices are the spec's linux.devices, made after the mounts (makeDevices).
	Devices []Device
	// MaskedPaths and ReadonlyPaths are the spec's linux.maskedPaths and
	// linux.readonlyPaths, applied after the mounts (maskPaths).
	MaskedPaths, ReadonlyPaths []string
	// Caps, when set, are init's capability sets (the spec's process.capabilities);
	// otherwise root has them all.
	Caps *Caps
	// Rlimits are init's resource limits beyond the defaults (RLIMIT_* → limit).
	Rlimits map[int]kernel.Rlimit
	// NoNewPrivs is the spec's process.noNewPrivileges.
	NoNewPrivs bool
	// OOMScoreAdj is the spec's process.oomScoreAdj, init's /proc/self/oom_score_adj
	// (runsc also gives it to the sandbox's host processes).
	OOMScoreAdj int
	// SharePIDNamespace puts a container of a pod (AddContainer) in the pod's PID
	// namespace, the sandbox's own container's, instead of a new one of its own.
	SharePIDNamespace bool
	// Resources are the container's limits as cgroup v2 files (the spec's
	// linux.resources converted as runc does), which its cgroup filesystem shows.
	Resources map[string]string
}

// Device is a device node the container gets (one of the spec's linux.devices): Mode
// holds its type (unix.S_IFCHR, S_IFBLK or S_IFIFO) and permissions.
type Device struct {
	Path         string
	Mode         uint32
	Major, Minor uint32
	UID, GID     uint32
}

// Caps are capability sets, 1 << CAP_* each.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// MountKind is what a Mount mounts.
type MountKind int

// Mount kinds.
const (
	MountProc   MountKind = iota // the Sentry's /proc
	MountSys                     // the Sentry's /sys
	MountDev                     // the Sentry's /dev (a tmpfs with the devices)
	MountTmpfs                   // an empty tmpfs
	MountGofer                   // the Gofer's mount number GoferMount (a bind mount)
	MountDevpts                  // the Sentry's /dev/pts (pseudo-terminals)
	MountMqueue                  // the IPC namespace's POSIX message queues
	MountCgroup                  // the container's cgroup (cgroup2)
)

// Mount is one mount of the container.
type Mount struct {
	Dest       string
	Kind       MountKind
	GoferMount uint32
	Mode       uint32 // of a tmpfs's root
	Flags      vfs.MountFlags
	// Source is the mount's source as mount(2) got it, which /proc/[pid]/mountinfo
	// shows ("shm" for the spec's /dev/shm); empty for the filesystem type.
	Source string
	// Root is a bind mount's host directory, which mountinfo shows as the mount's
	// root within its filesystem (vfs.Mount.FSRoot); empty for the others.
	Root string
}

// DefaultMounts are what every sandbox has: the Sentry's own /proc, /sys, /dev and
// cgroup filesystem (the host's are never shown).
func DefaultMounts() []Mount {
	system := vfs.MountFlags{NoSuid: true, NoDev: true, NoExec: true}
	return []Mount{
		{Dest: "/proc", Kind: MountProc, Flags: system},
		{Dest: "/sys", Kind: MountSys, Flags: system},
		{Dest: "/dev", Kind: MountDev, Flags: vfs.MountFlags{NoSuid: true}},
		{Dest: "/dev/pts", Kind: MountDevpts, Flags: vfs.MountFlags{NoSuid: true, NoExec: true}},
		{Dest: "/dev/mqueue", Kind: MountMqueue, Flags: system},
		{Dest: "/sys/fs/cgroup", Kind: MountCgroup, Flags: system},
	}
}

// Sandbox is a Sentry with its container's init created but not yet started: the
// OCI runtime's create makes one, and start runs it.
type Sandbox struct {
	Kernel *kernel.Kernel
	closes []func()
	// main is the sandbox's own container (the one runsc create started it for; a
	// pod's sandbox); pod holds the other containers of the pod (pod.go), by ID.
	main  *ctr
	podMu sync.Mutex
	pod   map[string]*ctr
}

// ctr is one container of the sandbox: its root, a mount tree of its own over its own
// Gofer (what the Sentry has of a mount namespace: the container's processes resolve
// paths from this root and cannot name another container's mounts), the terminals'
// filesystem mounted at its /dev/pts (nil if none is), where consoles are made, its
// init, and init's console (or nil).
type ctr struct {
	id   string
	root vfs.VirtualDentry
	// pidns is the container's PID namespace: its init is the first process made there.
	pidns   *kernel.PIDNamespace
	devpts  *devpts.FS
	init    *kernel.Task
	console *Console
	// closes release the container's Gofer connection and console.
	closes []func()
}

// close releases what the container holds, in the reverse order of its making.
func (c *ctr) close() {
	for i := len(c.closes) - 1; i >= 0; i-- {
		c.closes[i]()
	}
	c.closes = nil
}

// New builds a Sentry (memory file, platform, kernel, mounts) and creates the init
// process, stopped before its first instruction until Start.
func New(a Args) (_ *Sandbox, err error) {
	s := &Sandbox{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	mf, err := pgalloc.New("moat-memory", memoryFileSize)
	if err != nil {
		return nil, fmt.Errorf("memory file: %w", err)
	}
	s.closes = append(s.closes, func() { mf.Close() })
	var p platform.Platform
	switch a.Platform {
	case "ptrace":
		p, err = ptrace.New(mf.FD())
	case "systrap":
		p, err = systrap.New(mf.FD())
	case "kvm":
		// /dev/kvm is opened here, before runsc boot chroots and drops its
		// capabilities; the platform keeps it.
		p, err = kvm.New(mf.FD())
	default:
		err = fmt.Errorf("platform %q is not available (have ptrace, systrap, kvm)", a.Platform)
	}
	if err != nil {
		return nil, err
	}
	s.closes = append(s.closes, func() { p.Close() })
	v := vfs.New()
	v.MemFile = mf
	k := kernel.New(p, mf, v, linux.Table(), a.Log)
	k.Strace = a.Strace
	if a.Domainname != "" {
		k.SetUTSName(true, a.Domainname)
	}
	if a.Hostname != "" {
		k.Hostname = a.Hostname
	}
	s.Kernel = k

	if s.main, err = s.newCtr("", a, false); err != nil {
		return nil, err
	}
	return s, nil
}

// newCtr builds a container's root (an overlay over the root its Gofer serves on
// a.GoferFD, as a.Overlay says) and mounts, and creates its init process, not yet
// running, with stdio a.Stdio (closed with it if owned) or a console on a.Console.
// id is the container's ID in the pod, "" for the sandbox's own container.
func (s *Sandbox) newCtr(id string, a Args, owned bool) (_ *ctr, err error) {
	c := &ctr{id: id, pidns: s.Kernel.RootPIDNamespace()}
	if id != "" && !a.SharePIDNamespace {
		c.pidns = s.Kernel.NewPIDNamespace(nil)
	}
	handed := false // whether the stdio or console FDs belong to a description yet
	defer func() {
		if err != nil {
			c.close()
		}
		if err != nil && owned && !handed {
			if a.Console != 0 {
				unix.Close(a.Console)
			} else {
				for _, fd := range a.Stdio {
					unix.Close(fd)
				}
			}
		}
	}()
	v, k := s.Kernel.VFS, s.Kernel
	gc := protocol.NewClient(a.GoferFD)
	c.closes = append(c.closes, func() { gc.Close() })
	root, err := rootMount(v, gc, a.Overlay)
	if err != nil {
		return nil, err
	}
	mounts := a.Mounts
	if mounts == nil {
		mounts = DefaultMounts()
	}
	k.SetResources(id, a.Resources)
	if c.devpts, err = mountAll(v, k, id, c.pidns, gc, root, mounts); err != nil {
		return nil, err
	}
	if err := makeDevices(v, root, a.Devices); err != nil {
		return nil, err
	}
	if err := maskPaths(v, root, a.MaskedPaths, a.ReadonlyPaths); err != nil {
		return nil, err
	}
	c.root = root
	root.Mount.Flags.ReadOnly = a.ReadOnlyRoot
	creds := processCreds(a.UID, a.GID, a.Groups, a.Caps)
	fs := kernel.NewFSContext(root, 0o022)
	if cwd, err := v.Resolve(vfs.Root(), root, root, a.Cwd, true); err == nil && cwd.Dentry.IsDir() {
		fs.SetCwd(cwd)
	}
	fds := vfs.NewFDTable()
	handed = true
	if a.Console != 0 {
		con, slave, err := s.newConsole(c, a.Console, a.UID, a.GID)
		if err != nil {
			return nil, err
		}
		c.console = con
		c.closes = append(c.closes, con.close)
		setStdio(fds, slave)
	} else {
		for i, hfd := range a.Stdio {
			fds.Set(int32(i), hostFile(v, hfd, owned), false)
		}
	}
	t, err := k.NewProcess(kernel.ProcessArgs{Path: a.Path, Argv: a.Argv, Envv: a.Envv,
		FDs: fds, FS: fs, Creds: creds, Container: id, PIDNS: c.pidns})
	if err != nil {
		fds.DecUsers()
		return nil, fmt.Errorf("exec %s: %w", a.Path, err)
	}
	for res, l := range a.Rlimits {
		t.Limits[res] = l
	}
	t.NoNewPrivs = t.NoNewPrivs || a.NoNewPrivs
	t.Proc.OOMScoreAdj.Store(int32(a.OOMScoreAdj))
	if c.console != nil {
		if err := c.console.controlledBy(t); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	c.init = t
	return c, nil
}

// processCreds are the credentials of a container process: the user and groups, and
// the capability sets if the spec gives them (else root's, all of them).
func processCreds(uid, gid uint32, groups []uint32, caps *Caps) *vfs.Credentials {
	creds := vfs.User(uid, gid, groups)
	if c := caps; c != nil {
		creds.Bounding, creds.Caps, creds.Permitted = c.Bounding, c.Effective, c.Permitted
		// An ambient capability must be permitted and inheritable (cap_ambient_invariant_ok),
		// so runc's raise of the others fails, and they are not set.
		creds.Inheritable, creds.Ambient = c.Inheritable, c.Ambient&c.Permitted&c.Inheritable
	}
	return creds
}

// hostFile is a description of host FD hfd; owned says the FD is closed with it.
func hostFile(v *vfs.VFS, hfd int, owned bool) *vfs.FileDescription {
	in := &host.Inode{FD: hfd, Owned: owned}
	return vfs.NewFileDescription(v.Anonymous(in, "host"), in.File(), in.Flags())
}

// setStdio installs one description (a terminal's slave) as 0, 1 and 2.
func setStdio(fds *vfs.FDTable, f *vfs.FileDescription) {
	f.IncRef()
	f.IncRef()
	for i := int32(0); i < 3; i++ {
		fds.Set(i, f, false)
	}
}

// Console is init's console, or nil: the sandbox process, which has its host side
// as controlling terminal, calls Resize when the host says the window changed.
func (s *Sandbox) Console() *Console { return s.main.console }

// Start runs init until it exits, and returns how it ended. The other processes are
// killed when init exits (as in a PID namespace); Start waits a little for them.
func (s *Sandbox) Start() kernel.ExitStatus {
	st := s.main.init.Run()
	// init is gone: the other processes are being killed. Let them finish before the
	// platform goes.
	s.Kernel.WaitIdle(5 * time.Second)
	return st
}

// Close releases the containers' Gofer connections, then the Sentry's platform and
// memory file, in the reverse order of their making.
func (s *Sandbox) Close() {
	s.podMu.Lock()
	for _, c := range s.pod {
		c.close()
	}
	s.pod = nil
	s.podMu.Unlock()
	if s.main != nil {
		s.main.close()
	}
	for i := len(s.closes) - 1; i >= 0; i-- {
		s.closes[i]()
	}
	s.closes = nil
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
// It returns the devpts filesystem mounted at /dev/pts, if one is.
// A proc mount shows the processes of PID namespace ns, a cgroup mount the cgroup of
// container id.
func mountAll(v *vfs.VFS, k *kernel.Kernel, id string, ns *kernel.PIDNamespace, gc *protocol.Client, root vfs.VirtualDentry, ms []Mount) (*devpts.FS, error) {
	c := vfs.Caller{Creds: vfs.Root()}
	var pts *devpts.FS
	for _, m := range ms {
		if err := mkdirAll(v, c, root, m.Dest); err != nil {
			return nil, fmt.Errorf("making mountpoint %s: %w", m.Dest, err)
		}
		var fsRoot vfs.DirInode
		var fsType string
		var err error
		switch m.Kind {
		case MountProc:
			fsRoot, fsType = proc.New(v, k, ns), "proc"
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
		case MountDevpts:
			fs := devpts.New(v, k)
			fsRoot, fsType = fs.Root(), "devpts"
			if m.Dest == "/dev/pts" {
				pts = fs
			}
		case MountMqueue:
			fsType = "mqueue"
		case MountCgroup:
			fsRoot, fsType = cgroupfs.New(v, k, id), cgroupfs.FSType
		}
		if err != nil {
			return nil, fmt.Errorf("mounting %s: %w", m.Dest, err)
		}
		point, err := v.Resolve(c.Creds, root, root, m.Dest, true)
		if err != nil {
			return nil, err
		}
		source := m.Source
		if source == "" {
			source = fsType
		}
		var mnt *vfs.Mount
		if m.Kind == MountMqueue {
			// The namespace's one mqueue filesystem, whose names mq_open sees.
			mnt = v.NewMountOf(k.MqueueMount(), fsType, source, m.Flags)
		} else {
			mnt = v.NewMount(fsRoot, fsType, source, m.Flags)
			mnt.FSRoot = m.Root
		}
		if err := v.Attach(mnt, point); err != nil {
			return nil, fmt.Errorf("mounting %s: %w", m.Dest, err)
		}
	}
	return pts, nil
}

// makeDevices makes the spec's device nodes, as runc does: the node with its mode and
// owner, its directory made if missing; a name that exists already is left as it is.
// A node opens as the Sentry's device of its number (the /dev devices), or with ENXIO:
// the host's devices are never reached.
func makeDevices(v *vfs.VFS, root vfs.VirtualDentry, devs []Device) error {
	c := vfs.Caller{Creds: vfs.Root()}
	for _, d := range devs {
		if err := mkdirAll(v, c, root, path.Dir(d.Path)); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		op := vfs.PathOp{Root: root, Start: root, Path: d.Path}
		err := v.MknodAt(c, op, d.Mode, unix.Mkdev(d.Major, d.Minor))
		if err == errExist {
			continue
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		vd, err := v.Resolve(c.Creds, root, root, d.Path, false)
		if err == nil {
			err = v.SetStatAt(c, vd, vfs.SetStat{Mask: vfs.SetStatMode | vfs.SetStatUID | vfs.SetStatGID,
				Mode: d.Mode & 0o7777, UID: d.UID, GID: d.GID}, false)
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

// maskPaths applies the spec's masked and read-only paths, as runc does once the
// mounts are made: a masked directory gets an empty read-only tmpfs over it, a masked
// file /dev/null bound over it (so reads find nothing); a read-only path is bound over
// itself read-only, keeping its mount's other flags. A path that does not exist is
// skipped, as runc skips it.
func maskPaths(v *vfs.VFS, root vfs.VirtualDentry, masked, readonly []string) error {
	c := vfs.Root()
	resolve := func(p string) (vfs.VirtualDentry, bool, error) {
		vd, err := v.Resolve(c, root, root, p, true)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return vd, false, nil
		}
		return vd, err == nil, err
	}
	for _, p := range masked {
		vd, ok, err := resolve(p)
		if err != nil {
			return fmt.Errorf("masking %s: %w", p, err)
		}
		if !ok {
			continue
		}
		var m *vfs.Mount
		if vd.Dentry.IsDir() {
			_, in := tmpfs.New(v, 0o755, vfs.Owner{})
			m = v.NewMount(in, "tmpfs", "tmpfs", vfs.MountFlags{ReadOnly: true})
		} else {
			null, ok, err := resolve("/dev/null")
			if err != nil || !ok {
				return fmt.Errorf("masking %s: no /dev/null to bind over it", p)
			}
			m = v.NewBindMount(null, null.Mount.Flags)
		}
		if err := v.Attach(m, vd); err != nil {
			return fmt.Errorf("masking %s: %w", p, err)
		}
	}
	for _, p := range readonly {
		vd, ok, err := resolve(p)
		if err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
		if !ok {
			continue
		}
		flags := vd.Mount.Flags
		flags.ReadOnly = true
		if err := v.Attach(v.NewBindMount(vd, flags), vd); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
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
