package kernel

import "golang.org/x/sys/unix"

// Rlimit is one resource limit.
type Rlimit struct{ Cur, Max uint64 }

// RlimitCount is RLIM_NLIMITS.
const RlimitCount = 16

// Infinity is RLIM_INFINITY.
const Infinity = ^uint64(0)

// NrOpen is fs.nr_open's default: the most RLIMIT_NOFILE may be raised to.
const NrOpen = 1 << 20

// DefaultLimits are the limits a container's init starts with, as on a Linux host
// (include/asm-generic/resource.h, with systemd's usual NOFILE).
func DefaultLimits() [RlimitCount]Rlimit {
	var l [RlimitCount]Rlimit
	for i := range l {
		l[i] = Rlimit{Infinity, Infinity}
	}
	l[unix.RLIMIT_STACK] = Rlimit{8 << 20, Infinity}
	l[unix.RLIMIT_CORE] = Rlimit{0, Infinity}
	l[unix.RLIMIT_NOFILE] = Rlimit{1024, 4096}
	l[unix.RLIMIT_NPROC] = Rlimit{63432, 63432}
	l[unix.RLIMIT_MEMLOCK] = Rlimit{8 << 20, 8 << 20}
	l[unix.RLIMIT_SIGPENDING] = Rlimit{63432, 63432}
	l[unix.RLIMIT_MSGQUEUE] = Rlimit{819200, 819200}
	l[unix.RLIMIT_NICE] = Rlimit{0, 0}
	l[unix.RLIMIT_RTPRIO] = Rlimit{0, 0}
	return l
}
