package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/config"
)

// Do runs a command in a sandbox over the host, with the caller's stdio.
type Do struct {
	conf *config.Config
	// profileCPU is a file for the Sentry's Go CPU profile (a debugging aid).
	profileCPU string
}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a sandbox" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return `do [--] COMMAND [ARG...]

Runs COMMAND on a new Sentry with the caller's stdin, stdout, stderr, environment and
working directory, and exits with its status (128+N if signal N killed it). The root is
a writable overlay over a read-only view of the host's root served by a Gofer: writes
land in the sandbox's memory, never on the host (with --overlay=none they do reach the
host). /proc, /sys and /dev are the sandbox's own.
COMMAND is looked up in PATH.
`
}

// SetFlags implements subcommands.Command.
func (d *Do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.profileCPU, "profile-cpu", "", "write the Sentry's Go CPU profile (pprof) to this file, for `go tool pprof` (a debugging aid: the seccomp filter then allows the profiler's timers)")
}

// Execute implements subcommands.Command.
func (d *Do) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() == 0 {
		fmt.Fprint(os.Stderr, d.Usage())
		return subcommands.ExitUsageError
	}
	// The sandbox's root is a view of the host's, so the host's PATH lookup names the
	// same file inside.
	path, err := exec.LookPath(f.Arg(0))
	if err != nil {
		Fatalf("do: %v", err)
	}
	if path, err = filepath.Abs(path); err != nil {
		Fatalf("do: %v", err)
	}
	cwd, _ := os.Getwd()
	root := "/:ro"
	if d.conf.Overlay == "none" {
		root = "/" // writes reach the host
	}
	gofer, err := startGofer(root)
	if err != nil {
		Fatalf("do: starting the gofer: %v", err)
	}
	s, err := boot.New(boot.Args{
		Platform: d.conf.Platform,
		Strace:   d.conf.Strace,
		GoferFD:  gofer.fd,
		Overlay:  d.conf.Overlay,
		Path:     path,
		Argv:     f.Args(),
		Envv:     os.Environ(),
		Cwd:      cwd,
		Stdio:    [3]int{0, 1, 2},
		Log:      os.Stderr,
	})
	if err == nil {
		// The Sentry runs in this process, which is not boxed as runsc boot is (its
		// namespaces, root and capabilities are the caller's), but it is filtered the
		// same way before the program's first instruction.
		time.Now().Zone() // load the local time zone before the filter forbids opening it
		if err = d.startProfile(); err == nil {
			err = installFilter(d.conf, false, d.profileCPU != "", os.Stderr)
		}
		if err != nil {
			s.Close()
		}
	}
	if err != nil {
		gofer.stop()
		Fatalf("do: %v", err)
	}
	st := s.Start()
	s.Close()
	gofer.stop()
	if d.profileCPU != "" {
		pprof.StopCPUProfile() // it flushes the profile; os.Exit runs no deferred call
	}
	os.Exit(st.Shell())
	return subcommands.ExitSuccess
}

// startProfile starts the Go CPU profile into --profile-cpu's file, if set; the file
// is opened before the seccomp filter forbids it, and closed by the process's exit.
func (d *Do) startProfile() error {
	if d.profileCPU == "" {
		return nil
	}
	f, err := os.Create(d.profileCPU)
	if err != nil {
		return fmt.Errorf("--profile-cpu: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--profile-cpu: %w", err)
	}
	return nil
}

// goferProc is a running Gofer: fd is the Sentry's end of its socket, and done is
// closed when the process has ended.
type goferProc struct {
	fd   int
	cmd  *exec.Cmd
	done chan struct{}
}

// stop ends the Gofer and waits for it: closing its socket ends it, unless a copy of
// the socket lives on somewhere (a stub forked from the Sentry holds one until the
// platform is closed), so after a while it is killed.
func (g *goferProc) stop() {
	unix.Close(g.fd)
	select {
	case <-g.done:
	case <-time.After(2 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
}

// startGofer starts a Gofer process serving mounts, in a mount namespace and a PID
// namespace of its own (it makes its mount namespace hold only what it serves, and sees
// no process but itself). It dies with the thread that started it (PR_SET_PDEATHSIG) or
// when its socket closes.
func startGofer(mounts ...string) (*goferProc, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"gofer", "--fd", "3"}
	for _, m := range mounts {
		args = append(args, "--mount", m)
	}
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fds[1]), "gofer")}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	unix.Close(fds[1])
	g := &goferProc{fd: fds[0], cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(g.done)
	}()
	return g, nil
}
