package cmd

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"

	"github.com/google/subcommands"
)

// Version prints runsc's version and the OCI runtime spec version it implements.
type Version struct{}

// Name implements subcommands.Command.
func (*Version) Name() string { return "version" }

// Synopsis implements subcommands.Command.
func (*Version) Synopsis() string { return "print the version" }

// Usage implements subcommands.Command.
func (*Version) Usage() string { return "version\n" }

// SetFlags implements subcommands.Command.
func (*Version) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Version) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Printf("runsc version %s\nspec: 1.0.2\n", v)
	return subcommands.ExitSuccess
}
