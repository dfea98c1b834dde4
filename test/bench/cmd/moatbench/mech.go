package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// mechOrder is the preferred order of rows; unknown programs come after,
// sorted by name.
var mechOrder = []string{
	"native_getpid",
	"shm_spin",
	"seccomp_trap",
	"seccomp_handoff",
	"kvm_exit",
	"kvm_touch",
	"memfd_touch",
	"futex_pingpong",
	"ptrace_sysemu",
	"ptrace_sysemu_regs",
}

// sameCPUMechs are the two-party programs that accept a second argument
// "samecpu" (pin both parties to one CPU). moatbench runs them both ways:
// unpinned, the scheduler's placement of the two parties (one CPU or two)
// changes their figure several-fold from one run to the next.
var sameCPUMechs = map[string]bool{
	"futex_pingpong":     true,
	"ptrace_sysemu":      true,
	"ptrace_sysemu_regs": true,
}

// mechSources lists the *.c files of dir in report order.
func mechSources(dir string) ([]string, error) {
	return cSources(dir, "mechanism", mechOrder)
}

// cSources lists the *.c files of dir in the given order of names; unknown
// programs come after, sorted by name. kind names the programs in the error
// returned when there are none.
func cSources(dir, kind string, order []string) ([]string, error) {
	srcs, err := filepath.Glob(filepath.Join(dir, "*.c"))
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no *.c %s programs in %s", kind, dir)
	}
	rank := func(src string) int {
		base := strings.TrimSuffix(filepath.Base(src), ".c")
		for i, n := range order {
			if n == base {
				return i
			}
		}
		return len(order)
	}
	sort.Slice(srcs, func(i, j int) bool {
		ri, rj := rank(srcs[i]), rank(srcs[j])
		if ri != rj {
			return ri < rj
		}
		return srcs[i] < srcs[j]
	})
	return srcs, nil
}

// compileMech compiles src with cc -O2 (plus any extra flags, e.g. -static)
// into builddir, reusing an existing binary that is newer than the source.
// It returns the binary's path.
func compileMech(cc, src, builddir string, extra ...string) (string, error) {
	bin := filepath.Join(builddir, strings.TrimSuffix(filepath.Base(src), ".c"))
	si, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if bi, err := os.Stat(bin); err == nil && bi.Mode().IsRegular() && bi.ModTime().After(si.ModTime()) {
		return bin, nil
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	args := append([]string{"-O2", "-Wall"}, extra...)
	cmd := exec.Command(cc, append(args, "-o", tmp, src)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%s %s %s: %v\n%s", cc, strings.Join(args, " "), src, err, strings.TrimSpace(out.String()))
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return bin, nil
}

// runMech runs one mechanism binary and parses its output. A returned error
// means the program misbehaved (crash, timeout, garbage output); a skipped
// mechanism is a Result with Status Skip, not an error.
func runMech(bin string, iters int, timeout time.Duration, extra ...string) ([]Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var args []string
	if iters > 0 || len(extra) > 0 {
		args = append(args, strconv.Itoa(max(iters, 0))) // 0: the program's default
	}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return nil, fmt.Errorf("%v: %s", err, firstLine(msg))
		}
		return nil, err
	}
	return parseMechOutput(stdout.String())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
