package kernel

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// What the OCI runtime's ps and events read of the sandbox. They see the sandbox's
// own view, as gVisor's runsc does: PIDs are those of the Sentry's root PID namespace
// (the sandbox container's: its init is 1; a pod's other containers, each in a
// namespace of its own, appear under their root-namespace IDs, as the pod's sandbox
// sees them), since the application's processes are Sentry tasks with no host
// process of their own.

// ProcessInfo describes one process for ps.
type ProcessInfo struct {
	PID, PPID int32
	UID       uint32
	Start     time.Time
	TTY       string        // "pts/N", or "?" for none
	CPU       time.Duration // user and system time of its threads
	Cmd       string        // its arguments, or [comm] if it has none
	Zombie    bool
}

// Processes lists the processes (zombies included) of container ("" for the
// sandbox's own, or the ID of another container of the pod), by PID.
func (k *Kernel) Processes(container string) []ProcessInfo {
	k.mu.Lock()
	var out []ProcessInfo
	var leaders []*Task
	for _, p := range k.procs {
		if p.container != container {
			continue
		}
		pi := ProcessInfo{PID: p.PID, UID: p.task.Creds.UID, Start: p.task.Start, TTY: "?", Zombie: p.exit != nil}
		if p.parent != nil {
			pi.PPID = p.parent.PID
		}
		if p.ctty != nil {
			pi.TTY = fmt.Sprintf("pts/%d", p.ctty.Index)
		}
		u := p.usageLocked()
		pi.CPU = time.Duration(u.User + u.Sys)
		out = append(out, pi)
		leaders = append(leaders, p.task)
	}
	k.mu.Unlock()
	for i, t := range leaders {
		// Outside k.mu: reading the argument strings reads the process's memory.
		args := ""
		if !out[i].Zombie {
			args = strings.TrimRight(strings.ReplaceAll(string(t.ReadMemory(t.ArgvStart, t.ArgvEnd)), "\x00", " "), " ")
		}
		switch {
		case out[i].Zombie:
			out[i].Cmd = "[" + t.CommName() + "] <defunct>"
		case args == "":
			out[i].Cmd = "[" + t.CommName() + "]"
		default:
			out[i].Cmd = args
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// Stats is what events --stats reports of the sandbox's kernel.
type Stats struct {
	// CPU is the CPU time of every process the sandbox has run: the live ones and
	// zombies, and the reaped ones through their reapers' children's time (what a
	// cgroup's cpuacct.usage counts).
	CPU Usage
	// Tasks is the number of live tasks (threads), as a cgroup's pids.current.
	Tasks int
	// MemoryUsed is the memory file's allocated bytes: the application's memory.
	MemoryUsed uint64
}

// Stats returns the statistics of container ("" for the sandbox's own, or the ID of
// another container of the pod): CPU and tasks are its processes', the memory the
// whole sandbox's (the pod's containers share one memory file).
func (k *Kernel) Stats(container string) Stats {
	k.mu.Lock()
	var s Stats
	for _, p := range k.procs {
		if p.container != container {
			continue
		}
		s.CPU.add(p.usageLocked())
		s.CPU.add(p.childUsage)
		if p.exit == nil {
			s.Tasks += len(p.threads)
		}
	}
	k.mu.Unlock()
	s.MemoryUsed = k.MemFile.Used()
	return s
}
