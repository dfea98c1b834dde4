package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/google/subcommands"
)

// State prints a container's OCI state.
type State struct{ idCommand }

// Synopsis implements subcommands.Command.
func (*State) Synopsis() string { return "print a container's state as JSON" }

// SetFlags implements subcommands.Command.
func (*State) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (s *State) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := s.load(f, 1)
	defer c.Close()
	data, err := json.MarshalIndent(c.OCI(), "", "  ")
	if err != nil {
		Fatalf("state %q: %v", c.State.ID, err)
	}
	os.Stdout.Write(data) // no newline, as runc
	return subcommands.ExitSuccess
}
