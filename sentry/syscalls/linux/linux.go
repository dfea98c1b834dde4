// Package linux implements Linux's x86-64 system calls on the Sentry, one family per
// file (sys_mmap.go, sys_read_write.go, …). A handler decodes its arguments, checks them
// in the order Linux does (so the same bad call gets the same errno), and calls into
// the subsystem that owns the state: the task's memory manager, FD table or the kernel.
// Handlers keep no state of their own.
//
// Table is the x86-64 table the kernel dispatches through; a number missing from it
// returns ENOSYS and is logged once by name. A call that is implemented for some
// arguments only (paths, before the VFS exists) logs the unsupported use the same way.
package linux

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Table returns the system call table.
func Table() *kernel.SyscallTable {
	t := &kernel.SyscallTable{Table: map[uintptr]kernel.Syscall{}}
	for nr, fn := range map[uintptr]kernel.SyscallFn{
		// Files: sys_open.go, sys_read_write.go, sys_stat.go, sys_fd.go, sys_getdents.go,
		// sys_path.go, sys_attr.go.
		unix.SYS_OPEN:         Open,
		unix.SYS_OPENAT:       Openat,
		unix.SYS_OPENAT2:      Openat2,
		unix.SYS_CREAT:        Creat,
		unix.SYS_CLOSE:        Close,
		unix.SYS_CLOSE_RANGE:  CloseRange,
		unix.SYS_READ:         Read,
		unix.SYS_WRITE:        Write,
		unix.SYS_READV:        Readv,
		unix.SYS_WRITEV:       Writev,
		unix.SYS_PREAD64:      Pread64,
		unix.SYS_PWRITE64:     Pwrite64,
		unix.SYS_PREADV:       Preadv,
		unix.SYS_PWRITEV:      Pwritev,
		unix.SYS_LSEEK:        Lseek,
		unix.SYS_STAT:         Stat,
		unix.SYS_LSTAT:        Lstat,
		unix.SYS_FSTAT:        Fstat,
		unix.SYS_NEWFSTATAT:   Newfstatat,
		unix.SYS_STATX:        Statx,
		unix.SYS_DUP:          Dup,
		unix.SYS_DUP2:         Dup2,
		unix.SYS_DUP3:         Dup3,
		unix.SYS_FCNTL:        Fcntl,
		unix.SYS_IOCTL:        Ioctl,
		unix.SYS_GETDENTS64:   Getdents64,
		unix.SYS_MKDIR:        Mkdir,
		unix.SYS_MKDIRAT:      Mkdirat,
		unix.SYS_MKNOD:        Mknod,
		unix.SYS_MKNODAT:      Mknodat,
		unix.SYS_UNLINK:       Unlink,
		unix.SYS_UNLINKAT:     Unlinkat,
		unix.SYS_RMDIR:        Rmdir,
		unix.SYS_SYMLINK:      Symlink,
		unix.SYS_SYMLINKAT:    Symlinkat,
		unix.SYS_LINK:         Link,
		unix.SYS_LINKAT:       Linkat,
		unix.SYS_RENAME:       Rename,
		unix.SYS_RENAMEAT:     Renameat,
		unix.SYS_RENAMEAT2:    Renameat2,
		unix.SYS_READLINK:     Readlink,
		unix.SYS_READLINKAT:   Readlinkat,
		unix.SYS_CHMOD:        Chmod,
		unix.SYS_FCHMOD:       Fchmod,
		unix.SYS_FCHMODAT:     Fchmodat,
		unix.SYS_CHOWN:        Chown,
		unix.SYS_LCHOWN:       Lchown,
		unix.SYS_FCHOWN:       Fchown,
		unix.SYS_FCHOWNAT:     Fchownat,
		unix.SYS_TRUNCATE:     Truncate,
		unix.SYS_FTRUNCATE:    Ftruncate,
		unix.SYS_UTIMENSAT:    Utimensat,
		unix.SYS_ACCESS:       Access,
		unix.SYS_FACCESSAT:    Faccessat,
		unix.SYS_FACCESSAT2:   Faccessat2,
		unix.SYS_UMASK:        Umask,
		unix.SYS_STATFS:       Statfs,
		unix.SYS_GETXATTR:     Getxattr,
		unix.SYS_SETXATTR:     Getxattr,
		unix.SYS_LISTXATTR:    Getxattr,
		unix.SYS_REMOVEXATTR:  Getxattr,
		unix.SYS_LGETXATTR:    Lgetxattr,
		unix.SYS_LSETXATTR:    Lgetxattr,
		unix.SYS_LLISTXATTR:   Lgetxattr,
		unix.SYS_LREMOVEXATTR: Lgetxattr,
		unix.SYS_FGETXATTR:    Fgetxattr,
		unix.SYS_FSETXATTR:    Fgetxattr,
		unix.SYS_FLISTXATTR:   Fgetxattr,
		unix.SYS_FREMOVEXATTR: Fgetxattr,
		unix.SYS_FSTATFS:      Fstatfs,
		unix.SYS_FADVISE64:    Fadvise64,
		unix.SYS_FSYNC:        Fsync,
		unix.SYS_FDATASYNC:    Fsync,
		unix.SYS_SYNCFS:       Syncfs,
		unix.SYS_SYNC:         Sync,
		unix.SYS_FALLOCATE:    Fallocate,
		unix.SYS_GETCWD:       Getcwd,
		unix.SYS_CHDIR:        Chdir,
		unix.SYS_FCHDIR:       Fchdir,
		// Memory: sys_mmap.go.
		unix.SYS_BRK:      Brk,
		unix.SYS_MMAP:     Mmap,
		unix.SYS_MUNMAP:   Munmap,
		unix.SYS_MPROTECT: Mprotect,
		unix.SYS_MREMAP:   Mremap,
		unix.SYS_MADVISE:  Madvise,
		unix.SYS_MSYNC:    Msync,
		unix.SYS_MINCORE:  Mincore,
		// SysV IPC: sys_shm.go, sys_sem.go, sys_msg.go.
		unix.SYS_SHMGET:     Shmget,
		unix.SYS_SHMAT:      Shmat,
		unix.SYS_SHMDT:      Shmdt,
		unix.SYS_SHMCTL:     Shmctl,
		unix.SYS_SEMGET:     Semget,
		unix.SYS_SEMOP:      Semop,
		unix.SYS_SEMTIMEDOP: Semtimedop,
		unix.SYS_SEMCTL:     Semctl,
		unix.SYS_MSGGET:     Msgget,
		unix.SYS_MSGSND:     Msgsnd,
		unix.SYS_MSGRCV:     Msgrcv,
		unix.SYS_MSGCTL:     Msgctl,
		// Tasks and the rest: sys_thread.go, sys_uname.go, sys_rlimit.go, sys_random.go,
		// sys_time.go.
		unix.SYS_EXECVE:            Execve,
		unix.SYS_EXECVEAT:          Execveat,
		unix.SYS_FUTEX:             Futex,
		unix.SYS_SCHED_GETAFFINITY: SchedGetaffinity,
		unix.SYS_SCHED_SETAFFINITY: SchedSetaffinity,
		unix.SYS_SCHED_YIELD:       SchedYield,
		unix.SYS_SYSINFO:           Sysinfo,
		unix.SYS_EXIT:              Exit,
		unix.SYS_EXIT_GROUP:        ExitGroup,
		unix.SYS_ARCH_PRCTL:        ArchPrctl,
		unix.SYS_SET_TID_ADDRESS:   SetTidAddress,
		unix.SYS_SET_ROBUST_LIST:   SetRobustList,
		unix.SYS_GET_ROBUST_LIST:   GetRobustList,
		unix.SYS_GETPID:            Getpid,
		unix.SYS_GETTID:            Gettid,
		unix.SYS_GETPPID:           Getppid,
		unix.SYS_GETPGID:           Getpgid,
		unix.SYS_WAITID:            Waitid,
		unix.SYS_GETPGRP:           Getpgrp,
		unix.SYS_SETPGID:           Setpgid,
		unix.SYS_GETSID:            Getsid,
		unix.SYS_SETSID:            Setsid,
		unix.SYS_GETUID:            Getuid,
		unix.SYS_GETEUID:           Geteuid,
		unix.SYS_GETGID:            Getgid,
		unix.SYS_GETEGID:           Getegid,
		unix.SYS_GETGROUPS:         Getgroups,
		unix.SYS_SETGROUPS:         Setgroups,
		unix.SYS_SETUID:            Setuid,
		unix.SYS_SETGID:            Setgid,
		unix.SYS_SETREUID:          Setreuid,
		unix.SYS_SETREGID:          Setregid,
		unix.SYS_SETRESUID:         Setresuid,
		unix.SYS_SETRESGID:         Setresgid,
		unix.SYS_GETRESUID:         Getresuid,
		unix.SYS_GETRESGID:         Getresgid,
		unix.SYS_SETFSUID:          Setfsuid,
		unix.SYS_SETFSGID:          Setfsgid,
		unix.SYS_CAPGET:            Capget,
		unix.SYS_CAPSET:            Capset,
		unix.SYS_PRCTL:             Prctl,
		unix.SYS_FORK:              Fork,
		unix.SYS_VFORK:             Vfork,
		unix.SYS_CLONE:             Clone,
		unix.SYS_CLONE3:            Clone3,
		unix.SYS_WAIT4:             Wait4,
		unix.SYS_PIPE:              Pipe,
		unix.SYS_PIPE2:             Pipe2,
		unix.SYS_EPOLL_CREATE1:     EpollCreate1,
		unix.SYS_EPOLL_CREATE:      EpollCreate,
		unix.SYS_EPOLL_CTL:         EpollCtl,
		unix.SYS_EPOLL_WAIT:        EpollWait,
		unix.SYS_EPOLL_PWAIT:       EpollPwait,
		unix.SYS_EVENTFD2:          Eventfd2,
		unix.SYS_EVENTFD:           Eventfd,
		unix.SYS_TIMERFD_CREATE:    TimerfdCreate,
		unix.SYS_TIMERFD_SETTIME:   TimerfdSettime,
		unix.SYS_TIMERFD_GETTIME:   TimerfdGettime,
		unix.SYS_SIGNALFD:          Signalfd,
		unix.SYS_SIGNALFD4:         Signalfd4,
		unix.SYS_MEMFD_CREATE:      MemfdCreate,
		unix.SYS_TIMER_CREATE:      TimerCreate,
		unix.SYS_TIMER_SETTIME:     TimerSettime,
		unix.SYS_TIMER_GETTIME:     TimerGettime,
		unix.SYS_TIMER_GETOVERRUN:  TimerGetoverrun,
		unix.SYS_TIMER_DELETE:      TimerDelete,
		unix.SYS_FLOCK:             Flock,
		unix.SYS_SPLICE:            Splice,
		unix.SYS_TEE:               Tee,
		unix.SYS_SENDFILE:          Sendfile,
		unix.SYS_COPY_FILE_RANGE:   CopyFileRange,
		unix.SYS_POLL:              Poll,
		unix.SYS_PPOLL:             Ppoll,
		unix.SYS_SELECT:            Select,
		unix.SYS_PSELECT6:          Pselect6,
		unix.SYS_KILL:              Kill,
		unix.SYS_TKILL:             Tkill,
		unix.SYS_TGKILL:            Tgkill,
		unix.SYS_NANOSLEEP:         Nanosleep,
		unix.SYS_CLOCK_NANOSLEEP:   ClockNanosleep,
		unix.SYS_RT_SIGACTION:      RtSigaction,
		unix.SYS_RT_SIGPROCMASK:    RtSigprocmask,
		unix.SYS_RT_SIGRETURN:      RtSigreturn,
		unix.SYS_RT_SIGSUSPEND:     RtSigsuspend,
		unix.SYS_PAUSE:             Pause,
		unix.SYS_SIGALTSTACK:       Sigaltstack,
		unix.SYS_RT_SIGPENDING:     RtSigpending,
		unix.SYS_ALARM:             Alarm,
		unix.SYS_SETITIMER:         Setitimer,
		unix.SYS_GETITIMER:         Getitimer,
		unix.SYS_UNAME:             Uname,
		unix.SYS_PRLIMIT64:         Prlimit64,
		unix.SYS_GETRLIMIT:         Getrlimit,
		unix.SYS_SETRLIMIT:         Setrlimit,
		unix.SYS_GETRANDOM:         Getrandom,
		unix.SYS_CLOCK_GETTIME:     ClockGettime,
		unix.SYS_CLOCK_GETRES:      ClockGetres,
		unix.SYS_GETRUSAGE:         Getrusage,
		unix.SYS_TIMES:             Times,
		unix.SYS_GETTIMEOFDAY:      Gettimeofday,
		unix.SYS_TIME:              Time,
	} {
		t.Table[nr] = kernel.Syscall{Name: linux.SyscallName(nr), Fn: fn}
	}
	return t
}

// unsupported logs, once per message, a use of an implemented system call that the
// Sentry does not support yet, and returns ENOSYS.
func unsupported(t *kernel.Task, format string, args ...any) error {
	return unsupportedErr(t, unix.ENOSYS, format, args...)
}

// unsupportedErr is unsupported for a call whose unsupported uses get another errno
// from Linux too (prctl's unknown options are EINVAL).
func unsupportedErr(t *kernel.Task, errno unix.Errno, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if _, loaded := logged.LoadOrStore(msg, true); !loaded {
		fmt.Fprintf(t.Kernel().Log, "moat: unsupported: %s: %s\n", msg, unix.ErrnoName(errno))
	}
	return errno
}

var logged sync.Map

// fd decodes an int file descriptor argument (Linux takes unsigned int: -1 is EBADF).
func fd(a uintptr) int32 { return int32(a) }
