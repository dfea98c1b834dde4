package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/specutils"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Run runs a container from an OCI bundle and waits for it.
type Run struct {
	conf   *config.Config
	bundle string
}

// Name implements subcommands.Command.
func (*Run) Name() string { return "run" }

// Synopsis implements subcommands.Command.
func (*Run) Synopsis() string { return "run a container from a bundle and wait for it" }

// Usage implements subcommands.Command.
func (*Run) Usage() string {
	return `run [--bundle DIR] CONTAINER-ID

Runs the container the bundle describes (config.json and its root filesystem) and exits
with its status. Today run is synchronous and keeps no state under --root: create,
start, state, kill and delete come with the OCI lifecycle.
`
}

// SetFlags implements subcommands.Command.
func (r *Run) SetFlags(f *flag.FlagSet) {
	f.StringVar(&r.bundle, "bundle", ".", "the bundle directory")
	f.StringVar(&r.bundle, "b", ".", "the bundle directory (short for --bundle)")
}

// Execute implements subcommands.Command.
func (r *Run) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 {
		fmt.Fprint(os.Stderr, r.Usage())
		return subcommands.ExitUsageError
	}
	id := f.Arg(0)
	if err := specutils.ValidateID(id); err != nil {
		Fatalf("run: %v", err)
	}
	b, err := specutils.Load(r.bundle)
	if err != nil {
		Fatalf("run %q: %v", id, err)
	}
	st, err := r.run(id, b)
	if err != nil {
		Fatalf("run %q: %v", id, err)
	}
	os.Exit(st)
	return subcommands.ExitSuccess
}

func (r *Run) run(id string, b *specutils.Bundle) (int, error) {
	s := b.Spec
	p := s.Process
	if p.Terminal {
		return 0, fmt.Errorf("process.terminal needs a console (--console-socket), which is not supported yet")
	}
	readOnly := s.Root.Readonly
	// The Gofer's mounts: the rootfs first, then each bind mount's source.
	rootfs := b.Rootfs
	if r.conf.Overlay == "memory" || readOnly {
		rootfs += ":ro"
	}
	goferMounts := []string{rootfs}
	var mounts []boot.Mount
	for _, m := range s.Mounts {
		bm, ok := r.mount(m, &goferMounts)
		if ok {
			mounts = append(mounts, bm)
		}
	}
	env := withHome(p.Env, b.Rootfs, p.User.UID)
	path, err := lookPath(b.Rootfs, p.Args[0], env)
	if err != nil {
		return 0, err
	}
	goferFD, stop, err := startGofer(goferMounts...)
	if err != nil {
		return 0, fmt.Errorf("starting the gofer: %w", err)
	}
	defer stop()
	var groups []uint32
	for _, g := range p.User.AdditionalGids {
		groups = append(groups, g)
	}
	st, err := boot.Run(boot.Args{
		Platform: r.conf.Platform, Strace: r.conf.Strace, GoferFD: goferFD, Overlay: r.conf.Overlay,
		Path: path, Argv: p.Args, Envv: env, Cwd: p.Cwd,
		Stdio: [3]int{0, 1, 2}, Log: os.Stderr,
		Hostname: s.Hostname, UID: p.User.UID, GID: p.User.GID, Groups: groups,
		ReadOnlyRoot: readOnly, Mounts: mounts,
	})
	if err != nil {
		return 0, err
	}
	return st.Shell(), nil
}

// mount converts a spec mount; mounts of kinds the Sentry doesn't have yet are skipped
// with a message.
func (r *Run) mount(m specs.Mount, goferMounts *[]string) (boot.Mount, bool) {
	flags := vfs.MountFlags{
		ReadOnly: specutils.HasOption(m, "ro"),
		NoSuid:   specutils.HasOption(m, "nosuid"),
		NoDev:    specutils.HasOption(m, "nodev"),
		NoExec:   specutils.HasOption(m, "noexec"),
	}
	bm := boot.Mount{Dest: filepath.Clean(m.Destination), Flags: flags}
	switch {
	case specutils.IsBind(m):
		src := m.Source
		if flags.ReadOnly {
			src += ":ro"
		}
		bm.Kind, bm.GoferMount = boot.MountGofer, uint32(len(*goferMounts))
		*goferMounts = append(*goferMounts, src)
	case m.Type == "proc":
		bm.Kind = boot.MountProc
	case m.Type == "sysfs":
		bm.Kind = boot.MountSys
	case m.Type == "tmpfs" && bm.Dest == "/dev":
		bm.Kind = boot.MountDev
	case m.Type == "devpts":
		bm.Kind = boot.MountDevpts
	case m.Type == "tmpfs":
		bm.Kind = boot.MountTmpfs
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "mode="); ok {
				if mode, err := strconv.ParseUint(v, 8, 32); err == nil {
					bm.Mode = uint32(mode)
				}
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "runsc: mount of type %q at %s is not supported yet: skipped\n", m.Type, m.Destination)
		return bm, false
	}
	return bm, true
}

// lookPath finds the program to run as the container would: a name without a slash is
// looked up in the container's PATH, under its root filesystem.
func lookPath(rootfs, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(filepath.Join(rootfs, p)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("process.args[0] %q: not found in the container's PATH", name)
}

// withHome adds HOME to env when it is missing, as runc does: the user's home directory
// from the container's /etc/passwd, or "/".
func withHome(env []string, rootfs string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if data, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 6 && f[2] == strconv.Itoa(int(uid)) && f[5] != "" {
				home = f[5]
				break
			}
		}
	}
	return append(append([]string(nil), env...), "HOME="+home)
}
