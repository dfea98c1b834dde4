package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// runGoBench runs the benchmarks of one Go package (or pattern) of the
// project in dir (the module root) with a fixed iteration count and returns
// one row per benchmark. A package that does not exist (yet) or has no
// benchmarks yields a single Skip row; a package that fails to build or whose
// benchmarks fail yields an Error row (plus any rows that did complete).
func runGoBench(goTool, dir, pkg string, n int, timeout time.Duration) []Result {
	name := pkgBase(pkg)
	if reason := goPackageMissing(goTool, dir, pkg); reason != "" {
		return []Result{{Name: name, Status: Skip, Note: "go package " + pkg + ": " + reason}}
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "test", "-run", "^$", "-bench", ".",
		"-benchtime="+strconv.Itoa(n)+"x", "-count=1", pkg)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()

	rs := parseGoBenchOutput(out.String(), pkg)
	switch {
	case ctx.Err() != nil:
		rs = append(rs, Result{Name: name, Status: Error, Note: fmt.Sprintf("go test %s: timed out after %v", pkg, timeout)})
	case err != nil:
		rs = append(rs, Result{Name: name, Status: Error, Note: fmt.Sprintf("go test %s: %v: %s", pkg, err, failureSummary(out.String()))})
	case len(rs) == 0:
		rs = append(rs, Result{Name: name, Status: Skip, Note: "go package " + pkg + ": no benchmarks"})
	}
	return rs
}

// goPackageMissing returns why pkg cannot be benchmarked because it does not
// exist (yet), or "" when at least one matching package exists.
func goPackageMissing(goTool, dir, pkg string) string {
	cmd := exec.Command(goTool, "list", "-e", "-f", "{{if .Error}}{{.Error}}{{else}}OK{{end}}", pkg)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return firstLine(msg)
		}
		return err.Error()
	}
	first := ""
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		if line == "OK" {
			return ""
		}
		if first == "" && line != "" {
			first = line
		}
	}
	if first == "" {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return firstLine(msg) // e.g. "matched no packages"
		}
		return "matched no packages"
	}
	return first
}

// failureSummary picks the most telling line of failed `go test` output:
// the first compiler error or failing test, else the first line.
func failureSummary(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || l == "FAIL" || strings.HasPrefix(l, "FAIL\t") {
			continue
		}
		return l
	}
	if len(lines) > 0 {
		return strings.TrimSpace(lines[0])
	}
	return "(no output)"
}
