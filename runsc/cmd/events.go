package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/cgroup"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Events prints a container's statistics as runc events does: with --stats one
// {"type":"stats","id":…,"data":{…}} object; without, one every --interval until the
// container stops.
//
// The figures: cpu is the CPU time of the application's tasks, from the Sentry (user
// time is time in application code, kernel time the Sentry's work for it); pids.current
// is the number of the Sentry's tasks (threads), as a cgroup's pids.current counts the
// application's threads under runc. memory.usage is the sandbox's cgroup's when it has
// one (the Sentry, Gofer and stubs, which is what its limit applies to), else the
// application's memory (the Sentry's memory file in use); memory.raw.memory_file is
// always the latter. Limits and throttling come from the cgroup. Per-CPU times, blkio,
// hugetlb and network figures are not kept.
type Events struct {
	idCommand
	stats    bool
	interval time.Duration
}

// Synopsis implements subcommands.Command.
func (*Events) Synopsis() string { return "print a container's resource statistics" }

// SetFlags implements subcommands.Command.
func (e *Events) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&e.stats, "stats", false, "print the statistics once and exit")
	f.DurationVar(&e.interval, "interval", 5*time.Second, "how often to print them")
}

// Execute implements subcommands.Command.
func (e *Events) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	c := e.load(f, 1)
	id := c.State.ID
	if e.interval <= 0 {
		c.Close()
		Fatalf("events %q: --interval must be greater than 0", id)
	}
	if c.State.Status == container.Stopped {
		c.Close()
		Fatalf("events %q: container with id %s is not running", id, id)
	}
	enc := json.NewEncoder(os.Stdout)
	for {
		ev, err := statsEvent(c)
		c.Close()
		if err != nil {
			if e.stats {
				Fatalf("events %q: %v", id, err)
			}
		} else {
			enc.Encode(ev)
		}
		if e.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(e.interval)
		if c, err = container.Load(e.conf.Root, id); err != nil {
			return subcommands.ExitSuccess // deleted: the stream ends
		}
		if c.State.Status == container.Stopped {
			c.Close()
			return subcommands.ExitSuccess
		}
	}
}

// The event as runc prints it (runc's types/events.go).
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *stats `json:"data,omitempty"`
}

type stats struct {
	CPU               cpuStats          `json:"cpu"`
	CPUSet            struct{}          `json:"cpuset"`
	Memory            memoryStats       `json:"memory"`
	Pids              pidsStats         `json:"pids"`
	Blkio             struct{}          `json:"blkio"`
	Hugetlb           map[string]any    `json:"hugetlb"`
	IntelRdt          struct{}          `json:"intel_rdt"`
	NetworkInterfaces []json.RawMessage `json:"network_interfaces"`
}

type cpuStats struct {
	Usage struct {
		Total  uint64 `json:"total,omitempty"`
		Kernel uint64 `json:"kernel"`
		User   uint64 `json:"user"`
	} `json:"usage,omitempty"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling,omitempty"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type memoryStats struct {
	Usage memoryEntry       `json:"usage,omitempty"`
	Swap  memoryEntry       `json:"swap,omitempty"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// noLimit is what cgroup v1 reports for an unlimited memory cgroup (LONG_MAX in pages).
const noLimit = 9223372036854771712

// statsEvent gathers c's statistics from its sandbox and its cgroup.
func statsEvent(c *container.Container) (*event, error) {
	var ks kernel.Stats
	if err := c.SendFor(container.Request{Cmd: "stats"}, &ks); err != nil {
		return nil, err
	}
	s := &stats{Hugetlb: map[string]any{}}
	s.CPU.Usage.User, s.CPU.Usage.Kernel = uint64(ks.CPU.User), uint64(ks.CPU.Sys)
	s.CPU.Usage.Total = s.CPU.Usage.User + s.CPU.Usage.Kernel
	s.Pids.Current = uint64(ks.Tasks)
	s.Memory.Usage = memoryEntry{Limit: noLimit, Usage: ks.MemoryUsed}
	s.Memory.Swap.Limit = noLimit
	s.Memory.Raw = map[string]uint64{"memory_file": ks.MemoryUsed}
	if cg := c.State.Cgroup; cg != nil {
		applyCgroupStats(s, cg.Stats())
	}
	return &event{Type: "stats", ID: c.State.ID, Data: s}, nil
}

// applyCgroupStats adds the sandbox cgroup's figures.
func applyCgroupStats(s *stats, cs cgroup.Stats) {
	limit := func(v uint64) uint64 {
		if v == 0 {
			return noLimit
		}
		return v
	}
	if cs.MemoryUsage != 0 {
		s.Memory.Usage = memoryEntry{Limit: limit(cs.MemoryLimit), Usage: cs.MemoryUsage,
			Max: cs.MemoryMaxUsage, Failcnt: cs.MemoryFailcnt}
		s.Memory.Swap = memoryEntry{Limit: limit(cs.SwapLimit), Usage: cs.SwapUsage}
	}
	s.Pids.Limit = cs.PidsLimit
	s.CPU.Throttling.Periods = cs.CPUPeriods
	s.CPU.Throttling.ThrottledPeriods = cs.CPUThrottledPeriods
	s.CPU.Throttling.ThrottledTime = cs.CPUThrottledTime
}
