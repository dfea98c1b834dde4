package cmd

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/container"
)

// Kill sends a signal to a container's init, or to all its processes.
type Kill struct {
	idCommand
	all bool
}

// Synopsis implements subcommands.Command.
func (*Kill) Synopsis() string { return "send a signal to a container" }

// SetFlags implements subcommands.Command.
func (k *Kill) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&k.all, "all", false, "send the signal to every process of the container")
	f.BoolVar(&k.all, "a", false, "short for --all")
}

// Execute implements subcommands.Command.
func (k *Kill) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := k.load(f, 2)
	defer c.Close()
	sig := unix.SIGTERM
	if f.NArg() == 2 {
		var err error
		if sig, err = parseSignal(f.Arg(1)); err != nil {
			Fatalf("kill %q: %v", c.State.ID, err)
		}
	}
	if c.State.Status != container.Created && c.State.Status != container.Running && c.State.Status != container.Paused {
		Fatalf("kill %q: container not running", c.State.ID)
	}
	if err := c.Send(container.Request{Cmd: "kill", Signal: int(sig), All: k.all}); err != nil {
		if c.Ended() {
			// init ended after the container was loaded, and the sandbox with it
			// before it answered: the error is the one of a stopped container
			// (which containerd's shim, as for runc, takes for "not found").
			Fatalf("kill %q: container not running", c.State.ID)
		}
		Fatalf("kill %q: %v", c.State.ID, err)
	}
	// A paused container's tasks take a signal when they are resumed; SIGKILL ends
	// them at once. As runc's (which signals every process inside a freeze and then
	// thaws), kill --all resumes a paused container.
	if c.State.Status == container.Paused && k.all && sig != unix.SIGKILL {
		if err := resumeContainer(c); err != nil {
			Fatalf("kill %q: %v", c.State.ID, err)
		}
	}
	return subcommands.ExitSuccess
}

// parseSignal parses a signal by number, name (KILL) or full name (SIGKILL).
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
