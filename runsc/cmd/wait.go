package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/container"
)

// Wait waits for a container's init to exit and prints its status.
type Wait struct{ idCommand }

// Synopsis implements subcommands.Command.
func (*Wait) Synopsis() string { return "wait for a container to stop and print its exit status" }

// SetFlags implements subcommands.Command.
func (*Wait) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (w *Wait) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := w.load(f, 1)
	id := c.State.ID
	for c.State.Status != container.Stopped {
		c.Close() // never hold the lock while waiting
		time.Sleep(20 * time.Millisecond)
		var err error
		if c, err = container.Load(w.conf.Root, id); err != nil {
			Fatalf("wait %q: %v", id, err)
		}
	}
	st, _ := c.ExitStatus()
	c.Close()
	out, _ := json.Marshal(struct {
		ID         string `json:"id"`
		ExitStatus int    `json:"exitStatus"`
	}{id, st})
	fmt.Printf("%s\n", out)
	return subcommands.ExitSuccess
}
