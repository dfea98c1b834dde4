package ptrace

import (
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// factory is a goroutine locked to its own OS thread that traces the template stub and
// the control stub of every address space. Work that needs those stubs (a new address
// space, a new stub thread, a mapping change made from a thread with no stub of its
// own) is sent to it as a function and runs there, one at a time.
type factory struct {
	reqs chan func()
	done chan struct{}
}

func startFactory() *factory {
	f := &factory{reqs: make(chan func()), done: make(chan struct{})}
	go f.loop()
	return f
}

func (f *factory) loop() {
	// Stay locked until the end: when this goroutine returns while locked, the Go
	// runtime ends the thread, and PTRACE_O_EXITKILL kills whatever it traced.
	runtime.LockOSThread()
	defer close(f.done)
	for fn := range f.reqs {
		fn()
	}
}

// do runs fn on the factory's thread and waits for it.
func (f *factory) do(fn func()) {
	ran := make(chan struct{})
	f.reqs <- func() { fn(); close(ran) }
	<-ran
}

func (f *factory) stop() {
	close(f.reqs)
	<-f.done
}

// newTemplate forks the Sentry into a template stub and makes it one: it unmaps
// everything but the stub region, closes every file but the memory file (and systrap's
// context file), ignores SIGCHLD, for systrap installs the handler, makes the data page
// read-only, and installs the stub's seccomp filter. It runs on the factory's thread.
func newTemplate(p *Platform) (*thread, error) {
	if sentryFiltered() {
		return nil, fmt.Errorf("the Sentry runs under its seccomp filter: a template forked now would carry it into every stub")
	}
	memfd := p.memfd
	var prog, threadProg, sysProg []unix.SockFilter
	var err error
	keep := []int{memfd}
	if p.trap != nil {
		prog, threadProg, sysProg, err = systrapFilters(stubBase, memfd, p.trap.fd)
		keep = append(keep, p.trap.fd)
	} else {
		prog, err = stubFilter(stubBase, memfd)
	}
	if err != nil {
		return nil, err
	}
	if n := len(prog) + len(threadProg) + len(sysProg); n > maxFilterLen {
		return nil, fmt.Errorf("stub filters have %d instructions, the data page holds %d", n, maxFilterLen)
	}
	forkMu.Lock()
	layoutData(stubData, stubBase, prog, threadProg, sysProg)
	pid, errno := forkTemplate()
	forkMu.Unlock()
	if errno != 0 {
		return nil, fmt.Errorf("forking the template stub: %w", errno)
	}
	t, err := seize(pid)
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return nil, err
	}
	// A forked thread keeps its rseq registration (glibc registers one per thread when
	// the Sentry is linked with it, as with -race). The kernel writes that area on
	// preemption and migration and kills the thread with SIGSEGV once it is unmapped, so
	// unregister it first. Kernels before 5.13 can't report it; they predate glibc's use.
	var rseqArgs []uintptr
	if rs, err := getRseq(pid); err == nil && rs.Pointer != 0 {
		const rseqFlagUnregister = 1
		rseqArgs = []uintptr{uintptr(rs.Pointer), uintptr(rs.Size), rseqFlagUnregister, uintptr(rs.Signature)}
	}
	type step struct {
		what string
		nr   uintptr
		args []uintptr
	}
	steps := []step{
		{"unregistering rseq", unix.SYS_RSEQ, rseqArgs},
		{"unmapping below the stub", unix.SYS_MUNMAP, []uintptr{0, stubBase}},
		{"unmapping above the stub", unix.SYS_MUNMAP, []uintptr{stubBase + stubSize, maxStubEnd - (stubBase + stubSize)}},
	}
	slices.Sort(keep)
	lo := 0
	for _, fd := range append(keep, int(^uint32(0)>>1)+1) {
		if fd > lo {
			steps = append(steps, step{"closing other files", unix.SYS_CLOSE_RANGE, []uintptr{uintptr(lo), uintptr(fd) - 1, 0}})
		}
		lo = fd + 1
	}
	steps = append(steps, step{"ignoring SIGCHLD", unix.SYS_RT_SIGACTION, []uintptr{uintptr(unix.SIGCHLD), stubBase + pageSize + dataSigaction, 0, 8}})
	if p.trap != nil {
		for _, sig := range trapSignals {
			steps = append(steps, step{"installing the handler", unix.SYS_RT_SIGACTION, []uintptr{uintptr(sig), stubBase + pageSize + dataHandler, 0, 8}})
		}
	}
	steps = append(steps,
		// No capabilities in any stub: they need none, and a Sentry that drops its own
		// can still trace stubs made before (ptrace wants the tracee's permitted set
		// within the tracer's).
		step{"dropping capabilities", unix.SYS_CAPSET, []uintptr{stubBase + pageSize + dataCapHeader, stubBase + pageSize + dataCapData}},
		step{"making the data page read-only", unix.SYS_MPROTECT, []uintptr{stubBase + pageSize, pageSize, unix.PROT_READ}},
		step{"setting no_new_privs", unix.SYS_PRCTL, []uintptr{unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0}},
		step{"installing the seccomp filter", unix.SYS_SECCOMP, []uintptr{unix.SECCOMP_SET_MODE_FILTER, 0, stubBase + pageSize + dataFprog}},
	)
	for _, s := range steps {
		if s.nr == unix.SYS_RSEQ && s.args == nil ||
			s.nr == unix.SYS_MUNMAP && s.args[1] == 0 {
			continue // nothing to do
		}
		if _, err := t.syscall(siteSyscall, s.nr, s.args...); err != nil {
			t.kill()
			return nil, fmt.Errorf("template stub %d: %s: %w", pid, s.what, err)
		}
	}
	return t, nil
}

// sentryFiltered reports whether the Sentry's process has a seccomp filter
// (PR_GET_SECCOMP is SECCOMP_MODE_FILTER). A filter is inherited by fork: a template
// forked from a filtered Sentry would stack the Sentry's filter over the stub's, which
// kills rather than traps an application's system call on systrap, and the Sentry's
// filter forbids the fork anyway.
func sentryFiltered() bool {
	mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	return err == nil && mode == unix.SECCOMP_MODE_FILTER
}

// cloneStub makes the stopped stub t clone a new stub: a new process with a copy of
// t's address space (a new address space), or, with shareVM, a new process sharing it
// (a new thread of t's address space). The new stub stops itself and waits, untraced,
// for its tracer to seize it.
func cloneStub(t *thread, shareVM bool) (int, error) {
	flags := cloneNewAddressSpace
	if shareVM {
		flags = cloneNewThread
	}
	tid, err := t.syscall(siteClone, unix.SYS_CLONE, flags, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("clone in stub %d: %w", t.tid, err)
	}
	return int(tid), nil
}

// cloneTrapThread makes the stopped control stub ctl clone a systrap thread (mode 1) or
// mapping thread (mode 2) whose slot is at addr, at offset off of the context file
// ctxfd: the clone's registers, which the child inherits, tell it so (stub.go's setup).
func (t *thread) cloneTrapThread(mode, addr uintptr, ctxfd int, off uint64) (int, error) {
	tid, err := t.syscallWith(siteClone, func(r *arch.Registers) {
		r.R12, r.R13, r.R14, r.R15 = uint64(mode), uint64(addr), uint64(ctxfd), off
		r.Rbx = uint64(stubBase + pageSize)
	}, unix.SYS_CLONE, cloneNewThread, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("clone in stub %d: %w", t.tid, err)
	}
	return int(tid), nil
}

// Clone flags of new stubs. Stub threads are processes of their own (no CLONE_THREAD),
// so that stopping one never stops its siblings; they share memory (CLONE_VM) and the
// file table holding the memory file (CLONE_FILES). Dead stubs are reaped by the
// kernel: their parent ignores SIGCHLD.
const (
	cloneNewAddressSpace = uintptr(unix.SIGCHLD)
	cloneNewThread       = uintptr(unix.CLONE_VM | unix.CLONE_FILES | unix.SIGCHLD)
)
