package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// workloadOrder is the preferred order of the workload rows; unknown
// programs come after, sorted by name.
var workloadOrder = []string{
	"getpid",
	"open_close",
	"stat",
	"write_128m",
	"read_128m",
	"mmap_touch_munmap_1m",
	"fork_wait",
	"fork_exec_wait",
	"pipe_256m",
	"futex_pingpong",
}

// workloadCFlags are added to -O2 -Wall: static, so that a workload does not
// depend on the sandbox's dynamic loading; with threads for those that use them.
var workloadCFlags = []string{"-static", "-pthread"}

// stderrLines is how many of the last stderr lines an ERROR row shows.
const stderrLines = 4

// workloadSection compiles the workload programs of dir into builddir, runs
// each natively and under `runsc do` in a scratch directory made under
// builddir (removed at the end), and returns one row per figure. nativeFailed
// is true when a workload failed natively (the program itself is broken);
// failures in the sandbox are only reported as rows.
func workloadSection(cc, dir, builddir, runsc string, platforms []string, timeout time.Duration) (rows []WorkloadRow, nativeFailed bool, err error) {
	srcs, err := cSources(dir, "workload", workloadOrder)
	if err != nil {
		return nil, false, err
	}
	bindir := filepath.Join(builddir, "workloads")
	if err := os.MkdirAll(bindir, 0o755); err != nil {
		return nil, false, err
	}
	var bins []string
	for _, src := range srcs {
		bin, err := compileMech(cc, src, bindir, workloadCFlags...)
		if err != nil {
			return nil, false, err
		}
		bins = append(bins, bin)
	}
	if runsc, err = filepath.Abs(runsc); err != nil {
		return nil, false, err
	}
	scratch, err := os.MkdirTemp(builddir, "workload-run-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(scratch)
	if scratch, err = filepath.Abs(scratch); err != nil {
		return nil, false, err
	}

	for _, bin := range bins {
		name := filepath.Base(bin)
		if err := linkOrCopy(bin, filepath.Join(scratch, name)); err != nil {
			return nil, false, err
		}
		prog := "./" + name

		progress("running workload %s natively", name)
		native, nerr := runWorkload(scratch, timeout, prog, "0")
		if nerr != nil {
			nativeFailed = true
			rows = append(rows, WorkloadRow{Name: name, Status: Error, Note: "native: " + nerr.Error()})
			continue
		}
		for _, pl := range platforms {
			progress("running workload %s in the sandbox on %s", name, pl)
			sandboxed, serr := runWorkload(scratch, timeout, runsc, "--platform="+pl, "do", prog, "0", "sandbox")
			if serr != nil {
				rows = append(rows, WorkloadRow{Name: pl + "/" + name, Status: Error, Note: "sandboxed: " + serr.Error()})
				continue
			}
			pairs := pairWorkload(native, sandboxed)
			if len(pairs) == 0 { // only throughput lines: the program is broken
				nativeFailed = true
				pairs = []WorkloadRow{{Name: name, Status: Error, Note: "native: no ns/op figure in the output"}}
			}
			for i := range pairs {
				pairs[i].Name = pl + "/" + pairs[i].Name
			}
			rows = append(rows, pairs...)
		}
	}
	return rows, nativeFailed, nil
}

// runWorkload runs argv in dir and parses its stdout. Its stderr is kept
// (the tail only) and shown only in the error of a failed run: that of a
// sandboxed run is full of the Sentry's "moat: unimplemented ..." lines.
func runWorkload(dir string, timeout time.Duration, argv ...string) ([]Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	// Own process group, killed as a whole on timeout: runsc's Gofer and
	// stub processes go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, withStderr(fmt.Errorf("timed out after %v", timeout), stderr.String())
	case err != nil:
		return nil, withStderr(err, stderr.String())
	}
	rs, err := parseMechOutput(stdout.String())
	if err != nil {
		return nil, withStderr(err, stderr.String())
	}
	return rs, nil
}

// withStderr appends the last lines of stderr to err, one per line.
func withStderr(err error, stderr string) error {
	lines := lastLines(stderr, stderrLines)
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("%w\n%s", err, strings.Join(lines, "\n"))
}

// lastLines returns the last n non-blank lines of s, trimmed.
func lastLines(s string, n int) []string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// tailBuffer is an io.Writer that keeps only (about) the last max bytes
// written to it, so a chatty run cannot use unbounded memory.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// linkOrCopy makes dst a hard link to src, or a copy where links fail.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// defaultRunsc returns bin/runsc under the module root, or "" with the reason
// when it does not exist.
func defaultRunsc(root string) (path, reason string) {
	if root == "" {
		return "", "cannot find the module root (go.mod)"
	}
	p := filepath.Join(root, "bin", "runsc")
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", p + " does not exist (run `make build`, or pass -runsc PATH)"
		}
		return "", err.Error()
	}
	return p, ""
}
