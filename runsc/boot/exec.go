package boot

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// ExecArgs is a process to start in a running sandbox (runsc exec): the OCI process
// spec's fields, and the host FDs that are its stdio.
type ExecArgs struct {
	Argv     []string // argv[0] is the program: a path, or a name looked up in PATH
	Envv     []string
	Cwd      string
	UID, GID uint32
	Groups   []uint32
	Caps     *Caps
	Rlimits  map[int]kernel.Rlimit
	// NoNewPrivs is process.noNewPrivileges; Umask, if not nil, the process's umask.
	NoNewPrivs bool
	Umask      *uint32
	// Stdio are the host FDs for 0, 1 and 2, or with Console one FD, the host
	// terminal to join to a new Sentry terminal (see Console), then Preserve more
	// FDs that become 3, 4… (--preserve-fds). Exec owns them: they are closed when
	// the process no longer uses them, or at once on error. Stdio is not sent: the
	// FDs come with the request.
	Stdio    []int `json:"-"`
	Console  bool
	Preserve int
	// Container is the container of the pod to run the process in ("" for the
	// sandbox's own): its root, mounts and terminals.
	Container string
}

// Process is a process Exec started.
type Process struct {
	PID     int32
	console *Console
	done    chan struct{}
	status  kernel.ExitStatus
}

// Wait waits for the process to exit and returns how it ended. With a console, the
// output it wrote before exiting has reached the host terminal by then.
func (p *Process) Wait() kernel.ExitStatus {
	<-p.done
	return p.status
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Console is the process's console, or nil.
func (p *Process) Console() *Console { return p.console }

// drainTimeout bounds how long an exited process's status waits for its output to
// reach the host terminal.
const drainTimeout = time.Second

// Exec starts a process in the container, as runc exec does in runc's container: a new
// process, leader of its own session and process group, with no parent in the sandbox
// (its parent PID is 0), in the container's root and mounts, with the credentials,
// capabilities, resource limits, environment and working directory a says. Its
// orphaned children go to init, and it is killed when init exits (the init of its
// container, for a container of a pod).
func (s *Sandbox) Exec(a ExecArgs) (_ *Process, err error) {
	closeStdio := func() {
		for _, fd := range a.Stdio {
			unix.Close(fd)
		}
	}
	if len(a.Argv) == 0 || a.Argv[0] == "" {
		closeStdio()
		return nil, errors.New("args must not be empty")
	}
	nstdio := 3
	if a.Console {
		nstdio = 1
	}
	if a.Preserve < 0 || len(a.Stdio) != nstdio+a.Preserve {
		closeStdio()
		return nil, fmt.Errorf("exec: %d stdio descriptors", len(a.Stdio))
	}
	c, err := s.ctrFor(a.Container)
	if err != nil {
		closeStdio()
		return nil, err
	}
	v := s.Kernel.VFS
	creds := processCreds(a.UID, a.GID, a.Groups, a.Caps)
	umask := uint32(0o022)
	if a.Umask != nil {
		umask = *a.Umask & 0o777
	}
	fs := kernel.NewFSContext(c.root, umask)
	cwd := a.Cwd
	if cwd == "" {
		cwd = "/"
	}
	vd, err := v.Resolve(creds, c.root, c.root, cwd, true)
	if err == nil && !vd.Dentry.IsDir() {
		err = unix.ENOTDIR
	}
	if err != nil {
		closeStdio()
		return nil, fmt.Errorf("chdir to cwd (%q) set in config.json failed: %s", cwd, errText(err))
	}
	fs.SetCwd(vd)
	prog, err := s.lookPath(c, creds, a.Argv[0], a.Envv)
	if err != nil {
		closeStdio()
		return nil, err
	}

	p := &Process{done: make(chan struct{})}
	fds := vfs.NewFDTable()
	if a.Console {
		con, slave, err := s.newConsole(c, a.Stdio[0], a.UID, a.GID)
		if err != nil {
			for _, fd := range a.Stdio[1:] {
				unix.Close(fd)
			}
			fds.DecUsers()
			return nil, err
		}
		p.console = con
		setStdio(fds, slave)
	} else {
		for i, hfd := range a.Stdio[:3] {
			fds.Set(int32(i), hostFile(v, hfd, true), false)
		}
	}
	for i, hfd := range a.Stdio[nstdio:] {
		fds.Set(int32(3+i), hostFile(v, hfd, true), false)
	}
	t, err := s.Kernel.NewProcess(kernel.ProcessArgs{Path: prog, Argv: a.Argv, Envv: a.Envv,
		FDs: fds, FS: fs, Creds: creds, Container: a.Container, PIDNS: c.pidns})
	if err != nil {
		fds.DecUsers()
		if p.console != nil {
			p.console.close()
		}
		return nil, fmt.Errorf("exec: %q: %s", a.Argv[0], errText(err))
	}
	for res, l := range a.Rlimits {
		t.Limits[res] = l
	}
	t.NoNewPrivs = t.NoNewPrivs || a.NoNewPrivs
	if p.console != nil {
		if err := p.console.controlledBy(t); err != nil {
			// Not reached: the process leads a new session and has no terminal.
			fmt.Fprintf(s.Kernel.Log, "moat: exec: console: %v\n", err)
		}
	}
	p.PID = t.TID
	go func() {
		p.status = t.Run()
		if p.console != nil {
			p.console.Drain(drainTimeout)
		}
		close(p.done)
	}()
	return p, nil
}

// lookPath finds the program as runc does (exec.LookPath in the container): a name
// with a slash is taken as it is; another is looked up in the PATH of env, for an
// executable regular file.
func (s *Sandbox) lookPath(c *ctr, creds *vfs.Credentials, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar, found := "", false
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar, found = v, true
		}
	}
	if found {
		for _, dir := range strings.Split(pathVar, ":") {
			if dir == "" {
				dir = "."
			}
			p := path.Join(dir, name)
			vd, err := s.Kernel.VFS.Resolve(creds, c.root, c.root, p, true)
			if err != nil {
				continue
			}
			if st, err := vd.Dentry.Inode().Stat(); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// errText is an errno as strerror says it.
func errText(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}
