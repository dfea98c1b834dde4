package ptrace

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// ptraceOptions: report system-call stops as SIGTRAP|0x80, and kill the tracee if its
// tracer thread exits (the Sentry dies, or a task goroutine's thread is torn down).
const ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

// thread is one stub thread: a host process sharing its address space's memory with its
// siblings, traced by exactly one OS thread of the Sentry, its tracer. Only the tracer
// may issue ptrace requests for it; any Sentry thread may wait for it.
type thread struct {
	// mu is held by whoever drives the thread (a Switch, an injected system call).
	// Only the tracer OS thread can, so it is never contended; it orders the uses by
	// successive goroutines on that OS thread for the race detector and the reader.
	mu sync.Mutex

	tid    int
	tracer int // the tracing OS thread's tid
	// initRegs are the registers the thread stopped with when it was seized; injected
	// system calls start from them (for valid segment selectors).
	initRegs arch.Registers
	// cpu is the CPU the thread is bound to, or -1.
	cpu int
	// fpOwner is the state whose FP registers the thread holds, as of fpImage; Switch
	// skips loading them again when the state's FP is still that image.
	fpOwner *arch.State
	fpImage []byte
}

// bind pins t to the CPU the calling (tracer) thread is on, if it is not there already.
// A stop and wake-up between two CPUs costs an inter-processor interrupt each way, far
// more than a switch on one CPU, and most of all under nested virtualization; the tracer
// and its stub never run at the same time, so they lose nothing by sharing a CPU. Go may
// move the tracer thread; the stub follows at its next Switch.
func (t *thread) bind() {
	cpu, ok := currentCPU()
	if !ok || cpu == t.cpu {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(t.tid, &set) == nil {
		t.cpu = cpu
	}
}

// errStubDied reports that a stub thread is gone.
type errStubDied struct {
	tid    int
	status unix.WaitStatus // valid if waited
	waited bool
}

func (e *errStubDied) Error() string {
	switch {
	case !e.waited:
	case e.status.Signaled():
		return fmt.Sprintf("stub %d was killed by %v", e.tid, e.status.Signal())
	case e.status.Exited():
		return fmt.Sprintf("stub %d exited with status %d", e.tid, e.status.ExitStatus())
	}
	return fmt.Sprintf("stub %d is gone", e.tid)
}

// seize makes the calling OS thread the tracer of tid, a stub that stops itself (or has
// stopped) with SIGSTOP, and waits until it is in a ptrace-stop. The caller must be
// locked to its OS thread.
//
// tid may be running its self-stop loop or already be in group-stop: a seized task that
// is stopped is moved to a ptrace-stop (PTRACE_EVENT_STOP), one that is running reports
// the SIGSTOP it raises as a signal-delivery-stop. Either is reported as a stop with
// SIGSTOP, and resuming it later with signal 0 discards the SIGSTOP.
func seize(tid int) (*thread, error) {
	if err := ptrace(unix.PTRACE_SEIZE, tid, 0, ptraceOptions); err != nil {
		return nil, fmt.Errorf("PTRACE_SEIZE of stub %d: %w", tid, err)
	}
	t := &thread{tid: tid, tracer: unix.Gettid(), cpu: -1}
	for {
		ws, err := t.wait()
		if err != nil {
			return nil, err
		}
		if ws.StopSignal() == unix.SIGSTOP {
			break
		}
		// Some other stop: nothing of ours. Let it run on to its SIGSTOP.
		if err := ptrace(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return nil, t.lost(err)
		}
	}
	if err := getRegs(tid, &t.initRegs); err != nil {
		return nil, t.lost(err)
	}
	return t, nil
}

// wait waits for the next stop of t. A thread that exited or was killed is an error.
func (t *thread) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.tid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// ECHILD: someone else reaped it (Release killed the address space).
			return ws, &errStubDied{tid: t.tid}
		}
		if ws.Exited() || ws.Signaled() {
			return ws, &errStubDied{tid: t.tid, status: ws, waited: true}
		}
		return ws, nil
	}
}

// lost turns a failed ptrace request into an error: ESRCH means the thread died (or is
// no longer stopped for us), which the caller treats as the stub's death.
func (t *thread) lost(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return &errStubDied{tid: t.tid}
	}
	return fmt.Errorf("ptrace of stub %d: %w", t.tid, err)
}

// syscall makes the stopped thread t execute system call nr at the stub's site, and
// returns its result. t's registers are clobbered: whoever resumes t next loads a whole
// register set first (Switch always does).
func (t *thread) syscall(site uintptr, nr uintptr, args ...uintptr) (uintptr, error) {
	return t.syscallWith(site, nil, nr, args...)
}

// syscallWith is syscall with more registers set by set. Every other register is the
// thread's initial one, but r12, which a clone's child reads (stub.go), is zero.
func (t *thread) syscallWith(site uintptr, set func(*arch.Registers), nr uintptr, args ...uintptr) (uintptr, error) {
	regs := t.initRegs
	regs.R12 = 0
	if set != nil {
		set(&regs)
	}
	regs.Rip = uint64(stubBase + site)
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0) // not in a system call: no restart on the way out
	a := [6]uintptr{}
	copy(a[:], args)
	regs.Rdi, regs.Rsi, regs.Rdx = uint64(a[0]), uint64(a[1]), uint64(a[2])
	regs.R10, regs.R8, regs.R9 = uint64(a[3]), uint64(a[4]), uint64(a[5])
	if err := setRegs(t.tid, &regs); err != nil {
		return 0, t.lost(err)
	}
	if err := ptrace(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
		return 0, t.lost(err)
	}
	for {
		ws, err := t.wait()
		if err != nil {
			return 0, err
		}
		sig := ws.StopSignal()
		if sig == unix.SIGTRAP {
			break
		}
		if sig == unix.SIGSEGV || sig == unix.SIGBUS || sig == unix.SIGILL {
			var si arch.SignalInfo
			var at arch.Registers
			getSiginfo(t.tid, &si)
			getRegs(t.tid, &at)
			if si.FromKernel() {
				// The stub's own code faulted: its pages were tampered with.
				unix.Kill(t.tid, unix.SIGKILL)
				return 0, fmt.Errorf("stub %d faulted in its own code: %v at rip %#x", t.tid, &si, at.Rip)
			}
		}
		// An interrupt (SIGSTOP) or a signal from outside: the Context that wanted it
		// still has its flag set; discard the signal and go on.
		if err := ptrace(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return 0, t.lost(err)
		}
	}
	if err := getRegs(t.tid, &regs); err != nil {
		return 0, t.lost(err)
	}
	if r := int64(regs.Rax); r < 0 && r >= -4095 {
		return 0, unix.Errno(-r)
	}
	return uintptr(regs.Rax), nil
}

// kill kills t's process and reaps it, from any Sentry thread.
func (t *thread) kill() {
	unix.Kill(t.tid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.tid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}
