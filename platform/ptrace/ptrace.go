// Package ptrace is the reference platform: application code runs in stub processes
// that the Sentry controls with ptrace(2). It works on any Linux host and is simple, and
// slow: every system call is a stop of the stub and a wake-up of its tracer, a
// cross-process switch.
//
// The package also holds the systrap platform (NewSystrap, systrap.go), which makes its
// stubs the same way but lets application threads run untraced and trap their own
// system calls; package platform/systrap only names it.
//
// # Stubs
//
// A stub process holds an application address space and nothing of the Sentry but the
// stub region: two pages at a fixed address just below the top of the user address space
// (stub.go), the same in every process because every stub descends from the Sentry by
// fork. At start, the factory goroutine (locked to its own OS thread) forks the Sentry
// once, without exec (fork_unsafe.go); the child stops itself, the factory seizes it and
// makes it execute system calls at the stub's sites to unmap everything but the stub
// region, close every file but the memory file, ignore SIGCHLD and install the stub's
// seccomp filter (filter.go). That is the template. A new address space is a stub
// cloned from the template (its control stub, traced by the factory); a new thread of an
// address space is a stub cloned from the control stub with CLONE_VM. A new stub stops
// itself with SIGSTOP, and the Sentry thread that will trace it seizes it.
//
// Application memory is the memory file (a memfd): MapFile makes a stub thread execute
// mmap(MAP_SHARED|MAP_FIXED) of a range of it, so the Sentry's own mapping of the file
// sees every byte the application writes. A memory system call runs on the calling OS
// thread's own stub thread in that address space when it has one (a task handling its own
// page fault), else on the control stub through the factory.
//
// # Threads and tracers
//
// ptrace requests come only from the tracer thread, so each Sentry OS thread that switches
// into an address space gets a stub thread of its own, traced by it (addressSpace.threadFor).
// Stub threads are separate processes sharing memory (no CLONE_THREAD), so a stop of one
// never stops another. Contexts should be used from goroutines locked to their OS threads
// (ThreadBound); Switch locks for its own duration in any case.
//
// # Switch
//
// Switch loads the registers and XSAVE state, resumes the stub thread with PTRACE_SYSEMU
// and waits. A system call stops at entry and is never executed by the host; a fault or
// signal stops at delivery and is discarded (the Sentry decides what the application
// sees); Interrupt sends SIGSTOP, which a flag distinguishes from a stale one. The access
// type of a fault is inferred (addressSpace.faultAccess): ptrace does not show the
// page-fault error code.
//
// # Spare address spaces
//
// Making an address space is most of what a fork costs: a control stub cloned from the
// template and seized, and on systrap its mapping thread and the first application
// thread, each a few cross-process round trips. So the platform keeps one made ahead
// of time: NewAddressSpace hands out the spare (if its stubs are still alive) and starts
// a goroutine making the next one, which a fork-wait loop overlaps with the child's run
// and the parent's wait. On ptrace a stub thread is seized by the Sentry thread that will
// switch into it, so the spare's first stub thread is cloned ahead and waits stopped,
// unseized (addressSpace.spareStub), for that thread to seize it. Close waits for a spare
// being made and releases it with every address space.
//
// Better still is making none: a released address space whose stubs are healthy is
// recycled (Platform.recycle) rather than killed, up to maxReady kept ready: its
// application threads are killed, on systrap their slots are unmapped in one call and
// its spare thread is reset, or a new one made (on ptrace a spare stub thread); its
// control stub and mapping thread live on. A fork-and-wait loop then makes no stub
// process at all, and no thread either: the child's thread, parked as the spare when
// its task ended (context.Release), serves the next child. On ptrace it is detached
// back into its self-stop loop (addressSpace.park); on systrap it is reset first (see
// systrap.go's "Spare threads").
//
// The application's mappings stay too, as leftovers (addressSpace.leftover): the next
// user's first call decides. A forked child's is Refill (platform.Refiller), which keeps
// the leftovers its own mappings repeat, the same memory-file offsets with the same
// access, and unmaps the rest; the children of a fork loop map the same pages (their
// parent's, shared copy-on-write, and their own copies, at the offsets of the warm pages
// the last child freed: pgalloc's AllocateResident), so a child then costs no mapping
// call, on ptrace no fault either. Any other first use (a mapping call, a Switch)
// unmaps all the leftovers first: on systrap in the same batch as its own calls. No
// application code runs in an address space between its release and its next user's
// first call, so a leftover is never within reach of another application.
//
// # Lifetime
//
// Every stub is seized with PTRACE_O_EXITKILL: when its tracer thread exits, and so when
// the Sentry dies, the kernel kills it. The template also has PR_SET_PDEATHSIG. Stubs'
// parents ignore SIGCHLD, so dead stubs are reaped by the kernel once their tracer has
// waited for them. A stub killed from outside turns into ErrAddressSpaceDead from
// Switch or the mapping call that finds it, and the rest of its address space is killed.
//
// # Under the Sentry's seccomp filter
//
// The Sentry installs its seccomp allow-list once the platform is made; the host system
// calls the platform makes after that are listed in sentryfilter.go (HostSyscalls,
// SystrapHostSyscalls), and the Sentry's filter is built with them. The template is
// forked before: a template killed from outside is replaced only while the Sentry is
// not filtered, since a fork would carry the Sentry's filter into every stub (and the
// filter forbids the fork); once it is, a new address space fails instead.
//
// Lock order: Platform.mu, then addressSpace.mapMu, then addressSpace.threadsMu.
package ptrace

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// Platform is the ptrace platform over one memory file.
type Platform struct {
	memfd   int
	factory *factory
	fpSize  int // the kernel's XSAVE size (NT_X86_XSTATE)

	// fileSize caches the memory file's size; it only grows.
	fileSize atomic.Uint64

	// trap is systrap's context file; nil on the ptrace platform.
	trap *trapFile

	mu       sync.Mutex
	template *thread // traced by the factory
	spaces   map[*addressSpace]struct{}
	closed   bool
	// ready are address spaces made ahead of time or recycled, for the next
	// NewAddressSpace (see "Spare address spaces"), at most maxReady with those being
	// recycled (recycling); preparing says one is being made. prep waits for the
	// goroutines that make or recycle them.
	ready     []*addressSpace
	recycling int
	preparing bool
	prep      sync.WaitGroup
	// made counts the address spaces made (not recycled).
	made atomic.Int64
}

// maxReady bounds the address spaces kept ready: one made ahead and one recycled is
// what a fork-and-wait loop needs to make none.
const maxReady = 2

var _ platform.Platform = (*Platform)(nil)

// New returns a ptrace platform whose address spaces map ranges of memfd, the memory file.
// The caller keeps memfd open until Close.
func New(memfd int) (*Platform, error) {
	p, err := newPlatform(memfd, nil)
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: %w", err)
	}
	return p, nil
}

// newPlatform makes a ptrace platform, or with a context file a systrap one.
func newPlatform(memfd int, trap *trapFile) (*Platform, error) {
	if _, err := mapStub(); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(memfd, &st); err != nil {
		return nil, fmt.Errorf("memory file: %w", err)
	}
	p := &Platform{memfd: memfd, trap: trap, factory: startFactory(), spaces: map[*addressSpace]struct{}{}}
	p.fileSize.Store(uint64(st.Size))
	var err error
	p.factory.do(func() {
		if p.template, err = newTemplate(p); err != nil {
			return
		}
		buf := make([]byte, 64<<10)
		if p.fpSize, err = getFP(p.template.tid, buf); err != nil {
			err = fmt.Errorf("reading the XSAVE area of stub %d: %w", p.template.tid, err)
			p.template.kill()
		}
	})
	if err != nil {
		p.factory.stop()
		return nil, err
	}
	return p, nil
}

// Name implements platform.Platform.Name.
func (p *Platform) Name() string {
	if p.trap != nil {
		return "systrap"
	}
	return "ptrace"
}

// MinUserAddress implements platform.Platform.MinUserAddress: Linux's default
// vm.mmap_min_addr.
func (*Platform) MinUserAddress() uintptr { return 0x10000 }

// MaxUserAddress implements platform.Platform.MaxUserAddress: the stub's base, or on
// systrap the base of the threads' slots below it.
func (p *Platform) MaxUserAddress() uintptr {
	if p.trap != nil {
		return slotBase()
	}
	return stubBase
}

// FPStateSize is the size of the XSAVE area this platform loads and saves.
func (p *Platform) FPStateSize() int { return p.fpSize }

// ThreadBound implements platform.Platform.ThreadBound: ptrace's contexts are (each OS
// thread traces a stub thread of its own in each address space: threadFor); systrap's
// are not (trapContext's Switch depends on no property of its calling thread: it
// hands over through the slot, sleeps on the slot's futex word, and its Interrupt is
// a tgkill of the stub thread).
func (p *Platform) ThreadBound() bool { return p.trap == nil }

// NewContext implements platform.Platform.NewContext.
func (p *Platform) NewContext() platform.Context {
	if p.trap != nil {
		return &trapContext{p: p}
	}
	return &context{p: p}
}

// NewAddressSpace implements platform.Platform.NewAddressSpace: it hands out the spare
// address space if one is ready and alive, else makes one, and in both cases starts
// making the next spare. A template killed from outside is replaced once, unless the
// Sentry is filtered (see newTemplate).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	p.mu.Lock()
	var a *addressSpace
	if n := len(p.ready); n > 0 {
		a = p.ready[n-1] // the last recycled: its pages are warm
		p.ready = p.ready[:n-1]
	}
	p.prepareLocked()
	p.mu.Unlock()
	if a != nil {
		a.threadsMu.Lock()
		dead := a.dead
		a.released = false
		a.threadsMu.Unlock()
		if dead == nil {
			return a, nil
		}
		a.release()
	}
	return p.newAddressSpace()
}

// prepareLocked starts making a spare address space unless one is ready or being made
// or recycled; on systrap the spare gets its mapping thread and a first application
// thread too. p.mu is held.
func (p *Platform) prepareLocked() {
	if len(p.ready) > 0 || p.recycling > 0 || p.preparing || p.closed {
		return
	}
	p.preparing = true
	p.prep.Add(1)
	go func() {
		defer p.prep.Done()
		a, err := p.newAddressSpace()
		if err == nil && p.trap != nil {
			err = a.prepareThreads()
		} else if err == nil {
			err = a.prepareStub()
		}
		p.mu.Lock()
		p.preparing = false
		if err == nil && !p.closed && len(p.ready)+p.recycling < maxReady {
			p.ready = append(p.ready, a)
			a = nil
		}
		p.mu.Unlock()
		if a != nil {
			a.release()
		}
	}()
}

// recycle takes a released address space whose stubs are healthy back for a next
// NewAddressSpace, unless maxReady are ready: it kills the application's stub threads
// (on systrap, all but the mapping thread and an unused spare), and a goroutine checks
// that the control stub and mapping thread live, unmaps the dead threads' slots (systrap,
// one mapping call), marks the application's mappings leftovers (see "Spare address
// spaces"), gives it a spare thread (systrap) and puts it on the ready list. The control
// stub and the mapping thread never ran application code, and what the application
// could change of them does not reach its next user: its own memory, which they never
// read, and the mapping thread's spin budget, which the Sentry sets before each batch.
// It reports whether it took a.
func (p *Platform) recycle(a *addressSpace) bool {
	p.mu.Lock()
	if p.closed || len(p.ready)+p.recycling >= maxReady {
		p.mu.Unlock()
		return false
	}
	a.mapMu.Lock()
	noMapper := p.trap != nil && a.mapper == nil // wipe would make one, in a slot it unmaps
	a.mapMu.Unlock()
	a.threadsMu.Lock()
	if a.dead != nil || noMapper {
		a.threadsMu.Unlock()
		p.mu.Unlock()
		return false
	}
	p.recycling++
	p.prep.Add(1)
	p.mu.Unlock()
	// The threads that ran application code go, as in killLocked; their contexts
	// release them (systrap) or they are reaped here (ptrace).
	// The kills are the goroutine's, off the way of the exiting process's parent: the
	// threads run no application code meanwhile (parked in the Sentry), and the
	// address space goes to no one before they are killed.
	var keep []uintptr // the slots of the threads that stay
	var kill []int
	for t := range a.trapThreads {
		if t.mapper || t == a.spareThread {
			keep = append(keep, t.addr)
		} else {
			t.recycled.Store(true)
			kill = append(kill, t.tid)
		}
	}
	threads := a.threads
	a.threads = map[int]*thread{}
	a.threadsMu.Unlock()
	go func() {
		defer p.prep.Done()
		for _, tid := range kill {
			unix.Kill(tid, unix.SIGKILL)
		}
		for _, t := range threads {
			t.kill()
		}
		err := a.wipe(keep)
		if err == nil && p.trap != nil {
			a.resetSpare()
			err = a.prepareThreads()
		} else if err == nil {
			err = a.prepareStub()
		}
		p.mu.Lock()
		p.recycling--
		if err == nil && !p.closed {
			p.ready = append(p.ready, a)
			a = nil
		}
		p.mu.Unlock()
		if a != nil {
			a.release()
		}
	}()
	return true
}

// newAddressSpace makes an address space: a control stub cloned from the template (a
// template killed from outside is made again first).
func (p *Platform) newAddressSpace() (*addressSpace, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("ptrace platform: closed")
	}
	var ctl *thread
	var err error
	p.factory.do(func() {
		var tid int
		tid, err = cloneStub(p.template, false)
		if died := (*errStubDied)(nil); errors.As(err, &died) {
			p.template.kill()
			if p.template, err = newTemplate(p); err != nil {
				return
			}
			tid, err = cloneStub(p.template, false)
		}
		if err != nil {
			return
		}
		if ctl, err = seize(tid); err != nil {
			unix.Kill(tid, unix.SIGKILL)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: new address space: %w", err)
	}
	a := &addressSpace{p: p, control: ctl, threads: map[int]*thread{}, trapThreads: map[*trapThread]struct{}{}}
	p.spaces[a] = struct{}{}
	p.made.Add(1)
	return a, nil
}

// forget drops a dead address space. It is called with a.threadsMu held and must not
// take p.mu while an address space is being created (p.mu is held then), so it uses
// its own lock-free path: a deferred delete.
func (p *Platform) forget(a *addressSpace) {
	go func() {
		p.mu.Lock()
		delete(p.spaces, a)
		p.mu.Unlock()
	}()
}

// checkFileRange checks that fr lies within the memory file.
func (p *Platform) checkFileRange(fr platform.FileRange) error {
	if fr.End <= p.fileSize.Load() {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(p.memfd, &st); err != nil {
		return fmt.Errorf("memory file: %w", err)
	}
	p.fileSize.Store(uint64(st.Size))
	if fr.End > uint64(st.Size) {
		return fmt.Errorf("%w: file range [%#x, %#x) is beyond the memory file's end %#x",
			platform.ErrBadRange, fr.Start, fr.End, st.Size)
	}
	return nil
}

// Close implements platform.Platform.Close: it kills every stub, then ends the factory.
func (p *Platform) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.ready = nil // released below, with every address space
	p.mu.Unlock()
	p.prep.Wait() // a spare being made or recycled needs the factory
	p.mu.Lock()
	spaces := make([]*addressSpace, 0, len(p.spaces))
	for a := range p.spaces {
		spaces = append(spaces, a)
	}
	p.mu.Unlock()
	for _, a := range spaces {
		a.release()
	}
	p.template.kill()
	p.factory.stop()
	if p.trap != nil {
		p.trap.close()
	}
	return nil
}
