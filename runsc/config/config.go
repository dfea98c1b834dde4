// Package config holds runsc's global flags, as runc and gVisor's runsc take them, and
// checks them before any subcommand runs.
package config

import (
	"flag"
	"fmt"
)

// Config is the global configuration of one runsc invocation.
type Config struct {
	Root     string // state directory
	Platform string // systrap, ptrace or kvm
	Debug    bool
	Strace   bool
	// Overlay is how the root is made writable: "memory" (a tmpfs over the read-only
	// Gofer root: writes stay in the sandbox) or "none" (writes go to the host).
	Overlay string
	// Log is runsc's log, as runc's (stderr if empty), in LogFormat (text or json);
	// DebugLog is a second file that receives every entry (runsc/cmd/log.go).
	Log       string
	LogFormat string
	DebugLog  string
	// SystemdCgroup: cgroupsPath has systemd's slice:prefix:name form (runsc/cgroup).
	SystemdCgroup bool
	// Network is the application's network, as gVisor's --network: only "none" (no
	// interfaces at all) until the Sentry has a network stack; "sandbox" and "host"
	// are refused with an error saying so. gVisor's default is "sandbox".
	Network string
}

// Platforms are the values --platform takes.
var Platforms = []string{"ptrace", "systrap", "kvm"}

// Register defines the global flags on fs and returns the Config they fill.
func Register(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Root, "root", "/run/runsc", "directory holding the state of containers")
	fs.StringVar(&c.Platform, "platform", "systrap", "how application code is run: systrap (seccomp traps, the default), ptrace, or kvm (guest ring 3 of a KVM virtual machine; needs /dev/kvm)")
	fs.BoolVar(&c.Debug, "debug", false, "log debug messages")
	fs.BoolVar(&c.Strace, "strace", false, "print every system call of the application")
	fs.StringVar(&c.Overlay, "overlay", "memory", "writable layer over the root: memory (writes stay in the sandbox) or none (writes reach the host)")
	fs.StringVar(&c.Log, "log", "", "file for runsc's and the sandbox's log (stderr if unset)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "the log's format: text or json (runc's JSON lines)")
	fs.StringVar(&c.DebugLog, "debug-log", "", "a second log file that receives every entry, debug ones included, as text")
	fs.BoolVar(&c.SystemdCgroup, "systemd-cgroup", false, "linux.cgroupsPath is in systemd's slice:prefix:name form")
	fs.StringVar(&c.Network, "network", "none", "the application's network: none (no network stack yet: sandbox and host are not supported)")
	return c
}

// Validate checks the flags' values.
func (c *Config) Validate() error {
	if c.Overlay != "memory" && c.Overlay != "none" {
		return fmt.Errorf("--overlay=%q: want memory or none", c.Overlay)
	}
	switch c.Network {
	case "none":
	case "sandbox", "host":
		return fmt.Errorf("--network=%s: not supported: the Sentry has no network stack yet (use --network=none)", c.Network)
	default:
		return fmt.Errorf("--network=%q: want none (sandbox and host are not supported yet)", c.Network)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format=%q: want text or json", c.LogFormat)
	}
	for _, p := range Platforms {
		if c.Platform == p {
			return nil
		}
	}
	return fmt.Errorf("--platform=%q: unknown platform (have %v)", c.Platform, Platforms)
}
