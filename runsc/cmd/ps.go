package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Ps lists a container's processes, as runc ps does, in the sandbox's own view, as
// gVisor's runsc ps does: runc lists host PIDs (ps -ef over the container's cgroup),
// but the application's processes here are the Sentry's tasks, which have no host
// process of their own; so the PIDs are those of the container's PID namespace, as the
// application sees them (init is 1), and --format json prints that list. User names
// come from the container's /etc/passwd.
type Ps struct {
	idCommand
	format string
}

// Synopsis implements subcommands.Command.
func (*Ps) Synopsis() string { return "list a container's processes" }

// SetFlags implements subcommands.Command.
func (p *Ps) SetFlags(f *flag.FlagSet) {
	f.StringVar(&p.format, "format", "table", "table or json")
	f.StringVar(&p.format, "f", "table", "short for --format")
}

// Execute implements subcommands.Command.
func (p *Ps) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := p.load(f, 1)
	defer c.Close()
	if p.format != "table" && p.format != "json" {
		Fatalf("ps %q: invalid format option %q", c.State.ID, p.format)
	}
	var procs []kernel.ProcessInfo
	if c.State.Status != container.Stopped {
		if err := c.SendFor(container.Request{Cmd: "ps"}, &procs); err != nil {
			Fatalf("ps %q: %v", c.State.ID, err)
		}
	}
	if p.format == "json" {
		pids := []int32{}
		for _, pi := range procs {
			pids = append(pids, pi.PID)
		}
		json.NewEncoder(os.Stdout).Encode(pids)
		return subcommands.ExitSuccess
	}
	fmt.Print(psTable(procs, userNames(c.State.Rootfs), time.Now()))
	return subcommands.ExitSuccess
}

// psTable formats procs as ps -ef does (procps' widths).
func psTable(procs []kernel.ProcessInfo, users map[uint32]string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %5s %5s %2s %5s %-8s %8s %s\n", "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
	for _, pi := range procs {
		user := strconv.Itoa(int(pi.UID))
		if n, ok := users[pi.UID]; ok && len(n) <= 8 {
			user = n
		}
		c := 0
		if el := now.Sub(pi.Start); el > 0 {
			c = min(int(pi.CPU*100/el), 99)
		}
		fmt.Fprintf(&b, "%-8s %5d %5d %2d %5s %-8s %8s %s\n", user, pi.PID, pi.PPID, c,
			stime(pi.Start, now), pi.TTY, cputime(pi.CPU), pi.Cmd)
	}
	return b.String()
}

// stime is ps's STIME: the time today, else the month and day, else the year.
func stime(start, now time.Time) string {
	start, now = start.Local(), now.Local()
	switch {
	case start.YearDay() == now.YearDay() && start.Year() == now.Year():
		return start.Format("15:04")
	case start.Year() == now.Year():
		return start.Format("Jan02")
	}
	return start.Format("2006")
}

// cputime is ps's TIME: [DD-]HH:MM:SS.
func cputime(d time.Duration) string {
	s := int64(d / time.Second)
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600%24, s/60%60, s%60)
	if days := s / 86400; days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}

// userNames reads the user names of the container's /etc/passwd.
func userNames(rootfs string) map[uint32]string {
	out := map[uint32]string{}
	data, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := out[uint32(uid)]; !dup {
				out[uint32(uid)] = f[0]
			}
		}
	}
	return out
}
