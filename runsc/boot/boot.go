// Package boot starts a Sentry: it creates the memory file and the platform, builds the
// kernel with its system call table, and runs the container's first process.
//
// Today the Sentry runs inside the runsc process that asks for it (runsc do). The
// sandbox process of DESIGN.md (runsc boot: its own namespaces, an empty root, a seccomp
// filter) and the Gofer come with the OCI runtime and the VFS; this package is where
// that process will start from.
package boot

import (
	"fmt"
	"io"
	"os"

	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/syscalls/linux"
)

// memoryFileSize is the memory file's size: sparse, so only what the application
// touches costs memory.
const memoryFileSize = 64 << 30

// Args is what to run.
type Args struct {
	Platform string
	Strace   bool
	Path     string   // host path of the executable
	Argv     []string // argv[0] included
	Envv     []string
	Stdio    [3]int // host FDs for the application's 0, 1, 2
	Log      io.Writer
}

// Run runs the program on a new Sentry and returns how it ended.
func Run(a Args) (kernel.ExitStatus, error) {
	if a.Platform != "ptrace" {
		return kernel.ExitStatus{}, fmt.Errorf("platform %q is not available (have ptrace)", a.Platform)
	}
	mf, err := pgalloc.New("moat-memory", memoryFileSize)
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("memory file: %w", err)
	}
	defer mf.Close()
	p, err := ptrace.New(mf.FD())
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	defer p.Close()
	k := kernel.New(p, mf, linux.Table(), a.Log)
	k.Strace = a.Strace

	f, err := os.Open(a.Path)
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	defer f.Close()
	fds := kernel.NewFDTable()
	for i, hfd := range a.Stdio {
		fds.Install(int32(i), &kernel.HostFile{FD: hfd})
	}
	t, err := k.NewProcess(kernel.ProcessArgs{File: f, Path: a.Path, Argv: a.Argv, Envv: a.Envv, FDs: fds})
	if err != nil {
		return kernel.ExitStatus{}, fmt.Errorf("exec %s: %w", a.Path, err)
	}
	defer t.MM.Release()
	return t.Run(), nil
}
