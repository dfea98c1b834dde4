package proc

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/kernfs"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// taskDir is /proc/[pid] of t.
func (p *procfs) taskDir(t *kernel.Task) vfs.Inode {
	children := p.taskFiles(t)
	children["task"] = p.fs.NewDynamicDir(0o555, kernfs.Funcs{
		NamesFn: func() []string {
			var ids []int
			for id := range t.ThreadsIn(p.ns) {
				ids = append(ids, int(id))
			}
			if t.Zombie() {
				ids = append(ids, int(p.ns.IDOfTask(t))) // the leader stays until reaped
			}
			sort.Ints(ids)
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = strconv.Itoa(id)
			}
			return out
		},
		LookupFn: func(n string) (vfs.Inode, error) {
			for id, th := range t.ThreadsIn(p.ns) {
				if strconv.Itoa(int(id)) == n {
					return p.fs.NewDynamicDir(0o555, p.taskFiles(th)), nil
				}
			}
			if t.Zombie() && strconv.Itoa(int(p.ns.IDOfTask(t))) == n {
				return p.fs.NewDynamicDir(0o555, p.taskFiles(t)), nil
			}
			return nil, unix.ENOENT
		},
	})
	return p.fs.NewDynamicDir(0o555, children)
}

// taskFiles are the files of /proc/[pid] and of /proc/[pid]/task/[tid] (all but task).
func (p *procfs) taskFiles(t *kernel.Task) kernfs.Static {
	fs := p.fs
	file := func(gen func(*kernel.Task) ([]byte, error)) vfs.Inode {
		return fs.NewFile(func() ([]byte, error) { return gen(t) })
	}
	children := kernfs.Static{
		"cmdline": file(func(t *kernel.Task) ([]byte, error) { return t.ReadMemory(t.ArgvStart, t.ArgvEnd), nil }),
		"environ": file(func(t *kernel.Task) ([]byte, error) {
			if t.Zombie() {
				return nil, unix.ESRCH // no memory left to read (environ_open)
			}
			return t.ReadMemory(t.EnvvStart, t.EnvvEnd), nil
		}),
		"comm":   file(func(t *kernel.Task) ([]byte, error) { return []byte(comm(t) + "\n"), nil }),
		"stat":   file(p.taskStat),
		"statm":  file(p.statm),
		"status": file(p.status),
		"maps":   file(p.maps),
		"mounts": file(p.mounts),
		"limits": file(p.limits),
		"exe": fs.NewSymlink(func() (string, error) {
			if t.Zombie() {
				return "", unix.ENOENT // a zombie has no executable or directories left
			}
			return t.Exe, nil
		}),
		"cwd": fs.NewMagicLink(func() (string, error) {
			if t.Zombie() {
				return "", unix.ENOENT
			}
			return p.v.PathOf(t.FS.Root(), t.FS.Cwd())
		}, func() (vfs.VirtualDentry, error) {
			if t.Zombie() {
				return vfs.VirtualDentry{}, unix.ENOENT
			}
			return t.FS.Cwd(), nil
		}),
		"root": fs.NewSymlink(func() (string, error) { return "/", nil }),
		"fd": fs.NewDynamicDir(0o500, kernfs.Funcs{
			NamesFn:  func() []string { return fdNames(t) },
			LookupFn: func(n string) (vfs.Inode, error) { return p.fdLink(t, n) },
		}),
		"fdinfo": fs.NewDynamicDir(0o500, kernfs.Funcs{
			NamesFn:  func() []string { return fdNames(t) },
			LookupFn: func(n string) (vfs.Inode, error) { return p.fdInfo(t, n) },
		}),
		"mountinfo": file(p.mountinfo),
		// The process's cgroup in its container's cgroup v2 hierarchy, whose root is
		// the container's cgroup, as a container sees it with a cgroup namespace.
		"cgroup": file(func(t *kernel.Task) ([]byte, error) {
			path := "/"
			if cg := t.Cgroup(); cg != nil {
				path = cg.Path()
			}
			return []byte("0::" + path + "\n"), nil
		}),
		"oom_score_adj": fs.NewWritable(func() ([]byte, error) {
			return []byte(strconv.Itoa(int(t.Proc.OOMScoreAdj.Load())) + "\n"), nil
		}, func(b []byte) error { return setOOMScoreAdj(t, b) }),
	}
	return children
}

// setOOMScoreAdj is a write to /proc/[pid]/oom_score_adj: an integer from -1000 to
// 1000 (EINVAL otherwise), as oom_score_adj_write parses it. The Sentry has no OOM
// killer of its own, so the value only reads back (the host's killer sees the
// sandbox's, which runsc sets from the spec). Not modelled: Linux's EACCES for
// lowering it below the lowest value set with CAP_SYS_RESOURCE without that capability.
func setOOMScoreAdj(t *kernel.Task, b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < -1000 || v > 1000 {
		return unix.EINVAL
	}
	t.Proc.OOMScoreAdj.Store(int32(v))
	return nil
}

// fdInfo is /proc/[pid]/fdinfo/N, as seq_show: the offset, the flags (with O_CLOEXEC
// when the descriptor has it, and O_LARGEFILE, which a 64-bit open always adds), the
// mount and the inode. The text is made when the file is opened (not during the
// lookup, which the VFS makes holding its mount lock).
func (p *procfs) fdInfo(t *kernel.Task, name string) (vfs.Inode, error) {
	n, err := strconv.Atoi(name)
	if err != nil {
		return nil, unix.ENOENT
	}
	if f, err := t.FDs.Get(int32(n)); err != nil {
		return nil, unix.ENOENT
	} else {
		f.DecRef()
	}
	return p.fs.NewFile(func() ([]byte, error) {
		f, err := t.FDs.Get(int32(n))
		if err != nil {
			return nil, unix.ENOENT
		}
		defer f.DecRef()
		const oLargefile = 0o100000
		cloexec, _ := t.FDs.CloseOnExec(int32(n))
		flags := f.StatusFlags() | oLargefile
		if cloexec {
			flags |= unix.O_CLOEXEC
		}
		st, _ := f.Stat()
		info := fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n",
			f.Offset(), flags, p.mountID(t, f.VirtualDentry().Mount), st.Ino)
		if fi, ok := f.Impl().(vfs.FDInfoer); ok {
			info += fi.FDInfo()
		}
		return []byte(info), nil
	}), nil
}

// mountID numbers the mounts of t's namespace in /proc/mounts order, from 1; a mount
// attached nowhere (pipes, sockets) gets 0.
func (p *procfs) mountID(t *kernel.Task, m *vfs.Mount) int {
	for i, o := range p.v.Mounts(t.FS.Root().Mount) {
		if o == m {
			return i + 1
		}
	}
	return 0
}

// mountinfo is /proc/[pid]/mountinfo (show_mountinfo): ID, parent ID, device, the
// mount's root within its filesystem, the mount point, options, the filesystem type,
// the source and its options.
func (p *procfs) mountinfo(t *kernel.Task) ([]byte, error) {
	root := t.FS.Root()
	mounts := p.v.Mounts(root.Mount)
	ids := map[*vfs.Mount]int{}
	for i, m := range mounts {
		ids[m] = i + 1
	}
	var b bytes.Buffer
	for i, m := range mounts {
		point, err := p.v.PathOf(root, m.Root())
		if err != nil || strings.HasPrefix(point, "(unreachable)") {
			continue
		}
		parent := ids[m.Parent()]
		if parent == 0 {
			parent = i + 1 // the root mount is its own parent here
		}
		fmt.Fprintf(&b, "%d %d 0:%d %s %s %s - %s %s %s\n", i+1, parent, i+1, m.RootPath(), point, mountOpts(m),
			m.FSType, m.Source, map[bool]string{true: "ro", false: "rw"}[m.Flags.ReadOnly])
	}
	return b.Bytes(), nil
}

// mountOpts are a mount's per-mount options, as /proc/mounts shows them.
func mountOpts(m *vfs.Mount) string {
	opts := "rw"
	if m.Flags.ReadOnly {
		opts = "ro"
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Flags.NoSuid, "nosuid"}, {m.Flags.NoDev, "nodev"}, {m.Flags.NoExec, "noexec"}} {
		if f.on {
			opts += "," + f.name
		}
	}
	return opts + ",relatime" // every mount's atime behaviour, as Linux's default
}

func fdNames(t *kernel.Task) []string {
	var out []string
	for _, fd := range t.FDs.Fds() {
		out = append(out, strconv.Itoa(int(fd)))
	}
	return out
}

// fdLink is /proc/[pid]/fd/N: a symlink naming the open file.
func (p *procfs) fdLink(t *kernel.Task, name string) (vfs.Inode, error) {
	n, err := strconv.Atoi(name)
	if err != nil {
		return nil, unix.ENOENT
	}
	f, err := t.FDs.Get(int32(n))
	if err != nil {
		return nil, unix.ENOENT
	}
	f.DecRef()
	return p.fs.NewMagicLink(func() (string, error) {
		vd := f.VirtualDentry()
		if path, err := p.v.PathOf(t.FS.Root(), vd); err == nil && !strings.HasPrefix(path, "(unreachable)") {
			return path, nil
		}
		if n, ok := vd.Dentry.Inode().(vfs.FDNamer); ok {
			return n.FDName(), nil
		}
		// A file in no directory (stdio): as Linux names pipes and sockets.
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO:
			return fmt.Sprintf("pipe:[%d]", st.Ino), nil
		case unix.S_IFSOCK:
			return fmt.Sprintf("socket:[%d]", st.Ino), nil
		case unix.S_IFCHR:
			return "/dev/tty", nil
		}
		return fmt.Sprintf("anon_inode:[%d]", st.Ino), nil
	}, func() (vfs.VirtualDentry, error) { return f.VirtualDentry(), nil }), nil
}

// taskStat is /proc/[pid]/stat (fs/proc/array.c:do_task_stat).
func (p *procfs) taskStat(t *kernel.Task) ([]byte, error) {
	size, rss := t.MM.Usage()
	start := t.Start.Sub(p.k.StartTime()).Milliseconds() / 10 // clock ticks since boot
	ps := t.Status(p.ns)
	u, cu := t.ProcessUsage(), t.ChildrenUsage()
	ticks := func(ns int64) string { return strconv.FormatInt(ns/1e7, 10) } // USER_HZ 100
	state, _ := t.RunState()
	f := []string{
		strconv.Itoa(int(p.ns.IDOfTask(t))), "(" + comm(t) + ")", string(state),
		strconv.Itoa(int(ps.PPID)), strconv.Itoa(int(ps.PGID)), strconv.Itoa(int(ps.SID)),
		"0", "-1", "4194560", // tty, tpgid, flags: no controlling terminals yet
		"0", "0", "0", "0", // minflt, cminflt, majflt, cmajflt: not counted (README)
		ticks(u.User), ticks(u.Sys), ticks(cu.User), ticks(cu.Sys),
		"20", "0", strconv.Itoa(ps.Threads), "0", // priority, nice, num_threads, itrealvalue
		strconv.FormatInt(start, 10), strconv.FormatUint(size, 10), strconv.FormatUint(rss/4096, 10),
		strconv.FormatUint(t.Limits[unix.RLIMIT_RSS].Cur, 10),
	}
	for len(f) < 52 {
		f = append(f, "0")
	}
	f[38] = "0" // processor
	return []byte(strings.Join(f, " ") + "\n"), nil
}

func (p *procfs) statm(t *kernel.Task) ([]byte, error) {
	size, rss := t.MM.Usage()
	return []byte(fmt.Sprintf("%d %d 0 0 0 0 0\n", size/4096, rss/4096)), nil
}

// status is /proc/[pid]/status.
func (p *procfs) status(t *kernel.Task) ([]byte, error) {
	size, rss := t.MM.Usage()
	c := t.Creds
	ids := func(r, e, s, fs uint32) string { return fmt.Sprintf("%d\t%d\t%d\t%d", r, e, s, fs) }
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, strconv.Itoa(int(g)))
	}
	var b bytes.Buffer
	ps := t.Status(p.ns)
	state, stateName := t.RunState()
	fmt.Fprintf(&b, "Name:\t%s\nUmask:\t%04o\nState:\t%c (%s)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		comm(t), t.Caller().Umask, state, stateName, ps.TGID, p.ns.IDOfTask(t), ps.PPID)
	fmt.Fprintf(&b, "Uid:\t%s\nGid:\t%s\nFDSize:\t64\nGroups:\t%s\n", ids(c.RealUID, c.EffectiveUID, c.SavedUID, c.UID), ids(c.RealGID, c.EffectiveGID, c.SavedGID, c.GID), strings.Join(groups, " "))
	// The IDs from this /proc's namespace down to the task's own (proc_pid_status).
	tids, tgids, pgids, sids := p.ns.IDsOf(t)
	list := func(v []int32) string {
		var out []string
		for _, id := range v {
			out = append(out, strconv.Itoa(int(id)))
		}
		return strings.Join(out, "\t")
	}
	fmt.Fprintf(&b, "NStgid:\t%s\nNSpid:\t%s\nNSpgid:\t%s\nNSsid:\t%s\n", list(tgids), list(tids), list(pgids), list(sids))
	if state != 'Z' { // a zombie has no memory to show (task_mem needs an mm)
		fmt.Fprintf(&b, "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmLck:\t%8d kB\nVmPin:\t%8d kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\n",
			size/1024, size/1024, t.MM.Locked()/1024, 0, max(t.MM.MaxRSS(), rss)/1024, rss/1024)
	}
	fmt.Fprintf(&b, "Threads:\t%d\n", ps.Threads)
	fmt.Fprintf(&b, "SigQ:\t%d/%d\nSigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n",
		ps.Queued, t.Limits[unix.RLIMIT_SIGPENDING].Cur, ps.Pending, ps.SharedPending, ps.Blocked, ps.Ignored, ps.Caught)
	nnp := 0
	if t.NoNewPrivs {
		nnp = 1
	}
	fmt.Fprintf(&b, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t%d\nSeccomp:\t0\n",
		c.Inheritable, c.Permitted, c.Caps, c.Bounding, c.Ambient, nnp)
	n := runtime.NumCPU()
	fmt.Fprintf(&b, "Cpus_allowed:\t%x\nCpus_allowed_list:\t0-%d\nvoluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n", 1<<n-1, n-1)
	return b.Bytes(), nil
}

// maps is /proc/[pid]/maps.
func (p *procfs) maps(t *kernel.Task) ([]byte, error) {
	var b bytes.Buffer
	for _, m := range t.MM.Mappings() {
		perm := []byte("---p")
		if m.Perms.Read {
			perm[0] = 'r'
		}
		if m.Perms.Write {
			perm[1] = 'w'
		}
		if m.Perms.Execute {
			perm[2] = 'x'
		}
		if !m.Private {
			perm[3] = 's'
		}
		line := fmt.Sprintf("%08x-%08x %s %08x 00:00 0", m.Start, m.End, perm, m.Offset)
		if m.Name != "" {
			line = fmt.Sprintf("%-72s %s", line, m.Name)
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes(), nil
}

// mounts is /proc/[pid]/mounts.
func (p *procfs) mounts(t *kernel.Task) ([]byte, error) {
	root := t.FS.Root()
	var b bytes.Buffer
	for _, m := range p.v.Mounts(root.Mount) {
		point, err := p.v.PathOf(root, m.Root())
		if err != nil || strings.HasPrefix(point, "(unreachable)") {
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", m.Source, point, m.FSType, mountOpts(m))
	}
	return b.Bytes(), nil
}

// limits is /proc/[pid]/limits.
func (p *procfs) limits(t *kernel.Task) ([]byte, error) {
	names := []struct {
		name, unit string
	}{{"Max cpu time", "seconds"}, {"Max file size", "bytes"}, {"Max data size", "bytes"},
		{"Max stack size", "bytes"}, {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
		{"Max processes", "processes"}, {"Max open files", "files"}, {"Max locked memory", "bytes"},
		{"Max address space", "bytes"}, {"Max file locks", "locks"}, {"Max pending signals", "signals"},
		{"Max msgqueue size", "bytes"}, {"Max nice priority", ""}, {"Max realtime priority", ""},
		{"Max realtime timeout", "us"}}
	val := func(v uint64) string {
		if v == kernel.Infinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	for i, n := range names {
		l := t.Limits[i]
		fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", n.name, val(l.Cur), val(l.Max), n.unit)
	}
	return b.Bytes(), nil
}
