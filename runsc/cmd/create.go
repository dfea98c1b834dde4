package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/moat-sandbox/moat/runsc/cgroup"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/console"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
)

// Create creates a container: its sandbox process (runsc boot) holds the Sentry with
// the container's init ready to run, and waits for runsc start. A container annotated
// as a pod's joins its pod's sandbox instead (create_pod.go).
type Create struct {
	conf *config.Config
	createFlags
}

// createFlags are the flags create and run share.
type createFlags struct {
	bundle        string
	pidFile       string
	consoleSocket string
	noPivot       bool
	noNewKeyring  bool
	// attached is run without --detach: with process.terminal and no console
	// socket, runsc keeps the console's master, to copy to its own stdio.
	attached bool
	// run is runsc run's create.
	run bool
}

func (c *createFlags) set(f *flag.FlagSet) {
	f.StringVar(&c.bundle, "bundle", ".", "the bundle directory")
	f.StringVar(&c.bundle, "b", ".", "short for --bundle")
	f.StringVar(&c.pidFile, "pid-file", "", "write the sandbox process's PID to this file")
	f.StringVar(&c.consoleSocket, "console-socket", "", "AF_UNIX socket to send the console's master to (process.terminal)")
	f.BoolVar(&c.noPivot, "no-pivot", false, "accepted for runc compatibility; no effect")
	f.BoolVar(&c.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility; no effect")
}

// Name implements subcommands.Command.
func (*Create) Name() string { return "create" }

// Synopsis implements subcommands.Command.
func (*Create) Synopsis() string { return "create a container (start runs it)" }

// Usage implements subcommands.Command.
func (*Create) Usage() string {
	return `create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] CONTAINER-ID

Creates the container the bundle describes: a sandbox process holding the Sentry, with
the container's init loaded and waiting for runsc start. The container's stdio is
runsc's, or with process.terminal a terminal whose master is sent over
--console-socket (as runc sends it). The PID of the sandbox process is the container's.

A container annotated io.kubernetes.cri.container-type=container with
io.kubernetes.cri.sandbox-id=ID (or CRI-O's io.kubernetes.cri-o.ContainerType and
io.kubernetes.cri-o.SandboxID) runs in the sandbox of container ID, its pod's.
`
}

// SetFlags implements subcommands.Command.
func (c *Create) SetFlags(f *flag.FlagSet) { c.createFlags.set(f) }

// Execute implements subcommands.Command.
func (c *Create) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 {
		fmt.Fprint(os.Stderr, c.Usage())
		return subcommands.ExitUsageError
	}
	id := f.Arg(0)
	ct, _, _, err := createContainer(c.conf, id, c.createFlags)
	if err != nil {
		Fatalf("create %q: %v", id, err)
	}
	ct.Close()
	return subcommands.ExitSuccess
}

// createContainer checks the bundle, makes the container's state (creating), starts
// its sandbox and waits until init exists (created). Nothing is left behind on error.
// The container is returned locked, with the sandbox process, a child of this one.
// With process.terminal, the console's master is sent over the console socket, or,
// for an attached run without one, returned.
func createContainer(conf *config.Config, id string, fl createFlags) (_ *container.Container, _ *exec.Cmd, master *os.File, _ error) {
	if err := specutils.ValidateID(id); err != nil {
		return nil, nil, nil, err
	}
	b, err := specutils.Load(fl.bundle)
	if err != nil {
		return nil, nil, nil, err
	}
	sandboxID, err := specutils.PodSandbox(b.Spec.Annotations)
	if err != nil {
		return nil, nil, nil, err
	}
	terminal := b.Spec.Process.Terminal
	switch {
	case terminal && fl.consoleSocket == "" && !fl.attached:
		return nil, nil, nil, errors.New("cannot allocate tty if runsc will detach without setting console socket")
	case (!terminal || fl.attached) && fl.consoleSocket != "":
		return nil, nil, nil, errors.New("cannot use console socket if runsc will not detach or allocate tty")
	case fl.consoleSocket != "":
		if err := console.CheckSocket(fl.consoleSocket); err != nil {
			return nil, nil, nil, err
		}
	}
	// Check what the sandbox would find wrong before making anything.
	if _, _, err := containerArgs(conf, b, io.Discard); err != nil {
		return nil, nil, nil, err
	}
	if err := checkNamespaces(b.Spec); err != nil {
		return nil, nil, nil, err
	}
	var slave *os.File
	if terminal {
		if master, slave, err = console.NewPty(); err != nil {
			return nil, nil, nil, err
		}
		defer slave.Close()
		console.SetSize(master, b.Spec.Process.ConsoleSize)
		if fl.consoleSocket == "" {
			console.InheritSize(master)
		}
	}
	if sandboxID != "" {
		c, err := createInPod(conf, id, sandboxID, b, fl, master, slave) // create_pod.go
		if err != nil {
			return nil, nil, nil, err
		}
		if fl.consoleSocket != "" {
			master = nil // sent
		}
		return c, nil, master, nil
	}
	var cg *cgroup.Cgroup
	if l := b.Spec.Linux; l != nil && l.CgroupsPath != "" {
		if cg, err = cgroup.New(l.CgroupsPath, conf.SystemdCgroup); err != nil {
			if master != nil {
				master.Close()
			}
			return nil, nil, nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	c, err := container.New(conf.Root, id, container.State{
		Bundle: b.Dir, Rootfs: b.Rootfs, Created: time.Now().UTC(), Annotations: b.Spec.Annotations,
		Cgroup: cg, Hooks: b.Spec.Hooks,
	})
	if err != nil {
		if master != nil {
			master.Close()
		}
		return nil, nil, nil, err
	}
	if cg != nil {
		err := cg.Create(b.Spec.Linux.Resources, sandboxDevices(conf)...)
		if err == nil {
			err = c.Save()
		}
		if err != nil {
			if master != nil {
				master.Close()
			}
			c.Destroy()
			return nil, nil, nil, fmt.Errorf("cgroup: %w", err)
		}
		Debugf("container %q: cgroup %v", id, cg.Dirs)
	}
	sandbox, err := startSandbox(conf, c, b, slave)
	if err == nil {
		// As runc's, once the sandbox holds init: prestart (deprecated), then
		// createRuntime, then createContainer, all while the container is creating.
		st := c.StateFor(container.Creating)
		for _, kind := range []string{container.Prestart, container.CreateRuntime, container.CreateContainer} {
			if err = c.RunHooks(kind, st); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = c.Transition(container.Created)
	}
	if err == nil && fl.pidFile != "" {
		err = container.WriteFileAtomic(fl.pidFile, []byte(strconv.Itoa(c.State.SandboxPID)))
	}
	if err == nil && master != nil && fl.consoleSocket != "" {
		err = console.SendMaster(fl.consoleSocket, master)
		master.Close()
		master = nil
	}
	if err != nil {
		if master != nil {
			master.Close()
		}
		c.Destroy()
		if sandbox != nil {
			sandbox.Wait()
		}
		return nil, nil, nil, err
	}
	return c, sandbox, master, nil
}

// startSandbox starts runsc boot for c and waits until it reports that init is
// created (or why it is not). console, if not nil, is the host terminal of init's
// console: it becomes the sandbox process's controlling terminal.
func startSandbox(conf *config.Config, c *container.Container, b *specutils.Bundle, console *os.File) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	args := globalFlags()
	args = append(args, "boot", "--bundle", b.Dir, "--dir", c.Dir, "--sync-fd", "3")
	cmd := exec.Command(self)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	// With a cgroup, the sandbox waits on a pipe until it is in it, so that its Gofer
	// and stubs start there too.
	var goW *os.File
	if cg := c.State.Cgroup; cg != nil {
		goR, gw, err := os.Pipe()
		if err != nil {
			w.Close()
			return nil, err
		}
		defer goR.Close()
		defer gw.Close()
		goW = gw
		cmd.ExtraFiles = append(cmd.ExtraFiles, goR)
		args = append(args, "--wait-fd", "4")
	}
	cmd.Args = append(append([]string{self}, args...), c.State.ID)
	cmd.Dir = "/"
	// Its own session: the sandbox outlives create and the caller's terminal. Its own
	// PID, mount, IPC and UTS namespaces: the Sentry is PID 1 of a namespace holding
	// only it, its Gofer and its stubs (all of which the kernel kills when it dies),
	// and sees nothing of the host's processes or System V objects.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true,
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS}
	// A new cgroup namespace if the spec asks for one (runc makes it once init is in
	// its cgroup; here it is rooted at runsc's, the sandbox being moved into the
	// container's cgroup just after).
	if newCgroupns(b.Spec) {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWCGROUP
	}
	if console != nil {
		// The console's host side is the sandbox's controlling terminal, so that the
		// host sends it SIGWINCH when the window size changes.
		cmd.ExtraFiles = append(cmd.ExtraFiles, console)
		fd := 2 + len(cmd.ExtraFiles) // after --sync-fd's and --wait-fd's, if any
		cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "--console-fd", strconv.Itoa(fd), c.State.ID)
		cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, fd
	}
	err = startInNetns(cmd, b.Spec)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	if err := c.SetSandbox(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	if goW != nil {
		if err := c.State.Cgroup.Join(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		if _, err := goW.WriteString("go"); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("starting the sandbox: %w", err)
		}
	}
	msg, _ := io.ReadAll(r)
	if s := strings.TrimSpace(string(msg)); s != "ok" {
		if s == "" {
			s = "the sandbox process ended before creating init"
		}
		return cmd, errors.New(s)
	}
	return cmd, nil
}

// globalFlags returns the global flags this runsc was given, to pass on to the
// sandbox; --root is made absolute.
func globalFlags() []string {
	var args []string
	flag.CommandLine.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		if f.Name == "root" || f.Name == "log" || f.Name == "debug-log" {
			if abs, err := filepath.Abs(v); err == nil {
				v = abs
			}
		}
		args = append(args, "--"+f.Name+"="+v)
	})
	return args
}

// sandboxDevices are the host devices the sandbox's processes open, which its cgroup
// allows whatever the spec's device rules say: /dev/null (c 1:3), which the sandbox
// gives the processes it starts as stdio, and /dev/kvm (c 10:232) on the kvm platform.
func sandboxDevices(conf *config.Config) []specs.LinuxDeviceCgroup {
	num := func(n int64) *int64 { return &n }
	devs := []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: num(1), Minor: num(3), Access: "rw"}}
	if conf.Platform == "kvm" {
		devs = append(devs, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: num(10), Minor: num(232), Access: "rw"})
	}
	return devs
}
