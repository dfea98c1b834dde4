package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/cgroup"
	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/console"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Run creates a container, starts it and (unless --detach) waits for it, then deletes
// it and exits with its status, as runc run. A container of a pod (create_pod.go) is
// waited for through its state, as runsc wait does: its sandbox is the pod's.
type Run struct {
	conf *config.Config
	createFlags
	detach bool
}

// Name implements subcommands.Command.
func (*Run) Name() string { return "run" }

// Synopsis implements subcommands.Command.
func (*Run) Synopsis() string { return "create and start a container (and wait for it)" }

// Usage implements subcommands.Command.
func (*Run) Usage() string {
	return `run [--bundle DIR] [--detach] [--pid-file FILE] CONTAINER-ID

Creates the container the bundle describes (config.json and its root filesystem),
starts it, and unless --detach waits for it, deletes it and exits with its status
(128+N if signal N ended it). Signals runsc receives are passed on to the container.
`
}

// SetFlags implements subcommands.Command.
func (r *Run) SetFlags(f *flag.FlagSet) {
	r.createFlags.set(f)
	f.BoolVar(&r.detach, "detach", false, "return once the container is started")
	f.BoolVar(&r.detach, "d", false, "short for --detach")
}

// Execute implements subcommands.Command.
func (r *Run) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 1 {
		fmt.Fprint(os.Stderr, r.Usage())
		return subcommands.ExitUsageError
	}
	id := f.Arg(0)
	r.attached = !r.detach
	r.run = true
	c, sandbox, master, err := createContainer(r.conf, id, r.createFlags)
	if err != nil {
		Fatalf("run %q: %v", id, err)
	}
	if err := startContainer(c); err != nil {
		c.Destroy()
		if sandbox != nil {
			sandbox.Wait()
		}
		if master != nil {
			master.Close()
		}
		Fatalf("run %q: %v", id, err)
	}
	c.Close()
	if r.detach {
		return subcommands.ExitSuccess
	}
	var att *console.Attached
	if master != nil {
		// The console is copied to and from runsc's own stdio, as runc run's.
		att = console.Attach(master, nil)
	}
	// Pass signals on to init, as runc run does without a terminal.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for s := range sigs {
			if c, err := container.Load(r.conf.Root, id); err == nil {
				c.Send(container.Request{Cmd: "kill", Signal: int(s.(unix.Signal))})
				c.Close()
			}
		}
	}()
	if sandbox == nil {
		waitStopped(r.conf.Root, id)
	} else if msg := sandboxDeath(id, sandbox.Wait()); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	signal.Stop(sigs)
	c, err = container.Load(r.conf.Root, id)
	if err != nil {
		Fatalf("run %q: %v", id, err)
	}
	st, _ := c.ExitStatus()
	warnings, err := c.Delete()
	if err != nil {
		Fatalf("run %q: deleting: %v", id, err)
	}
	for _, w := range warnings {
		Warnf("run %q: %v", id, w)
	}
	if att != nil {
		// The sandbox has ended, and the console's host slave with it.
		att.Close(time.Second)
	}
	os.Exit(st)
	return subcommands.ExitSuccess
}

// containerArgs turns a bundle into what the sandbox runs, without its Gofer socket
// and stdio: the Sentry's arguments and the Gofer's mounts (the rootfs first, then
// each bind mount's source).
// Mounts the Sentry does not have yet are skipped, each with a message to warn.
func containerArgs(conf *config.Config, b *specutils.Bundle, warn io.Writer) (boot.Args, []string, error) {
	s := b.Spec
	p := s.Process
	readOnly := s.Root.Readonly
	rootfs := b.Rootfs
	if conf.Overlay == "memory" || readOnly {
		rootfs += ":ro"
	}
	goferMounts := []string{rootfs}
	var mounts []boot.Mount
	for _, m := range s.Mounts {
		bm, ok := specMount(m, &goferMounts, warn)
		if ok {
			mounts = append(mounts, bm)
		}
	}
	env := withHome(p.Env, b.Rootfs, p.User.UID)
	path, err := lookPath(b.Rootfs, p.Args[0], env)
	if err != nil {
		return boot.Args{}, nil, err
	}
	var groups []uint32
	for _, g := range p.User.AdditionalGids {
		groups = append(groups, g)
	}
	caps, err := specCaps(p.Capabilities)
	if err != nil {
		return boot.Args{}, nil, err
	}
	rlimits, err := specRlimits(p.Rlimits)
	if err != nil {
		return boot.Args{}, nil, err
	}
	devices, err := specDevices(s)
	if err != nil {
		return boot.Args{}, nil, err
	}
	oom := 0
	if p.OOMScoreAdj != nil {
		if oom = *p.OOMScoreAdj; oom < -1000 || oom > 1000 {
			return boot.Args{}, nil, fmt.Errorf("process.oomScoreAdj %d is not between -1000 and 1000", oom)
		}
	}
	var res *specs.LinuxResources
	if s.Linux != nil {
		res = s.Linux.Resources
	}
	// The container's cgroup in the Sentry shows the limits as the host's cgroup v2
	// gets them. One v2 cannot take (cpu.shares out of range, swap below the limit)
	// fails create where a host cgroup is made (runsc/cgroup); otherwise it is left
	// out here, with a warning.
	cgroupFiles, err := cgroup.V2Files(res)
	if err != nil {
		fmt.Fprintf(warn, "runsc: linux.resources: %v: the container's /sys/fs/cgroup shows no limits\n", err)
	}
	resources := map[string]string{}
	for _, f := range cgroupFiles {
		resources[f.Name] = f.Value
	}
	hostname, domainname := specSysctl(s, warn)
	return boot.Args{
		Platform: conf.Platform, Strace: conf.Strace, Overlay: conf.Overlay,
		Path: path, Argv: p.Args, Envv: env, Cwd: p.Cwd,
		Stdio:    [3]int{0, 1, 2},
		Hostname: hostname, Domainname: domainname, UID: p.User.UID, GID: p.User.GID, Groups: groups,
		ReadOnlyRoot: readOnly, Mounts: mounts,
		Devices: devices, MaskedPaths: maskedPaths(s), ReadonlyPaths: readonlyPaths(s),
		Caps: caps, Rlimits: rlimits, NoNewPrivs: p.NoNewPrivileges, OOMScoreAdj: oom,
		Resources: resources,
	}, goferMounts, nil
}

// capNames are the capabilities by their spec names (include/uapi/linux/capability.h).
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE"}

// specCaps converts the spec's capability sets; nil if the spec has none.
func specCaps(c *specs.LinuxCapabilities) (*boot.Caps, error) {
	if c == nil {
		return nil, nil
	}
	set := func(names []string) (uint64, error) {
		var s uint64
		for _, n := range names {
			i := slices.Index(capNames, strings.ToUpper(n))
			if i < 0 {
				return 0, fmt.Errorf("unknown capability %q", n)
			}
			s |= 1 << i
		}
		return s, nil
	}
	var out boot.Caps
	for _, f := range []struct {
		dst   *uint64
		names []string
	}{{&out.Bounding, c.Bounding}, {&out.Effective, c.Effective}, {&out.Permitted, c.Permitted},
		{&out.Inheritable, c.Inheritable}, {&out.Ambient, c.Ambient}} {
		v, err := set(f.names)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	return &out, nil
}

// rlimitNames are the resource limits by their spec names.
var rlimitNames = map[string]int{"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2,
	"RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
	"RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}

// specRlimits converts the spec's rlimits: an unknown type or a soft limit above the
// hard one is an error, as runc's.
func specRlimits(rl []specs.POSIXRlimit) (map[int]kernel.Rlimit, error) {
	out := map[int]kernel.Rlimit{}
	for _, r := range rl {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit type %q", r.Type)
		}
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("rlimit %s: soft limit %d above the hard limit %d", r.Type, r.Soft, r.Hard)
		}
		out[res] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
	}
	return out, nil
}

// specMount converts a spec mount; mounts of kinds the Sentry doesn't have yet are
// skipped with a message.
func specMount(m specs.Mount, goferMounts *[]string, warn io.Writer) (boot.Mount, bool) {
	flags := vfs.MountFlags{
		ReadOnly: specutils.HasOption(m, "ro"),
		NoSuid:   specutils.HasOption(m, "nosuid"),
		NoDev:    specutils.HasOption(m, "nodev"),
		NoExec:   specutils.HasOption(m, "noexec"),
	}
	bm := boot.Mount{Dest: filepath.Clean(m.Destination), Flags: flags}
	if !specutils.IsBind(m) {
		bm.Source = m.Source // as mount(2)'s source, what mountinfo shows
	}
	switch {
	case specutils.IsBind(m):
		src := m.Source
		if flags.ReadOnly {
			src += ":ro"
		}
		bm.Kind, bm.GoferMount = boot.MountGofer, uint32(len(*goferMounts))
		if filepath.IsAbs(m.Source) {
			bm.Root = filepath.Clean(m.Source)
		}
		*goferMounts = append(*goferMounts, src)
	case m.Type == "proc":
		bm.Kind = boot.MountProc
	case m.Type == "sysfs":
		bm.Kind = boot.MountSys
	case m.Type == "tmpfs" && bm.Dest == "/dev":
		bm.Kind = boot.MountDev
	case m.Type == "devpts":
		bm.Kind = boot.MountDevpts
	case m.Type == "mqueue":
		bm.Kind = boot.MountMqueue
	case m.Type == "cgroup" || m.Type == "cgroup2":
		// The Sentry's cgroup v2 filesystem, as runc mounts cgroup2 for a spec's
		// "cgroup" on a unified host: the container's own cgroup, never the host's.
		// Its source is the spec's, as mount(2)'s ("cgroup" in Docker's specs).
		bm.Kind = boot.MountCgroup
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
		fmt.Fprintf(warn, "runsc: mount of type %q at %s is not supported yet: skipped\n", m.Type, m.Destination)
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

// waitStopped waits until container id of a pod is stopped (or gone), without holding
// its lock meanwhile.
func waitStopped(root, id string) {
	for {
		c, err := container.Load(root, id)
		if err != nil {
			return
		}
		stopped := c.State.Status == container.Stopped
		c.Close()
		if stopped {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sandboxDeath explains how the sandbox process of container id ended, if it was killed
// by its own seccomp filter (SIGSYS): the Sentry made a host system call its allow-list
// does not allow. err is what waiting for the sandbox returned.
func sandboxDeath(id string, err error) string {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return ""
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		return ""
	}
	return fmt.Sprintf("runsc: container %q: the sandbox was killed by its seccomp filter (SIGSYS): "+
		"the Sentry made a host system call its allow-list forbids; the kernel log's audit record "+
		"(type=1326) names it, and with --debug the sandbox's log has a report", id)
}

// specDevices converts the spec's linux.devices: a character ("c", or "u"), block
// ("b") or FIFO ("p") node at an absolute path, mode 0666 and owner root unless the
// spec says otherwise, as runc makes them.
func specDevices(s *specs.Spec) ([]boot.Device, error) {
	if s.Linux == nil {
		return nil, nil
	}
	var out []boot.Device
	for i, d := range s.Linux.Devices {
		var kind uint32
		switch d.Type {
		case "c", "u":
			kind = unix.S_IFCHR
		case "b":
			kind = unix.S_IFBLK
		case "p":
			kind = unix.S_IFIFO
		default:
			return nil, fmt.Errorf("linux.devices[%d] (%s): unknown device type %q", i, d.Path, d.Type)
		}
		if !filepath.IsAbs(d.Path) {
			return nil, fmt.Errorf("linux.devices[%d]: path %q is not absolute", i, d.Path)
		}
		bd := boot.Device{Path: filepath.Clean(d.Path), Mode: kind | 0o666, Major: uint32(d.Major), Minor: uint32(d.Minor)}
		if d.FileMode != nil {
			bd.Mode = kind | uint32(*d.FileMode)&0o7777
		}
		if d.UID != nil {
			bd.UID = *d.UID
		}
		if d.GID != nil {
			bd.GID = *d.GID
		}
		out = append(out, bd)
	}
	return out, nil
}

// maskedPaths and readonlyPaths are the spec's linux.maskedPaths and linux.readonlyPaths.
func maskedPaths(s *specs.Spec) []string {
	if s.Linux == nil {
		return nil
	}
	return s.Linux.MaskedPaths
}

func readonlyPaths(s *specs.Spec) []string {
	if s.Linux == nil {
		return nil
	}
	return s.Linux.ReadonlyPaths
}

// specSysctl applies the spec's linux.sysctl to the names the Sentry models, the UTS
// names (kernel.hostname and kernel.domainname, which runc writes after setting the
// spec's hostname, so they win), and returns them. The Sentry's other kernel
// parameters are fixed: each other sysctl is ignored with a warning, as gVisor ignores
// those it does not model (failing would refuse containers that Docker and Kubernetes
// make with, for instance, net.ipv4.ip_unprivileged_port_start).
func specSysctl(s *specs.Spec, warn io.Writer) (hostname, domainname string) {
	hostname, domainname = s.Hostname, s.Domainname
	if s.Linux == nil {
		return
	}
	keys := make([]string, 0, len(s.Linux.Sysctl))
	for k := range s.Linux.Sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := s.Linux.Sysctl[k]; strings.ReplaceAll(k, "/", ".") {
		case "kernel.hostname":
			hostname = v
		case "kernel.domainname":
			domainname = v
		default:
			fmt.Fprintf(warn, "runsc: sysctl %s=%q is not one the Sentry models: ignored\n", k, v)
		}
	}
	return
}
