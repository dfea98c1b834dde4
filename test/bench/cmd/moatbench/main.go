// Command moatbench measures the one-round-trip cost of the bare mechanisms a
// gVisor-style sandbox can be built on (ptrace, seccomp traps, KVM exits,
// futexes, shared memory) and of Moat's own Go benchmarks, and prints them as
// ratios to a native getpid measured in the same run on the same machine.
// With a runsc binary (-runsc, default bin/runsc of this module if built) it
// then runs small workloads natively and under `runsc do` and prints each as
// a ratio sandboxed/native.
//
// Usage (from the repository root; `make bench` does this):
//
//	go run ./test/bench/cmd/moatbench -builddir build/bench
//
// It exits non-zero only when the tool itself fails (no C compiler, a
// mechanism or workload program that does not compile or crashes natively,
// ...), never because a mechanism is unavailable on this machine or a
// workload fails in the sandbox.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moat-sandbox/moat/platform/kvm"
)

func main() {
	builddir := flag.String("builddir", "build/bench", "directory for the compiled mechanism programs (binaries newer than their source are reused)")
	mechdir := flag.String("mechdir", "", "directory of the mechanism *.c programs (default: test/bench/mechanisms of this module)")
	cc := flag.String("cc", envOr("CC", "gcc"), "C compiler")
	iters := flag.Int("iters", 0, "iterations per timed run for every mechanism program (0: each program's own default)")
	gobench := flag.String("gobench", "./platform/ptrace/,./platform/kvm/", "comma- or space-separated Go packages whose benchmarks to run (\"\" for none)")
	gobenchN := flag.Int("gobenchn", 10000, "iterations per Go benchmark (-benchtime=Nx)")
	timeout := flag.Duration("timeout", 2*time.Minute, "time limit for each mechanism program")
	gotimeout := flag.Duration("gotimeout", 10*time.Minute, "time limit for each go test run")
	platforms := flag.String("platforms", "systrap,ptrace,kvm", "comma-separated platforms to run the workloads on")
	runsc := flag.String("runsc", "", "runsc binary for the workload section (default: bin/runsc of this module if it exists; \"none\" skips the section)")
	workdir := flag.String("workdir", "", "directory of the workload *.c programs (default: test/bench/workloads of this module)")
	wtimeout := flag.Duration("wtimeout", time.Minute, "time limit for each workload run, native or sandboxed")
	startupOnly := flag.Bool("startuponly", false, "run only the startup section (no mechanisms, Go benchmarks or workloads)")
	startupRuns := flag.Int("startupruns", 7, "runs of each startup and idle-memory figure under runc and runsc (the median is shown; 0 skips the section)")
	flag.Parse()
	if flag.NArg() != 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}

	root := moduleRoot()
	if *mechdir == "" {
		if root == "" {
			fatalf("cannot find the module root (go.mod); run from the repository or pass -mechdir")
		}
		*mechdir = filepath.Join(root, "test", "bench", "mechanisms")
	}
	if *runsc != "" && *runsc != "none" {
		if _, err := os.Stat(*runsc); err != nil {
			fatalf("-runsc: %v", err)
		}
	}
	if *workdir == "" && root != "" {
		*workdir = filepath.Join(root, "test", "bench", "workloads")
	}

	ccPath, err := exec.LookPath(*cc)
	if err != nil {
		fatalf("C compiler: %v", err)
	}
	if err := os.MkdirAll(*builddir, 0o755); err != nil {
		fatalf("%v", err)
	}
	srcs, err := mechSources(*mechdir)
	if err != nil {
		fatalf("%v", err)
	}

	failed := false
	var rows []Result
	var bins []string
	if *startupOnly {
		srcs, *gobench = nil, ""
	}
	for _, src := range srcs {
		bin, err := compileMech(ccPath, src, *builddir)
		if err != nil {
			fatalf("compile: %v", err)
		}
		bins = append(bins, bin)
	}
	for _, bin := range bins {
		name := filepath.Base(bin)
		variants := [][]string{nil}
		if sameCPUMechs[name] {
			variants = append(variants, []string{"samecpu"})
		}
		for _, extra := range variants {
			label := strings.Join(append([]string{name}, extra...), " ")
			progress("running %s", label)
			rs, err := runMech(bin, *iters, *timeout, extra...)
			if err != nil {
				failed = true
				rows = append(rows, Result{Name: strings.ReplaceAll(label, " ", "_"), Status: Error, Note: err.Error()})
				continue
			}
			rows = append(rows, rs...)
		}
	}

	if pkgs := strings.FieldsFunc(*gobench, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }); len(pkgs) > 0 {
		goTool, err := findGo()
		if err != nil {
			failed = true
			rows = append(rows, Result{Name: "go", Status: Error, Note: err.Error()})
		} else {
			dir := root
			if dir == "" {
				dir = "."
			}
			for _, pkg := range pkgs {
				progress("running go benchmarks of %s", pkg)
				rows = append(rows, runGoBench(goTool, dir, pkg, *gobenchN, *gotimeout)...)
			}
		}
	}

	// The workload section: natively and under `runsc do`.
	var wrows []WorkloadRow
	wskip := ""
	switch {
	case *runsc == "none":
		wskip = "-runsc none"
	case *startupOnly && *runsc == "":
		if *runsc, wskip = defaultRunsc(root); wskip == "" {
			wskip = "-startuponly"
		}
	case *startupOnly:
		wskip = "-startuponly"
	case *workdir == "":
		wskip = "cannot find the module root (go.mod); pass -workdir"
	case *runsc == "":
		*runsc, wskip = defaultRunsc(root)
	}
	if wskip == "" {
		var nativeFailed bool
		var pls []string
		for _, pl := range strings.Split(*platforms, ",") {
			if pl == "kvm" {
				if err := kvm.Available(); err != nil {
					wrows = append(wrows, WorkloadRow{Name: "kvm", Status: Skip, Note: err.Error()})
					continue
				}
			}
			pls = append(pls, pl)
		}
		var more []WorkloadRow
		more, nativeFailed, err = workloadSection(ccPath, *workdir, *builddir, *runsc, pls, *wtimeout)
		wrows = append(wrows, more...)
		if err != nil {
			fatalf("workloads: %v", err)
		}
		failed = failed || nativeFailed
	}
	// The startup section: run of /bin/true and idle memory, runc against runsc.
	var srows []StartupRow
	sskip := wskip
	if *startupOnly && wskip == "-startuponly" {
		sskip = ""
	}
	if sskip == "" && *startupRuns <= 0 {
		sskip = "-startupruns 0"
	}
	if sskip == "" {
		if srows, err = startupSection(*builddir, *runsc, strings.Split(*platforms, ","), *startupRuns, *wtimeout); err != nil {
			sskip = err.Error()
		}
	}

	if !*startupOnly {
		fmt.Printf("Moat bench: cost of one round trip; ratio = ns/op / native_getpid, both from this run\n\n")
		writeTable(os.Stdout, rows)
		fmt.Println()
	}
	if hasSameCPURow(rows) {
		fmt.Printf("*_samecpu: both parties pinned to one CPU; without it the scheduler picks one CPU\nor two, which can change two-party figures several-fold between runs.\n\n")
	}
	if wskip != "" {
		fmt.Printf("Moat bench: workloads skipped: %s\n\n", wskip)
	} else {
		fmt.Printf("Moat bench: workloads natively and under `%s do`; ratio = sandboxed / native, both from this run\n\n", *runsc)
		writeWorkloadTable(os.Stdout, wrows)
		fmt.Println()
	}
	if sskip != "" {
		fmt.Printf("Moat bench: container startup skipped: %s\n\n", sskip)
	} else {
		fmt.Printf("Moat bench: container start and idle memory, runc and runsc on one busybox bundle; median of %d runs each, ratio = runsc / runc, from this run\n", *startupRuns)
		fmt.Printf("run_true: wall time of `run` of /bin/true (create, start, wait, delete). idle_rss/idle_pss: a detached `sleep`\nafter %v, Rss and Pss of /proc/PID/smaps_rollup summed over the container's PID and all its descendants\n(runsc: Sentry + Gofer + stubs; runc: the container's process).\n\n", idleSettle)
		writeStartupTable(os.Stdout, srows)
		fmt.Println()
	}
	fmt.Printf("All figures were measured in this run on this machine (%s).\nCompare ratios within one run, never absolute numbers across runs or machines.\n", machine())
	if failed {
		fmt.Fprintln(os.Stderr, "moatbench: some mechanism or workload programs failed (see ERROR rows)")
		os.Exit(1)
	}
}

func hasSameCPURow(rs []Result) bool {
	for _, r := range rs {
		if strings.HasSuffix(r.Name, "_samecpu") {
			return true
		}
	}
	return false
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "moatbench: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "moatbench: "+format+"\n", args...)
	os.Exit(1)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod, or returns "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// findGo locates the go command: $PATH first, then $GOROOT/bin.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if gr := os.Getenv("GOROOT"); gr != "" {
		p := filepath.Join(gr, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("go command not found in $PATH or $GOROOT/bin")
}

// machine describes this machine in one line: OS/arch, CPUs, CPU model, kernel.
func machine() string {
	parts := []string{fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				parts = append(parts, strings.TrimSpace(v))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		parts = append(parts, "Linux "+strings.TrimSpace(string(b)))
	}
	return strings.Join(parts, ", ")
}
