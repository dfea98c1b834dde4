package cmd

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/container"
)

// idCommand is the part of the commands that take one container ID.
type idCommand struct {
	conf  *config.Config
	name  string
	usage string
}

// Name implements subcommands.Command.
func (c *idCommand) Name() string { return c.name }

// Usage implements subcommands.Command.
func (c *idCommand) Usage() string { return c.usage }

// load checks the arguments and opens the container (locked); it exits on error.
func (c *idCommand) load(f *flag.FlagSet, maxArgs int) *container.Container {
	if f.NArg() < 1 || f.NArg() > maxArgs {
		fmt.Fprint(os.Stderr, c.usage)
		os.Exit(int(subcommands.ExitUsageError))
	}
	ct, err := container.Load(c.conf.Root, f.Arg(0))
	if err != nil {
		Fatalf("%s %q: %v", c.name, f.Arg(0), err)
	}
	return ct
}
