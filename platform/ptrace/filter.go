package ptrace

import (
	"golang.org/x/sys/unix"

	sf "github.com/moat-sandbox/moat/seccompfilters"
)

// stubFilter is the stub's seccomp allow-list. Each system call is allowed only from its
// own site in the stub's code, and with the arguments the Sentry uses; anything else kills
// the stub process. The application's own system calls never reach it: under
// PTRACE_SYSEMU a system call stops for the tracer and is skipped before seccomp runs.
// The filter guards the host against a Sentry bug, or an application that somehow made
// a stub execute a host system call:
//
//	mmap      at siteSyscall, MAP_SHARED|MAP_FIXED(|MAP_POPULATE), the memory file only
//	munmap    at siteSyscall
//	mprotect  at siteSyscall
//	clone     at siteClone, with exactly the flags of a new address space or stub thread,
//	          and no new stack
//	getpid    at siteGetpid  (a new stub stopping itself)
//	kill      at siteKill, SIGSTOP only
func stubFilter(base uintptr, memfd int) ([]unix.SockFilter, error) {
	at := func(site uintptr) sf.Match { return sf.Eq(uint64(base + site + syscallLen)) }
	mmap := func(flags uint64) sf.Rule {
		r := sf.Rule{IP: at(siteSyscall)}
		r.Args[3] = sf.Eq(flags)
		r.Args[4] = sf.Eq(uint64(memfd))
		return r
	}
	clone := func(flags uintptr) sf.Rule {
		r := sf.Rule{IP: at(siteClone)}
		r.Args[0] = sf.Eq(uint64(flags))
		r.Args[1] = sf.Eq(0)
		return r
	}
	kill := sf.Rule{IP: at(siteKill)}
	kill.Args[1] = sf.Eq(uint64(unix.SIGSTOP))
	f := sf.Filter{
		Syscalls: map[uintptr][]sf.Rule{
			unix.SYS_MMAP: {
				mmap(unix.MAP_SHARED | unix.MAP_FIXED),
				mmap(unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE),
			},
			unix.SYS_MUNMAP:   {{IP: at(siteSyscall)}},
			unix.SYS_MPROTECT: {{IP: at(siteSyscall)}},
			unix.SYS_CLONE:    {clone(cloneNewAddressSpace), clone(cloneNewThread)},
			unix.SYS_GETPID:   {{IP: at(siteGetpid)}},
			unix.SYS_KILL:     {kill},
		},
		Default: sf.ActionKillProcess,
	}
	return f.Build()
}
