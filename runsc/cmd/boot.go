package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/box"
	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Boot is the sandbox process of one container: it holds the Sentry, creates the
// container's init, and then serves the container's control socket (start, kill; and
// pause, resume, ps, stats in boot_control.go) until init exits; it records init's
// exit status in the container's directory and exits. runsc create starts it (holding
// it on --wait-fd until it is in its cgroup); it is not meant to be run by hand.
type Boot struct {
	conf   *config.Config
	bundle string
	dir    string
	syncFD int
	// waitFD, if set, is read for "go" before anything is started: runsc create
	// moves the process into its cgroup meanwhile.
	waitFD int
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "run a container's sandbox (internal)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string {
	return "boot --bundle DIR --dir STATEDIR --sync-fd N CONTAINER-ID\n\nRuns the sandbox of a container that runsc create made; writes ok (or an error) to N once init exists.\n"
}

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.StringVar(&b.bundle, "bundle", "", "the bundle directory")
	f.StringVar(&b.dir, "dir", "", "the container's state directory")
	f.IntVar(&b.syncFD, "sync-fd", -1, "where to report that init is created")
	f.IntVar(&b.waitFD, "wait-fd", -1, "wait for \"go\" on this descriptor before starting")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 || b.bundle == "" || b.dir == "" || b.syncFD < 0 {
		fmt.Fprint(os.Stderr, b.Usage())
		return subcommands.ExitUsageError
	}
	sync := os.NewFile(uintptr(b.syncFD), "sync")
	if b.waitFD >= 0 {
		wait := os.NewFile(uintptr(b.waitFD), "wait")
		msg := make([]byte, 2)
		if n, _ := io.ReadFull(wait, msg); n != 2 || string(msg) != "go" {
			os.Exit(1) // create gave up: it reports why
		}
		wait.Close()
	}
	s, gofer, l, err := b.create()
	if err != nil {
		fmt.Fprintf(sync, "%v\n", err)
		os.Exit(1)
	}
	io.WriteString(sync, "ok\n")
	sync.Close()
	sb := &sandbox{s: s, exitPath: container.ExitPath("/")} // b.dir is the root now
	// Sandbox and Gofer die together: a Gofer that ends takes the sandbox with it.
	go func() {
		<-gofer.done
		fmt.Fprintf(os.Stderr, "runsc: container %q: the gofer ended; stopping the sandbox\n", f.Arg(0))
		os.Exit(1)
	}()
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			Fatalf("boot %q: control socket: %v", f.Arg(0), err)
		}
		sb.serve(conn)
	}
}

// create builds the Sentry with init and listens on the control socket.
func (b *Boot) create() (*boot.Sandbox, *goferProc, *net.UnixListener, error) {
	bundle, err := specutils.Load(b.bundle)
	if err != nil {
		return nil, nil, nil, err
	}
	log := sentryLog()
	args, goferMounts, err := containerArgs(b.conf, bundle, log)
	if err != nil {
		return nil, nil, nil, err
	}
	args.Log = log
	gofer, err := startGofer(goferMounts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the gofer: %w", err)
	}
	args.GoferFD = gofer.fd
	s, err := boot.New(args)
	if err != nil {
		gofer.stop()
		return nil, nil, nil, err
	}
	l, err := container.Listen(b.dir)
	if err != nil {
		s.Close()
		gofer.stop()
		return nil, nil, nil, fmt.Errorf("control socket: %w", err)
	}
	// Everything the Sentry needs from the host is open now: it reaches files only
	// through its Gofer, which has started. Its root becomes the container's state
	// directory (where it records the exit status), and it drops every capability: its
	// stubs are its own children, of its own user, and have none (the platform drops
	// them), so it can still trace them. Last, its seccomp allow-list goes on every
	// thread: init has not run an instruction yet.
	if err := unix.Chdir(b.dir); err == nil {
		err = unix.Chroot(".")
	}
	if err == nil {
		err = box.KeepCapabilities() // none
	}
	if err == nil {
		err = installFilter(b.conf, true, log)
	}
	if err != nil {
		l.Close()
		s.Close()
		gofer.stop()
		return nil, nil, nil, fmt.Errorf("boxing the sandbox: %w", err)
	}
	return s, gofer, l, nil
}

// installFilter installs the Sentry's seccomp allow-list (boot.InstallFilter) for the
// process, runsc boot (sandbox) or runsc do. With --debug a forbidden system call traps
// rather than kills at once: the Go runtime's crash report, which names the call (rax
// holds its number) and the goroutine that made it, then also goes to the log file
// (--debug-log, else --log; see crashFile), and a line in log says so.
func installFilter(conf *config.Config, sandbox bool, log io.Writer) error {
	if conf.Debug {
		if f := crashFile(); f != nil {
			if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
				return err
			}
		}
		fmt.Fprintf(log, "runsc: the Sentry's seccomp filter traps forbidden system calls (--debug): "+
			"one ends the sandbox with a \"SIGSYS: bad system call\" report, rax holding its number\n")
	}
	return boot.InstallFilter(boot.FilterOptions{Platform: conf.Platform, Debug: conf.Debug, Sandbox: sandbox})
}

// sandbox is the state the control socket serves.
type sandbox struct {
	s        *boot.Sandbox
	exitPath string
	mu       sync.Mutex
	started  bool
}

// serve answers one request on conn.
func (sb *sandbox) serve(conn *net.UnixConn) {
	defer conn.Close()
	var req container.Request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	var resp container.Response
	after := func() {}
	sb.mu.Lock()
	switch req.Cmd {
	case "start":
		if sb.started {
			resp.Err = "cannot start an already running container"
			break
		}
		sb.started = true
		go func() { sb.finish(sb.s.Start()) }()
	case "kill":
		sig := unix.Signal(req.Signal)
		if !sb.started {
			// init has not run an instruction: as runc's init waiting on its exec
			// FIFO, a signal whose default action ends a process ends it.
			if defaultKills(sig) {
				after = func() { sb.finish(kernel.ExitStatus{Signal: sig}) }
			}
			break
		}
		if err := sb.s.Kernel.SignalFromRuntime(sig, req.All); err != nil {
			resp.Err = "container not running"
		}
	case "pause", "resume", "ps", "stats":
		resp = sb.control(req) // boot_control.go
	default:
		resp.Err = fmt.Sprintf("unknown request %q", req.Cmd)
	}
	sb.mu.Unlock()
	json.NewEncoder(conn).Encode(&resp)
	after()
}

// finish records init's exit status and ends the sandbox process (its Gofer and stubs
// die with it).
func (sb *sandbox) finish(st kernel.ExitStatus) {
	if err := container.WriteFileAtomic(sb.exitPath, []byte(strconv.Itoa(st.Shell())+"\n")); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: recording the exit status: %v\n", err)
	}
	os.Exit(0)
}

// defaultKills reports whether sig's default action ends a process (signal(7)).
func defaultKills(sig unix.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH, unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return sig > 0 && sig <= 64
}
