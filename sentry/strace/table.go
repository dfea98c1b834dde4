package strace

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// signatures describes every x86-64 system call this package knows, by
// number. Each entry lists the call's arguments in order, as the kernel
// takes them; a call that is absent (or obsolete, like tuxcall) prints as six
// hexadecimal arguments.
var signatures = [...]signature{
	// Files: open, read, write, stat.
	unix.SYS_OPEN:              args(path, openFlags.arg(), openMode(1)),
	unix.SYS_OPENAT:            args(dirfd, path, openFlags.arg(), openMode(2)),
	unix.SYS_OPENAT2:           args(dirfd, path, openHow, size),
	unix.SYS_CREAT:             args(path, mode),
	unix.SYS_CLOSE:             args(fd),
	unix.SYS_CLOSE_RANGE:       args(unsigned, unsigned, closeRangeFlags.arg()),
	unix.SYS_READ:              args(fd, outBuf, size),
	unix.SYS_WRITE:             args(fd, inBuf, size),
	unix.SYS_PREAD64:           args(fd, outBuf, size, off),
	unix.SYS_PWRITE64:          args(fd, inBuf, size, off),
	unix.SYS_READV:             args(fd, iovOut, num),
	unix.SYS_WRITEV:            args(fd, iovIn, num),
	unix.SYS_PREADV:            args(fd, iovOut, num, off),
	unix.SYS_PWRITEV:           args(fd, iovIn, num, off),
	unix.SYS_PREADV2:           args(fd, iovOut, num, off, skip, rwfFlags.arg()),
	unix.SYS_PWRITEV2:          args(fd, iovIn, num, off, skip, rwfFlags.arg()),
	unix.SYS_LSEEK:             args(fd, off, enum(whence)),
	unix.SYS_STAT:              args(path, out(stat)),
	unix.SYS_FSTAT:             args(fd, out(stat)),
	unix.SYS_LSTAT:             args(path, out(stat)),
	unix.SYS_NEWFSTATAT:        args(dirfd, path, out(stat), atFlags.arg()),
	unix.SYS_STATX:             args(dirfd, path, statxFlags.arg(), statxMask.arg(), out(statx)),
	unix.SYS_STATFS:            args(path, out(statfs)),
	unix.SYS_FSTATFS:           args(fd, out(statfs)),
	unix.SYS_ACCESS:            args(path, accessMode.arg()),
	unix.SYS_FACCESSAT:         args(dirfd, path, accessMode.arg()),
	unix.SYS_FACCESSAT2:        args(dirfd, path, accessMode.arg(), accessAtFlags.arg()),
	unix.SYS_TRUNCATE:          args(path, off),
	unix.SYS_FTRUNCATE:         args(fd, off),
	unix.SYS_FALLOCATE:         args(fd, fallocModes.arg(), off, off),
	unix.SYS_FADVISE64:         args(fd, off, size, enum(fadvice)),
	unix.SYS_READAHEAD:         args(fd, off, size),
	unix.SYS_FSYNC:             args(fd),
	unix.SYS_FDATASYNC:         args(fd),
	unix.SYS_SYNC:              args(),
	unix.SYS_SYNCFS:            args(fd),
	unix.SYS_SYNC_FILE_RANGE:   args(fd, off, off, hex),
	unix.SYS_SENDFILE:          args(fd, fd, longPtr, size),
	unix.SYS_SPLICE:            args(fd, longPtr, fd, longPtr, size, spliceFlags.arg()),
	unix.SYS_TEE:               args(fd, fd, size, spliceFlags.arg()),
	unix.SYS_VMSPLICE:          args(fd, iovIn, size, spliceFlags.arg()),
	unix.SYS_COPY_FILE_RANGE:   args(fd, longPtr, fd, longPtr, size, hex),
	unix.SYS_GETDENTS:          args(fd, dirents, unsigned),
	unix.SYS_GETDENTS64:        args(fd, dirents, unsigned),
	unix.SYS_MEMFD_CREATE:      args(str, mfdFlags.arg()),
	unix.SYS_NAME_TO_HANDLE_AT: args(dirfd, path, ptr, ptr, atFlags.arg()),
	unix.SYS_OPEN_BY_HANDLE_AT: args(fd, ptr, openFlags.arg()),

	// Descriptors.
	unix.SYS_DUP:   args(fd),
	unix.SYS_DUP2:  args(fd, fd),
	unix.SYS_DUP3:  args(fd, fd, pipeFlags.arg()),
	unix.SYS_FCNTL: args(fd, enum(fcntlCmds), fcntlArg).returning(fcntlResult),
	unix.SYS_IOCTL: args(fd, hexEnum(ioctlReqs), ioctlArg),
	unix.SYS_FLOCK: args(fd, flockOps.arg()),
	unix.SYS_PIPE:  args(out(fdPair)),
	unix.SYS_PIPE2: args(out(fdPair), pipeFlags.arg()),

	// Paths and attributes.
	unix.SYS_GETCWD:        args(outString, size),
	unix.SYS_CHDIR:         args(path),
	unix.SYS_FCHDIR:        args(fd),
	unix.SYS_CHROOT:        args(path),
	unix.SYS_PIVOT_ROOT:    args(path, path),
	unix.SYS_RENAME:        args(path, path),
	unix.SYS_RENAMEAT:      args(dirfd, path, dirfd, path),
	unix.SYS_RENAMEAT2:     args(dirfd, path, dirfd, path, renameFlags.arg()),
	unix.SYS_MKDIR:         args(path, mode),
	unix.SYS_MKDIRAT:       args(dirfd, path, mode),
	unix.SYS_MKNOD:         args(path, fileModeArg, dev),
	unix.SYS_MKNODAT:       args(dirfd, path, fileModeArg, dev),
	unix.SYS_RMDIR:         args(path),
	unix.SYS_UNLINK:        args(path),
	unix.SYS_UNLINKAT:      args(dirfd, path, atFlags.arg()),
	unix.SYS_LINK:          args(path, path),
	unix.SYS_LINKAT:        args(dirfd, path, dirfd, path, atFlags.arg()),
	unix.SYS_SYMLINK:       args(path, path),
	unix.SYS_SYMLINKAT:     args(path, dirfd, path),
	unix.SYS_READLINK:      args(path, outBuf, size),
	unix.SYS_READLINKAT:    args(dirfd, path, outBuf, size),
	unix.SYS_CHMOD:         args(path, mode),
	unix.SYS_FCHMOD:        args(fd, mode),
	unix.SYS_FCHMODAT:      args(dirfd, path, mode),
	unix.SYS_FCHMODAT2:     args(dirfd, path, mode, atFlags.arg()),
	unix.SYS_CHOWN:         args(path, num, num),
	unix.SYS_FCHOWN:        args(fd, num, num),
	unix.SYS_LCHOWN:        args(path, num, num),
	unix.SYS_FCHOWNAT:      args(dirfd, path, num, num, atFlags.arg()),
	unix.SYS_UMASK:         args(mode).returning(octalResult),
	unix.SYS_UTIME:         args(path, utimbuf),
	unix.SYS_UTIMES:        args(path, timevals),
	unix.SYS_FUTIMESAT:     args(dirfd, path, timevals),
	unix.SYS_UTIMENSAT:     args(dirfd, path, utimeTimespecs, atFlags.arg()),
	unix.SYS_SETXATTR:      args(path, str, inBuf, size, xattrFlags.arg()),
	unix.SYS_LSETXATTR:     args(path, str, inBuf, size, xattrFlags.arg()),
	unix.SYS_FSETXATTR:     args(fd, str, inBuf, size, xattrFlags.arg()),
	unix.SYS_GETXATTR:      args(path, str, outBuf, size),
	unix.SYS_LGETXATTR:     args(path, str, outBuf, size),
	unix.SYS_FGETXATTR:     args(fd, str, outBuf, size),
	unix.SYS_LISTXATTR:     args(path, outBuf, size),
	unix.SYS_LLISTXATTR:    args(path, outBuf, size),
	unix.SYS_FLISTXATTR:    args(fd, outBuf, size),
	unix.SYS_REMOVEXATTR:   args(path, str),
	unix.SYS_LREMOVEXATTR:  args(path, str),
	unix.SYS_FREMOVEXATTR:  args(fd, str),
	unix.SYS_SETXATTRAT:    args(dirfd, path, atFlags.arg(), str, ptr, size),
	unix.SYS_GETXATTRAT:    args(dirfd, path, atFlags.arg(), str, ptr, size),
	unix.SYS_LISTXATTRAT:   args(dirfd, path, atFlags.arg(), ptr, size),
	unix.SYS_REMOVEXATTRAT: args(dirfd, path, atFlags.arg(), str),
	unix.SYS_FILE_GETATTR:  args(dirfd, path, ptr, size, atFlags.arg()),
	unix.SYS_FILE_SETATTR:  args(dirfd, path, ptr, size, atFlags.arg()),

	// Mounts and file systems.
	unix.SYS_MOUNT:          args(path, path, str, mountFlags.arg64(), str),
	unix.SYS_UMOUNT2:        args(path, umountFlags.arg()),
	unix.SYS_OPEN_TREE:      args(dirfd, path, hex),
	unix.SYS_OPEN_TREE_ATTR: args(dirfd, path, hex, ptr, size),
	unix.SYS_MOVE_MOUNT:     args(dirfd, path, dirfd, path, hex),
	unix.SYS_FSOPEN:         args(str, hex),
	unix.SYS_FSCONFIG:       args(fd, unsigned, str, ptr, num),
	unix.SYS_FSMOUNT:        args(fd, hex, hex),
	unix.SYS_FSPICK:         args(dirfd, path, hex),
	unix.SYS_MOUNT_SETATTR:  args(dirfd, path, atFlags.arg(), ptr, size),
	unix.SYS_STATMOUNT:      args(ptr, ptr, size, hex),
	unix.SYS_LISTMOUNT:      args(ptr, ptr, size, hex),
	unix.SYS_SWAPON:         args(path, hex),
	unix.SYS_SWAPOFF:        args(path),
	unix.SYS_QUOTACTL:       args(hex, path, num, ptr),
	unix.SYS_QUOTACTL_FD:    args(fd, hex, num, ptr),
	unix.SYS_USTAT:          args(hex, ptr),
	unix.SYS_SYSFS:          args(num, hex, hex),
	unix.SYS_ACCT:           args(path),

	// Memory.
	unix.SYS_MMAP:                    args(ptr, size, prot.arg(), mmapFlags.arg(), fd, hex).returning(addrResult),
	unix.SYS_MPROTECT:                args(ptr, size, prot.arg()),
	unix.SYS_PKEY_MPROTECT:           args(ptr, size, prot.arg(), num),
	unix.SYS_MUNMAP:                  args(ptr, size),
	unix.SYS_BRK:                     args(ptr).returning(addrResult),
	unix.SYS_MREMAP:                  args(ptr, size, size, mremapFlags.arg(), mremapNew).returning(addrResult),
	unix.SYS_MSYNC:                   args(ptr, size, msyncFlags.arg()),
	unix.SYS_MINCORE:                 args(ptr, size, ptr),
	unix.SYS_MADVISE:                 args(ptr, size, enum(madvice)),
	unix.SYS_PROCESS_MADVISE:         args(fd, ptr, size, enum(madvice), hex),
	unix.SYS_MLOCK:                   args(ptr, size),
	unix.SYS_MLOCK2:                  args(ptr, size, hex),
	unix.SYS_MUNLOCK:                 args(ptr, size),
	unix.SYS_MLOCKALL:                args(mlockallFlags.arg()),
	unix.SYS_MUNLOCKALL:              args(),
	unix.SYS_REMAP_FILE_PAGES:        args(ptr, size, prot.arg(), size, hex),
	unix.SYS_MBIND:                   args(ptr, size, num, ptr, size, hex),
	unix.SYS_SET_MEMPOLICY:           args(num, ptr, size),
	unix.SYS_GET_MEMPOLICY:           args(ptr, ptr, size, ptr, hex),
	unix.SYS_SET_MEMPOLICY_HOME_NODE: args(ptr, size, size, hex),
	unix.SYS_MIGRATE_PAGES:           args(num, size, ptr, ptr),
	unix.SYS_MOVE_PAGES:              args(num, size, ptr, ptr, ptr, hex),
	unix.SYS_MEMBARRIER:              args(num, hex, num),
	unix.SYS_PKEY_ALLOC:              args(hex, hex),
	unix.SYS_PKEY_FREE:               args(num),
	unix.SYS_MEMFD_SECRET:            args(hex),
	unix.SYS_MSEAL:                   args(ptr, size, hex),
	unix.SYS_MAP_SHADOW_STACK:        args(ptr, size, hex).returning(addrResult),
	unix.SYS_CACHESTAT:               args(fd, ptr, ptr, hex),
	unix.SYS_PROCESS_VM_READV:        args(num, ptr, size, ptr, size, hex),
	unix.SYS_PROCESS_VM_WRITEV:       args(num, ptr, size, ptr, size, hex),
	unix.SYS_USERFAULTFD:             args(pipeFlags.arg()),

	// Processes and threads.
	unix.SYS_CLONE:             args(cloneArg, ptr, ptr, ptr, hex),
	unix.SYS_CLONE3:            args(cloneArgs, size),
	unix.SYS_FORK:              args(),
	unix.SYS_VFORK:             args(),
	unix.SYS_EXECVE:            args(beforeExec(path), beforeExec(argv), beforeExec(envp)),
	unix.SYS_EXECVEAT:          args(dirfd, beforeExec(path), beforeExec(argv), beforeExec(envp), atFlags.arg()),
	unix.SYS_EXIT:              args(num).returning(noReturn),
	unix.SYS_EXIT_GROUP:        args(num).returning(noReturn),
	unix.SYS_WAIT4:             args(num, waitStatus, waitOptions.arg(), out(rusage)),
	unix.SYS_WAITID:            args(enum(idTypes), num, ptr, waitOptions.arg(), out(rusage)),
	unix.SYS_GETPID:            args(),
	unix.SYS_GETPPID:           args(),
	unix.SYS_GETTID:            args(),
	unix.SYS_GETPGRP:           args(),
	unix.SYS_GETPGID:           args(num),
	unix.SYS_SETPGID:           args(num, num),
	unix.SYS_GETSID:            args(num),
	unix.SYS_SETSID:            args(),
	unix.SYS_GETUID:            args(),
	unix.SYS_GETGID:            args(),
	unix.SYS_GETEUID:           args(),
	unix.SYS_GETEGID:           args(),
	unix.SYS_SETUID:            args(num),
	unix.SYS_SETGID:            args(num),
	unix.SYS_SETREUID:          args(num, num),
	unix.SYS_SETREGID:          args(num, num),
	unix.SYS_SETRESUID:         args(num, num, num),
	unix.SYS_SETRESGID:         args(num, num, num),
	unix.SYS_GETRESUID:         args(out(uintPtr), out(uintPtr), out(uintPtr)),
	unix.SYS_GETRESGID:         args(out(uintPtr), out(uintPtr), out(uintPtr)),
	unix.SYS_SETFSUID:          args(num),
	unix.SYS_SETFSGID:          args(num),
	unix.SYS_GETGROUPS:         args(num, gidsOut),
	unix.SYS_SETGROUPS:         args(num, gids),
	unix.SYS_CAPGET:            args(ptr, ptr),
	unix.SYS_CAPSET:            args(ptr, ptr),
	unix.SYS_SET_TID_ADDRESS:   args(ptr),
	unix.SYS_SET_ROBUST_LIST:   args(ptr, size),
	unix.SYS_GET_ROBUST_LIST:   args(num, out(addrPtr), out(sizePtr)),
	unix.SYS_ARCH_PRCTL:        args(hexEnum(archPrctlCodes), archPrctlArg),
	unix.SYS_PRCTL:             args(enum(prctlOptions), prctlArg, prctlRest, prctlRest, prctlRest),
	unix.SYS_SET_THREAD_AREA:   args(ptr),
	unix.SYS_GET_THREAD_AREA:   args(ptr),
	unix.SYS_MODIFY_LDT:        args(num, ptr, size),
	unix.SYS_UNSHARE:           args(cloneFlags.arg()),
	unix.SYS_SETNS:             args(fd, cloneFlags.arg()),
	unix.SYS_PERSONALITY:       args(hex),
	unix.SYS_PTRACE:            args(num, num, ptr, ptr),
	unix.SYS_KCMP:              args(num, num, num, hex, hex),
	unix.SYS_PIDFD_OPEN:        args(num, hex),
	unix.SYS_PIDFD_GETFD:       args(fd, fd, hex),
	unix.SYS_PIDFD_SEND_SIGNAL: args(fd, signal, ptr, hex),
	unix.SYS_PROCESS_MRELEASE:  args(fd, hex),
	unix.SYS_SECCOMP:           args(enum(seccompOps), hex, ptr),
	unix.SYS_RSEQ:              args(ptr, hex, num, hex),
	unix.SYS_RSEQ_SLICE_YIELD:  args(),
	unix.SYS_URETPROBE:         args(),
	unix.SYS_UPROBE:            args(),
	unix.SYS_RESTART_SYSCALL:   args(),

	// Scheduling and limits.
	unix.SYS_SCHED_YIELD:             args(),
	unix.SYS_SCHED_GETAFFINITY:       args(num, unsigned, out(cpuSet)),
	unix.SYS_SCHED_SETAFFINITY:       args(num, unsigned, cpuSet),
	unix.SYS_SCHED_SETPARAM:          args(num, ptr),
	unix.SYS_SCHED_GETPARAM:          args(num, ptr),
	unix.SYS_SCHED_SETSCHEDULER:      args(num, enum(schedPolicies), ptr),
	unix.SYS_SCHED_GETSCHEDULER:      args(num),
	unix.SYS_SCHED_GET_PRIORITY_MAX:  args(enum(schedPolicies)),
	unix.SYS_SCHED_GET_PRIORITY_MIN:  args(enum(schedPolicies)),
	unix.SYS_SCHED_RR_GET_INTERVAL:   args(num, out(timespec)),
	unix.SYS_SCHED_SETATTR:           args(num, ptr, hex),
	unix.SYS_SCHED_GETATTR:           args(num, ptr, unsigned, hex),
	unix.SYS_GETPRIORITY:             args(enum(prioWhich), num),
	unix.SYS_SETPRIORITY:             args(enum(prioWhich), num, num),
	unix.SYS_IOPRIO_SET:              args(num, num, num),
	unix.SYS_IOPRIO_GET:              args(num, num),
	unix.SYS_GETCPU:                  args(out(uintPtr), out(uintPtr), ptr),
	unix.SYS_GETRLIMIT:               args(enum(rlimitResources), out(rlimit("RLIM_INFINITY"))),
	unix.SYS_SETRLIMIT:               args(enum(rlimitResources), rlimit("RLIM_INFINITY")),
	unix.SYS_PRLIMIT64:               args(num, enum(rlimitResources), rlimit("RLIM64_INFINITY"), out(rlimit("RLIM64_INFINITY"))),
	unix.SYS_GETRUSAGE:               args(enum(rusageWho), out(rusage)),
	unix.SYS_TIMES:                   args(out(tms)),
	unix.SYS_SYSINFO:                 args(out(sysinfo)),
	unix.SYS_UNAME:                   args(out(utsname)),
	unix.SYS_SETHOSTNAME:             args(inBuf, size),
	unix.SYS_SETDOMAINNAME:           args(inBuf, size),
	unix.SYS_GETRANDOM:               args(outBuf, size, grndFlags.arg()),
	unix.SYS_SYSLOG:                  args(num, ptr, num),
	unix.SYS_REBOOT:                  args(hex, hex, hex, ptr),
	unix.SYS_IOPL:                    args(num),
	unix.SYS_IOPERM:                  args(hex, hex, num),
	unix.SYS__SYSCTL:                 args(ptr),
	unix.SYS_INIT_MODULE:             args(ptr, size, str),
	unix.SYS_FINIT_MODULE:            args(fd, str, hex),
	unix.SYS_DELETE_MODULE:           args(str, hex),
	unix.SYS_KEXEC_LOAD:              args(hex, size, ptr, hex),
	unix.SYS_KEXEC_FILE_LOAD:         args(fd, fd, size, str, hex),
	unix.SYS_BPF:                     args(num, ptr, unsigned),
	unix.SYS_PERF_EVENT_OPEN:         args(ptr, num, num, fd, hex),
	unix.SYS_ADD_KEY:                 args(str, str, ptr, size, num),
	unix.SYS_REQUEST_KEY:             args(str, str, str, num),
	unix.SYS_KEYCTL:                  args(num, hex, hex, hex, hex),
	unix.SYS_LANDLOCK_CREATE_RULESET: args(ptr, size, hex),
	unix.SYS_LANDLOCK_ADD_RULE:       args(fd, num, ptr, hex),
	unix.SYS_LANDLOCK_RESTRICT_SELF:  args(fd, hex),
	unix.SYS_LSM_GET_SELF_ATTR:       args(unsigned, ptr, ptr, hex),
	unix.SYS_LSM_SET_SELF_ATTR:       args(unsigned, ptr, size, hex),
	unix.SYS_LSM_LIST_MODULES:        args(ptr, ptr, hex),
	unix.SYS_LISTNS:                  args(ptr, ptr, size, hex),
	unix.SYS_VHANGUP:                 args(),

	// Signals.
	unix.SYS_RT_SIGACTION:      args(signal, sigaction, out(sigaction), size),
	unix.SYS_RT_SIGPROCMASK:    args(enum(sigHow), sigset, out(sigset), size),
	unix.SYS_RT_SIGRETURN:      args(),
	unix.SYS_RT_SIGPENDING:     args(out(sigset), size),
	unix.SYS_RT_SIGTIMEDWAIT:   args(sigset, ptr, timespec, size),
	unix.SYS_RT_SIGQUEUEINFO:   args(num, signal, ptr),
	unix.SYS_RT_TGSIGQUEUEINFO: args(num, num, signal, ptr),
	unix.SYS_RT_SIGSUSPEND:     args(sigset, size),
	unix.SYS_SIGALTSTACK:       args(stackT, out(stackT)),
	unix.SYS_KILL:              args(num, signal),
	unix.SYS_TKILL:             args(num, signal),
	unix.SYS_TGKILL:            args(num, num, signal),
	unix.SYS_PAUSE:             args(),
	unix.SYS_SIGNALFD:          args(fd, sigset, size),
	unix.SYS_SIGNALFD4:         args(fd, sigset, size, sfdFlags.arg()),

	// Time.
	unix.SYS_NANOSLEEP:        args(timespec, ptr),
	unix.SYS_CLOCK_NANOSLEEP:  args(enum(clockIDs), timerFlags.arg(), timespec, ptr),
	unix.SYS_CLOCK_GETTIME:    args(enum(clockIDs), out(timespec)),
	unix.SYS_CLOCK_SETTIME:    args(enum(clockIDs), timespec),
	unix.SYS_CLOCK_GETRES:     args(enum(clockIDs), out(timespec)),
	unix.SYS_CLOCK_ADJTIME:    args(enum(clockIDs), ptr),
	unix.SYS_GETTIMEOFDAY:     args(out(timeval), out(timezone)),
	unix.SYS_SETTIMEOFDAY:     args(timeval, timezone),
	unix.SYS_ADJTIMEX:         args(ptr),
	unix.SYS_TIME:             args(out(longPtr)),
	unix.SYS_ALARM:            args(unsigned),
	unix.SYS_GETITIMER:        args(enum(itimerWhich), out(itimerval)),
	unix.SYS_SETITIMER:        args(enum(itimerWhich), itimerval, out(itimerval)),
	unix.SYS_TIMER_CREATE:     args(enum(clockIDs), ptr, out(intPtr)),
	unix.SYS_TIMER_SETTIME:    args(num, timerFlags.arg(), itimerspec, out(itimerspec)),
	unix.SYS_TIMER_GETTIME:    args(num, out(itimerspec)),
	unix.SYS_TIMER_GETOVERRUN: args(num),
	unix.SYS_TIMER_DELETE:     args(num),
	unix.SYS_TIMERFD_CREATE:   args(enum(clockIDs), tfdFlags.arg()),
	unix.SYS_TIMERFD_SETTIME:  args(fd, tfdTimerFlags.arg(), itimerspec, out(itimerspec)),
	unix.SYS_TIMERFD_GETTIME:  args(fd, out(itimerspec)),

	// Futexes.
	unix.SYS_FUTEX:         args(ptr, futexOp, futexVal, futexTimeout, futexUaddr2, futexVal3),
	unix.SYS_FUTEX_WAITV:   args(ptr, unsigned, hex, timespec, enum(clockIDs)),
	unix.SYS_FUTEX_WAKE:    args(ptr, hex, num, hex),
	unix.SYS_FUTEX_WAIT:    args(ptr, hex, hex, hex, timespec, enum(clockIDs)),
	unix.SYS_FUTEX_REQUEUE: args(ptr, hex, num, num),

	// Polling and event descriptors.
	unix.SYS_POLL:              args(pollfds, unsigned, num).returning(pollResult),
	unix.SYS_PPOLL:             args(pollfds, unsigned, timespec, sigset, size).returning(pollResult),
	unix.SYS_SELECT:            args(num, fdSet, fdSet, fdSet, timeval).returning(selectResult),
	unix.SYS_PSELECT6:          args(num, fdSet, fdSet, fdSet, timespec, pselectSigmask).returning(selectResult),
	unix.SYS_EPOLL_CREATE:      args(num),
	unix.SYS_EPOLL_CREATE1:     args(epollCreateFlags.arg()),
	unix.SYS_EPOLL_CTL:         args(fd, enum(epollOps), fd, epollEvent),
	unix.SYS_EPOLL_WAIT:        args(fd, epollEventsOut, num, num),
	unix.SYS_EPOLL_PWAIT:       args(fd, epollEventsOut, num, num, sigset, size),
	unix.SYS_EPOLL_PWAIT2:      args(fd, epollEventsOut, num, timespec, sigset, size),
	unix.SYS_EVENTFD:           args(unsigned),
	unix.SYS_EVENTFD2:          args(unsigned, efdFlags.arg()),
	unix.SYS_INOTIFY_INIT:      args(),
	unix.SYS_INOTIFY_INIT1:     args(inotifyInitFlags.arg()),
	unix.SYS_INOTIFY_ADD_WATCH: args(fd, path, inotifyMask.arg()),
	unix.SYS_INOTIFY_RM_WATCH:  args(fd, num),
	unix.SYS_FANOTIFY_INIT:     args(hex, hex),
	unix.SYS_FANOTIFY_MARK:     args(fd, hex, hex, dirfd, path),

	// Asynchronous I/O.
	unix.SYS_IO_SETUP:          args(unsigned, ptr),
	unix.SYS_IO_DESTROY:        args(hex),
	unix.SYS_IO_GETEVENTS:      args(hex, long, long, ptr, timespec),
	unix.SYS_IO_PGETEVENTS:     args(hex, long, long, ptr, timespec, ptr),
	unix.SYS_IO_SUBMIT:         args(hex, long, ptr),
	unix.SYS_IO_CANCEL:         args(hex, ptr, ptr),
	unix.SYS_IO_URING_SETUP:    args(unsigned, ptr),
	unix.SYS_IO_URING_ENTER:    args(fd, unsigned, unsigned, hex, ptr, size),
	unix.SYS_IO_URING_REGISTER: args(fd, unsigned, ptr, unsigned),

	// Sockets.
	unix.SYS_SOCKET:      args(enum(socketDomains), socketTypes.arg(), sockProtocol),
	unix.SYS_SOCKETPAIR:  args(enum(socketDomains), socketTypes.arg(), sockProtocol, out(fdPair)),
	unix.SYS_CONNECT:     args(fd, sockaddrIn(2), unsigned),
	unix.SYS_BIND:        args(fd, sockaddrIn(2), unsigned),
	unix.SYS_LISTEN:      args(fd, num),
	unix.SYS_ACCEPT:      args(fd, sockaddrOut(2), intPtr),
	unix.SYS_ACCEPT4:     args(fd, sockaddrOut(2), intPtr, sockFlags.arg()),
	unix.SYS_GETSOCKNAME: args(fd, sockaddrOut(2), intPtr),
	unix.SYS_GETPEERNAME: args(fd, sockaddrOut(2), intPtr),
	unix.SYS_SENDTO:      args(fd, inBuf, size, msgFlags.arg(), sockaddrIn(5), unsigned),
	unix.SYS_RECVFROM:    args(fd, outBuf, size, msgFlags.arg(), sockaddrOut(5), intPtr),
	unix.SYS_SENDMSG:     args(fd, msgIn, msgFlags.arg()),
	unix.SYS_RECVMSG:     args(fd, msgOut, msgFlags.arg()),
	unix.SYS_SENDMMSG:    args(fd, ptr, unsigned, msgFlags.arg()),
	unix.SYS_RECVMMSG:    args(fd, ptr, unsigned, msgFlags.arg(), timespec),
	unix.SYS_SHUTDOWN:    args(fd, enum(shutdownHow)),
	unix.SYS_SETSOCKOPT:  args(fd, enum(sockLevels), sockOpt, optvalIn, unsigned),
	unix.SYS_GETSOCKOPT:  args(fd, enum(sockLevels), sockOpt, optvalOut, intPtr),

	// System V IPC and message queues.
	unix.SYS_SHMGET:          args(hex, size, hex),
	unix.SYS_SHMAT:           args(num, ptr, hex).returning(addrResult),
	unix.SYS_SHMCTL:          args(num, num, ptr),
	unix.SYS_SHMDT:           args(ptr),
	unix.SYS_SEMGET:          args(hex, num, hex),
	unix.SYS_SEMOP:           args(num, ptr, unsigned),
	unix.SYS_SEMTIMEDOP:      args(num, ptr, unsigned, timespec),
	unix.SYS_SEMCTL:          args(num, num, num, hex),
	unix.SYS_MSGGET:          args(hex, hex),
	unix.SYS_MSGSND:          args(num, ptr, size, hex),
	unix.SYS_MSGRCV:          args(num, ptr, size, long, hex),
	unix.SYS_MSGCTL:          args(num, num, ptr),
	unix.SYS_MQ_OPEN:         args(str, openFlags.arg(), openMode(1), ptr),
	unix.SYS_MQ_UNLINK:       args(str),
	unix.SYS_MQ_TIMEDSEND:    args(fd, inBuf, size, unsigned, timespec),
	unix.SYS_MQ_TIMEDRECEIVE: args(fd, outBuf, size, ptr, timespec),
	unix.SYS_MQ_NOTIFY:       args(fd, ptr),
	unix.SYS_MQ_GETSETATTR:   args(fd, ptr, ptr),
	unix.SYS_LOOKUP_DCOOKIE:  args(hex, ptr, size),
}

// Arguments whose meaning depends on another one.

// openMode is open's mode, printed only when the flags in argument flagsArg
// create a file.
func openMode(flagsArg int) arg {
	return func(c *call, i int) string {
		f := uint64(c.args[flagsArg])
		if f&unix.O_CREAT == 0 && f&unix.O_TMPFILE != unix.O_TMPFILE {
			return ""
		}
		return mode(c, i)
	}
}

// fileModeArg is mknod's mode, with the file type.
func fileModeArg(c *call, i int) string { return fileMode(uint32(c.args[i])) }

// dev is a device number.
func dev(c *call, i int) string { return makedev(uint64(c.args[i])) }

// mremapNew is mremap's new address, used only with MREMAP_FIXED.
func mremapNew(c *call, i int) string {
	if c.args[3]&unix.MREMAP_FIXED == 0 {
		return ""
	}
	return ptr(c, i)
}

// cloneArg is clone's flags word, exit signal included.
func cloneArg(c *call, i int) string { return cloneWithSignal(uint64(c.args[i])) }

// fcntlArg is fcntl's third argument, as its command reads it.
func fcntlArg(c *call, i int) string {
	v := uint64(uint32(c.args[i]))
	switch uint32(c.args[1]) {
	case unix.F_GETFD, unix.F_GETFL, unix.F_GETOWN, unix.F_GETSIG, unix.F_GETLEASE,
		unix.F_GETPIPE_SZ, unix.F_GET_SEALS:
		return ""
	case unix.F_SETFD:
		return fdFlags.format(v)
	case unix.F_SETFL:
		return openFlags.format(v)
	case unix.F_SETLK, unix.F_SETLKW, unix.F_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW, unix.F_OFD_GETLK:
		return flock(c, i)
	case unix.F_SETLEASE:
		return leaseTypes.format(v)
	case unix.F_ADD_SEALS:
		return seals.format(v)
	case unix.F_SETSIG:
		return signal(c, i)
	case unix.F_NOTIFY:
		return hexC(v)
	case unix.F_GETOWN_EX, unix.F_SETOWN_EX:
		return ptr(c, i)
	}
	return num(c, i) // F_DUPFD, F_DUPFD_CLOEXEC, F_SETOWN, F_SETPIPE_SZ.
}

// fcntlResult decodes the flags F_GETFD, F_GETFL and F_GET_SEALS return, as
// strace: 0x8002 (flags O_RDWR|O_LARGEFILE).
func fcntlResult(c *call) string {
	v := uint64(c.ret)
	switch uint32(c.args[1]) {
	case unix.F_GETFD:
		if v != 0 {
			return hexC(v) + " (flags " + fdFlags.format(v) + ")"
		}
	case unix.F_GETFL:
		return hexC(v) + " (flags " + openFlags.format(v) + ")"
	case unix.F_GET_SEALS:
		return hexC(v) + " (seals " + seals.format(v) + ")"
	case unix.F_GETLEASE:
		return lockTypes.format(v)
	}
	return strconv.FormatInt(int64(c.ret), 10)
}

// ioctlArg is ioctl's third argument, decoded for the requests whose
// argument is known.
func ioctlArg(c *call, i int) string {
	switch uint32(c.args[1]) {
	case unix.TIOCGWINSZ:
		return out(winsize)(c, i)
	case unix.TIOCSWINSZ:
		return winsize(c, i)
	case fionread, unix.TIOCOUTQ, unix.TIOCGPGRP, unix.TIOCGSID, unix.TIOCGPTN,
		unix.TIOCGPTLCK, unix.TIOCGETD, unix.TIOCMGET:
		return out(intPtr)(c, i)
	case unix.TIOCSPGRP, fionbio, fioasync, unix.TIOCSPTLCK, unix.TIOCSETD, unix.TIOCMSET:
		return intPtr(c, i)
	case fioclex, fionclex, unix.TIOCNOTTY, unix.TIOCEXCL, unix.TIOCNXCL,
		unix.TIOCSBRK, unix.TIOCCBRK, unix.TIOCCONS:
		return ""
	case unix.TIOCSCTTY, unix.TCSBRK, unix.TCXONC, unix.TCFLSH:
		return num(c, i)
	case unix.TIOCGPTPEER:
		return openFlags.format(uint64(uint32(c.args[i])))
	}
	return ptr(c, i)
}

// archPrctlArg is arch_prctl's address: where ARCH_GET_FS stores the base,
// or the base ARCH_SET_FS sets.
func archPrctlArg(c *call, i int) string {
	switch c.args[0] {
	case archGetFS, archGetGS:
		return out(addrPtr)(c, i)
	case archGetCPUID, archSetCPUID:
		return num(c, i)
	}
	return ptr(c, i)
}

// prctlArg is prctl's second argument, as the option reads it.
func prctlArg(c *call, i int) string {
	switch c.args[0] {
	case unix.PR_SET_NAME:
		return str(c, i)
	case unix.PR_GET_NAME:
		return outString(c, i)
	case unix.PR_SET_PDEATHSIG:
		return signal(c, i)
	case unix.PR_GET_PDEATHSIG:
		return out(intPtr)(c, i)
	case unix.PR_GET_DUMPABLE, unix.PR_GET_KEEPCAPS, unix.PR_GET_SECCOMP, unix.PR_GET_SECUREBITS,
		unix.PR_GET_NO_NEW_PRIVS, unix.PR_GET_TIMERSLACK, unix.PR_GET_THP_DISABLE:
		return ""
	case unix.PR_SET_DUMPABLE, unix.PR_SET_KEEPCAPS, unix.PR_SET_NO_NEW_PRIVS, unix.PR_CAPBSET_READ,
		unix.PR_CAPBSET_DROP, unix.PR_SET_CHILD_SUBREAPER, unix.PR_SET_THP_DISABLE, unix.PR_SET_TIMERSLACK:
		return long(c, i)
	}
	return hex(c, i)
}

// prctlRest are prctl's last three arguments, left out for the options that
// take one argument or none.
func prctlRest(c *call, i int) string {
	switch c.args[0] {
	case unix.PR_SET_NAME, unix.PR_GET_NAME, unix.PR_SET_PDEATHSIG, unix.PR_GET_PDEATHSIG,
		unix.PR_GET_DUMPABLE, unix.PR_SET_DUMPABLE, unix.PR_GET_KEEPCAPS, unix.PR_SET_KEEPCAPS,
		unix.PR_GET_SECCOMP, unix.PR_GET_SECUREBITS, unix.PR_GET_NO_NEW_PRIVS, unix.PR_GET_TIMERSLACK,
		unix.PR_SET_TIMERSLACK, unix.PR_CAPBSET_READ, unix.PR_CAPBSET_DROP, unix.PR_SET_CHILD_SUBREAPER,
		unix.PR_GET_CHILD_SUBREAPER, unix.PR_GET_THP_DISABLE, unix.PR_GET_TID_ADDRESS:
		return ""
	}
	return hex(c, i)
}

// sockProtocol is socket's protocol, named within its domain.
func sockProtocol(c *call, i int) string {
	switch c.args[0] {
	case unix.AF_INET, unix.AF_INET6:
		return enum(ipProtocols)(c, i)
	case unix.AF_NETLINK:
		return enum(netlinkProtocols)(c, i)
	}
	return num(c, i)
}

// sockOpt is a socket option name, named within its level.
func sockOpt(c *call, i int) string {
	if n, ok := sockOptions[uint64(uint32(c.args[1]))]; ok {
		return enum(n)(c, i)
	}
	return num(c, i)
}

// optvalText formats an option value of n bytes: [1] for an int.
func (c *call) optvalText(addr uintptr, n uint64) string {
	if addr == 0 {
		return "NULL"
	}
	if n == 4 {
		if b, ok := c.read(addr, 4); ok {
			return "[" + itoa(le(b).i32(0)) + "]"
		}
		return pointer(addr)
	}
	return c.buffer(addr, n)
}

// optvalIn is setsockopt's value, of the length its last argument gives.
func optvalIn(c *call, i int) string {
	return c.optvalText(c.args[i], uint64(uint32(c.args[4])))
}

// optvalOut is getsockopt's value, of the length it stores at its last
// argument.
var optvalOut = out(func(c *call, i int) string {
	b, ok := c.read(c.args[4], 4)
	if !ok {
		return pointer(c.args[i])
	}
	return c.optvalText(c.args[i], uint64(le(b).u32(0)))
})

// Futex arguments: which ones futex reads, and how, depends on the operation
// (kernel/futex/syscalls.c:do_futex); strace prints only those.

// futexCmd returns the operation without FUTEX_PRIVATE_FLAG and
// FUTEX_CLOCK_REALTIME.
func futexCmd(c *call) uint64 {
	return uint64(uint32(c.args[1])) &^ (futexPrivateFlag | futexClockRealtime)
}

// futexOp formats the operation: FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME.
func futexOp(c *call, i int) string {
	op := uint64(uint32(c.args[i]))
	cmd := futexCmd(c)
	s, ok := futexCmds.lookup(cmd)
	if !ok {
		return hexC(op)
	}
	if op&futexPrivateFlag != 0 {
		s += "_PRIVATE"
	}
	if op&futexClockRealtime != 0 {
		s += "|FUTEX_CLOCK_REALTIME"
	}
	return s
}

// futexKnown reports whether the operation is one futexCmds names.
func futexKnown(c *call) bool {
	_, ok := futexCmds.lookup(futexCmd(c))
	return ok
}

func futexVal(c *call, i int) string {
	switch futexCmd(c) {
	case futexLockPI, futexLockPI2, futexUnlockPI, futexTrylockPI:
		return ""
	}
	return unsigned(c, i)
}

func futexTimeout(c *call, i int) string {
	if !futexKnown(c) {
		return hex(c, i)
	}
	switch futexCmd(c) {
	case futexWait, futexLockPI, futexLockPI2, futexWaitBitset, futexWaitRequeuePI:
		return timespec(c, i)
	case futexRequeue, futexCmpRequeue, futexCmpRequeuePI, futexWakeOp:
		return unsigned(c, i) // val2
	}
	return ""
}

func futexUaddr2(c *call, i int) string {
	if !futexKnown(c) {
		return ptr(c, i)
	}
	switch futexCmd(c) {
	case futexRequeue, futexCmpRequeue, futexCmpRequeuePI, futexWakeOp,
		futexWaitRequeuePI:
		return ptr(c, i)
	}
	return ""
}

func futexVal3(c *call, i int) string {
	if !futexKnown(c) {
		return hex(c, i)
	}
	switch futexCmd(c) {
	case futexWaitBitset, futexWakeBitset:
		if uint32(c.args[i]) == futexBitsetMatchAny {
			return "FUTEX_BITSET_MATCH_ANY"
		}
		return hexC(uint64(uint32(c.args[i])))
	case futexCmpRequeue, futexCmpRequeuePI:
		return unsigned(c, i)
	case futexWakeOp:
		return hexC(uint64(uint32(c.args[i])))
	}
	return ""
}

// Results.

// addrResult prints an address: mmap's, brk's.
func addrResult(c *call) string { return hexC(uint64(c.ret)) }

// octalResult prints a mode: umask's.
func octalResult(c *call) string { return octal(uint64(c.ret)) }

// noReturn is the result of exit and exit_group, which do not return.
func noReturn(*call) string { return "?" }
