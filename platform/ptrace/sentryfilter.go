package ptrace

import (
	"golang.org/x/sys/unix"

	sf "github.com/moat-sandbox/moat/seccompfilters"
)

// The host system calls the platform makes from the Sentry's process once the Sentry
// runs under its seccomp allow-list (runsc/boot's filter.go adds these to the Go
// runtime's and the Sentry's own). Everything that happens once, at New, is done before
// the filter is installed and is not listed: the memory file's and the context file's
// mappings, the stub region, the template's fork. After the filter, the Sentry forks
// nothing: a template killed from outside is not replaced (NewAddressSpace fails), since
// a new one would be forked under the Sentry's filter and its stubs would run under it.

// HostSyscalls are the ptrace platform's:
//
//	ptrace          the requests the Sentry makes of its stubs: PTRACE_SEIZE with the
//	                platform's options only, PTRACE_CONT, PTRACE_SYSEMU,
//	                PTRACE_GETREGS/SETREGS, PTRACE_GETREGSET/SETREGSET (the XSAVE
//	                area), PTRACE_GETSIGINFO, PTRACE_DETACH (a stub thread parked as
//	                its address space's spare: addressSpace.park)
//	wait4           for a stub's stops, with __WALL only
//	kill            SIGKILL only (a stub, or an address space being released)
//	tgkill          SIGSTOP only (Interrupt of a running stub thread)
//	sched_setaffinity, getcpu  a stub thread follows its tracer's CPU (thread.bind)
//	prctl           PR_GET_SECCOMP only (is the Sentry filtered: may it fork a template?)
//	pidfd_open, ppoll  is a recycled address space's control stub alive (stubsAlive)
func HostSyscalls() map[uintptr][]sf.Rule {
	return stubControlSyscalls(true)
}

// SystrapHostSyscalls are the systrap platform's: the stubs are made and driven as
// ptrace's are (without PTRACE_SYSEMU and the XSAVE requests: systrap threads run
// untraced and hand their registers over in their slots), and besides:
//
//	futex            FUTEX_WAIT and FUTEX_WAKE, shared (not FUTEX_PRIVATE_FLAG): the
//	                 context page's state word, in the context file both processes map
//	tgkill           SIGUSR2 only (Interrupt of a running systrap thread)
//	ptrace           PTRACE_INTERRUPT and PTRACE_DETACH too: a spare thread is reset by
//	                 stopping it wherever the application left it (trapThread.reset)
//	pidfd_open       of a new systrap thread, as of a control stub
//	pidfd_getfd      the Sentry's copy of a mapping thread's eventfd
//	ppoll            on those pidfds and eventfds
//	fcntl            F_GETFL and F_SETFL (the eventfd made non-blocking)
func SystrapHostSyscalls() map[uintptr][]sf.Rule {
	f := sf.Filter{Syscalls: stubControlSyscalls(false)}
	f.Add(unix.SYS_FUTEX, sf.ArgIn(1, futexWaitOp, futexWakeOp)...)
	f.Add(unix.SYS_PTRACE, sf.ArgIn(0, unix.PTRACE_INTERRUPT, unix.PTRACE_DETACH)...)
	f.Add(unix.SYS_TGKILL, signalRule(2, interruptTrapSignal))
	f.Add(unix.SYS_PIDFD_GETFD, sf.Rule{Args: [6]sf.Match{sf.Any(), sf.Any(), sf.Eq(0)}})
	f.Add(unix.SYS_FCNTL, sf.ArgIn(1, unix.F_GETFL, unix.F_SETFL)...)
	return f.Syscalls
}

// stubControlSyscalls are what making and driving stubs takes on both platforms; with
// sysemu, what running application threads under ptrace takes too.
func stubControlSyscalls(sysemu bool) map[uintptr][]sf.Rule {
	f := sf.Filter{}
	requests := []uint64{unix.PTRACE_CONT, unix.PTRACE_GETREGS, unix.PTRACE_SETREGS, unix.PTRACE_GETSIGINFO}
	if sysemu {
		requests = append(requests, unix.PTRACE_SYSEMU, unix.PTRACE_GETREGSET, unix.PTRACE_SETREGSET, unix.PTRACE_DETACH)
	}
	f.Add(unix.SYS_PTRACE, sf.ArgIn(0, requests...)...)
	seize := sf.Rule{}
	seize.Args[0] = sf.Eq(unix.PTRACE_SEIZE)
	seize.Args[3] = sf.Eq(ptraceOptions)
	f.Add(unix.SYS_PTRACE, seize)
	wait := sf.Rule{}
	wait.Args[2] = sf.Eq(unix.WALL)
	f.Add(unix.SYS_WAIT4, wait)
	f.Add(unix.SYS_KILL, signalRule(1, unix.SIGKILL))
	if sysemu {
		f.Add(unix.SYS_TGKILL, signalRule(2, interruptSignal))
		f.Add(unix.SYS_SCHED_SETAFFINITY)
		f.Add(unix.SYS_GETCPU)
	}
	f.Add(unix.SYS_PRCTL, sf.ArgIn(0, unix.PR_GET_SECCOMP)...)
	f.Add(unix.SYS_PIDFD_OPEN, sf.Rule{Args: [6]sf.Match{sf.Any(), sf.Eq(0)}})
	f.Add(unix.SYS_PPOLL)
	return f.Syscalls
}

// signalRule matches a call whose argument i is sig.
func signalRule(i int, sig unix.Signal) sf.Rule {
	r := sf.Rule{}
	r.Args[i] = sf.Eq(uint64(sig))
	return r
}
