package config

import (
	"flag"
	"strings"
	"testing"
)

// TestValidate: each flag's values are checked, and a refused one names the flag.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string // "" for valid
	}{
		{nil, ""},
		{[]string{"--network=none", "--platform=ptrace", "--overlay=none", "--log-format=json"}, ""},
		{[]string{"--network=sandbox"}, "--network=sandbox: not supported"},
		{[]string{"--network=host"}, "--network=host: not supported"},
		{[]string{"--network=bogus"}, `--network="bogus"`},
		{[]string{"--overlay=bogus"}, `--overlay="bogus"`},
		{[]string{"--log-format=xml"}, `--log-format="xml"`},
		{[]string{"--platform=bogus"}, `--platform="bogus"`},
	} {
		fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
		conf := Register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := conf.Validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.err)
		}
	}
}
