package main

import (
	"fmt"
	"io"
	"strings"
)

const baselineName = "native_getpid"

// baseline returns the native_getpid figure, or 0 if it was not measured.
func baseline(rs []Result) float64 {
	for _, r := range rs {
		if r.Name == baselineName && r.Status == OK && r.NsPerOp > 0 {
			return r.NsPerOp
		}
	}
	return 0
}

func formatRatio(ns, base float64) string {
	if base <= 0 {
		return "n/a"
	}
	x := ns / base
	if x < 10 {
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// writeTable prints the aligned report table.
func writeTable(w io.Writer, rs []Result) {
	base := baseline(rs)
	nameW := len("round trip")
	for _, r := range rs {
		nameW = max(nameW, len(r.Name))
	}
	fmt.Fprintf(w, "%-*s  %12s  %10s  %10s\n", nameW, "round trip", "ns/op", "µs/op", "x getpid")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", nameW+2+12+2+10+2+10))
	for _, r := range rs {
		switch r.Status {
		case OK:
			fmt.Fprintf(w, "%-*s  %12.1f  %10.3f  %10s\n", nameW, r.Name, r.NsPerOp, r.NsPerOp/1000, formatRatio(r.NsPerOp, base))
		case Skip:
			fmt.Fprintf(w, "%-*s  skipped: %s\n", nameW, r.Name, r.Note)
		default:
			fmt.Fprintf(w, "%-*s  ERROR: %s\n", nameW, r.Name, r.Note)
		}
	}
}

// writeWorkloadTable prints the aligned workload table: each figure natively
// and in the sandbox, and their ratio. Rows with a throughput figure get it
// in a last column. A multi-line note (an error with the tail of stderr)
// continues on indented lines.
func writeWorkloadTable(w io.Writer, rows []WorkloadRow) {
	nameW := len("workload")
	mbps := false
	for _, r := range rows {
		nameW = max(nameW, len(r.Name))
		mbps = mbps || r.NativeMBps > 0 || r.SandboxedMBps > 0
	}
	header := fmt.Sprintf("%-*s  %14s  %15s  %16s", nameW, "workload", "native ns/op", "sandboxed ns/op", "sandboxed/native")
	if mbps {
		header += "  MB/s native -> sandboxed"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, strings.Repeat("-", len(header)))
	indent := strings.Repeat(" ", nameW+4)
	for _, r := range rows {
		switch r.Status {
		case OK:
			line := fmt.Sprintf("%-*s  %14.1f  %15.1f  %16s", nameW, r.Name, r.Native, r.Sandboxed, formatRatio(r.Sandboxed, r.Native))
			if r.NativeMBps > 0 || r.SandboxedMBps > 0 {
				line += fmt.Sprintf("  %.0f -> %.0f", r.NativeMBps, r.SandboxedMBps)
			}
			fmt.Fprintln(w, line)
		case Skip:
			fmt.Fprintf(w, "%-*s  skipped: %s\n", nameW, r.Name, strings.ReplaceAll(r.Note, "\n", "\n"+indent))
		default:
			fmt.Fprintf(w, "%-*s  ERROR: %s\n", nameW, r.Name, strings.ReplaceAll(r.Note, "\n", "\n"+indent))
		}
	}
}
