package cmd

import (
	"context"
	"errors"
	"flag"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/container"
)

// Pause stops every process of a container, as runc pause does with the cgroup
// freezer; here the Sentry stops running the application's tasks (sentry/kernel's
// Freeze), and the sandbox process goes on serving its control socket.
type Pause struct{ idCommand }

// Synopsis implements subcommands.Command.
func (*Pause) Synopsis() string { return "pause every process of a container" }

// SetFlags implements subcommands.Command.
func (*Pause) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (p *Pause) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := p.load(f, 1)
	defer c.Close()
	if err := pauseContainer(c); err != nil {
		Fatalf("pause %q: %v", c.State.ID, err)
	}
	return subcommands.ExitSuccess
}

// pauseContainer freezes c's tasks: created or running to paused, as runc's.
func pauseContainer(c *container.Container) error {
	from := c.State.Status
	if from != container.Created && from != container.Running {
		return errors.New("container not running")
	}
	if err := c.Send(container.Request{Cmd: "pause"}); err != nil {
		return err
	}
	c.State.PausedFrom = from
	return c.Transition(container.Paused)
}

// Resume lets a paused container's processes run again.
type Resume struct{ idCommand }

// Synopsis implements subcommands.Command.
func (*Resume) Synopsis() string { return "resume the processes of a paused container" }

// SetFlags implements subcommands.Command.
func (*Resume) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (r *Resume) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := r.load(f, 1)
	defer c.Close()
	if err := resumeContainer(c); err != nil {
		Fatalf("resume %q: %v", c.State.ID, err)
	}
	return subcommands.ExitSuccess
}

// resumeContainer thaws c's tasks: paused back to what it was (running, or created
// for a container paused before start).
func resumeContainer(c *container.Container) error {
	if c.State.Status != container.Paused {
		return errors.New("container not paused")
	}
	if err := c.Send(container.Request{Cmd: "resume"}); err != nil {
		return err
	}
	to := c.State.PausedFrom
	if to == "" {
		to = container.Running
	}
	c.State.PausedFrom = ""
	return c.Transition(to)
}
