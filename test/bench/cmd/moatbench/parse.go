package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Status of one row of the report.
type Status int

const (
	OK    Status = iota // NsPerOp holds a measurement
	Skip                // the mechanism or package is unavailable; Note says why
	Error               // the measurement failed; Note says how
)

// Result is one row of the report.
type Result struct {
	Name    string
	NsPerOp float64
	Status  Status
	Note    string
}

var mechNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:/-]*$`)

// parseMechLine parses one line printed by a mechanism program:
//
//	NAME NS_PER_OP
//	NAME skip REASON...
func parseMechLine(line string) (Result, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return Result{}, fmt.Errorf("want \"NAME NS_PER_OP\" or \"NAME skip REASON\", got %q", line)
	}
	name := fields[0]
	if !mechNameRE.MatchString(name) {
		return Result{}, fmt.Errorf("bad mechanism name %q in %q", name, line)
	}
	if fields[1] == "skip" {
		rest := strings.TrimSpace(strings.TrimSpace(line)[len(name):])
		reason := strings.TrimSpace(strings.TrimPrefix(rest, "skip"))
		if reason == "" {
			reason = "(no reason given)"
		}
		return Result{Name: name, Status: Skip, Note: reason}, nil
	}
	if len(fields) != 2 {
		return Result{}, fmt.Errorf("trailing text after ns/op in %q", line)
	}
	ns, err := strconv.ParseFloat(fields[1], 64)
	if err != nil || ns < 0 || math.IsInf(ns, 0) || math.IsNaN(ns) {
		return Result{}, fmt.Errorf("bad ns/op %q in %q", fields[1], line)
	}
	return Result{Name: name, NsPerOp: ns}, nil
}

// parseMechOutput parses the whole stdout of a mechanism program: every
// non-blank line must be a result line.
func parseMechOutput(out string) ([]Result, error) {
	var rs []Result
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		r, err := parseMechLine(line)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no result line in output %q", out)
	}
	return rs, nil
}

// goBenchRE matches a standard Go benchmark result line, e.g.
//
//	BenchmarkSyscall-2   	   10000	     12345 ns/op	  0 B/op
//
// capturing the name (with any -GOMAXPROCS suffix), the iteration count and
// the measurements that follow.
var goBenchRE = regexp.MustCompile(`^(Benchmark\S*)\s+(\d+)\s+(.+)$`)

var procsSuffixRE = regexp.MustCompile(`-\d+$`)

// parseGoBenchLine parses one line of `go test -bench` output. ok is false
// for lines that are not benchmark results (PASS, goos:, pkg:, logs...).
// The returned name has the "Benchmark" prefix and the -GOMAXPROCS suffix
// removed ("BenchmarkSyscall/regs-2" -> "Syscall/regs").
func parseGoBenchLine(line string) (name string, nsPerOp float64, ok bool) {
	m := goBenchRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", 0, false
	}
	fields := strings.Fields(m[3])
	found := false
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "ns/op" {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return "", 0, false
			}
			nsPerOp, found = v, true
			break
		}
	}
	if !found {
		return "", 0, false
	}
	name = procsSuffixRE.ReplaceAllString(m[1], "")
	name = strings.TrimPrefix(name, "Benchmark")
	if name == "" {
		name = "Benchmark"
	}
	return name, nsPerOp, true
}

// parseGoBenchOutput extracts all benchmark results from `go test -bench`
// output. Each name is prefixed with the last element of the package path
// taken from the preceding "pkg:" line (or fallbackPkg), e.g. "ptrace/Syscall".
func parseGoBenchOutput(out, fallbackPkg string) []Result {
	var rs []Result
	pkg := fallbackPkg
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		name, ns, ok := parseGoBenchLine(line)
		if !ok {
			continue
		}
		rs = append(rs, Result{Name: pkgBase(pkg) + "/" + name, NsPerOp: ns})
	}
	return rs
}

// pkgBase returns the last non-empty element of a package path or pattern.
func pkgBase(pkg string) string {
	parts := strings.FieldsFunc(pkg, func(r rune) bool { return r == '/' })
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] != "." && parts[i] != "..." {
			return parts[i]
		}
	}
	return "go"
}

// WorkloadRow is one row of the workload table: a figure measured natively
// and in the sandbox, plus the same figure as throughput where the program
// printed one.
type WorkloadRow struct {
	Name          string
	Native        float64 // ns/op
	Sandboxed     float64 // ns/op
	NativeMBps    float64 // MB/s; 0 when the program printed none
	SandboxedMBps float64
	Status        Status
	Note          string
}

// Workload programs print result lines like the mechanisms (NAME NS_PER_OP,
// NAME skip REASON). A line NAME_mb_per_s MBPS is a throughput figure instead:
// it belongs to the row NAME_per_mib (or NAME) of the same output.
const (
	throughputSuffix = "_mb_per_s"
	perMiBSuffix     = "_per_mib"
)

// pairWorkload joins the results of one workload's native and sandboxed runs
// into rows, in the order of the native output. A figure the sandboxed run
// did not print is an Error row; a skipped one a Skip row.
func pairWorkload(native, sandboxed []Result) []WorkloadRow {
	nativeMBps, sandboxedMBps := throughputs(native), throughputs(sandboxed)
	byName := map[string]Result{}
	for _, r := range sandboxed {
		byName[r.Name] = r
	}
	var rows []WorkloadRow
	for _, n := range native {
		if strings.HasSuffix(n.Name, throughputSuffix) {
			continue
		}
		row := WorkloadRow{Name: n.Name}
		key := strings.TrimSuffix(n.Name, perMiBSuffix)
		s, ok := byName[n.Name]
		switch {
		case n.Status == Skip:
			row.Status, row.Note = Skip, "native: "+n.Note
		case !ok:
			row.Status, row.Note = Error, "sandboxed: no "+n.Name+" line in the output"
		case s.Status == Skip:
			row.Status, row.Note = Skip, "sandboxed: "+s.Note
		default:
			row.Native, row.Sandboxed = n.NsPerOp, s.NsPerOp
			row.NativeMBps, row.SandboxedMBps = nativeMBps[key], sandboxedMBps[key]
		}
		rows = append(rows, row)
	}
	return rows
}

// throughputs maps NAME to the MB/s of every NAME_mb_per_s line.
func throughputs(rs []Result) map[string]float64 {
	m := map[string]float64{}
	for _, r := range rs {
		if key, ok := strings.CutSuffix(r.Name, throughputSuffix); ok && r.Status == OK {
			m[key] = r.NsPerOp
		}
	}
	return m
}
