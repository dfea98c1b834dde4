package boot

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/platform/systrap"
	sf "github.com/moat-sandbox/moat/seccompfilters"
)

// The Sentry's seccomp allow-list. Once the sandbox is boxed (runsc boot) or the Sentry
// is built (runsc do), InstallFilter puts it on every thread of the process, before the
// application's first instruction: from then on a host system call that is not listed
// below, or is listed with other arguments, kills the whole process (SIGSYS). The list
// has four parts, added together with seccompfilters.Filter.Add:
//
//  1. The Go runtime's (runtimeSyscalls): threads, memory, signals, timers, the poller.
//  2. The Sentry's own (sentrySyscalls): the memory file, the Gofer connection and the
//     files it donates, the host stdio, host facts the Sentry reports.
//  3. The platform's (platformSyscalls, by platform name): each platform package says
//     what driving its stubs (or virtual CPUs) takes.
//  4. The sandbox process's (sandboxSyscalls, FilterOptions.Sandbox): its control
//     socket, and the exit-status file it writes into its root, the state directory.
//
// Everything the Sentry does once at start is done before the filter and is not listed:
// making the memory file and mapping it, the platform's stub region and template (fork),
// the Gofer's start (fork and exec), the control socket's listen, the chroot and the
// capabilities. So there is no fork, exec, socket, connect, open of a path (but the
// exit-status file's), chroot, mount, setuid or capset left to a compromised Sentry, no
// mapping can be made executable, and ptrace is left with the requests the platform
// makes (PTRACE_SEIZE with its options only). What the remaining calls can reach is
// bounded by the box of runsc boot: its PID namespace holds only the Sentry, its Gofer
// and its stubs, which are all it can signal (SIGKILL), and with no capabilities it can
// trace only the stubs. runsc do has the list but not the box: its process keeps the
// caller's namespaces and capabilities, so those calls (kill with SIGKILL,
// PTRACE_SEIZE, pidfd_getfd) reach whatever the caller's could.
//
// A forbidden call kills the process with SIGSYS, which the kernel logs (an audit record
// of type 1326 in the kernel log, naming the syscall number); runsc run reports it. With
// FilterOptions.Debug (runsc --debug) it traps instead (SECCOMP_RET_TRAP): the Go
// runtime takes the SIGSYS as a fatal signal and writes its crash report (to stderr and
// the log): the goroutine that made the call, and the registers, rax holding the
// syscall number. The process still dies of it; nothing forbidden is ever executed.

// FilterOptions say which Sentry's list to build.
type FilterOptions struct {
	// Platform names the platform (platformSyscalls' key).
	Platform string
	// Debug traps a forbidden call (SIGSYS to the thread, fatal to the Go runtime, which
	// reports it) instead of killing the process at once.
	Debug bool
	// Sandbox: the process is runsc boot, which serves its control socket and records
	// init's exit status in its root (the container's state directory).
	Sandbox bool
	// Profile: the Go runtime's CPU profiler runs (runsc do --profile-cpu), which needs
	// its timers (setitimer, and timer_create, timer_settime, timer_delete per thread)
	// and opens /proc/self/maps (openat: a debugging aid, never on in runsc boot).
	Profile bool
}

// platformSyscalls are each platform's host system calls once the Sentry is filtered.
// A platform missing here can't be run filtered: Filter refuses it rather than run the
// Sentry without an allow-list.
var platformSyscalls = map[string]func() map[uintptr][]sf.Rule{
	"ptrace":  ptrace.HostSyscalls,
	"systrap": systrap.HostSyscalls,
	"kvm":     kvmSyscalls,
}

// Filter returns the Sentry's allow-list for o. It is built in the process that
// installs it: it pins the process's own PID.
func Filter(o FilterOptions) (*sf.Filter, error) {
	return filterFor(o, os.Getpid())
}

// filterFor is the allow-list for o in the process pid.
func filterFor(o FilterOptions, pid int) (*sf.Filter, error) {
	plat, ok := platformSyscalls[o.Platform]
	if !ok {
		return nil, fmt.Errorf("no seccomp allow-list for platform %q", o.Platform)
	}
	f := &sf.Filter{Default: sf.ActionKillProcess}
	if o.Debug {
		f.Default = sf.ActionTrap
	}
	f.Merge(runtimeSyscalls(pid))
	f.Merge(sentrySyscalls())
	f.Merge(plat())
	if o.Sandbox {
		f.Merge(sandboxSyscalls())
	}
	if o.Profile {
		for _, nr := range []uintptr{unix.SYS_SETITIMER, unix.SYS_TIMER_CREATE, unix.SYS_TIMER_SETTIME, unix.SYS_TIMER_DELETE, unix.SYS_OPENAT} {
			f.Add(nr)
		}
	}
	return f, nil
}

// InstallFilter installs the Sentry's allow-list for o on every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC), with no_new_privs. Threads made later inherit it.
func InstallFilter(o FilterOptions) error {
	f, err := Filter(o)
	if err != nil {
		return err
	}
	prog, err := f.Build()
	if err != nil {
		return fmt.Errorf("the Sentry's seccomp filter: %w", err)
	}
	if err := sf.Install(prog, unix.SECCOMP_FILTER_FLAG_TSYNC); err != nil {
		return fmt.Errorf("installing the Sentry's seccomp filter: %w", err)
	}
	return nil
}

// Values the Go runtime (1.26, linux/amd64) passes.
const (
	// runtimeCloneFlags are a new OS thread's (runtime/os_linux.go's cloneFlags); the
	// runtime adds CLONE_SETTLS when the thread has an M, which it always has.
	runtimeCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_SYSVSEM | unix.CLONE_THREAD
	// prSetVMA and prSetVMAAnonName: the runtime names its anonymous mappings
	// (runtime/set_vma_name_linux.go) whenever it maps or returns heap memory.
	prSetVMA         = 0x53564d41
	prSetVMAAnonName = 0
	// mapDroppable is MAP_DROPPABLE (Linux 6.11), which the vDSO's getrandom asks the
	// runtime to map its state with; mapType is the mask of mmap's mapping type.
	mapDroppable = 0x08
	mapType      = 0x0f
	// futex(2) operations, which x/sys/unix lacks: FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE.
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
	// madvCollapse is MADV_COLLAPSE; madvPopulateWrite is MADV_POPULATE_WRITE.
	madvCollapse      = 25
	madvPopulateWrite = 23
)

// runtimeSyscalls are the Go runtime's, in a process whose PID is pid:
//
//	read, write, close      the poller's eventfd, and every file below
//	mmap                    anonymous and private (or droppable: vDSO getrandom's
//	                        state), never executable: the heap, stacks
//	munmap                  returning memory
//	mprotect                never to executable (PROT_NONE of freed spans, sysFault)
//	madvise                 DONTNEED, FREE, HUGEPAGE, NOHUGEPAGE, COLLAPSE: the scavenger
//	prctl                   PR_SET_VMA_ANON_NAME only: naming heap mappings
//	rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack   signal handling
//	futex                   FUTEX_WAIT_PRIVATE and FUTEX_WAKE_PRIVATE: parking threads
//	nanosleep, sched_yield  usleep, osyield
//	clone                   a new thread, with exactly the runtime's flags
//	exit, exit_group        a thread's end, the process's
//	getpid, gettid          signalling
//	tgkill, kill            to a thread of this process only, any signal: preemption
//	                        (SIGURG), a fatal signal raised again to die of it
//	sched_getaffinity       the CPU count
//	clock_gettime           when the vDSO can't (the CPU-time clocks)
//	getrandom               when the vDSO can't
//	epoll_create1, epoll_ctl, epoll_pwait, eventfd2   the network poller
//	fcntl                   F_GETFL, F_SETFL: non-blocking descriptors
//	restart_syscall         the kernel's own restart of a call with a timeout (nanosleep,
//	                        futex, ppoll) that a signal (preemption) interrupted
func runtimeSyscalls(pid int) map[uintptr][]sf.Rule {
	f := sf.Filter{}
	for _, nr := range []uintptr{
		unix.SYS_READ, unix.SYS_WRITE, unix.SYS_CLOSE, unix.SYS_MUNMAP,
		unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
		unix.SYS_NANOSLEEP, unix.SYS_SCHED_YIELD, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
		unix.SYS_GETPID, unix.SYS_GETTID, unix.SYS_SCHED_GETAFFINITY, unix.SYS_CLOCK_GETTIME,
		unix.SYS_GETRANDOM, unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_PWAIT,
		unix.SYS_EVENTFD2, unix.SYS_RESTART_SYSCALL,
	} {
		f.Add(nr)
	}
	noExec := sf.MaskedEq(unix.PROT_EXEC, 0)
	anon := func(kind uint64) sf.Rule {
		r := sf.Rule{}
		r.Args[2] = noExec
		r.Args[3] = sf.MaskedEq(mapType|unix.MAP_ANONYMOUS, kind|unix.MAP_ANONYMOUS)
		return r
	}
	f.Add(unix.SYS_MMAP, anon(unix.MAP_PRIVATE), anon(mapDroppable))
	f.Add(unix.SYS_MPROTECT, sf.Rule{Args: [6]sf.Match{sf.Any(), sf.Any(), noExec}})
	f.Add(unix.SYS_MADVISE, sf.ArgIn(2, unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_HUGEPAGE,
		unix.MADV_NOHUGEPAGE, madvCollapse)...)
	f.Add(unix.SYS_PRCTL, sf.Rule{Args: [6]sf.Match{sf.Eq(prSetVMA), sf.Eq(prSetVMAAnonName)}})
	f.Add(unix.SYS_FUTEX, sf.ArgIn(1, futexWaitPrivate, futexWakePrivate)...)
	f.Add(unix.SYS_CLONE, sf.ArgIn(0, runtimeCloneFlags|unix.CLONE_SETTLS, runtimeCloneFlags)...)
	own := sf.Rule{}
	own.Args[0] = sf.Eq(uint64(pid))
	f.Add(unix.SYS_TGKILL, own)
	f.Add(unix.SYS_KILL, own)
	f.Add(unix.SYS_FCNTL, sf.ArgIn(1, unix.F_GETFL, unix.F_SETFL)...)
	return f.Syscalls
}

// sentrySyscalls are the Sentry's own:
//
//	pread64, pwrite64, fstat, fsync, fdatasync, fallocate
//	                 files the Gofer donated (read and written by the Sentry directly),
//	                 the memory file (fallocate punches the holes of freed pages)
//	lseek            SEEK_DATA and SEEK_HOLE: which pages of the memory file hold data
//	madvise          MADV_POPULATE_WRITE: prefaulting the memory file's pages
//	fcntl            F_DUPFD_CLOEXEC: a donated file's own descriptor for its page cache
//	sendmsg          MSG_NOSIGNAL only: requests to the Gofer
//	recvmsg          MSG_CMSG_CLOEXEC only: replies, with the files donated
//	shutdown         SHUT_RDWR: closing the Gofer connection
//	ioctl            TCGETS and TIOCGWINSZ: the host stdio's terminal
//	sysinfo          uptime, load and memory for sysinfo(2) and /proc
//	getcpu           the CPU a task's thread runs on, for the application's getcpu(2)
//	waitid           P_PIDFD: waiting for the Gofer, the process's child (or P_PID,
//	wait4            with no options: Go's way on a kernel without pidfds)
//	pidfd_send_signal, kill  SIGKILL only: a Gofer that does not end when its socket
//	                 closes
func sentrySyscalls() map[uintptr][]sf.Rule {
	f := sf.Filter{}
	for _, nr := range []uintptr{
		unix.SYS_PREAD64, unix.SYS_PWRITE64, unix.SYS_FSTAT, unix.SYS_FSYNC, unix.SYS_FDATASYNC,
		unix.SYS_FALLOCATE, unix.SYS_SYSINFO, unix.SYS_GETCPU,
	} {
		f.Add(nr)
	}
	f.Add(unix.SYS_LSEEK, sf.ArgIn(2, unix.SEEK_DATA, unix.SEEK_HOLE)...)
	f.Add(unix.SYS_MADVISE, sf.ArgIn(2, madvPopulateWrite)...)
	f.Add(unix.SYS_FCNTL, sf.ArgIn(1, unix.F_DUPFD_CLOEXEC)...)
	f.Add(unix.SYS_SENDMSG, sf.ArgIn(2, unix.MSG_NOSIGNAL)...)
	f.Add(unix.SYS_RECVMSG, sf.ArgIn(2, unix.MSG_CMSG_CLOEXEC)...)
	f.Add(unix.SYS_SHUTDOWN, sf.ArgIn(1, unix.SHUT_RDWR)...)
	f.Add(unix.SYS_IOCTL, sf.ArgIn(1, unix.TCGETS, unix.TIOCGWINSZ)...)
	f.Add(unix.SYS_WAITID, sf.ArgIn(0, unix.P_PIDFD, unix.P_PID)...)
	f.Add(unix.SYS_WAIT4, sf.ArgIn(2, 0)...)
	f.Add(unix.SYS_PIDFD_SEND_SIGNAL, sf.ArgIn(1, uint64(unix.SIGKILL))...)
	f.Add(unix.SYS_KILL, sf.ArgIn(1, uint64(unix.SIGKILL))...)
	return f.Syscalls
}

// atFDCWD matches AT_FDCWD as the kernel reads a directory descriptor: an int, the low
// 32 bits of the register.
var atFDCWD = sf.MaskedEq(0xffffffff, uint64(0xffffffff&int64(unix.AT_FDCWD)))

// sandboxSyscalls are runsc boot's, once its root is the container's state directory:
//
//	accept4          SOCK_NONBLOCK|SOCK_CLOEXEC: a connection on the control socket
//	getsockname      its local address (Go's net package asks for it)
//	openat           AT_FDCWD, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC only: the exit-status
//	                 file's temporary copy, in the root (the state directory)
//	renameat         AT_FDCWD both sides: the copy renamed over the exit-status file
//	newfstatat       AT_FDCWD: os.Rename's look at the target
//
// Paths resolve from the root and working directory, the state directory, and never
// from a donated directory descriptor (which could reach above the container's root).
func sandboxSyscalls() map[uintptr][]sf.Rule {
	f := sf.Filter{}
	f.Add(unix.SYS_ACCEPT4, sf.Rule{Args: [6]sf.Match{sf.Any(), sf.Any(), sf.Any(), sf.Eq(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)}})
	f.Add(unix.SYS_GETSOCKNAME)
	f.Add(unix.SYS_OPENAT, sf.Rule{Args: [6]sf.Match{atFDCWD, sf.Any(), sf.Eq(unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC)}})
	f.Add(unix.SYS_RENAMEAT, sf.Rule{Args: [6]sf.Match{atFDCWD, sf.Any(), atFDCWD}})
	f.Add(unix.SYS_NEWFSTATAT, sf.Rule{Args: [6]sf.Match{atFDCWD}})
	return f.Syscalls
}

// kvmIOCType is KVMIO, the type byte of every KVM ioctl request (include/uapi/linux/kvm.h).
const kvmIOCType = 0xAE

// kvmSyscalls are what a KVM platform needs beyond the runtime's once the Sentry is
// filtered. It must open /dev/kvm and create its VM before (at New, as the other
// platforms make their templates); after, it creates vCPUs, maps their kvm_run areas,
// runs them and interrupts them:
//
//	ioctl    any request of type KVMIO (0xAE), on any descriptor: the KVM API on the
//	         /dev/kvm, VM and vCPU descriptors (KVM_CREATE_VCPU, KVM_RUN, KVM_GET_REGS,
//	         KVM_SET_USER_MEMORY_REGION, ...); the request's high 32 bits must be zero
//	mmap     shared, never executable: a vCPU's kvm_run area (or a file the guest's
//	         memory is made of)
//
// Interrupting a vCPU is a signal to one of the Sentry's own threads, which the
// runtime's tgkill rule allows; its handler and signal masks are the runtime's too.
// This entry is for the kvm platform being added alongside; the platform package should
// take it over (as ptrace.HostSyscalls) once it exists, and list anything more it needs.
func kvmSyscalls() map[uintptr][]sf.Rule {
	f := sf.Filter{}
	ioctl := sf.Rule{}
	ioctl.Args[1] = sf.MaskedEq(0xffffffff_0000ff00, kvmIOCType<<8)
	f.Add(unix.SYS_IOCTL, ioctl)
	shared := sf.Rule{}
	shared.Args[2] = sf.MaskedEq(unix.PROT_EXEC, 0)
	shared.Args[3] = sf.MaskedEq(mapType, unix.MAP_SHARED)
	f.Add(unix.SYS_MMAP, shared)
	return f.Syscalls
}
