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

	"github.com/moat-sandbox/moat/runsc/cgroup"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
)

// Create creates a container: its sandbox process (runsc boot) holds the Sentry with
// the container's init ready to run, and waits for runsc start.
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
}

func (c *createFlags) set(f *flag.FlagSet) {
	f.StringVar(&c.bundle, "bundle", ".", "the bundle directory")
	f.StringVar(&c.bundle, "b", ".", "short for --bundle")
	f.StringVar(&c.pidFile, "pid-file", "", "write the sandbox process's PID to this file")
	f.StringVar(&c.consoleSocket, "console-socket", "", "AF_UNIX socket to send the console's master to (terminal: true; not supported yet)")
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
runsc's. The PID of the sandbox process is the container's.
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
	ct, _, err := createContainer(c.conf, id, c.createFlags)
	if err != nil {
		Fatalf("create %q: %v", id, err)
	}
	ct.Close()
	return subcommands.ExitSuccess
}

// createContainer checks the bundle, makes the container's state (creating), starts
// its sandbox and waits until init exists (created). Nothing is left behind on error.
// The container is returned locked, with the sandbox process, a child of this one.
func createContainer(conf *config.Config, id string, fl createFlags) (*container.Container, *exec.Cmd, error) {
	if err := specutils.ValidateID(id); err != nil {
		return nil, nil, err
	}
	b, err := specutils.Load(fl.bundle)
	if err != nil {
		return nil, nil, err
	}
	if b.Spec.Process.Terminal || fl.consoleSocket != "" {
		return nil, nil, errors.New("process.terminal (a console over --console-socket) is not supported yet")
	}
	// Check what the sandbox would find wrong before making anything.
	if _, _, err := containerArgs(conf, b, io.Discard); err != nil {
		return nil, nil, err
	}
	var cg *cgroup.Cgroup
	if l := b.Spec.Linux; l != nil && l.CgroupsPath != "" {
		if cg, err = cgroup.New(l.CgroupsPath, conf.SystemdCgroup); err != nil {
			return nil, nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	c, err := container.New(conf.Root, id, container.State{
		Bundle: b.Dir, Rootfs: b.Rootfs, Created: time.Now().UTC(), Annotations: b.Spec.Annotations,
		Cgroup: cg, Hooks: b.Spec.Hooks,
	})
	if err != nil {
		return nil, nil, err
	}
	if cg != nil {
		err := cg.Create(b.Spec.Linux.Resources)
		if err == nil {
			err = c.Save()
		}
		if err != nil {
			c.Destroy()
			return nil, nil, fmt.Errorf("cgroup: %w", err)
		}
		Debugf("container %q: cgroup %v", id, cg.Dirs)
	}
	sandbox, err := startSandbox(conf, c, b)
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
	if err != nil {
		c.Destroy()
		if sandbox != nil {
			sandbox.Wait()
		}
		return nil, nil, err
	}
	return c, sandbox, nil
}

// startSandbox starts runsc boot for c and waits until it reports that init is
// created (or why it is not).
func startSandbox(conf *config.Config, c *container.Container, b *specutils.Bundle) (*exec.Cmd, error) {
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
	err = cmd.Start()
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
