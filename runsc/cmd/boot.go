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
	"time"

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
// container's init, and then serves the container's control socket (start, kill;
// pause, resume, ps, stats in boot_control.go; exec in boot_exec.go) until init exits;
// it records init's exit status in the container's directory and exits. runsc create
// starts it (holding it on --wait-fd until it is in its cgroup); it is not meant to be
// run by hand.
type Boot struct {
	conf   *config.Config
	bundle string
	dir    string
	syncFD int
	// waitFD, if set, is read for "go" before anything is started: runsc create
	// moves the process into its cgroup meanwhile.
	waitFD int
	// consoleFD is the host terminal of init's console (process.terminal), -1 for
	// none; it is the sandbox process's controlling terminal.
	consoleFD int
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
	f.IntVar(&b.consoleFD, "console-fd", -1, "the host terminal of init's console, if process.terminal")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 || b.bundle == "" || b.dir == "" || b.syncFD < 0 {
		fmt.Fprint(os.Stderr, b.Usage())
		return subcommands.ExitUsageError
	}
	sync := os.NewFile(uintptr(b.syncFD), "sync")
	if err := raiseNofileLimit(); err != nil {
		fmt.Fprintf(sync, "%v\n", err)
		os.Exit(1)
	}
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
	sb := &sandbox{s: s, exitPath: container.ExitPath("/"), execs: map[int32]*boot.Process{},
		pod: map[string]*podContainer{}} // b.dir is the root now
	if c := s.Console(); c != nil {
		watchConsole(c)
	}
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
	// The local time zone (log lines, ps's start times) is read from /etc/localtime on
	// first use: load it now, before the chroot hides the file and the filter forbids
	// opening it.
	time.Now().Zone()
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
	// The host's OOM killer sees the sandbox (the Sentry, its stubs and the Gofer, which
	// inherit it) with the container's oom_score_adj, as runc gives it to the
	// container's process; without one in the spec, the caller's stays.
	if p := bundle.Spec.Process; p.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return nil, nil, nil, fmt.Errorf("setting the sandbox's oom_score_adj: %w", err)
		}
	}
	if b.consoleFD >= 0 {
		args.Console = b.consoleFD
	}
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
		err = installFilter(b.conf, true, false, log)
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
// (--debug-log, else --log; see crashFile), and a line in log says so. profile: runsc
// do --profile-cpu runs the Go CPU profiler, whose timers the list then allows.
func installFilter(conf *config.Config, sandbox, profile bool, log io.Writer) error {
	if conf.Debug {
		if f := crashFile(); f != nil {
			if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
				return err
			}
		}
		fmt.Fprintf(log, "runsc: the Sentry's seccomp filter traps forbidden system calls (--debug): "+
			"one ends the sandbox with a \"SIGSYS: bad system call\" report, rax holding its number\n")
	}
	return boot.InstallFilter(boot.FilterOptions{Platform: conf.Platform, Debug: conf.Debug, Sandbox: sandbox, Profile: profile})
}

// sandbox is the state the control socket serves.
type sandbox struct {
	s        *boot.Sandbox
	exitPath string
	mu       sync.Mutex
	started  bool
	// execs are the processes runsc exec started that have not exited, by PID.
	execs map[int32]*boot.Process
	// pod are the other containers of the pod whose sandbox this is (boot_pod.go).
	pod map[string]*podContainer
	// answering is read-held while an answer is made and sent; finish takes it for
	// good before the process exits, so that no answer is cut short: init can end
	// (the signal of a kill, or by itself) while a request about it is answered.
	answering sync.RWMutex
}

// serve answers one request on conn.
func (sb *sandbox) serve(conn *net.UnixConn) {
	req, fds, err := container.ReadRequest(conn)
	if err != nil {
		conn.Close()
		return
	}
	switch req.Cmd {
	case "exec":
		sb.exec(conn, req, fds) // it closes conn when the process has exited
		return
	case "add-container":
		sb.addContainer(conn, req, fds) // boot_pod.go
		return
	}
	defer conn.Close()
	for _, fd := range fds {
		unix.Close(fd)
	}
	var resp container.Response
	after := func() {}
	sb.answering.RLock()
	sb.mu.Lock()
	switch {
	case req.Cmd == "exec-signal": // for a process of any container: PIDs are the pod's
		resp.Err = sb.execSignalLocked(req.PID, unix.Signal(req.Signal))
	case req.Container != "":
		resp = sb.podRequestLocked(req) // boot_pod.go
	default:
		resp = sb.requestLocked(req, &after)
	}
	sb.mu.Unlock()
	json.NewEncoder(conn).Encode(&resp)
	sb.answering.RUnlock()
	after()
}

// requestLocked answers a request for the sandbox's own container; after, if set, is
// run once the answer is sent. sb.mu is held.
func (sb *sandbox) requestLocked(req container.Request, after *func()) container.Response {
	var resp container.Response
	switch req.Cmd {
	case "start":
		if sb.started {
			resp.Err = "cannot start an already running container"
			break
		}
		sb.started = true
		// init starts once the answer is sent: a short-lived init would otherwise
		// end the sandbox (finish) before runsc start heard that it started.
		*after = func() { go func() { sb.finish(sb.s.Start()) }() }
	case "kill":
		sig := unix.Signal(req.Signal)
		if !sb.started {
			// init has not run an instruction: as runc's init waiting on its exec
			// FIFO, a signal whose default action ends a process ends it.
			if defaultKills(sig) {
				*after = func() { sb.finish(kernel.ExitStatus{Signal: sig}) }
			}
			break
		}
		if err := sb.s.Kill("", sig, req.All); err != nil {
			resp.Err = "container not running"
		}
	case "pause", "resume", "ps", "stats":
		resp = sb.control(req) // boot_control.go
	default:
		resp.Err = fmt.Sprintf("unknown request %q", req.Cmd)
	}
	return resp
}

// finish records init's exit status and ends the sandbox process (its Gofer and stubs
// die with it), once the answers being sent are out. A request that comes later waits
// for the exit and reads EOF (its runsc command fails; the container is stopped).
func (sb *sandbox) finish(st kernel.ExitStatus) {
	sb.answering.Lock() // never unlocked
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
