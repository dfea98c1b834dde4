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
	f := sf.Filter{Syscalls: stubRules(base, memfd), Default: sf.ActionKillProcess}
	return f.Build()
}

// memoryRules allow mmap of the memory file (shared, fixed), munmap and mprotect from
// the site ip.
func memoryRules(ip sf.Match, memfd int) map[uintptr][]sf.Rule {
	mmap := func(flags uint64) sf.Rule {
		r := sf.Rule{IP: ip}
		r.Args[3] = sf.Eq(flags)
		r.Args[4] = sf.Eq(uint64(memfd))
		return r
	}
	return map[uintptr][]sf.Rule{
		unix.SYS_MMAP: {
			mmap(unix.MAP_SHARED | unix.MAP_FIXED),
			mmap(unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE),
		},
		unix.SYS_MUNMAP:   {{IP: ip}},
		unix.SYS_MPROTECT: {{IP: ip}},
	}
}

// stubRules are the rules of stubFilter.
func stubRules(base uintptr, memfd int) map[uintptr][]sf.Rule {
	at := func(site uintptr) sf.Match { return sf.Eq(uint64(base + site + syscallLen)) }
	clone := func(flags uintptr) sf.Rule {
		r := sf.Rule{IP: at(siteClone)}
		r.Args[0] = sf.Eq(uint64(flags))
		r.Args[1] = sf.Eq(0)
		return r
	}
	kill := sf.Rule{IP: at(siteKill)}
	kill.Args[1] = sf.Eq(uint64(unix.SIGSTOP))
	rules := memoryRules(at(siteSyscall), memfd)
	rules[unix.SYS_CLONE] = []sf.Rule{clone(cloneNewAddressSpace), clone(cloneNewThread)}
	rules[unix.SYS_GETPID] = []sf.Rule{{IP: at(siteGetpid)}}
	rules[unix.SYS_KILL] = []sf.Rule{kill}
	return rules
}

// systrapFilters are the filters of systrap's stubs. The stub filter (installed in the
// template, inherited by every stub) allows what ptrace's does, the set-up of a systrap
// thread at siteSyscall, and the handler's own calls; anything else traps (SIGSYS to
// the handler: an application system call). The thread filter, which each systrap
// thread installs last, allows only the handler's calls and traps everything else
// (numbers with the x32 bit, negative ones among them, and i386 calls (int $0x80)
// included: both filters trap them, for the Sentry to answer ENOSYS or SIGSEGV, where
// the default would kill the process),
// so an application thread that jumps to a site with registers of its choosing gets
// its call trapped and implemented by the Sentry like any other:
//
//	futex         at siteFutexWake, FUTEX_WAKE of 1 (the handler waking the Sentry)
//	futex         at siteFutexWait, FUTEX_WAIT for stateStubWait, no timeout
//	rt_sigreturn  at siteSigreturn (the handler's return; it restores registers the
//	              thread could have set itself, and the kernel checks the frame)
//	sched_yield   at siteYield (the handler giving its CPU away while it waits)
//
// and, in the stub filter only, for the set-up of a thread (a new thread running
// stub.go's setup before its own filter exists), each at its own site:
//
//	mmap             of the context file, MAP_SHARED|MAP_FIXED (the thread's slot)
//	sigaltstack, set_tid_address, rt_sigprocmask(SIG_SETMASK), prctl(PR_SET_PDEATHSIG),
//	seccomp          (installing the thread filter)
//	eventfd2         at siteSyscall (the mapping thread's, made in the control stub)
//
// A futex call can only wait on or wake a word of the caller's own address space.
//
// The mapping thread's filter allows the memory calls ptrace's filter allows at
// siteSyscall, at siteSysOp; its FUTEX_WAIT at siteSysWait; its 8-byte write to its
// eventfd at siteSysDone; anything else kills it. The stub filter allows those too, and
// eventfd2 at siteSyscall (the mapping thread's set-up). An application thread can
// reach none of them: its thread filter traps them, and the calls the mapping thread
// makes are read from pages the application can't write.
func systrapFilters(base uintptr, memfd, ctxfd int) (stub, thread, sys []unix.SockFilter, err error) {
	at := func(site uintptr) sf.Match { return sf.Eq(uint64(base + site + syscallLen)) }
	futex := func(wakeSite, waitSite uintptr) []sf.Rule {
		wake := sf.Rule{IP: at(wakeSite)}
		wake.Args[1], wake.Args[2] = sf.Eq(futexWakeOp), sf.Eq(1)
		wait := sf.Rule{IP: at(waitSite)}
		wait.Args[1], wait.Args[2], wait.Args[3] = sf.Eq(futexWaitOp), sf.Eq(stateStubWait), sf.Eq(0)
		return []sf.Rule{wake, wait}
	}
	handler := map[uintptr][]sf.Rule{
		unix.SYS_FUTEX:        futex(siteFutexWake, siteFutexWait),
		unix.SYS_RT_SIGRETURN: {{IP: at(siteSigreturn)}},
		unix.SYS_SCHED_YIELD:  {{IP: at(siteYield)}},
	}
	// Numbers with the x32 bit (-1 among them) trap too: the Sentry answers ENOSYS.
	tf := sf.Filter{Syscalls: handler, Default: sf.ActionTrap, X32: sf.ActionTrap, OtherArch: sf.ActionTrap}
	if thread, err = tf.Build(); err != nil {
		return nil, nil, nil, err
	}
	mapper := memoryRules(at(siteSysOp), memfd)
	sleep := sf.Rule{IP: at(siteSysWait)}
	sleep.Args[1], sleep.Args[3] = sf.Eq(futexWaitOp), sf.Eq(0)
	done := sf.Rule{IP: at(siteSysDone)}
	done.Args[2] = sf.Eq(8)
	mapper[unix.SYS_FUTEX] = []sf.Rule{sleep}
	mapper[unix.SYS_WRITE] = []sf.Rule{done}
	mf := sf.Filter{Syscalls: mapper, Default: sf.ActionKillProcess}
	if sys, err = mf.Build(); err != nil {
		return nil, nil, nil, err
	}

	syscalls := stubRules(base, memfd)
	for _, m := range []map[uintptr][]sf.Rule{handler, mapper} {
		for nr, rules := range m {
			syscalls[nr] = append(syscalls[nr], rules...)
		}
	}
	// A new thread's set-up (stub.go's setup), each call at its own site.
	for _, site := range []uintptr{siteSetMap, siteSetMapBatch} {
		ctxMap := sf.Rule{IP: at(site)}
		ctxMap.Args[3], ctxMap.Args[4] = sf.Eq(unix.MAP_SHARED|unix.MAP_FIXED), sf.Eq(uint64(ctxfd))
		syscalls[unix.SYS_MMAP] = append(syscalls[unix.SYS_MMAP], ctxMap)
	}
	pdeath := sf.Rule{IP: at(siteSetPdeath)}
	pdeath.Args[0], pdeath.Args[1] = sf.Eq(unix.PR_SET_PDEATHSIG), sf.Eq(uint64(unix.SIGKILL))
	syscalls[unix.SYS_PRCTL] = []sf.Rule{pdeath}
	install := sf.Rule{IP: at(siteSetFilter)}
	install.Args[0] = sf.Eq(unix.SECCOMP_SET_MODE_FILTER)
	syscalls[unix.SYS_SECCOMP] = []sf.Rule{install}
	mask := sf.Rule{IP: at(siteSetMask)}
	mask.Args[0] = sf.Eq(unix.SIG_SETMASK)
	syscalls[unix.SYS_RT_SIGPROCMASK] = []sf.Rule{mask}
	syscalls[unix.SYS_SIGALTSTACK] = []sf.Rule{{IP: at(siteSetAltstack)}}
	syscalls[unix.SYS_SET_TID_ADDRESS] = []sf.Rule{{IP: at(siteSetTid)}}
	// The mapping thread's eventfd, made in the control stub.
	syscalls[unix.SYS_EVENTFD2] = []sf.Rule{{IP: at(siteSyscall)}}
	f := sf.Filter{Syscalls: syscalls, Default: sf.ActionTrap, X32: sf.ActionTrap, OtherArch: sf.ActionTrap}
	if stub, err = f.Build(); err != nil {
		return nil, nil, nil, err
	}
	return stub, thread, sys, nil
}
