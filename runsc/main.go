// Command runsc is Moat's OCI runtime: it runs each container on the Sentry, a Linux
// kernel in user space, behind a Gofer that is its only road to the container's files.
// Each subcommand lives in runsc/cmd, one file each; the global flags are in
// runsc/config.
package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"

	"github.com/google/subcommands"

	"github.com/moat-sandbox/moat/runsc/cmd"
	"github.com/moat-sandbox/moat/runsc/config"
)

func main() {
	conf := config.Register(flag.CommandLine)
	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	subcommands.Register(subcommands.CommandsCommand(), "")
	cmd.Register(conf)
	flag.Parse()
	if err := conf.Validate(); err != nil {
		cmd.Fatalf("%v", err)
	}
	if err := cmd.SetupLog(conf); err != nil {
		cmd.Fatalf("%v", err)
	}
	cmd.Debugf("%q", os.Args)
	// Every command and the sandbox work on the same absolute --root.
	var err error
	if conf.Root, err = filepath.Abs(conf.Root); err != nil {
		cmd.Fatalf("%v", err)
	}
	os.Exit(int(subcommands.Execute(context.Background())))
}
