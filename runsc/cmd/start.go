package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/container"
)

// Start runs a created container's init.
type Start struct{ idCommand }

// Synopsis implements subcommands.Command.
func (*Start) Synopsis() string { return "start a created container" }

// SetFlags implements subcommands.Command.
func (*Start) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (s *Start) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := s.load(f, 1)
	defer c.Close()
	if err := startContainer(c); err != nil {
		Fatalf("start %q: %v", c.State.ID, err)
	}
	return subcommands.ExitSuccess
}

// startContainer asks c's sandbox to run init: created to running.
func startContainer(c *container.Container) error {
	switch c.State.Status {
	case container.Created:
	case container.Running:
		return errors.New("cannot start an already running container")
	case container.Stopped:
		return errors.New("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start a container in the %s state", c.State.Status)
	}
	if err := c.RunHooks(container.StartContainer, c.StateFor(container.Created)); err != nil {
		// As runc's init that fails before it execs: the container stops.
		c.KillSandbox()
		return err
	}
	if err := c.Send(container.Request{Cmd: "start"}); err != nil {
		return err
	}
	if err := c.Transition(container.Running); err != nil {
		return err
	}
	for _, err := range c.RunHooksAll(container.Poststart, c.StateFor(container.Running)) {
		Warnf("start %q: %v", c.State.ID, err)
	}
	return nil
}
