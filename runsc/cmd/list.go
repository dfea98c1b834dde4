package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/container"
)

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
