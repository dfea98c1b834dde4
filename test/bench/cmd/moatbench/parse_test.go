package main

import (
	"strings"
	"testing"
)

func TestParseMechLine(t *testing.T) {
	tests := []struct {
		line   string
		want   Result
		hasErr bool
	}{
		{line: "native_getpid 147.0", want: Result{Name: "native_getpid", NsPerOp: 147}},
		{line: "  ptrace_sysemu   50886.9  \n", want: Result{Name: "ptrace_sysemu", NsPerOp: 50886.9}},
		{line: "kvm_exit skip open /dev/kvm: No such file or directory",
			want: Result{Name: "kvm_exit", Status: Skip, Note: "open /dev/kvm: No such file or directory"}},
		{line: "kvm_exit skip", want: Result{Name: "kvm_exit", Status: Skip, Note: "(no reason given)"}},
		{line: "native_getpid", hasErr: true},
		{line: "native_getpid fast", hasErr: true},
		{line: "native_getpid -3", hasErr: true},
		{line: "native_getpid NaN", hasErr: true},
		{line: "native_getpid 12 ns", hasErr: true},
		{line: "12 34", hasErr: true},
	}
	for _, tt := range tests {
		got, err := parseMechLine(tt.line)
		if (err != nil) != tt.hasErr {
			t.Errorf("parseMechLine(%q) error = %v, want error %v", tt.line, err, tt.hasErr)
			continue
		}
		if !tt.hasErr && got != tt.want {
			t.Errorf("parseMechLine(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseMechOutput(t *testing.T) {
	rs, err := parseMechOutput("\na 1.5\nb skip why not\n\n")
	if err != nil || len(rs) != 2 || rs[0].NsPerOp != 1.5 || rs[1].Status != Skip {
		t.Fatalf("parseMechOutput = %+v, %v", rs, err)
	}
	if _, err := parseMechOutput(""); err == nil {
		t.Error("empty output: want error")
	}
	if _, err := parseMechOutput("a 1\nsegfault here\n"); err == nil {
		t.Error("garbage line: want error")
	}
}

func TestParseGoBenchLine(t *testing.T) {
	tests := []struct {
		line string
		name string
		ns   float64
		ok   bool
	}{
		{"BenchmarkSyscall-2   \t   10000\t     12345 ns/op", "Syscall", 12345, true},
		{"BenchmarkSyscall/regs-16  2000  51234.5 ns/op  0 B/op  0 allocs/op", "Syscall/regs", 51234.5, true},
		{"BenchmarkRoundTrip 	 100	 7.25 ns/op", "RoundTrip", 7.25, true},
		{"BenchmarkCustom-2  100  3.0 widgets/op  42.0 ns/op", "Custom", 42, true},
		{"BenchmarkNoNs-2  100  3 B/op", "", 0, false},
		{"goos: linux", "", 0, false},
		{"pkg: github.com/moat-sandbox/moat/platform/ptrace", "", 0, false},
		{"PASS", "", 0, false},
		{"ok  \tgithub.com/moat-sandbox/moat/platform/ptrace\t1.234s", "", 0, false},
		{"--- FAIL: BenchmarkX-2", "", 0, false},
		{"BenchmarkX-2 log line without numbers", "", 0, false},
	}
	for _, tt := range tests {
		name, ns, ok := parseGoBenchLine(tt.line)
		if ok != tt.ok || name != tt.name || ns != tt.ns {
			t.Errorf("parseGoBenchLine(%q) = %q, %v, %v; want %q, %v, %v", tt.line, name, ns, ok, tt.name, tt.ns, tt.ok)
		}
	}
}

func TestParseGoBenchOutput(t *testing.T) {
	out := strings.Join([]string{
		"goos: linux",
		"goarch: amd64",
		"pkg: github.com/moat-sandbox/moat/platform/ptrace",
		"cpu: AMD EPYC",
		"BenchmarkSyscall-2   \t   10000\t     52000 ns/op",
		"BenchmarkSyscall/regs-2   \t   10000\t     55000 ns/op",
		"PASS",
		"ok  \tgithub.com/moat-sandbox/moat/platform/ptrace\t1.2s",
	}, "\n")
	rs := parseGoBenchOutput(out, "./platform/ptrace/")
	want := []Result{
		{Name: "ptrace/Syscall", NsPerOp: 52000},
		{Name: "ptrace/Syscall/regs", NsPerOp: 55000},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %+v, want %+v", rs, want)
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rs[i], want[i])
		}
	}
	// Without a pkg: line the fallback package names the rows.
	if rs := parseGoBenchOutput("BenchmarkA 10 5 ns/op\n", "./platform/kvm/"); len(rs) != 1 || rs[0].Name != "kvm/A" {
		t.Errorf("fallback package: got %+v", rs)
	}
}

func TestFormatRatio(t *testing.T) {
	if got := formatRatio(100, 0); got != "n/a" {
		t.Errorf("no baseline: %q", got)
	}
	if got := formatRatio(150, 150); got != "1.00" {
		t.Errorf("baseline itself: %q", got)
	}
	if got := formatRatio(50000, 150); got != "333.3" {
		t.Errorf("ptrace-like: %q", got)
	}
}
