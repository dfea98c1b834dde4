// Package cmd holds runsc's subcommands, one file each.
package cmd

import (
	"fmt"
	"os"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/config"
)

// Register registers every subcommand with the default commander.
func Register(conf *config.Config) {
	subcommands.Register(&Version{}, "")
	subcommands.Register(&Do{conf: conf}, "")
	subcommands.Register(&Run{conf: conf}, "")
	subcommands.Register(&Create{conf: conf}, "")
	subcommands.Register(&Start{idCommand{conf, "start", "start CONTAINER-ID\n"}}, "")
	subcommands.Register(&State{idCommand{conf, "state", "state CONTAINER-ID\n"}}, "")
	subcommands.Register(&Kill{idCommand: idCommand{conf, "kill", "kill [--all] CONTAINER-ID [SIGNAL]\n\nSIGNAL is a number or a name (KILL, SIGKILL); SIGTERM by default.\n"}}, "")
	subcommands.Register(&Delete{idCommand: idCommand{conf, "delete", "delete [--force] CONTAINER-ID\n"}}, "")
	subcommands.Register(&Wait{idCommand{conf, "wait", "wait CONTAINER-ID\n\nWaits for init to exit and prints {\"id\": ID, \"exitStatus\": N}.\n"}}, "")
	subcommands.Register(&List{conf: conf}, "")
	subcommands.Register(&Ps{idCommand: idCommand{conf, "ps", "ps [--format table|json] CONTAINER-ID\n\nLists the container's processes; PIDs are the sandbox's (init is 1).\n"}}, "")
	subcommands.Register(&Events{idCommand: idCommand{conf, "events", "events [--stats] [--interval DURATION] CONTAINER-ID\n\nPrints the container's statistics as JSON, once (--stats) or every interval until it stops.\n"}}, "")
	subcommands.Register(&Pause{idCommand{conf, "pause", "pause CONTAINER-ID\n"}}, "")
	subcommands.Register(&Resume{idCommand{conf, "resume", "resume CONTAINER-ID\n"}}, "")
	subcommands.Register(&Exec{conf: conf}, "")
	subcommands.Register(&Spec{}, "")
	subcommands.Register(&Boot{conf: conf}, "internal")
	subcommands.Register(&Gofer{}, "internal")
	subcommands.Register(&ExecWait{}, "internal")
}

// Fatalf logs an error (log.go) and exits with status 1.
func Fatalf(format string, args ...any) {
	logError(fmt.Sprintf(format, args...))
	os.Exit(1)
}

// raiseNofileLimit raises the soft RLIMIT_NOFILE of this process to its hard limit,
// the most host FDs the operator allows it, as gVisor's sandbox and gofer do at
// start: the Gofer holds host FDs for the files the application has looked up (up to
// a cache sized from this limit) and the Sentry those the Gofer donates. (Go's
// runtime raises it to one below the hard limit already; this takes the last one
// and states the intent.) The application's own limits are the Sentry's and are
// untouched.
func raiseNofileLimit() error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getting RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur == rl.Max {
		return nil
	}
	rl.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", rl.Max, err)
	}
	return nil
}
