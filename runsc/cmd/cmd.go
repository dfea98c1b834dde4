// Package cmd holds runsc's subcommands, one file each.
package cmd

import (
	"fmt"
	"os"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/config"
)

// Register registers every subcommand with the default commander.
func Register(conf *config.Config) {
	subcommands.Register(&Version{}, "")
	subcommands.Register(&Do{conf: conf}, "")
	subcommands.Register(&Run{conf: conf}, "")
	subcommands.Register(&Gofer{}, "internal")
}

// Fatalf prints an error naming runsc and exits with status 1.
func Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runsc: "+format+"\n", args...)
	os.Exit(1)
}
