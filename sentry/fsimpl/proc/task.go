package proc

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/kernfs"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// taskDir is /proc/[pid] of t.
func (p *procfs) taskDir(t *kernel.Task) vfs.Inode {
	fs := p.fs
	file := func(gen func(*kernel.Task) ([]byte, error)) vfs.Inode {
		return fs.NewFile(func() ([]byte, error) { return gen(t) })
	}
	children := kernfs.Static{
		"cmdline": file(func(t *kernel.Task) ([]byte, error) { return t.ReadMemory(t.ArgvStart, t.ArgvEnd), nil }),
		"environ": file(func(t *kernel.Task) ([]byte, error) { return t.ReadMemory(t.EnvvStart, t.EnvvEnd), nil }),
		"comm":    file(func(t *kernel.Task) ([]byte, error) { return []byte(comm(t) + "\n"), nil }),
		"stat":    file(p.taskStat),
		"statm":   file(p.statm),
		"status":  file(p.status),
		"maps":    file(p.maps),
		"mounts":  file(p.mounts),
		"limits":  file(p.limits),
		"exe":     fs.NewSymlink(func() (string, error) { return t.Exe, nil }),
		"cwd": fs.NewSymlink(func() (string, error) {
			return p.v.PathOf(t.FS.Root(), t.FS.Cwd())
		}),
		"root": fs.NewSymlink(func() (string, error) { return "/", nil }),
		"fd": fs.NewDynamicDir(0o500, kernfs.Funcs{
			NamesFn:  func() []string { return fdNames(t) },
			LookupFn: func(n string) (vfs.Inode, error) { return p.fdLink(t, n) },
		}),
	}
	return fs.NewDynamicDir(0o555, children)
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
	return p.fs.NewSymlink(func() (string, error) {
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
	}), nil
}

// taskStat is /proc/[pid]/stat (fs/proc/array.c:do_task_stat).
func (p *procfs) taskStat(t *kernel.Task) ([]byte, error) {
	size, rss := t.MM.Usage()
	start := t.Start.Sub(p.k.StartTime()).Milliseconds() / 10 // clock ticks since boot
	f := []string{
		strconv.Itoa(int(t.TID)), "(" + comm(t) + ")", "R",
		strconv.Itoa(int(t.Proc.ParentPID(p.k))), "1", "1", // ppid, pgrp, session (one group today)
		"0", "-1", "4194560", // tty, tpgid, flags
		"0", "0", "0", "0", // minflt, cminflt, majflt, cmajflt
		"0", "0", "0", "0", // utime, stime, cutime, cstime
		"20", "0", "1", "0", // priority, nice, num_threads, itrealvalue
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
	fmt.Fprintf(&b, "Name:\t%s\nUmask:\t%04o\nState:\tR (running)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		comm(t), t.Caller().Umask, t.TID, t.TID, t.Proc.ParentPID(p.k))
	fmt.Fprintf(&b, "Uid:\t%s\nGid:\t%s\nFDSize:\t64\nGroups:\t%s\n", ids(c.RealUID, c.EffectiveUID, c.SavedUID, c.UID), ids(c.RealGID, c.EffectiveGID, c.SavedGID, c.GID), strings.Join(groups, " "))
	fmt.Fprintf(&b, "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmRSS:\t%8d kB\nThreads:\t1\n", size/1024, size/1024, rss/1024)
	fmt.Fprintf(&b, "SigQ:\t0/63432\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n")
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
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", m.Source, point, m.FSType, opts)
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
