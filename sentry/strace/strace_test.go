package strace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
)

// Addresses of the test memory's contents.
const (
	aPasswd   = 0x1000 // "/etc/passwd"
	aLongPath = 0x1100 // a 40-byte path
	aDevNull  = 0x1200 // "/dev/null"
	aDir      = 0x1300 // "dir"
	aHello    = 0x2000 // "hello, world\n", not NUL-terminated
	aX40      = 0x2100 // 40 'x'
	aEscapes  = 0x2200 // bytes that need escapes
	aStatReg  = 0x3000 // struct stat of a regular file
	aStatChr  = 0x3100 // struct stat of /dev/null
	aStatx    = 0x3200 // struct statx
	aFDs      = 0x3400 // int[2]{3, 4}
	aCwd      = 0x3500 // "/home/user"
	aTimespec = 0x3600 // {1, 500}
	aOneSec   = 0x3610 // {1, 0}
	aUtsname  = 0x5000 // struct utsname
	aRlimit   = 0x3800 // {8 MiB, infinity}
	aRlimit2  = 0x3810 // {1024, 1 Mi}
	aIovecs   = 0x3900 // {"hello", 5}, {", world\n", 8}
	aBinLs    = 0x4000 // "/bin/ls"
	aLs       = 0x4010 // "ls"
	aDashL    = 0x4020 // "-l"
	aArgv     = 0x4100 // {"ls", "-l", NULL}
	aEnvp     = 0x4200 // three variables
	aSigact   = 0x4300 // struct sigaction
	aSigAll   = 0x4400 // every signal but SIGKILL and SIGSTOP
	aSigNone  = 0x4408 // no signal
	aWinsize  = 0x4500 // {24, 80, 0, 0}
	aExited   = 0x4600 // wait status: exited 0
	aKilled   = 0x4604 // wait status: SIGKILL, core dumped
	aSockIn   = 0x4700 // 127.0.0.1:80
	aSockUn   = 0x4800 // /run/sock
	aPollfd   = 0x4900 // {3, POLLIN, POLLIN}
	aDirents  = 0x4a00 // two linux_dirent64
	aCPUs     = 0x4b00 // CPUs 0-3
	aRandom   = 0x4c00 // 1, 2, 3, 4
	aEpollEv  = 0x4d00 // {EPOLLIN, 3}
	aFDSet    = 0x4e00 // {3, 4}
	aSockIn6  = 0x4f00 // [::1]:443

	bad = 0xdead0000 // unmapped
)

func testMemory() fakeMemory {
	stat := func(mode uint32, rdev, size uint64) []byte {
		b := make([]byte, 144)
		b = put(b, 24, u32s(mode))
		b = put(b, 40, u64s(rdev, size))
		return b
	}
	statx := make([]byte, 256)
	statx = put(statx, 0, u32s(unix.STATX_BASIC_STATS|unix.STATX_MNT_ID))
	statx = put(statx, 28, []byte{0xa4, 0x81}) // 0100644
	statx = put(statx, 40, u64s(123))
	uts := make([]byte, 6*65)
	uts = put(uts, 0, []byte("Linux"))
	uts = put(uts, 65, []byte("moat"))
	dirents := make([]byte, 48)
	dirents = put(dirents, 16, []byte{24})
	dirents = put(dirents, 40, []byte{24})
	sockIn6 := make([]byte, 28)
	sockIn6 = put(sockIn6, 0, []byte{10, 0, 0x01, 0xbb})
	sockIn6[23] = 1
	mem := fakeMemory{
		aPasswd:   cstr("/etc/passwd"),
		aLongPath: cstr("/usr/lib/x86_64-linux-gnu/libc.so.6"),
		aDevNull:  cstr("/dev/null"),
		aDir:      cstr("dir"),
		aHello:    []byte("hello, world\n"),
		aX40:      []byte(strings.Repeat("x", 40)),
		aEscapes:  []byte("a\"b\\\n\t\x00\xff"),
		aStatReg:  stat(unix.S_IFREG|0o644, 0, 123),
		aStatChr:  stat(unix.S_IFCHR|0o666, 0x103, 0),
		aStatx:    statx,
		aFDs:      u32s(3, 4),
		aCwd:      cstr("/home/user"),
		aTimespec: u64s(1, 500),
		aOneSec:   u64s(1, 0),
		aUtsname:  uts,
		aRlimit:   u64s(8<<20, math.MaxUint64),
		aRlimit2:  u64s(1024, 1<<20),
		aIovecs:   u64s(aHello, 5, aHello+5, 8),
		aBinLs:    cstr("/bin/ls"),
		aLs:       cstr("ls"),
		aDashL:    cstr("-l"),
		aArgv:     u64s(aLs, aDashL, 0),
		aEnvp:     u64s(aLs, aDashL, aLs, 0),
		aSigact:   u64s(0x401000, saRestorer|0x10000000, 0x402000, 1<<(unix.SIGTERM-1)),
		aSigAll:   u64s(^uint64(1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1))),
		aSigNone:  u64s(0),
		aWinsize:  u32s(24|80<<16, 0),
		aExited:   u32s(0),
		aKilled:   u32s(uint32(unix.SIGKILL) | 0x80),
		aSockIn:   {2, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		aSockUn:   append([]byte{1, 0}, cstr("/run/sock")...),
		aPollfd:   u32s(3, unix.POLLIN|unix.POLLIN<<16),
		aDirents:  dirents,
		aCPUs:     u64s(0xf),
		aRandom:   []byte{1, 2, 3, 4},
		aEpollEv:  append(u32s(unix.EPOLLIN), u64s(3)...),
		aFDSet:    u64s(1<<3 | 1<<4),
		aSockIn6:  sockIn6,
	}
	for a, b := range mem {
		for c, d := range mem {
			if a < c && a+uintptr(len(b)) > c || c < a && c+uintptr(len(d)) > a {
				panic(fmt.Sprintf("test memory at %#x and %#x overlaps", a, c))
			}
		}
	}
	return mem
}

// tc is one formatting case: Enter's line if exit is false, Exit's if true.
type tc struct {
	name string
	nr   uintptr
	args [6]uintptr
	exit bool
	ret  uintptr
	want string
}

func enter(name string, nr uintptr, args [6]uintptr, want string) tc {
	return tc{name: name, nr: nr, args: args, want: want}
}

func exit(name string, nr uintptr, args [6]uintptr, ret uintptr, want string) tc {
	return tc{name: name, nr: nr, args: args, exit: true, ret: ret, want: want}
}

func TestFormat(t *testing.T) {
	for _, c := range []tc{
		// Paths, flags and descriptors.
		enter("openat at entry", unix.SYS_OPENAT, [6]uintptr{neg(100), aPasswd, unix.O_RDONLY | unix.O_CLOEXEC},
			`openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)`),
		exit("openat failing with ENOENT", unix.SYS_OPENAT, [6]uintptr{neg(100), aPasswd, unix.O_RDONLY | unix.O_CLOEXEC}, neg(2),
			`openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)`),
		exit("openat creating a file shows the mode", unix.SYS_OPENAT, [6]uintptr{3, aPasswd, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, 0o644}, 4,
			`openat(3, "/etc/passwd", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 4`),
		enter("open with an unknown flag bit", unix.SYS_OPEN, [6]uintptr{aPasswd, unix.O_RDWR | unix.O_APPEND | 0x40000000},
			`open("/etc/passwd", O_RDWR|O_APPEND|0x40000000)`),
		enter("O_TMPFILE hides its O_DIRECTORY bit", unix.SYS_OPEN, [6]uintptr{aDir, unix.O_RDWR | unix.O_EXCL | unix.O_TMPFILE, 0o600},
			`open("dir", O_RDWR|O_EXCL|O_TMPFILE, 0600)`),
		enter("O_SYNC hides its O_DSYNC bit, O_LARGEFILE is the kernel's", unix.SYS_OPEN, [6]uintptr{aDir, unix.O_SYNC | oLargefile | unix.O_DIRECTORY},
			`open("dir", O_RDONLY|O_SYNC|O_LARGEFILE|O_DIRECTORY)`),
		exit("a bad path pointer prints in hex", unix.SYS_OPEN, [6]uintptr{bad, 0}, neg(int(unix.EFAULT)),
			`open(0xdead0000, O_RDONLY) = -1 EFAULT (Bad address)`),
		enter("a long path is cut after 32 bytes", unix.SYS_STAT, [6]uintptr{aLongPath, aStatReg},
			`stat("/usr/lib/x86_64-linux-gnu/libc.s"..., 0x3000)`),
		exit("a null path and null times", unix.SYS_UTIMENSAT, [6]uintptr{3, 0, 0, 0}, 0,
			`utimensat(3, NULL, NULL, 0) = 0`),
		exit("unlinkat of a directory", unix.SYS_UNLINKAT, [6]uintptr{3, aDir, unix.AT_REMOVEDIR}, 0,
			`unlinkat(3, "dir", AT_REMOVEDIR) = 0`),
		exit("access with two modes", unix.SYS_ACCESS, [6]uintptr{aPasswd, unix.R_OK | unix.W_OK}, 0,
			`access("/etc/passwd", R_OK|W_OK) = 0`),
		exit("access F_OK", unix.SYS_ACCESS, [6]uintptr{aPasswd, unix.F_OK}, neg(int(unix.EACCES)),
			`access("/etc/passwd", F_OK) = -1 EACCES (Permission denied)`),
		exit("faccessat2's 0x200 is AT_EACCESS", unix.SYS_FACCESSAT2, [6]uintptr{neg(100), aPasswd, unix.X_OK, unix.AT_EACCESS}, 0,
			`faccessat2(AT_FDCWD, "/etc/passwd", X_OK, AT_EACCESS) = 0`),
		exit("mkdir's mode is octal", unix.SYS_MKDIR, [6]uintptr{aDir, 0o755}, neg(int(unix.EEXIST)),
			`mkdir("dir", 0755) = -1 EEXIST (File exists)`),
		exit("umask returns octal", unix.SYS_UMASK, [6]uintptr{0o22}, 0o77,
			`umask(022) = 077`),
		exit("lseek from the end", unix.SYS_LSEEK, [6]uintptr{3, neg(10), unix.SEEK_END}, 90,
			`lseek(3, -10, SEEK_END) = 90`),
		exit("close", unix.SYS_CLOSE, [6]uintptr{3}, 0, `close(3) = 0`),

		// Buffers.
		enter("read at entry shows the buffer's address", unix.SYS_READ, [6]uintptr{3, aHello, 4096},
			`read(3, 0x2000, 4096)`),
		exit("read at exit shows what was read", unix.SYS_READ, [6]uintptr{3, aHello, 4096}, 13,
			`read(3, "hello, world\n", 4096) = 13`),
		exit("read shows only the bytes returned", unix.SYS_READ, [6]uintptr{3, aHello, 4096}, 5,
			`read(3, "hello", 4096) = 5`),
		exit("a failed read shows the buffer's address", unix.SYS_READ, [6]uintptr{3, aHello, 4096}, neg(int(unix.EAGAIN)),
			`read(3, 0x2000, 4096) = -1 EAGAIN (Resource temporarily unavailable)`),
		enter("write at entry shows the data, cut after 32 bytes", unix.SYS_WRITE, [6]uintptr{1, aX40, 40},
			`write(1, "`+strings.Repeat("x", 32)+`"..., 40)`),
		exit("write escapes bytes", unix.SYS_WRITE, [6]uintptr{1, aEscapes, 8}, 8,
			`write(1, "a\"b\\\n\t\x00\xff", 8) = 8`),
		exit("write from a bad pointer", unix.SYS_WRITE, [6]uintptr{1, bad, 5}, neg(int(unix.EFAULT)),
			`write(1, 0xdead0000, 5) = -1 EFAULT (Bad address)`),
		exit("writev", unix.SYS_WRITEV, [6]uintptr{1, aIovecs, 2}, 13,
			`writev(1, [{iov_base="hello", iov_len=5}, {iov_base=", world\n", iov_len=8}], 2) = 13`),
		exit("readv shows the bytes returned across vectors", unix.SYS_READV, [6]uintptr{0, aIovecs, 2}, 7,
			`readv(0, [{iov_base="hello", iov_len=5}, {iov_base=", ", iov_len=8}], 2) = 7`),
		exit("getcwd", unix.SYS_GETCWD, [6]uintptr{aCwd, 4096}, 11,
			`getcwd("/home/user", 4096) = 11`),
		exit("getrandom", unix.SYS_GETRANDOM, [6]uintptr{aRandom, 4, unix.GRND_NONBLOCK}, 4,
			`getrandom("\x01\x02\x03\x04", 4, GRND_NONBLOCK) = 4`),

		// Structures at exit.
		exit("fstat", unix.SYS_FSTAT, [6]uintptr{3, aStatReg}, 0,
			`fstat(3, {st_mode=S_IFREG|0644, st_size=123, ...}) = 0`),
		enter("fstat at entry", unix.SYS_FSTAT, [6]uintptr{3, aStatReg},
			`fstat(3, 0x3000)`),
		exit("newfstatat of a device", unix.SYS_NEWFSTATAT, [6]uintptr{neg(100), aDevNull, aStatChr, unix.AT_SYMLINK_NOFOLLOW}, 0,
			`newfstatat(AT_FDCWD, "/dev/null", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, AT_SYMLINK_NOFOLLOW) = 0`),
		exit("newfstatat with AT_EMPTY_PATH and an unknown flag", unix.SYS_NEWFSTATAT, [6]uintptr{3, aStatReg + 143, aStatReg, unix.AT_EMPTY_PATH | 0x80000}, 0,
			`newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=123, ...}, AT_EMPTY_PATH|0x80000) = 0`),
		exit("statx", unix.SYS_STATX, [6]uintptr{neg(100), aPasswd, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_ALL, aStatx}, 0,
			`statx(AT_FDCWD, "/etc/passwd", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=123, ...}) = 0`),
		exit("pipe2", unix.SYS_PIPE2, [6]uintptr{aFDs, unix.O_CLOEXEC}, 0,
			`pipe2([3, 4], O_CLOEXEC) = 0`),
		enter("pipe2 at entry", unix.SYS_PIPE2, [6]uintptr{aFDs, unix.O_CLOEXEC | unix.O_NONBLOCK},
			`pipe2(0x3400, O_NONBLOCK|O_CLOEXEC)`),
		exit("clock_gettime", unix.SYS_CLOCK_GETTIME, [6]uintptr{unix.CLOCK_MONOTONIC, aTimespec}, 0,
			`clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=500}) = 0`),
		enter("nanosleep reads its timespec at entry", unix.SYS_NANOSLEEP, [6]uintptr{aOneSec, 0},
			`nanosleep({tv_sec=1, tv_nsec=0}, NULL)`),
		exit("uname", unix.SYS_UNAME, [6]uintptr{aUtsname}, 0,
			`uname({sysname="Linux", nodename="moat", ...}) = 0`),
		exit("prlimit64", unix.SYS_PRLIMIT64, [6]uintptr{0, unix.RLIMIT_STACK, 0, aRlimit}, 0,
			`prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0`),
		exit("getrlimit", unix.SYS_GETRLIMIT, [6]uintptr{unix.RLIMIT_NOFILE, aRlimit2}, 0,
			`getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=1024*1024}) = 0`),
		exit("getdents64 counts entries", unix.SYS_GETDENTS64, [6]uintptr{3, aDirents, 32768}, 48,
			`getdents64(3, 0x4a00 /* 2 entries */, 32768) = 48`),
		exit("sched_getaffinity", unix.SYS_SCHED_GETAFFINITY, [6]uintptr{0, 128, aCPUs}, 8,
			`sched_getaffinity(0, 128, [0 1 2 3]) = 8`),
		exit("a struct at a bad address prints in hex", unix.SYS_FSTAT, [6]uintptr{3, bad}, 0,
			`fstat(3, 0xdead0000) = 0`),

		// Memory.
		exit("mmap returns an address", unix.SYS_MMAP, [6]uintptr{0, 8192, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS, neg(1), 0}, 0x7f0000000000,
			`mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000`),
		exit("mmap with an unknown flag", unix.SYS_MMAP, [6]uintptr{0x10000, 4096, unix.PROT_NONE, unix.MAP_SHARED | unix.MAP_FIXED_NOREPLACE | 0x80, 3, 0x1000}, neg(int(unix.EEXIST)),
			`mmap(0x10000, 4096, PROT_NONE, MAP_SHARED|MAP_FIXED_NOREPLACE|0x80, 3, 0x1000) = -1 EEXIST (File exists)`),
		exit("mprotect", unix.SYS_MPROTECT, [6]uintptr{0x10000, 4096, unix.PROT_READ | unix.PROT_EXEC}, 0,
			`mprotect(0x10000, 4096, PROT_READ|PROT_EXEC) = 0`),
		exit("brk", unix.SYS_BRK, [6]uintptr{0}, 0x555555559000,
			`brk(NULL) = 0x555555559000`),
		exit("madvise", unix.SYS_MADVISE, [6]uintptr{0x10000, 4096, unix.MADV_DONTNEED}, 0,
			`madvise(0x10000, 4096, MADV_DONTNEED) = 0`),

		// Processes, threads and signals.
		enter("execve at entry", unix.SYS_EXECVE, [6]uintptr{aBinLs, aArgv, aEnvp},
			`execve("/bin/ls", ["ls", "-l"], 0x4200 /* 3 vars */)`),
		exit("a successful execve no longer has its arguments", unix.SYS_EXECVE, [6]uintptr{aBinLs, aArgv, aEnvp}, 0,
			`execve(0x4000, 0x4100, 0x4200) = 0`),
		exit("a failed execve", unix.SYS_EXECVE, [6]uintptr{aBinLs, aArgv, aEnvp}, neg(int(unix.ENOENT)),
			`execve("/bin/ls", ["ls", "-l"], 0x4200 /* 3 vars */) = -1 ENOENT (No such file or directory)`),
		exit("clone of a thread", unix.SYS_CLONE, [6]uintptr{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
			unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID,
			0x7f00, 0x7f10, 0x7f10, 0x7f20}, 43,
			`clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, 0x7f00, 0x7f10, 0x7f10, 0x7f20) = 43`),
		exit("clone as fork, with its exit signal", unix.SYS_CLONE, [6]uintptr{unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | uintptr(unix.SIGCHLD), 0, 0, 0x7f10, 0}, 43,
			`clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, 0x7f10, 0) = 43`),
		exit("wait4 decodes the status", unix.SYS_WAIT4, [6]uintptr{neg(1), aExited, 0, 0}, 43,
			`wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 43`),
		exit("wait4 of a killed child", unix.SYS_WAIT4, [6]uintptr{43, aKilled, unix.WNOHANG | unix.WALL, 0}, 43,
			`wait4(43, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL && WCOREDUMP(s)}], WNOHANG|__WALL, NULL) = 43`),
		exit("kill", unix.SYS_KILL, [6]uintptr{42, uintptr(unix.SIGINT)}, 0, `kill(42, SIGINT) = 0`),
		exit("tgkill with a realtime signal", unix.SYS_TGKILL, [6]uintptr{1, 2, 33}, 0, `tgkill(1, 2, SIGRT_1) = 0`),
		exit("rt_sigaction", unix.SYS_RT_SIGACTION, [6]uintptr{uintptr(unix.SIGINT), aSigact, 0, 8}, 0,
			`rt_sigaction(SIGINT, {sa_handler=0x401000, sa_mask=[TERM], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x402000}, NULL, 8) = 0`),
		exit("rt_sigprocmask with a complemented set", unix.SYS_RT_SIGPROCMASK, [6]uintptr{unix.SIG_BLOCK, aSigAll, aSigNone, 8}, 0,
			`rt_sigprocmask(SIG_BLOCK, ~[KILL STOP], [], 8) = 0`),
		exit("arch_prctl", unix.SYS_ARCH_PRCTL, [6]uintptr{archSetFS, 0x7f0000001000}, 0,
			`arch_prctl(ARCH_SET_FS, 0x7f0000001000) = 0`),
		exit("exit_group does not return", unix.SYS_EXIT_GROUP, [6]uintptr{0}, 0, `exit_group(0) = ?`),
		exit("getpid takes no arguments", unix.SYS_GETPID, [6]uintptr{1, 2, 3}, 42, `getpid() = 42`),

		// Futexes: the arguments printed depend on the operation.
		exit("futex wait", unix.SYS_FUTEX, [6]uintptr{0x7000, futexWait | futexPrivateFlag, 2, 0, 5, 6}, neg(int(unix.EAGAIN)),
			`futex(0x7000, FUTEX_WAIT_PRIVATE, 2, NULL) = -1 EAGAIN (Resource temporarily unavailable)`),
		exit("futex wake", unix.SYS_FUTEX, [6]uintptr{0x7000, futexWake | futexPrivateFlag, 1, 4, 5, 6}, 0,
			`futex(0x7000, FUTEX_WAKE_PRIVATE, 1) = 0`),
		enter("futex wait bitset", unix.SYS_FUTEX, [6]uintptr{0x7000, futexWaitBitset | futexPrivateFlag | futexClockRealtime, 0, aOneSec, 0, futexBitsetMatchAny},
			`futex(0x7000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, {tv_sec=1, tv_nsec=0}, FUTEX_BITSET_MATCH_ANY)`),

		// fcntl and ioctl: arguments and results that depend on the command.
		exit("fcntl F_GETFD", unix.SYS_FCNTL, [6]uintptr{3, unix.F_GETFD, 7}, 1, `fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)`),
		exit("fcntl F_GETFL", unix.SYS_FCNTL, [6]uintptr{3, unix.F_GETFL}, oLargefile|unix.O_RDWR,
			`fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)`),
		exit("fcntl F_SETFL", unix.SYS_FCNTL, [6]uintptr{3, unix.F_SETFL, unix.O_RDWR | unix.O_NONBLOCK}, 0,
			`fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0`),
		exit("fcntl F_DUPFD_CLOEXEC", unix.SYS_FCNTL, [6]uintptr{3, unix.F_DUPFD_CLOEXEC, 10}, 10,
			`fcntl(3, F_DUPFD_CLOEXEC, 10) = 10`),
		exit("ioctl TCGETS on a non-terminal", unix.SYS_IOCTL, [6]uintptr{1, unix.TCGETS, 0x5000}, neg(int(unix.ENOTTY)),
			`ioctl(1, TCGETS, 0x5000) = -1 ENOTTY (Inappropriate ioctl for device)`),
		exit("ioctl TIOCGWINSZ", unix.SYS_IOCTL, [6]uintptr{1, unix.TIOCGWINSZ, aWinsize}, 0,
			`ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0`),
		enter("ioctl with an unknown request", unix.SYS_IOCTL, [6]uintptr{3, 0xdeadbeef, 0x5000},
			`ioctl(3, 0xdeadbeef, 0x5000)`),

		// Sockets and polling.
		exit("socket", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, unix.IPPROTO_TCP}, 3,
			`socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 3`),
		exit("connect over IPv4", unix.SYS_CONNECT, [6]uintptr{3, aSockIn, 16}, neg(int(unix.ECONNREFUSED)),
			`connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused)`),
		exit("connect over IPv6", unix.SYS_CONNECT, [6]uintptr{3, aSockIn6, 28}, 0,
			`connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0`),
		enter("bind to a unix socket", unix.SYS_BIND, [6]uintptr{3, aSockUn, 12},
			`bind(3, {sa_family=AF_UNIX, sun_path="/run/sock"}, 12)`),
		exit("poll shows the returned events", unix.SYS_POLL, [6]uintptr{aPollfd, 1, neg(1)}, 1,
			`poll([{fd=3, events=POLLIN}], 1, -1) = 1 ([{fd=3, revents=POLLIN}])`),
		exit("poll timing out", unix.SYS_POLL, [6]uintptr{aPollfd, 1, 100}, 0,
			`poll([{fd=3, events=POLLIN}], 1, 100) = 0 (Timeout)`),
		enter("select at entry", unix.SYS_SELECT, [6]uintptr{5, aFDSet, 0, 0, 0},
			`select(5, [3 4], NULL, NULL, NULL)`),
		exit("select at exit", unix.SYS_SELECT, [6]uintptr{5, aFDSet, 0, 0, 0}, 2,
			`select(5, 0x4e00, NULL, NULL, NULL) = 2 (in [3 4])`),
		exit("epoll_ctl", unix.SYS_EPOLL_CTL, [6]uintptr{5, unix.EPOLL_CTL_ADD, 3, aEpollEv}, 0,
			`epoll_ctl(5, EPOLL_CTL_ADD, 3, {events=EPOLLIN, data={u32=3, u64=3}}) = 0`),
		exit("epoll_wait", unix.SYS_EPOLL_WAIT, [6]uintptr{5, aEpollEv, 16, neg(1)}, 1,
			`epoll_wait(5, [{events=EPOLLIN, data={u32=3, u64=3}}], 16, -1) = 1`),

		// Results and unknown calls.
		exit("an errno x/sys names differently", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_DGRAM, 0}, neg(int(unix.EOPNOTSUPP)),
			`socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = -1 EOPNOTSUPP (Operation not supported)`),
		exit("an errno without a name", unix.SYS_CLOSE, [6]uintptr{3}, neg(600), `close(3) = -1 ERRNO_600 (Unknown error 600)`),
		exit("a call to restart", unix.SYS_NANOSLEEP, [6]uintptr{aOneSec, 0}, neg(512),
			`nanosleep({tv_sec=1, tv_nsec=0}, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)`),
		exit("-4096 is not an errno", unix.SYS_LSEEK, [6]uintptr{3, 0, unix.SEEK_CUR}, neg(4096), `lseek(3, 0, SEEK_CUR) = -4096`),
		exit("a number without a system call", 400, [6]uintptr{1, 0, 3, 4, 5, 6}, neg(int(unix.ENOSYS)),
			`syscall_400(0x1, 0, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)`),
		exit("an obsolete system call", unix.SYS_TUXCALL, [6]uintptr{1, 2, 3, 4, 5, 6}, neg(int(unix.ENOSYS)),
			`tuxcall(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)`),
	} {
		mem := testMemory()
		var got string
		if c.exit {
			got = Exit(mem, c.nr, c.args, c.ret)
		} else {
			got = Enter(mem, c.nr, c.args)
		}
		if got != c.want {
			t.Errorf("%s:\ngot  %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestStringAtEndOfMemory checks a string that ends just before unmapped
// memory, which CopyIn of maxString bytes cannot read.
func TestStringAtEndOfMemory(t *testing.T) {
	mem := fakeMemory{0x1000: cstr("/tmp")}
	if got, want := Enter(mem, unix.SYS_CHDIR, [6]uintptr{0x1000}), `chdir("/tmp")`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// Unterminated before unmapped memory: only the address is known good.
	mem = fakeMemory{0x1000: []byte("/tmp")}
	if got, want := Enter(mem, unix.SYS_CHDIR, [6]uintptr{0x1000}), `chdir(0x1000)`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestSignatureArity checks that no signature lists more than six
// arguments and that every signature is for a named system call.
func TestSignatureArity(t *testing.T) {
	for nr, s := range signatures {
		if s.args == nil {
			continue
		}
		if len(s.args) > 6 {
			t.Errorf("%s: %d arguments", linux.SyscallName(uintptr(nr)), len(s.args))
		}
		if _, ok := linux.SyscallNames[uintptr(nr)]; !ok {
			t.Errorf("signature for unnamed system call %d", nr)
		}
	}
}

// TestRequiredSignatures checks that the calls runsc --strace must decode
// have signatures.
func TestRequiredSignatures(t *testing.T) {
	for _, name := range strings.Fields(`read write open close stat fstat lstat newfstatat statx
		lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask ioctl pread64 pwrite64 readv
		writev access faccessat faccessat2 pipe pipe2 dup dup2 dup3 nanosleep clock_nanosleep
		getpid clone clone3 fork vfork execve execveat exit exit_group wait4 kill tgkill uname
		fcntl getdents64 getcwd chdir fchdir rename renameat renameat2 mkdir mkdirat rmdir unlink
		unlinkat link linkat symlink symlinkat readlink readlinkat chmod fchmod fchmodat chown
		fchown fchownat umask gettimeofday getrlimit setrlimit prlimit64 getuid getgid geteuid
		getegid arch_prctl set_tid_address set_robust_list futex openat openat2 close_range
		getrandom clock_gettime time sched_getaffinity sched_yield madvise mremap msync mincore
		socket connect bind listen accept accept4 sendto recvfrom sendmsg recvmsg shutdown
		socketpair poll ppoll select pselect6 epoll_create1 epoll_ctl epoll_wait epoll_pwait
		eventfd2 timerfd_create signalfd4 memfd_create truncate ftruncate utimensat fadvise64
		statfs fstatfs sysinfo rseq`) {
		nr, ok := linux.SyscallNumber(name)
		if !ok {
			t.Errorf("%s: no such system call", name)
			continue
		}
		if nr >= uintptr(len(signatures)) || signatures[nr].args == nil {
			t.Errorf("%s: no signature", name)
		}
	}
}

// printable reports whether s is printable ASCII, as every line should be
// whatever the memory holds.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkLine formats a call at entry and exit and checks the lines' shape.
func checkLine(t *testing.T, mem Memory, nr uintptr, args [6]uintptr, ret uintptr) {
	t.Helper()
	in := Enter(mem, nr, args)
	out := Exit(mem, nr, args, ret)
	name := linux.SyscallName(nr)
	if !strings.HasPrefix(in, name+"(") || !strings.HasSuffix(in, ")") {
		t.Errorf("Enter(%d, %#x) = %q: not name(...)", nr, args, in)
	}
	if !strings.HasPrefix(out, name+"(") || !strings.Contains(out, ") = ") {
		t.Errorf("Exit(%d, %#x, %#x) = %q: not name(...) = ...", nr, args, ret, out)
	}
	if !printable(in) || !printable(out) {
		t.Errorf("%d, %#x, %#x: unprintable output %q, %q", nr, args, ret, in, out)
	}
}

// randomArg returns an argument value of a kind that exercises decoders:
// small numbers, flags, negative numbers, addresses, extremes.
func randomArg(r *rand.Rand) uintptr {
	switch r.IntN(6) {
	case 0:
		return uintptr(r.IntN(64))
	case 1:
		return uintptr(r.Uint64())
	case 2:
		return uintptr(-r.IntN(5000))
	case 3:
		return uintptr(1) << r.IntN(64)
	case 4:
		return uintptr(r.Uint32())
	}
	return []uintptr{0, math.MaxUint64, math.MaxUint32, math.MaxInt64, 0x1000}[r.IntN(5)]
}

// TestNeverPanics formats every system call number with random arguments
// and results, over memory that fails every read and over memory that
// holds garbage everywhere.
func TestNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mems := []Memory{failingMemory{}, noiseMemory{seed: 1}, noiseMemory{seed: 7}, testMemory()}
	for nr := uintptr(0); nr <= linux.MaxSyscall+8; nr++ {
		for range 200 {
			var args [6]uintptr
			for i := range args {
				args[i] = randomArg(r)
			}
			checkLine(t, mems[r.IntN(len(mems))], nr, args, randomArg(r))
		}
	}
}

func FuzzFormat(f *testing.F) {
	f.Add(uint16(unix.SYS_READ), uint64(3), uint64(0x10000), uint64(100), uint64(0), uint64(0), uint64(0), int64(5), []byte("hello"))
	f.Add(uint16(unix.SYS_OPENAT), uint64(0xffffffffffffff9c), uint64(0x10000), uint64(0x80000), uint64(0), uint64(0), uint64(0), int64(-2), []byte("/etc/passwd\x00"))
	f.Add(uint16(unix.SYS_WRITEV), uint64(1), uint64(0x10000), uint64(2), uint64(0), uint64(0), uint64(0), int64(3), u64s(0x10000, 3, 0x10008, 1000))
	f.Add(uint16(unix.SYS_RECVMSG), uint64(3), uint64(0x10000), uint64(0), uint64(0), uint64(0), uint64(0), int64(3), u64s(0x10000, 16, 0x10000, 2, 0x10000, 24, 0))
	f.Add(uint16(unix.SYS_EXECVE), uint64(0x10000), uint64(0x10000), uint64(0x10000), uint64(0), uint64(0), uint64(0), int64(-2), u64s(0x10010, 0, 0x61))
	f.Add(uint16(unix.SYS_GETDENTS64), uint64(3), uint64(0x10000), uint64(100), uint64(0), uint64(0), uint64(0), int64(48), make([]byte, 48))
	f.Add(uint16(unix.SYS_SELECT), uint64(1000), uint64(0x10000), uint64(0x10000), uint64(0), uint64(0), uint64(0), int64(3), []byte{0xff, 0xff})
	f.Add(uint16(unix.SYS_FUTEX), uint64(0x10000), uint64(0x8b), uint64(0), uint64(0x10000), uint64(0x10000), uint64(0xffffffff), int64(0), u64s(1, 2))
	f.Fuzz(func(t *testing.T, nr uint16, a0, a1, a2, a3, a4, a5 uint64, ret int64, data []byte) {
		mem := fakeMemory{0x10000: data}
		args := [6]uintptr{uintptr(a0), uintptr(a1), uintptr(a2), uintptr(a3), uintptr(a4), uintptr(a5)}
		checkLine(t, mem, uintptr(nr)%(linux.MaxSyscall+16), args, uintptr(ret))
	})
}
