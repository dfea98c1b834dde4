package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/console"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
)

// Exec runs a new process in a running container, as runc exec: inside the same
// Sentry, in the container's root, mounts and namespaces, as its process spec says
// (--process, or the container's own process with the arguments and flags given).
//
// The process's stdio are runsc exec's own, passed to the sandbox as descriptors; with
// --tty it gets a terminal instead (package console), whose host master goes to
// --console-socket or, without one, is copied to and from runsc exec's stdio. runsc
// exec waits for the process and exits with its status (128+N if signal N ended it),
// passing on to it the signals it receives; --pid-file holds runsc exec's own PID, so
// that a caller signals and waits for the process through it (the way containerd's
// shim uses the PID of an exec'd process). With --detach, runsc exec returns once the
// process has started, leaving a child runsc (runsc exec-wait, whose PID is the one
// in --pid-file) to wait and pass on signals in its place. With a terminal and
// --detach, the process that waits is a session leader with the host slave as its controlling
// terminal, so that the host tells it (SIGWINCH) when the caller changes the window
// size on the master; it passes that on to the sandbox, which resizes the
// application's terminal.
//
// An error (no such container, a stopped one, a bad --process, a program that is not
// there) exits with status 255, as runc exec's, and leaves nothing behind.
type Exec struct {
	conf          *config.Config
	process       string
	consoleSocket string
	cwd           string
	user          string
	pidFile       string
	env, caps     stringList
	gids          stringList
	tty, detach   bool
	noNewPrivs    bool
	preserveFDs   int
	ignored       string
	ignoredBool   bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// Name implements subcommands.Command.
func (*Exec) Name() string { return "exec" }

// Synopsis implements subcommands.Command.
func (*Exec) Synopsis() string { return "run a new process in a running container" }

// Usage implements subcommands.Command.
func (*Exec) Usage() string {
	return `exec [flags] CONTAINER-ID COMMAND [ARG...]
exec [flags] --process process.json CONTAINER-ID

Runs a process in the container and exits with its status; --detach returns once it
has started. Flags as runc exec's.
`
}

// SetFlags implements subcommands.Command.
func (e *Exec) SetFlags(f *flag.FlagSet) {
	f.StringVar(&e.process, "process", "", "the process spec (JSON) to run, instead of COMMAND")
	f.StringVar(&e.process, "p", "", "short for --process")
	f.StringVar(&e.consoleSocket, "console-socket", "", "AF_UNIX socket to send the terminal's master to (with --tty)")
	f.StringVar(&e.cwd, "cwd", "", "the working directory, in the container")
	f.Var(&e.env, "env", "KEY=VALUE to add to the environment (repeatable)")
	f.Var(&e.env, "e", "short for --env")
	f.BoolVar(&e.tty, "tty", false, "give the process a terminal")
	f.BoolVar(&e.tty, "t", false, "short for --tty")
	f.StringVar(&e.user, "user", "", "UID[:GID] to run as")
	f.StringVar(&e.user, "u", "", "short for --user")
	f.Var(&e.gids, "additional-gids", "an additional group ID (repeatable)")
	f.Var(&e.gids, "g", "short for --additional-gids")
	f.BoolVar(&e.detach, "detach", false, "return once the process has started")
	f.BoolVar(&e.detach, "d", false, "short for --detach")
	f.StringVar(&e.pidFile, "pid-file", "", "write the PID that stands for the process (see the usage) to this file")
	f.BoolVar(&e.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	f.Var(&e.caps, "cap", "a capability to add (repeatable)")
	f.Var(&e.caps, "c", "short for --cap")
	f.IntVar(&e.preserveFDs, "preserve-fds", 0, "pass this many descriptors after stdio (3, 4…) on to the process")
	f.StringVar(&e.ignored, "process-label", "", "accepted for runc compatibility; no effect")
	f.StringVar(&e.ignored, "apparmor", "", "accepted for runc compatibility; no effect")
	f.StringVar(&e.ignored, "cgroup", "", "accepted for runc compatibility; no effect")
	f.BoolVar(&e.ignoredBool, "ignore-paused", false, "accepted for runc compatibility; no effect")
}

// execFatalf reports an exec error and exits 255, as runc exec does.
func execFatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runsc: "+format+"\n", args...)
	os.Exit(255)
}

// Execute implements subcommands.Command.
func (e *Exec) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() < 1 {
		fmt.Fprint(os.Stderr, e.Usage())
		return subcommands.ExitUsageError
	}
	id := f.Arg(0)
	c, err := container.Load(e.conf.Root, id)
	if err != nil {
		execFatalf("exec %q: %v", id, err)
	}
	// dir holds the control socket: the container's own, or its pod sandbox's.
	dir, status, bundleDir := c.ControlDir(), c.State.Status, c.State.Bundle
	ctl := &container.Container{Dir: c.Dir, State: c.State}
	c.Close() // the lock is not held while the process runs
	switch status {
	case container.Created, container.Running:
	case container.Stopped:
		execFatalf("exec %q: cannot exec in a stopped container", id)
	default:
		execFatalf("exec %q: cannot exec in a container that is %s", id, status)
	}
	a, consoleSize, err := e.execArgs(bundleDir, f.Args()[1:])
	if err != nil {
		execFatalf("exec %q: %v", id, err)
	}
	// As runc: a terminal's master goes to a console socket when runsc detaches,
	// else runsc keeps it.
	if a.Console && e.detach && e.consoleSocket == "" {
		execFatalf("exec %q: cannot allocate tty if runsc will detach without setting console socket", id)
	}
	if (!a.Console || !e.detach) && e.consoleSocket != "" {
		execFatalf("exec %q: cannot use console socket if runsc will not detach or allocate tty", id)
	}
	if e.consoleSocket != "" {
		if err := console.CheckSocket(e.consoleSocket); err != nil {
			execFatalf("exec %q: %v", id, err)
		}
	}
	if e.preserveFDs < 0 || e.preserveFDs > container.MaxRequestFDs-3 {
		execFatalf("exec %q: --preserve-fds %d: must be from 0 to %d", id, e.preserveFDs, container.MaxRequestFDs-3)
	}
	a.Preserve = e.preserveFDs

	// The process's stdio: runsc's own, or a host terminal's slave.
	var files []*os.File
	var master, slave *os.File
	if a.Console {
		if master, slave, err = console.NewPty(); err != nil {
			execFatalf("exec %q: %v", id, err)
		}
		console.SetSize(master, consoleSize)
		if e.consoleSocket == "" {
			console.InheritSize(master)
		}
		files = []*os.File{slave}
	} else {
		files = []*os.File{os.Stdin, os.Stdout, os.Stderr}
	}
	for i := 0; i < e.preserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved"))
	}
	data, err := json.Marshal(&a)
	if err != nil {
		execFatalf("exec %q: %v", id, err)
	}
	// Signals that come from now on are the process's, passed on once it runs.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	ec, err := ctl.Exec(container.Request{Cmd: "exec", Exec: data}, files)
	if err != nil {
		if ctl.Ended() { // init ended since the container was loaded (see kill)
			execFatalf("exec %q: cannot exec in a stopped container", id)
		}
		execFatalf("exec %q: %v", id, err)
	}

	// The process runs. Who waits for it: this process, or (--detach) a child; with
	// a terminal, the child is a session leader whose controlling terminal is the
	// host slave.
	if a.Console && e.consoleSocket != "" {
		if err := console.SendMaster(e.consoleSocket, master); err != nil {
			(&container.Container{Dir: dir}).Send(container.Request{Cmd: "exec-signal", PID: ec.PID, Signal: int(unix.SIGKILL)})
			execFatalf("exec %q: %v", id, err)
		}
		master.Close()
		signal.Stop(sigs)
		return e.handOver(id, dir, ec, slave)
	}
	if e.detach {
		signal.Stop(sigs)
		return e.handOver(id, dir, ec, nil)
	}
	if e.pidFile != "" {
		if err := container.WriteFileAtomic(e.pidFile, []byte(strconv.Itoa(os.Getpid()))); err != nil {
			execFatalf("exec %q: pid file: %v", id, err)
		}
	}
	var att *console.Attached
	if a.Console {
		slave.Close()
		// This process sets the master's size, and tells the sandbox after.
		att = console.Attach(master, func() {
			container.SendTo(dir, container.Request{Cmd: "exec-signal", PID: ec.PID, Signal: int(unix.SIGWINCH)})
		})
	}
	st := waitExec(dir, ec, sigs, nil, att == nil)
	if att != nil {
		att.Close(time.Second)
	}
	os.Exit(st)
	return subcommands.ExitSuccess
}

// handOver starts runsc exec-wait to wait for the process in this one's place (for
// --detach), a session leader with tty (if not nil) as its controlling terminal, and
// returns once the child passes signals on. --pid-file gets the child's PID.
func (e *Exec) handOver(id, dir string, ec *container.ExecConn, tty *os.File) subcommands.ExitStatus {
	kill := func() {
		(&container.Container{Dir: dir}).Send(container.Request{Cmd: "exec-signal", PID: ec.PID, Signal: int(unix.SIGKILL)})
	}
	connFile, err := ec.File()
	if err != nil {
		kill()
		execFatalf("exec %q: %v", id, err)
	}
	ec.Close()
	self, err := os.Executable()
	if err != nil {
		kill()
		execFatalf("exec %q: %v", id, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		kill()
		execFatalf("exec %q: %v", id, err)
	}
	args := append(globalFlags(), "exec-wait", "--conn-fd", "3", "--ready-fd", "4",
		"--dir", dir, "--pid", strconv.Itoa(int(ec.PID)))
	// Its stdio are /dev/null: it must not keep the caller's (pipes the caller reads
	// to their end) open after the process has closed them.
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{connFile, w}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if tty != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, tty)
		cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 5
	}
	err = cmd.Start()
	w.Close()
	connFile.Close()
	if tty != nil {
		tty.Close()
	}
	if err != nil {
		r.Close()
		kill()
		execFatalf("exec %q: %v", id, err)
	}
	ready, _ := io.ReadAll(r)
	r.Close()
	if strings.TrimSpace(string(ready)) != "ok" {
		cmd.Wait()
		kill()
		execFatalf("exec %q: the waiting process failed", id)
	}
	if e.pidFile != "" {
		if err := container.WriteFileAtomic(e.pidFile, []byte(strconv.Itoa(cmd.Process.Pid))); err != nil {
			kill()
			execFatalf("exec %q: pid file: %v", id, err)
		}
	}
	cmd.Process.Release()
	return subcommands.ExitSuccess
}

// forwardedSignals are the signals runsc exec passes on to its process: all but those
// the Go runtime or the process's own stop and child handling need (SIGCHLD, SIGURG,
// SIGPIPE, the synchronous faults), and SIGKILL and SIGSTOP, which can't be caught.
var forwardedSignals = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTRAP,
	unix.SIGABRT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT,
	unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGXCPU, unix.SIGXFSZ,
	unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR, unix.SIGSYS}

// waitExec waits for the exec'd process, passing on the signals sigs receives
// (forwardedSignals; SIGWINCH only if winch), and returns its status. ready, if not
// nil, is told once signals are passed on.
func waitExec(dir string, ec *container.ExecConn, sigs chan os.Signal, ready *os.File, winch bool) int {
	go func() {
		for s := range sigs {
			if s == unix.SIGWINCH && !winch {
				continue
			}
			container.SendTo(dir, container.Request{Cmd: "exec-signal", PID: ec.PID, Signal: int(s.(unix.Signal))})
		}
	}()
	if ready != nil {
		io.WriteString(ready, "ok\n")
		ready.Close()
	}
	st, _ := ec.Wait()
	signal.Stop(sigs)
	return st
}

// execArgs builds the process: from --process, or from the container's process spec
// with args and the flags' changes, as runc exec does; and its consoleSize.
func (e *Exec) execArgs(bundleDir string, args []string) (boot.ExecArgs, *specs.Box, error) {
	b, err := specutils.Load(bundleDir)
	if err != nil {
		return boot.ExecArgs{}, nil, err
	}
	var p specs.Process
	if e.process != "" {
		data, err := os.ReadFile(e.process)
		if err != nil {
			return boot.ExecArgs{}, nil, fmt.Errorf("reading the process spec: %w", err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return boot.ExecArgs{}, nil, fmt.Errorf("%s is not a valid process spec: %w", e.process, err)
		}
		if e.tty {
			p.Terminal = true
		}
	} else {
		if len(args) == 0 {
			return boot.ExecArgs{}, nil, errors.New("args must not be empty")
		}
		if b.Spec.Process != nil {
			p = *b.Spec.Process
		}
		p.Args = args
		p.Env = append(append([]string(nil), p.Env...), e.env...)
		p.Terminal = e.tty
		if e.cwd != "" {
			p.Cwd = e.cwd
		}
		if e.user != "" {
			uid, gid, hasGID := strings.Cut(e.user, ":")
			u, err := strconv.ParseUint(uid, 10, 32)
			if err != nil {
				return boot.ExecArgs{}, nil, fmt.Errorf("--user %q: want UID[:GID]", e.user)
			}
			p.User.UID = uint32(u)
			if hasGID {
				g, err := strconv.ParseUint(gid, 10, 32)
				if err != nil {
					return boot.ExecArgs{}, nil, fmt.Errorf("--user %q: want UID[:GID]", e.user)
				}
				p.User.GID = uint32(g)
			}
		}
		p.User.AdditionalGids = append([]uint32(nil), p.User.AdditionalGids...)
		for _, s := range e.gids {
			g, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return boot.ExecArgs{}, nil, fmt.Errorf("--additional-gids %q: not a group ID", s)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
		if len(e.caps) > 0 {
			c := specs.LinuxCapabilities{}
			if p.Capabilities != nil {
				c = *p.Capabilities
			}
			for _, name := range e.caps {
				c.Bounding = append(c.Bounding, name)
				c.Effective = append(c.Effective, name)
				c.Permitted = append(c.Permitted, name)
				// Ambient needs inheritable, which --cap does not set (as runc).
				if c.Inheritable != nil {
					c.Ambient = append(c.Ambient, name)
				}
			}
			p.Capabilities = &c
		}
		if e.noNewPrivs {
			p.NoNewPrivileges = true
		}
	}
	if len(p.Args) == 0 {
		return boot.ExecArgs{}, nil, errors.New("args must not be empty")
	}
	caps, err := specCaps(p.Capabilities)
	if err != nil {
		return boot.ExecArgs{}, nil, err
	}
	rlimits, err := specRlimits(p.Rlimits)
	if err != nil {
		return boot.ExecArgs{}, nil, err
	}
	return boot.ExecArgs{
		Argv: p.Args, Envv: withHome(p.Env, b.Rootfs, p.User.UID), Cwd: p.Cwd,
		UID: p.User.UID, GID: p.User.GID, Groups: p.User.AdditionalGids,
		Caps: caps, Rlimits: rlimits, NoNewPrivs: p.NoNewPrivileges, Umask: p.User.Umask,
		Console: p.Terminal,
	}, p.ConsoleSize, nil
}

// ExecWait waits for a process runsc exec started, in its place (--detach, or a
// terminal's controlling process): it passes on the signals it receives and exits
// with the process's status. runsc exec starts it; it is not meant to be run by hand.
type ExecWait struct {
	connFD, readyFD, pid int
	dir                  string
}

// Name implements subcommands.Command.
func (*ExecWait) Name() string { return "exec-wait" }

// Synopsis implements subcommands.Command.
func (*ExecWait) Synopsis() string { return "wait for an exec'd process (internal)" }

// Usage implements subcommands.Command.
func (*ExecWait) Usage() string {
	return "exec-wait --conn-fd N --ready-fd N --dir STATEDIR --pid PID\n"
}

// SetFlags implements subcommands.Command.
func (w *ExecWait) SetFlags(f *flag.FlagSet) {
	f.IntVar(&w.connFD, "conn-fd", -1, "the exec connection to the sandbox")
	f.IntVar(&w.readyFD, "ready-fd", -1, "where to say that signals are passed on")
	f.StringVar(&w.dir, "dir", "", "the directory of the sandbox's control socket")
	f.IntVar(&w.pid, "pid", 0, "the process's PID in the sandbox")
}

// Execute implements subcommands.Command.
func (w *ExecWait) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if w.connFD < 0 || w.readyFD < 0 || w.dir == "" || w.pid <= 0 {
		fmt.Fprint(os.Stderr, w.Usage())
		return subcommands.ExitUsageError
	}
	ec, err := container.ExecConnFromFile(os.NewFile(uintptr(w.connFD), "exec"), int32(w.pid))
	if err != nil {
		Fatalf("exec-wait: %v", err)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	os.Exit(waitExec(w.dir, ec, sigs, os.NewFile(uintptr(w.readyFD), "ready"), true))
	return subcommands.ExitSuccess
}
