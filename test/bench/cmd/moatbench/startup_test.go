package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseSmapsRollup(t *testing.T) {
	in := `55d0c0a00000-7ffd8a1f2000 ---p 00000000 00:00 0                          [rollup]
Rss:                9432 kB
Pss:                6178 kB
Pss_Dirty:          6178 kB
Pss_Anon:           2234 kB
Shared_Clean:       3240 kB
`
	rss, pss, err := parseSmapsRollup(strings.NewReader(in))
	if err != nil || rss != 9432 || pss != 6178 {
		t.Errorf("got %v %v %v, want 9432 6178", rss, pss, err)
	}
	if _, _, err := parseSmapsRollup(strings.NewReader("Pss_Anon: 3 kB\n")); err == nil {
		t.Error("no Rss/Pss lines: no error")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestDescendants: a shell's child and grandchild are found, and its own
// smaps_rollup reads.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & (sleep 30 & wait) & wait")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() {
		for _, p := range descendants(cmd.Process.Pid) {
			if proc, err := os.FindProcess(p); err == nil {
				proc.Kill()
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var kids []int
	for i := 0; i < 100 && len(kids) < 3; i++ {
		kids = descendants(cmd.Process.Pid)
		exec.Command("sleep", "0.02").Run()
	}
	if len(kids) < 3 { // sleep, the subshell, its sleep
		t.Errorf("descendants: %v, want at least 3", kids)
	}
	if rss, _, err := smapsRollup(cmd.Process.Pid); err != nil || rss <= 0 {
		t.Errorf("smapsRollup: %v %v", rss, err)
	}
}

func TestWriteStartupTable(t *testing.T) {
	var b bytes.Buffer
	writeStartupTable(&b, []StartupRow{
		{Name: "systrap/run_true", Unit: "ms", Runc: 40, Runsc: 60},
		{Name: "systrap/idle_rss", Unit: "KiB", Runc: 1000, Runsc: 40000, Note: "runsc: RSS KiB Sentry 1"},
		{Name: "ptrace/run_true", Unit: "ms", Note: "ERROR: boom"},
	})
	out := b.String()
	for _, want := range []string{"1.50x", "<= 2x runc: met", "runsc <= 30 MiB: NOT met", "Sentry 1", "ERROR: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
