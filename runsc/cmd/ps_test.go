package cmd

import (
	"testing"
	"time"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// TestPsTable: ps's table has procps' columns and widths, user names from the
// container, ps's STIME and TIME forms.
func TestPsTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 15, 0, 0, 0, time.Local)
	procs := []kernel.ProcessInfo{
		{PID: 1, PPID: 0, UID: 0, Start: now.Add(-time.Hour), TTY: "?", CPU: 90 * time.Minute, Cmd: "sh -c x"},
		{PID: 12, PPID: 1, UID: 1000, Start: now.AddDate(0, 0, -3), TTY: "pts/0", CPU: 25*time.Hour + 2*time.Second, Cmd: "[sleep]"},
	}
	got := psTable(procs, map[uint32]string{0: "root"}, now)
	want := "UID        PID  PPID  C STIME TTY          TIME CMD\n" +
		"root         1     0 99 14:00 ?        01:30:00 sh -c x\n" +
		"1000        12     1 34 Nov21 pts/0    1-01:00:02 [sleep]\n"
	if got != want {
		t.Errorf("psTable:\n%s\nwant:\n%s", got, want)
	}
}
