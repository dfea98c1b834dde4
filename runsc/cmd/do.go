package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/config"
)

// Do runs a command in a sandbox over the host, with the caller's stdio.
type Do struct {
	conf *config.Config
}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a sandbox" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return `do [--] COMMAND [ARG...]

Runs COMMAND on a new Sentry with the caller's stdin, stdout, stderr and environment,
and exits with its status (128+N if signal N killed it). COMMAND is looked up in PATH.
Today: static x86-64 ELF executables; files other than stdio need the VFS.
`
}

// SetFlags implements subcommands.Command.
func (*Do) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (d *Do) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() == 0 {
		fmt.Fprint(os.Stderr, d.Usage())
		return subcommands.ExitUsageError
	}
	path, err := exec.LookPath(f.Arg(0))
	if err != nil {
		Fatalf("do: %v", err)
	}
	st, err := boot.Run(boot.Args{
		Platform: d.conf.Platform,
		Strace:   d.conf.Strace,
		Path:     path,
		Argv:     f.Args(),
		Envv:     os.Environ(),
		Stdio:    [3]int{0, 1, 2},
		Log:      os.Stderr,
	})
	if err != nil {
		Fatalf("do: %v", err)
	}
	os.Exit(st.Shell())
	return subcommands.ExitSuccess
}
