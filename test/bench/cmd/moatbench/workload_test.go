package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, out string) []Result {
	t.Helper()
	rs, err := parseMechOutput(out)
	if err != nil {
		t.Fatalf("parseMechOutput(%q): %v", out, err)
	}
	return rs
}

func TestPairWorkload(t *testing.T) {
	tests := []struct {
		name              string
		native, sandboxed string
		want              []WorkloadRow
	}{
		{
			name:      "ns/op",
			native:    "getpid 140.5\n",
			sandboxed: "getpid 22235.2\n",
			want:      []WorkloadRow{{Name: "getpid", Native: 140.5, Sandboxed: 22235.2}},
		},
		{
			name:      "throughput attached to its per_mib row",
			native:    "write_128m_per_mib 195977.5\nwrite_128m_mb_per_s 5350.5\n",
			sandboxed: "write_128m_per_mib 484749.9\nwrite_128m_mb_per_s 2163.1\n",
			want: []WorkloadRow{{Name: "write_128m_per_mib", Native: 195977.5, Sandboxed: 484749.9,
				NativeMBps: 5350.5, SandboxedMBps: 2163.1}},
		},
		{
			name:      "throughput printed first, and only natively",
			native:    "read_128m_mb_per_s 8000\nread_128m_per_mib 131072\n",
			sandboxed: "read_128m_per_mib 262144\n",
			want:      []WorkloadRow{{Name: "read_128m_per_mib", Native: 131072, Sandboxed: 262144, NativeMBps: 8000}},
		},
		{
			name:      "throughput without a _per_mib suffix on its row",
			native:    "copy 10\ncopy_mb_per_s 100\n",
			sandboxed: "copy 20\ncopy_mb_per_s 50\n",
			want:      []WorkloadRow{{Name: "copy", Native: 10, Sandboxed: 20, NativeMBps: 100, SandboxedMBps: 50}},
		},
		{
			name:      "missing in the sandbox, extra in the sandbox ignored",
			native:    "a 1\nb 2\n",
			sandboxed: "b 4\nc 9\n",
			want: []WorkloadRow{
				{Name: "a", Status: Error, Note: "sandboxed: no a line in the output"},
				{Name: "b", Native: 2, Sandboxed: 4},
			},
		},
		{
			name:      "skipped natively or in the sandbox",
			native:    "a skip no such thing\nb 2\n",
			sandboxed: "a 1\nb skip not in the sandbox\n",
			want: []WorkloadRow{
				{Name: "a", Status: Skip, Note: "native: no such thing"},
				{Name: "b", Status: Skip, Note: "sandboxed: not in the sandbox"},
			},
		},
		{
			name:      "only throughput: no rows",
			native:    "x_mb_per_s 1\n",
			sandboxed: "x_mb_per_s 1\n",
			want:      nil,
		},
	}
	for _, tt := range tests {
		got := pairWorkload(mustParse(t, tt.native), mustParse(t, tt.sandboxed))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: pairWorkload =\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	s := "moat: unimplemented system call rseq (334): ENOSYS\n\nmoat: unimplemented system call alarm (37): ENOSYS\n  stat: stat: No such file or directory  \n\n"
	if got, want := lastLines(s, 2), []string{"moat: unimplemented system call alarm (37): ENOSYS", "stat: stat: No such file or directory"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lastLines(2) = %q, want %q", got, want)
	}
	if got := lastLines(s, 10); len(got) != 3 || !strings.Contains(got[0], "rseq") {
		t.Errorf("lastLines(10) = %q", got)
	}
	if got := lastLines(" \n\n", 3); len(got) != 0 {
		t.Errorf("blank: %q", got)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 10}
	for _, s := range []string{"abc", "defgh", "ijklmn"} {
		if n, err := tb.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := tb.String(); got != "efghijklmn" {
		t.Errorf("after small writes: %q", got)
	}
	tb.Write([]byte("0123456789ABCDEF"))
	if got := tb.String(); got != "6789ABCDEF" {
		t.Errorf("after a write larger than max: %q", got)
	}
}

func TestWriteWorkloadTable(t *testing.T) {
	var b bytes.Buffer
	writeWorkloadTable(&b, []WorkloadRow{
		{Name: "getpid", Native: 140, Sandboxed: 21000},
		{Name: "write_128m_per_mib", Native: 200000, Sandboxed: 500000, NativeMBps: 5242.9, SandboxedMBps: 2097.2},
		{Name: "open_close", Status: Error, Note: "sandboxed: exit status 1\nmoat: unimplemented system call foo (1): ENOSYS\nopen_close: open: Function not implemented"},
		{Name: "x", Status: Skip, Note: "native: why"},
	})
	got := b.String()
	for _, want := range []string{
		"sandboxed/native",
		"MB/s native -> sandboxed",
		"150.0", // 21000 / 140
		"2.50  5243 -> 2097",
		"open_close          ERROR: sandboxed: exit status 1\n                      moat: unimplemented system call foo (1): ENOSYS\n",
		"x                   skipped: native: why",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	// No throughput anywhere: no MB/s column.
	b.Reset()
	writeWorkloadTable(&b, []WorkloadRow{{Name: "getpid", Native: 1, Sandboxed: 2}})
	if strings.Contains(b.String(), "MB/s") {
		t.Errorf("MB/s column without throughput:\n%s", b.String())
	}
}

func TestRunWorkload(t *testing.T) {
	dir := t.TempDir()
	rs, err := runWorkload(dir, 10*time.Second, "/bin/sh", "-c", "pwd; echo 'moat: noise' >&2", "sh")
	if err == nil {
		t.Errorf("pwd output parsed as results: %+v", rs)
	}
	rs, err = runWorkload(dir, 10*time.Second, "/bin/sh", "-c", "echo 'moat: unimplemented system call rseq (334): ENOSYS' >&2; echo 'w 12.5'; echo 'w_mb_per_s 80'")
	if err != nil || len(rs) != 2 || rs[0].NsPerOp != 12.5 {
		t.Errorf("good run: %+v, %v", rs, err)
	}
	_, err = runWorkload(dir, 10*time.Second, "/bin/sh", "-c", "echo one >&2; echo two >&2; echo three >&2; echo four >&2; echo five >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3\ntwo\nthree\nfour\nfive") || strings.Contains(err.Error(), "one") {
		t.Errorf("failed run: error %v; want the exit status and the last 4 lines of stderr", err)
	}
	// A run that hangs is killed with its whole process group.
	start := time.Now()
	_, err = runWorkload(dir, 300*time.Millisecond, "/bin/sh", "-c", "sleep 30 & sleep 30; wait")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("hanging run: error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("hanging run took %v to be killed: its background child kept it alive", d)
	}
}

func TestDefaultRunsc(t *testing.T) {
	root := t.TempDir()
	if p, reason := defaultRunsc(root); p != "" || !strings.Contains(reason, "make build") {
		t.Errorf("no bin/runsc: %q, %q", p, reason)
	}
	if p, reason := defaultRunsc(""); p != "" || reason == "" {
		t.Errorf("no root: %q, %q", p, reason)
	}
	bin := filepath.Join(root, "bin", "runsc")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, reason := defaultRunsc(root); p != bin || reason != "" {
		t.Errorf("with bin/runsc: %q, %q", p, reason)
	}
}

func TestWorkloadSourcesOrder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"zeta", "stat", "getpid", "mmap_touch_munmap_1m", "alpha"} {
		if err := os.WriteFile(filepath.Join(dir, n+".c"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := cSources(dir, "workload", workloadOrder)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		got = append(got, strings.TrimSuffix(filepath.Base(s), ".c"))
	}
	if want := []string{"getpid", "stat", "mmap_touch_munmap_1m", "alpha", "zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
	if _, err := cSources(t.TempDir(), "workload", workloadOrder); err == nil || !strings.Contains(err.Error(), "workload") {
		t.Errorf("empty dir: %v", err)
	}
}
