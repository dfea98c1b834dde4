package cmd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSandboxDeath: a sandbox killed by SIGSYS (its seccomp filter) is explained, any
// other end is not.
func TestSandboxDeath(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   string
	}{
		{"kill -SYS $$", "killed by its seccomp filter"},
		{"kill -KILL $$", ""},
		{"exit 3", ""},
		{"exit 0", ""},
	} {
		err := exec.Command("/bin/sh", "-c", tc.script).Run()
		got := sandboxDeath("c1", err)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) || tc.want != "" && !strings.Contains(got, `"c1"`) {
			t.Errorf("%s: %q, want one containing %q", tc.script, got, tc.want)
		}
	}
}
