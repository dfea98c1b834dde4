package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
)

// Delete removes a container: its sandbox, Gofer and state.
type Delete struct {
	idCommand
	force bool
}

// Synopsis implements subcommands.Command.
func (*Delete) Synopsis() string { return "delete a container" }

// SetFlags implements subcommands.Command.
func (d *Delete) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&d.force, "force", false, "kill the container if it is running")
	f.BoolVar(&d.force, "f", false, "short for --force")
}

// Execute implements subcommands.Command.
func (d *Delete) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 {
		fmt.Fprint(os.Stderr, d.usage)
		return subcommands.ExitUsageError
	}
	c, err := container.Load(d.conf.Root, f.Arg(0))
	if errors.Is(err, container.ErrNotExist) && d.force {
		// As runc delete --force; a directory without state is what a create that
		// died before writing any left.
		if specutils.ValidateID(f.Arg(0)) == nil {
			os.RemoveAll(filepath.Join(d.conf.Root, f.Arg(0)))
		}
		return subcommands.ExitSuccess
	}
	if err != nil {
		Fatalf("delete %q: %v", f.Arg(0), err)
	}
	// A created container is deleted without --force, as runc does.
	if (c.State.Status == container.Running || c.State.Status == container.Paused) && !d.force {
		Fatalf("delete %q: cannot delete container %s that is not stopped: %s", c.State.ID, c.State.ID, c.State.Status)
	}
	warnings, err := c.Delete()
	if err != nil {
		Fatalf("delete %q: %v", c.State.ID, err)
	}
	for _, w := range warnings {
		Warnf("delete %q: %v", c.State.ID, w)
	}
	return subcommands.ExitSuccess
}
