package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

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
	if err := c.Send(container.Request{Cmd: "start"}); err != nil {
		return err
	}
	return c.Transition(container.Running)
}

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
	if c.State.Status != container.Created && c.State.Status != container.Running {
		Fatalf("kill %q: container not running", c.State.ID)
	}
	if err := c.Send(container.Request{Cmd: "kill", Signal: int(sig), All: k.all}); err != nil {
		Fatalf("kill %q: %v", c.State.ID, err)
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
		return subcommands.ExitSuccess // as runc delete --force
	}
	if err != nil {
		Fatalf("delete %q: %v", f.Arg(0), err)
	}
	// A created container is deleted without --force, as runc does.
	if c.State.Status == container.Running && !d.force {
		Fatalf("delete %q: cannot delete container %s that is not stopped: running", c.State.ID, c.State.ID)
	}
	if err := c.Destroy(); err != nil {
		Fatalf("delete %q: %v", c.State.ID, err)
	}
	return subcommands.ExitSuccess
}

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

// List lists the containers under --root.
type List struct {
	conf   *config.Config
	format string
	quiet  bool
}

// Name implements subcommands.Command.
func (*List) Name() string { return "list" }

// Synopsis implements subcommands.Command.
func (*List) Synopsis() string { return "list containers" }

// Usage implements subcommands.Command.
func (*List) Usage() string { return "list [--format table|json] [--quiet]\n" }

// SetFlags implements subcommands.Command.
func (l *List) SetFlags(f *flag.FlagSet) {
	f.StringVar(&l.format, "format", "table", "table or json")
	f.StringVar(&l.format, "f", "table", "short for --format")
	f.BoolVar(&l.quiet, "quiet", false, "print only the IDs")
	f.BoolVar(&l.quiet, "q", false, "short for --quiet")
}

// Execute implements subcommands.Command.
func (l *List) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	ids, err := container.List(l.conf.Root)
	if err != nil {
		Fatalf("list: %v", err)
	}
	var states []container.OCIState
	for _, id := range ids {
		c, err := container.Load(l.conf.Root, id)
		if err != nil {
			continue // deleted meanwhile
		}
		st := c.OCI()
		st.Owner = owner(c.Dir)
		states = append(states, st)
		c.Close()
	}
	switch {
	case l.quiet:
		for _, s := range states {
			fmt.Println(s.ID)
		}
	case l.format == "json":
		json.NewEncoder(os.Stdout).Encode(states) // null when empty, as runc
	case l.format == "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.PID, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		w.Flush()
	default:
		Fatalf("list: invalid format option %q", l.format)
	}
	return subcommands.ExitSuccess
}

// owner names the user owning dir.
func owner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}
