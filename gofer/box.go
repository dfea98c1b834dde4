package gofer

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/box"
	sf "github.com/moat-sandbox/moat/seccompfilters"
)

// Box confines the Gofer process once its mounts are open (NewServer), before it
// serves anything: after Box, a compromised Gofer can reach only what it holds open.
//
//  1. Its root becomes an empty directory that no longer exists: it makes one, chroots
//     into it and removes it (a removed directory can't gain entries). Every Gofer
//     thread shares the root (Go makes threads with CLONE_FS). The nodes it serves are
//     FDs opened before, and every operation is relative to them; procfs is reached
//     only through /proc/self/fd, opened before too, for the old-kernel fallbacks of
//     chmod and utimes (host.go). After Isolate, that is the Gofer's own procfs and
//     the empty directory is made in its tmpfs root.
//  2. It keeps only the capabilities file service needs (goferCaps), in every set and
//     in the bounding set, and sets no_new_privs.
//  3. It installs its seccomp allow-list (goferFilter) on every thread (TSYNC): any
//     other system call kills the process.
func Box() error {
	proc, err := unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("gofer: opening /proc/self/fd: %w", err)
	}
	procSelfFD = proc
	if err := chrootEmpty(); err != nil {
		return fmt.Errorf("gofer: chroot: %w", err)
	}
	if err := box.KeepCapabilities(goferCaps...); err != nil {
		return fmt.Errorf("gofer: capabilities: %w", err)
	}
	prog, err := goferFilter()
	if err != nil {
		return fmt.Errorf("gofer: seccomp filter: %w", err)
	}
	if err := sf.Install(prog, unix.SECCOMP_FILTER_FLAG_TSYNC); err != nil {
		return fmt.Errorf("gofer: %w", err)
	}
	return nil
}

// procSelfFD is /proc/self/fd, opened by Box, or -1.
var procSelfFD = -1

// chrootEmpty makes the root an empty directory and removes it.
func chrootEmpty() error {
	in := "" // os.TempDir()
	if isolated {
		in = "/"
	}
	dir, err := os.MkdirTemp(in, "moat-gofer-root-")
	if err != nil {
		return err
	}
	parent, err := unix.Open(filepath.Dir(dir), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return err
	}
	defer unix.Close(parent)
	if err := unix.Chdir(dir); err != nil {
		os.Remove(dir)
		return err
	}
	if err := unix.Chroot("."); err != nil {
		os.Remove(dir)
		return err
	}
	return unix.Unlinkat(parent, filepath.Base(dir), unix.AT_REMOVEDIR)
}

// goferCaps are the capabilities the Gofer keeps: those that let root serve files it
// doesn't own, as the Sentry's permission checks have already allowed.
var goferCaps = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER,
	unix.CAP_FSETID, unix.CAP_MKNOD,
}

// goferSyscalls are the system calls a boxed Gofer may make: the Go runtime's
// (threads, memory, signals, timers, the poller, restart_syscall, by which the kernel
// resumes an interrupted call with a timeout) and file service's (host.go, ops.go,
// the protocol's sendmsg/recvmsg). Everything else kills it.
var goferSyscalls = []uintptr{
	// The Go runtime.
	unix.SYS_FUTEX, unix.SYS_NANOSLEEP, unix.SYS_SCHED_YIELD, unix.SYS_RT_SIGACTION,
	unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK, unix.SYS_GETTID,
	unix.SYS_GETPID, unix.SYS_TGKILL, unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MADVISE,
	unix.SYS_MPROTECT, unix.SYS_CLONE, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
	unix.SYS_SCHED_GETAFFINITY, unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL,
	unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_WAIT, unix.SYS_EVENTFD2, unix.SYS_PIPE2,
	unix.SYS_GETRANDOM, unix.SYS_CLOCK_GETTIME, unix.SYS_CLOCK_NANOSLEEP,
	unix.SYS_GETRLIMIT, unix.SYS_PRLIMIT64, unix.SYS_RSEQ, unix.SYS_MEMBARRIER,
	unix.SYS_SET_ROBUST_LIST, unix.SYS_GETEUID, unix.SYS_GETUID, unix.SYS_GETGID,
	unix.SYS_GETEGID, unix.SYS_CAPGET, unix.SYS_RESTART_SYSCALL,
	// Files.
	unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_CLOSE, unix.SYS_READ, unix.SYS_WRITE,
	unix.SYS_PREAD64, unix.SYS_PWRITE64, unix.SYS_LSEEK, unix.SYS_FSTAT,
	unix.SYS_NEWFSTATAT, unix.SYS_STATX, unix.SYS_FSTATFS, unix.SYS_GETDENTS64,
	unix.SYS_READLINKAT, unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_UNLINKAT,
	unix.SYS_RENAMEAT2, unix.SYS_LINKAT, unix.SYS_SYMLINKAT, unix.SYS_FCHMODAT,
	unix.SYS_FCHMODAT2, unix.SYS_FCHOWNAT, unix.SYS_UTIMENSAT, unix.SYS_FTRUNCATE,
	unix.SYS_FALLOCATE, unix.SYS_FSYNC, unix.SYS_FDATASYNC, unix.SYS_FCNTL,
	unix.SYS_UMASK, unix.SYS_DUP3,
	// The connection.
	unix.SYS_RECVMSG, unix.SYS_SENDMSG, unix.SYS_SHUTDOWN, unix.SYS_SETSOCKOPT,
}

// PR_SET_VMA and PR_SET_VMA_ANON_NAME (x/sys/unix lacks them): the Go runtime names
// its heap mappings with them (runtime/set_vma_name_linux.go) whenever it maps or
// returns memory, and stops only once the kernel says EINVAL.
const (
	prSetVMA         = 0x53564d41
	prSetVMAAnonName = 0
)

// goferFilter builds the Gofer's allow-list.
func goferFilter() ([]unix.SockFilter, error) {
	f := sf.Filter{Syscalls: map[uintptr][]sf.Rule{}, Default: sf.ActionKillProcess}
	for _, nr := range goferSyscalls {
		f.Syscalls[nr] = nil
	}
	// Threads only: a new process (fork) or namespace is refused.
	thread := sf.Rule{}
	thread.Args[0] = sf.MaskedEq(unix.CLONE_THREAD|unix.CLONE_NEWNS|unix.CLONE_NEWUSER|unix.CLONE_NEWPID|unix.CLONE_NEWNET, unix.CLONE_THREAD)
	f.Syscalls[unix.SYS_CLONE] = []sf.Rule{thread}
	// prctl only to read no_new_privs, and for the Go runtime to name the mappings it
	// makes for the heap (PR_SET_VMA_ANON_NAME; kernels with CONFIG_ANON_VMA_NAME).
	nnp := sf.Rule{}
	nnp.Args[0] = sf.Eq(unix.PR_GET_NO_NEW_PRIVS)
	vma := sf.Rule{}
	vma.Args[0] = sf.Eq(prSetVMA)
	vma.Args[1] = sf.Eq(prSetVMAAnonName)
	f.Syscalls[unix.SYS_PRCTL] = []sf.Rule{nnp, vma}
	return f.Build()
}
