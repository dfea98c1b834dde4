package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/gofer"
)

// Gofer serves a container's files to its Sentry over a socket it inherits. runsc
// starts it, in mount and PID namespaces of its own; it is not meant to be run by hand.
// It isolates itself (gofer.Isolate: a root holding only its mounts), opens its mounts,
// boxes itself (gofer.Box) and serves.
type Gofer struct {
	fd     int
	mounts mountList
}

// mountList collects --mount HOSTPATH[:ro] flags.
type mountList []gofer.Mount

func (m *mountList) String() string { return fmt.Sprint(*m) }

func (m *mountList) Set(s string) error {
	path, ro := strings.CutSuffix(s, ":ro")
	if path == "" || path[0] != '/' {
		return fmt.Errorf("mount %q: need an absolute host path", s)
	}
	*m = append(*m, gofer.Mount{HostPath: path, ReadOnly: ro})
	return nil
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string { return "serve a container's files to its Sentry (internal)" }

// Usage implements subcommands.Command.
func (*Gofer) Usage() string {
	return "gofer --fd N --mount HOSTPATH[:ro]...\n\nServes the mounts, in order (mount 0 is the root), on the SOCK_SEQPACKET socket N.\n"
}

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.IntVar(&g.fd, "fd", -1, "the socket to serve")
	f.Var(&g.mounts, "mount", "a host path to serve, with :ro for read-only (repeatable)")
}

// Execute implements subcommands.Command.
func (g *Gofer) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if g.fd < 0 || len(g.mounts) == 0 {
		fmt.Fprint(os.Stderr, g.Usage())
		return subcommands.ExitUsageError
	}
	if err := raiseNofileLimit(); err != nil {
		Fatalf("gofer: %v", err)
	}
	mounts, err := gofer.Isolate(g.mounts)
	if err != nil {
		Fatalf("%v", err)
	}
	s, err := gofer.NewServer(gofer.Config{Mounts: mounts})
	if err != nil {
		Fatalf("gofer: %v", err)
	}
	if err := gofer.Box(); err != nil {
		Fatalf("%v", err)
	}
	if err := s.Serve(g.fd); err != nil {
		Fatalf("gofer: %v", err)
	}
	return subcommands.ExitSuccess
}
