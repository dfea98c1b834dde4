package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The startup section: one busybox bundle run under runc and under runsc
// (each platform), as a caller runs containers.
//
//   - run_true: the wall time of `RUNTIME run --bundle B ID` of /bin/true, from
//     exec to exit (create, start, wait for the container, delete).
//   - idle memory: `RUNTIME run --detach` of `sleep`, a pause for the sandbox to
//     settle, then the RSS and PSS (/proc/PID/smaps_rollup) summed over every
//     host process of the container: the PID `state` reports and all its
//     descendants. Under runsc that is the Sentry, the Gofer and the stub
//     processes (stubs counted); under runc, the container's own process.
//
// Every figure is the median of -startupruns runs; runc and runsc runs
// alternate so that a change in the machine's load hits both alike.

// startupAims are issue 5's goals, printed with the table.
const (
	startAimRatio   = 2.0      // runsc run of /bin/true within 2x runc's
	idleAimRSSBytes = 30 << 20 // half of gVisor's ~60 MiB idle footprint
)

// StartupRow is one figure of the startup section, under runc and runsc.
type StartupRow struct {
	Name        string
	Unit        string // "ms" or "KiB"
	Runc, Runsc float64
	Note        string // why the row has no figure, or a breakdown
}

// idleSettle is how long a detached sleep idles before its memory is read.
const idleSettle = 500 * time.Millisecond

// startupSection runs the startup and idle-memory measurements for runsc on
// each platform against runc, on a busybox bundle made under builddir.
func startupSection(builddir, runsc string, platforms []string, runs int, timeout time.Duration) ([]StartupRow, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("runc not found (make deps installs it): %w", err)
	}
	if runsc, err = filepath.Abs(runsc); err != nil {
		return nil, err
	}
	rootfs, err := busyboxRootfs(filepath.Join(builddir, "busybox-rootfs"))
	if err != nil {
		return nil, fmt.Errorf("busybox rootfs (make deps installs busybox-static): %w", err)
	}
	scratch, err := os.MkdirTemp(builddir, "startup-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if scratch, err = filepath.Abs(scratch); err != nil {
		return nil, err
	}
	trueB, err := makeBundle(runc, filepath.Join(scratch, "true"), rootfs, "true")
	if err != nil {
		return nil, err
	}
	sleepB, err := makeBundle(runc, filepath.Join(scratch, "sleep"), rootfs, "sleep", "1000")
	if err != nil {
		return nil, err
	}

	var rows []StartupRow
	for _, p := range platforms {
		rc := ociRuntime{bin: runc, root: filepath.Join(scratch, "runc-root")}
		rs := ociRuntime{bin: runsc, root: filepath.Join(scratch, "runsc-root-"+p), args: []string{"--platform=" + p}}

		progress("startup: run of /bin/true under runc and runsc --platform=%s, %d runs each", p, runs)
		var tc, ts []float64
		var failure error
		for i := 0; i < runs && failure == nil; i++ {
			var d time.Duration
			if d, failure = rc.runTimed(trueB, fmt.Sprintf("true-%d", i), timeout); failure == nil {
				tc = append(tc, ms(d))
			}
			if d, failure = rs.runTimed(trueB, fmt.Sprintf("true-%d", i), timeout); failure == nil {
				ts = append(ts, ms(d))
			}
		}
		row := StartupRow{Name: p + "/run_true", Unit: "ms"}
		if failure != nil {
			row.Note = "ERROR: " + failure.Error()
		} else {
			row.Runc, row.Runsc = median(tc), median(ts)
		}
		rows = append(rows, row)

		progress("startup: idle memory of a sleeping container under runc and runsc --platform=%s, %d runs each", p, runs)
		var mc, mr []footprint
		failure = nil
		for i := 0; i < runs && failure == nil; i++ {
			var f footprint
			if f, failure = rc.idleFootprint(sleepB, fmt.Sprintf("idle-%d", i), timeout); failure == nil {
				mc = append(mc, f)
			}
			if f, failure = rs.idleFootprint(sleepB, fmt.Sprintf("idle-%d", i), timeout); failure == nil {
				mr = append(mr, f)
			}
		}
		rss := StartupRow{Name: p + "/idle_rss", Unit: "KiB"}
		pss := StartupRow{Name: p + "/idle_pss", Unit: "KiB"}
		if failure != nil {
			rss.Note = "ERROR: " + failure.Error()
			pss.Note = rss.Note
		} else {
			rss.Runc, rss.Runsc = medianOf(mc, func(f footprint) float64 { return f.rss }), medianOf(mr, func(f footprint) float64 { return f.rss })
			pss.Runc, pss.Runsc = medianOf(mc, func(f footprint) float64 { return f.pss }), medianOf(mr, func(f footprint) float64 { return f.pss })
			rss.Note = "runsc: " + mr[len(mr)/2].breakdown
		}
		rows = append(rows, rss, pss)
	}
	return rows, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(fs []footprint, f func(footprint) float64) float64 {
	xs := make([]float64, len(fs))
	for i, x := range fs {
		xs[i] = f(x)
	}
	return median(xs)
}

// ociRuntime is runc or runsc with its own state root and global flags.
type ociRuntime struct {
	bin, root string
	args      []string
}

func (r ociRuntime) command(args ...string) *exec.Cmd {
	argv := append([]string{"--root", r.root}, r.args...)
	return exec.Command(r.bin, append(argv, args...)...)
}

// do runs one command of the runtime to its end, with a time limit. Its stderr
// goes to a file: a detached sandbox keeps its stdio, so a pipe would not see EOF.
func (r ociRuntime) do(timeout time.Duration, stdout io.Writer, args ...string) error {
	errf, err := os.CreateTemp(filepath.Dir(r.root), "stderr-")
	if err != nil {
		return err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := r.command(args...)
	cmd.Stdout, cmd.Stderr = stdout, errf
	cmd.WaitDelay = time.Second // a stdout pipe held by a sandbox must not hang us
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	what := filepath.Base(r.bin) + " " + strings.Join(args, " ")
	select {
	case err := <-done:
		if err != nil {
			msg, _ := os.ReadFile(errf.Name())
			return withStderr(fmt.Errorf("%s: %w", what, err), string(msg))
		}
		return nil
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s: timed out after %v", what, timeout)
	}
}

// runTimed times `run --bundle B ID` (create, start, wait, delete) from exec to exit.
// The container's stdio is /dev/null (exec gives a nil stdin and stdout that).
func (r ociRuntime) runTimed(bundle, id string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := r.do(timeout, nil, "run", "--bundle", bundle, id)
	d := time.Since(start)
	if err != nil {
		r.do(timeout, nil, "delete", "--force", id)
	}
	return d, err
}

// footprint is the memory of a container's host processes.
type footprint struct {
	rss, pss  float64 // KiB, summed
	breakdown string  // per process, for runsc: Sentry, Gofer, stubs
}

// idleFootprint starts the sleep bundle detached, lets it idle, reads the
// memory of its host processes, and deletes it.
func (r ociRuntime) idleFootprint(bundle, id string, timeout time.Duration) (footprint, error) {
	if err := r.do(timeout, nil, "run", "--detach", "--bundle", bundle, id); err != nil {
		r.do(timeout, nil, "delete", "--force", id)
		return footprint{}, err
	}
	defer r.do(timeout, nil, "delete", "--force", id)
	time.Sleep(idleSettle)
	var out strings.Builder
	if err := r.do(timeout, &out, "state", id); err != nil {
		return footprint{}, err
	}
	var st struct {
		PID    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		return footprint{}, fmt.Errorf("state %s: %v: %q", id, err, out.String())
	}
	if st.Status != "running" || st.PID <= 0 {
		return footprint{}, fmt.Errorf("state %s: status %q pid %d, want a running container", id, st.Status, st.PID)
	}
	var f footprint
	var parts []string
	stubs, stubRSS := 0, 0.0
	for i, pid := range append([]int{st.PID}, descendants(st.PID)...) {
		rss, pss, err := smapsRollup(pid)
		if err != nil {
			return footprint{}, err
		}
		f.rss += rss
		f.pss += pss
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmdline), "\x00")
		switch {
		case i == 0 && len(args) > 1 && strings.Contains(string(cmdline), "\x00boot\x00"):
			parts = append(parts, fmt.Sprintf("Sentry %.0f", rss))
		case len(args) > 1 && args[1] == "gofer":
			parts = append(parts, fmt.Sprintf("Gofer %.0f", rss))
		default:
			stubs++
			stubRSS += rss
		}
	}
	if len(parts) > 0 { // runsc
		parts = append(parts, fmt.Sprintf("%d stub(s) %.0f", stubs, stubRSS))
		f.breakdown = "RSS KiB " + strings.Join(parts, ", ")
	}
	return f, nil
}

// descendants returns every process below pid (children, their children, ...).
func descendants(pid int) []int {
	kids := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				kids[pp] = append(kids[pp], n)
			}
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// smapsRollup reads a process's Rss and Pss (KiB) from /proc/PID/smaps_rollup.
func smapsRollup(pid int) (rss, pss float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseSmapsRollup(f)
}

func parseSmapsRollup(r io.Reader) (rss, pss float64, err error) {
	sc := bufio.NewScanner(r)
	seen := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || (f[0] != "Rss:" && f[0] != "Pss:") {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("smaps_rollup: %q: %v", sc.Text(), err)
		}
		if f[0] == "Rss:" {
			rss = v
		} else {
			pss = v
		}
		seen++
	}
	if seen != 2 {
		return 0, 0, errors.New("smaps_rollup: no Rss and Pss lines")
	}
	return rss, pss, sc.Err()
}

// busyboxRootfs makes (once) a root filesystem holding Debian's static busybox
// and links for the applets the bundles run, as test/integration does.
func busyboxRootfs(dir string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return "", err
	}
	for _, d := range []string{"etc", "tmp", "root", "proc", "dev", "sys"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	bb := filepath.Join(dir, "bin", "busybox")
	if _, err := os.Stat(bb); err != nil {
		data, err := os.ReadFile("/bin/busybox")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(bb, data, 0o755); err != nil {
			return "", err
		}
	}
	for _, a := range []string{"sh", "true", "sleep"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	return filepath.Abs(dir)
}

// makeBundle writes a bundle whose config is runc's default (`runc spec`) with
// args, no terminal and a read-only root.
func makeBundle(runc, dir, rootfs string, args ...string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command(runc, "spec", "--rootless=false")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return "", err
	}
	p, _ := spec["process"].(map[string]any)
	if p == nil {
		return "", errors.New("runc spec: no process")
	}
	p["args"] = args
	p["terminal"] = false
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	if data, err = json.MarshalIndent(spec, "", "  "); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}

// writeStartupTable prints the startup rows: runc, runsc, the ratio, and the aim.
func writeStartupTable(w io.Writer, rows []StartupRow) {
	nameW := len("figure")
	for _, r := range rows {
		nameW = max(nameW, len(r.Name)+len(r.Unit)+3)
	}
	fmt.Fprintf(w, "%-*s  %10s  %10s  %8s  %s\n", nameW, "figure", "runc", "runsc", "ratio", "aim")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", nameW+2+10+2+10+2+8+2+24))
	for _, r := range rows {
		name := fmt.Sprintf("%s (%s)", r.Name, r.Unit)
		if strings.HasPrefix(r.Note, "ERROR") {
			fmt.Fprintf(w, "%-*s  %s\n", nameW, name, r.Note)
			continue
		}
		ratio := "n/a"
		if r.Runc > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Runsc/r.Runc)
		}
		aim := ""
		switch {
		case strings.HasSuffix(r.Name, "/run_true"):
			aim = fmt.Sprintf("<= %.0fx runc: %s", startAimRatio, met(r.Runc > 0 && r.Runsc/r.Runc <= startAimRatio))
		case strings.HasSuffix(r.Name, "/idle_rss"):
			aim = fmt.Sprintf("runsc <= %d MiB: %s", idleAimRSSBytes>>20, met(r.Runsc*1024 <= idleAimRSSBytes))
		}
		fmt.Fprintf(w, "%-*s  %10.1f  %10.1f  %8s  %s\n", nameW, name, r.Runc, r.Runsc, ratio, aim)
		if r.Note != "" {
			fmt.Fprintf(w, "%-*s  %s\n", nameW, "", r.Note)
		}
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
