package ptrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/internal/spin"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// systrap: application threads trap their own system calls. The stubs are made as
// ptrace's are (the template, control stubs traced by the factory, mapping changes
// injected into the control stub), but an application thread is a stub thread that
// runs untraced, with a seccomp filter that turns each of its system calls into a
// SIGSYS in the same thread (SECCOMP_RET_TRAP), and the stub's handler for SIGSYS and
// for the fault signals (stub.go). No process switch happens on a system call: the
// thread and its task goroutine hand over through memory they share.
//
// # The slot and the context page
//
// Each systrap thread owns a slot of slotSize bytes in the context file (a memfd of the
// platform's, mapped once into the Sentry) mapped at a fixed address just below the stub
// region of its address space. The slot's first page is the context page; the rest is
// the thread's alternate signal stack, so the kernel writes the signal frame (siginfo,
// ucontext with the registers, the XSAVE area) where the Sentry can read and change it
// directly. The XSAVE area stays there until the Sentry needs it (arch.State.DeferFP:
// see saveState), since most system calls never look at it. The handler finds the
// context page by masking rsp with the slot size.
// A thread released while its address space lives on leaves its slot mapped there, so
// the slot stays that address space's until its next batch of memory calls unmaps it
// (trapThread.release, memoryCalls): only then may another thread, of any address
// space, get that part of the context file.
//
// # The hand-over
//
// ctxState is a futex word with seven values. The handler posts an event by exchanging
// stateEvent in (and wakes the Sentry if it found stateSentryWait), then spins for
// ctxSpin rounds waiting for the go, then moves stateEvent to stateStubWait and
// sleeps on the futex. The Sentry reads the frame, writes registers back into it,
// exchanges stateApp in (waking the stub if it found stateStubWait), and waits the same
// way: it spins, then sleeps, having moved stateRunning to stateSentryWait, or
// stateApp (a go not taken yet) to stateAppSentryWait. The handler takes the go with a
// compare-and-swap, stateApp to stateRunning or stateAppSentryWait to stateSentryWait
// (so the Sentry never takes back a go the handler has not seen yet, and a Sentry
// asleep stays marked so, for the next event to wake it), loads fs and gs bases from
// the context page and returns to rt_sigreturn, which loads the Sentry's registers. The
// thread's clear_child_tid is ctxState: when the stub dies the kernel writes stateDead
// (0) there and wakes the Sentry.
//
// # Spare threads
//
// A thread is costly to make (the control stub clones it, it sets itself up, the
// Sentry waits for its first event) and to end (a kill and a wait). So a context
// released at its task's end does not kill its thread if the address space has no
// spare: the thread, in its handler after its last event, becomes the spare
// (trapContext.Release, park), for the next context that switches into the address
// space (a new thread of the process), or, once the address space is recycled, for
// its next user (a fork's child). The platform's kernel calls Release before it drops
// the address space, so that the exiting child of a fork loop leaves its thread to
// the next child.
//
// A thread the application ran on can't be handed to another process as it is: the
// application may have changed what the kernel keeps for the thread (its signal mask
// and alternate stack, through the stub's rt_sigreturn with a frame of its own), and
// since its threads can write each other's state words, it may even have set the
// thread running its own code while the Sentry thought it parked. So recycling resets
// it (reset) without trusting anything the thread would do: the factory seizes it with
// ptrace, stops it wherever it is, sets its registers to run the stub's rt_sigreturn on
// a frame of the Sentry's (the thread's own alternate stack, no signal blocked, the
// initial FP state, rip at siteStart), detaches it and waits for the int3's event. The
// thread is then as a new one is after its first event; one that does not come back
// so is killed, and a new spare made. No application code runs in the address space
// meanwhile. Within one address space (a thread's exit, then a clone) the spare is
// handed on as it is: its threads are one application.
//
// # Interrupts
//
// Interrupt sends interruptTrapSignal (SIGUSR2) to the thread with tgkill; its handler
// posts it as an event, which a flag tells from a stale one (resumed at once).
//
// # The calling thread
//
// Nothing here depends on which OS thread of the Sentry's calls Switch, so systrap's
// contexts are not thread-bound (Platform.ThreadBound) and their users need not lock
// their goroutines to a thread: the hand-over is memory shared with the stub thread
// and a futex word in it; Interrupt signals the stub thread, not the Sentry's; the
// mapping thread is driven the same way from any goroutine; the CPU each side writes in
// the context page (see "Spinning") is a hint, which a Switch moving to another CPU
// makes stale for one hand-over at most. (ptrace's contexts are: each OS thread traces
// a stub thread of its own, threadFor.)
//
// # What the application can do
//
// The slot is in the application's address space and writable, so everything the Sentry
// reads there is untrusted: pointers are checked to lie within the slot, values are
// copied out once, and a state the protocol does not know kills the thread's address
// space (ErrAddressSpaceDead: the Sentry kills the thread group). The application can
// only hurt itself that way: the registers it could forge are its own, the kernel checks
// the frame rt_sigreturn restores, and the filters (filter.go) let a thread that jumps
// into the stub make no host system call but the handler's futex and rt_sigreturn.
// The data page the set-up reads (the filters, the handler's sigaction) is read-only.
//
// Lock order (with ptrace's): Platform.mu, addressSpace.mapMu, addressSpace.threadsMu,
// trapFile.mu.

// Slot geometry. The slot size is a power of two (the handler masks rsp with it) and
// leaves room for a signal frame with the largest XSAVE area a thread can have.
const (
	slotSize        = 0x8000
	maxTrapThreads  = 4096 // per address space
	trapFileSlots   = 1 << 16
	slotStackOffset = pageSize
)

// Offsets in the context page.
const (
	ctxState    = 0  // u32: state*
	ctxInfo     = 8  // u64: the handler's siginfo pointer
	ctxUcontext = 16 // u64: the handler's ucontext pointer
	ctxFSBase   = 24 // u64: fs base at the event; loaded on return
	ctxGSBase   = 32 // u64: gs base, likewise
	ctxSpin     = 40 // u32: the handler's spin budget, in PAUSEs...
	ctxYield    = 44 // u32: ...then in sched_yields
	ctxStack    = 48 // stack_t for sigaltstack (set-up only)
	ctxNoMask   = 72 // u64 0: the signal mask for rt_sigprocmask (set-up only)
	// The CPUs each side last ran on (see "Spinning"), in the state word's cache line,
	// which both sides write anyway: the Sentry's where the mapping thread keeps its
	// hint (sysHint), the handler's (untrusted) in the padding of the stack_t, which
	// only the set-up's sigaltstack reads.
	ctxSentryCPU = 4  // u32: the CPU the Sentry's thread last resumed the stub from
	ctxStubCPU   = 60 // u32: the CPU the handler last posted an event from
)

// Values of ctxState.
const (
	stateDead       = 0 // the stub exited (clear_child_tid)
	stateApp        = 1 // the thread runs application code (or is returning to it)
	stateEvent      = 2 // the handler posted an event; the Sentry owns the frame
	stateSentryWait = 3 // the Sentry sleeps waiting for an event
	stateStubWait   = 4 // the handler sleeps waiting for stateApp
	stateRunning    = 5 // the handler took stateApp and returned to the application
	// stateAppSentryWait: the Sentry sleeps, having said go; the handler takes the go
	// by moving it to stateSentryWait.
	stateAppSentryWait = 6
)

// futex(2) operations (x/sys/unix lacks them).
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

// interruptTrapSignal interrupts a running systrap thread.
const interruptTrapSignal = unix.SIGUSR2

// trapSignals are the signals the stub's handler takes.
var trapSignals = []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL,
	unix.SIGTRAP, interruptTrapSignal}

// NewSystrap returns a systrap platform whose address spaces map ranges of memfd. It
// needs FSGSBASE (Linux 5.9 on a CPU that has it), so the handler can save and load
// the thread's fs and gs bases itself.
func NewSystrap(memfd int) (*Platform, error) {
	if !hasFSGSBase() {
		return nil, fmt.Errorf("systrap platform: the host does not enable FSGSBASE (needs Linux 5.9 and a CPU with it)")
	}
	tf, err := newTrapFile()
	if err != nil {
		return nil, fmt.Errorf("systrap platform: %w", err)
	}
	p, err := newPlatform(memfd, tf)
	if err != nil {
		tf.close()
		return nil, fmt.Errorf("systrap platform: %w", err)
	}
	return p, nil
}

// trapFile is the context file: the slots of every systrap thread of the platform.
type trapFile struct {
	fd  int
	mem []byte // the Sentry's mapping of the whole file

	mu   sync.Mutex
	free []int // slots free for reuse
	next int   // slots below next have been handed out
}

func (f *trapFile) alloc() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.free); n > 0 {
		s := f.free[n-1]
		f.free = f.free[:n-1]
		return s, nil
	}
	if f.next == trapFileSlots {
		return 0, fmt.Errorf("systrap: all %d thread slots are in use", trapFileSlots)
	}
	f.next++
	return f.next - 1, nil
}

func (f *trapFile) release(s int) {
	f.mu.Lock()
	f.free = append(f.free, s)
	f.mu.Unlock()
}

// trapThread is a systrap stub thread: untraced once set up, driven through its slot.
type trapThread struct {
	as     *addressSpace
	tid    int
	pidfd  int
	local  int     // slot index in the address space
	global int     // slot index in the context file
	addr   uintptr // the slot's address in the address space
	slot   []byte  // the Sentry's view of the slot
	mapper bool    // the address space's mapping thread
	// recycled: killed when its address space was recycled (Platform.recycle); a
	// context that still holds it makes a new thread.
	recycled atomic.Bool
	// The mapping thread's: its eventfd (the Sentry's copy) and last sequence number.
	eventfd int
	seq     uint32
	// batchGap is the moving average of the time from one batch's end to the next
	// batch (batchDone: the last one's end), which sets the thread's spin.
	batchGap  time.Duration
	batchDone time.Time

	// The frame of the last event, checked: offsets in slot.
	uc, info, fp int
	fpLen        int // the XSAVE area's size in the frame
	// lazy is the State whose FP state the frame holds in its place (see saveState),
	// fpSize that state's size. Only the goroutine switching into the thread uses them.
	lazy   *arch.State
	fpSize int
	// Spinning (see "Spinning" below): how long the application took from a go to
	// its next event, when the handler was still waiting awake for the go (appTime)
	// and when it had to be woken (appWakeTime, a wake-up's latency included); how
	// long the Sentry kept the thread; all moving averages. When the last hand-over
	// each way happened, and whether the last go had to wake the handler.
	appTime, appWakeTime, sentryTime time.Duration
	resumed, posted                  spin.Mono
	woke                             bool
	// ran: the thread was resumed into application code since it was made or last
	// reset (see "Spare threads").
	ran bool
}

// slotBase is where the slots of an address space start; MaxUserAddress is below it.
func slotBase() uintptr {
	return (stubBase - maxTrapThreads*slotSize) &^ (slotSize - 1)
}

// newTrapThread returns an application thread: the address space's spare (made ahead
// of time, or parked by a released context: see "Spare threads") if there is one, else
// a new one (newStubThread).
func (a *addressSpace) newTrapThread() (*trapThread, error) {
	a.threadsMu.Lock()
	t := a.spareThread
	a.spareThread = nil
	a.threadsMu.Unlock()
	if t != nil {
		return t, nil
	}
	return a.newStubThread(false)
}

// prepareThreads makes a spare address space's mapping thread and its first
// application thread, so that neither is made on the way of a fork.
func (a *addressSpace) prepareThreads() error {
	a.mapMu.Lock()
	if a.mapper == nil {
		t, err := a.newStubThread(true)
		if err != nil {
			a.mapMu.Unlock()
			return err
		}
		a.mapper = t
	}
	a.mapMu.Unlock()
	a.threadsMu.Lock()
	has := a.spareThread != nil // a recycled address space's, never used
	a.threadsMu.Unlock()
	if has {
		return nil
	}
	t, err := a.newStubThread(false)
	if err != nil {
		return err
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil {
		go t.release()
		return a.dead
	}
	a.spareThread = t
	return nil
}

// newStubThread makes an application thread, or with mapper the mapping thread.
func (a *addressSpace) newStubThread(mapper bool) (*trapThread, error) {
	if !mapper {
		if err := a.flushStale(); err != nil { // their slots may be what this one needs
			return nil, err
		}
	}
	tf := a.p.trap
	local, err := a.allocSlot()
	if err != nil {
		return nil, err
	}
	global, err := tf.alloc()
	if err != nil {
		a.freeSlot(local)
		return nil, err
	}
	t := &trapThread{as: a, local: local, global: global, pidfd: -1, eventfd: -1, mapper: mapper,
		addr: slotBase() + uintptr(local)*slotSize,
		slot: tf.mem[global*slotSize : (global+1)*slotSize : (global+1)*slotSize]}
	// All of it: a mapping thread must not find a batch a former one left there.
	clear(t.slot)
	le := binary.LittleEndian
	le.PutUint32(t.slot[ctxState:], stateApp)
	if !mapper {
		le.PutUint32(t.slot[ctxSentryCPU:], noCPU)
		// Until it has been timed, the application is expected to come back soon, so
		// that the Sentry spins for its first event: a forked child that exits (or
		// execs) at once, on a recycled address space, does so in microseconds.
		t.appTime, t.appWakeTime = firstRun, firstRun
	}
	le.PutUint64(t.slot[ctxStack:], uint64(t.addr+slotStackOffset))
	le.PutUint64(t.slot[ctxStack+16:], slotSize-slotStackOffset)

	if mapper {
		batch := t.slot[pageSize:]
		le.PutUint64(batch[sysOne:], 1)
		le.PutUint64(batch[sysTwo:], 2)
		le.PutUint32(t.slot[ctxSpin:], uint32(maxMapperSpin/spin.PauseTime)) // PAUSEs only
	}

	// The control stub clones the thread, which sets itself up (stub.go's setup); the
	// mapping thread's eventfd is made in the control stub first (their file table is
	// shared), so that its number comes from the host, not from the slot.
	mode, efd := uintptr(1), -1
	if mapper {
		mode = 2
	}
	a.p.factory.do(func() {
		if mapper {
			var r uintptr
			if r, err = a.control.syscall(siteSyscall, unix.SYS_EVENTFD2, 0, unix.EFD_CLOEXEC); err != nil {
				return
			}
			efd = int(r)
		}
		t.tid, err = a.control.cloneTrapThread(mode, t.addr, a.p.trap.fd, uint64(global)*slotSize)
	})
	if err == nil {
		t.pidfd, err = unix.PidfdOpen(t.tid, 0)
	}
	if err == nil && mapper {
		err = t.openEventfd(a.control.tid, efd)
	}
	if err == nil && !mapper {
		if err = t.waitFirstEvent(); err == nil {
			_, err = t.readFrame()
		}
	}
	if err != nil {
		if t.tid != 0 {
			t.release()
		} else {
			t.free()
		}
		return nil, a.die(fmt.Errorf("systrap: a new thread: %w", err))
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil {
		go t.release()
		return nil, a.dead
	}
	a.trapThreads[t] = struct{}{}
	return t, nil
}

// openEventfd takes the Sentry's copy of the mapping thread's eventfd, efd in the
// control stub ctl, non-blocking (waitBatch sleeps in poll), and tells the thread its
// number.
func (t *trapThread) openEventfd(ctl, efd int) error {
	pidfd, err := unix.PidfdOpen(ctl, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if t.eventfd, err = pidfdGetfd(pidfd, efd); err != nil {
		return fmt.Errorf("pidfd_getfd: %w", err)
	}
	if err := unix.SetNonblock(t.eventfd, true); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(t.slot[pageSize+sysEventfd:], uint64(efd))
	return nil
}

// waitFirstEvent waits for a new thread's first event (the int3 at siteStart), or its
// death: until it has set its clear_child_tid, only its pidfd tells.
func (t *trapThread) waitFirstEvent() error {
	fds := []unix.PollFd{{Fd: int32(t.pidfd), Events: unix.POLLIN}}
	for {
		switch s := t.state(); s {
		case stateEvent, stateStubWait:
			t.posted = spin.Now()
			return nil
		case stateApp:
			if !t.casState(stateApp, stateSentryWait) {
				continue
			}
			fallthrough
		case stateSentryWait:
			t.futexWaitFor(stateSentryWait, 10*time.Millisecond)
		default:
			return fmt.Errorf("systrap thread %d: %w (state %d)", t.tid, errCorrupt, s)
		}
		if n, _ := unix.Poll(fds, 0); n > 0 {
			return fmt.Errorf("systrap thread %d died setting itself up", t.tid)
		}
	}
}

// release kills the thread, waits for it to be gone, and frees its slots. In an
// address space that lives on (another thread's, after an exec from vfork or a thread's
// exit), the slot is still mapped there: it stays the address space's (stale) until
// its next batch of memory calls unmaps it (memoryCalls), since the context file's
// slot goes to the next thread of any address space, whose context page this one's
// application could otherwise read and write. (Unmapping here would need the mapping
// thread on the way of every exit, of a platform perhaps closing.)
func (t *trapThread) release() {
	t.lazy = nil // what the frame holds now is not known (see fetchFP)
	if t.tid != 0 {
		unix.Kill(t.tid, unix.SIGKILL)
	}
	if t.pidfd >= 0 {
		fds := []unix.PollFd{{Fd: int32(t.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(t.pidfd)
		t.pidfd = -1
	}
	if t.eventfd >= 0 {
		unix.Close(t.eventfd)
		t.eventfd = -1
	}
	a := t.as
	a.threadsMu.Lock()
	delete(a.trapThreads, t)
	if a.dead == nil && !t.mapper {
		a.stale = append(a.stale, t)
		a.threadsMu.Unlock()
		return
	}
	a.threadsMu.Unlock()
	t.free()
}

// flushStale unmaps the slots of released threads now (memoryCalls does it with its
// next batch), so that they can be reused.
func (a *addressSpace) flushStale() error {
	a.threadsMu.Lock()
	n := len(a.stale)
	a.threadsMu.Unlock()
	if n == 0 {
		return nil
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	return a.memoryCalls()
}

func (t *trapThread) free() {
	t.as.freeSlot(t.local)
	t.as.p.trap.release(t.global)
}

// The mapping thread's batch page (its slot's second page, read-only in the stub) and
// the hint in its first page; see stub.go.
const (
	sysSeq      = 0  // u32: the batch's sequence number
	sysCount    = 8  // u64: how many calls
	sysEventfd  = 16 // u64: the thread's eventfd
	sysOne      = 24 // u64 1: written to the eventfd when every call succeeded
	sysTwo      = 32 // u64 2: written when one failed
	sysCalls    = 64 // the calls, sysCallSize bytes each
	sysCallSize = 64
	sysHint     = 4 // u32 in the first page: the last sequence number done (untrusted)
	maxBatch    = (slotSize - pageSize - sysCalls) / sysCallSize
)

// memoryCalls makes the mapping thread run calls (each a number and six arguments), in
// order. They are the Sentry's own mapping changes, which never fail unless the host
// refuses (out of memory, too many mappings): a failure kills the address space, since
// the Sentry no longer knows what is mapped. The caller holds mapMu.
func (a *addressSpace) memoryCalls(calls ...[7]uintptr) (err error) {
	if len(calls) > maxBatch {
		return fmt.Errorf("systrap: a batch of %d memory calls, at most %d fit", len(calls), maxBatch)
	}
	if a.mapper == nil {
		t, err := a.newStubThread(true)
		if err != nil {
			return err
		}
		a.mapper = t
	}
	// The slots of released threads go first, in a batch of their own if need be; only
	// once they are unmapped are the context file's slots free for others.
	a.threadsMu.Lock()
	stale := a.stale
	a.stale = nil
	a.threadsMu.Unlock()
	wipe := a.wipePending
	if len(stale) > 0 || wipe {
		var unmaps [][7]uintptr
		if wipe { // a leftover's mappings (dropLeftoverLocked)
			lo, hi := a.p.MinUserAddress(), a.p.MaxUserAddress()
			unmaps = append(unmaps, [7]uintptr{unix.SYS_MUNMAP, lo, hi - lo})
		}
		for _, t := range stale {
			unmaps = append(unmaps, [7]uintptr{unix.SYS_MUNMAP, t.addr, slotSize})
		}
		if len(unmaps)+len(calls) <= maxBatch {
			calls = append(unmaps, calls...)
		} else if err := a.runBatch(unmaps); err != nil {
			return err // the address space is dead: its stubs die with the mappings
		}
		if wipe {
			defer func() {
				if a.wipePending && err == nil {
					a.wipePending = false
					a.leftover.Store(false)
				}
			}()
		}
		defer func() {
			for _, t := range stale {
				t.free()
			}
		}()
	}
	if len(calls) == 0 {
		return nil
	}
	return a.runBatch(calls)
}

// runBatch has the mapping thread run calls (at most maxBatch). mapMu is held.
func (a *addressSpace) runBatch(calls [][7]uintptr) error {
	// Application threads of this address space waiting in their handlers stop
	// spinning: the mapping thread needs a CPU, and a fault's handling takes long.
	a.threadsMu.Lock()
	for o := range a.trapThreads {
		if !o.mapper {
			o.casState(stateEvent, stateStubWait)
		}
	}
	a.threadsMu.Unlock()
	t := a.mapper
	le := binary.LittleEndian
	batch := t.slot[pageSize:]
	le.PutUint64(batch[sysCount:], uint64(len(calls)))
	for i, c := range calls {
		for j, v := range c {
			le.PutUint64(batch[sysCalls+sysCallSize*i+8*j:], uint64(v))
		}
	}
	// After the batch the thread spins for the next one only as long as batches have
	// lately followed each other (see "Spinning"): a mapping thread spinning for one
	// that comes a millisecond later (a fault, then the munmap of what it mapped) keeps
	// a CPU from the application and the Sentry.
	now := time.Now()
	if !t.batchDone.IsZero() {
		t.batchGap = average(t.batchGap, now.Sub(t.batchDone))
	}
	le.PutUint32(t.slot[ctxSpin:], uint32(min(spinFor(t.batchGap), maxMapperSpin)/spin.PauseTime))
	t.seq++
	t.storeSeq(t.seq)
	v, err := t.waitBatch()
	t.batchDone = time.Now()
	switch {
	case err != nil:
		return a.die(err)
	case v != 1:
		return a.die(fmt.Errorf("systrap mapping thread %d: a memory call failed (%d)", t.tid, v))
	}
	return nil
}

// waitBatch waits for the mapping thread to finish the batch and returns what it wrote
// to its eventfd: it spins while the hint says the batch is not done, then reads the
// eventfd, sleeping in poll (with the thread's pidfd, to see it die) when empty.
func (t *trapThread) waitBatch() (uint64, error) {
	start := spin.Now()
	if d := spinFor(t.appTime); d > 0 {
		spin.Until(start, d, func() bool { return t.hint() == t.seq })
	}
	var buf [8]byte
	for {
		n, err := unix.Read(t.eventfd, buf[:])
		if err == nil && n == 8 {
			t.appTime = average(t.appTime, time.Duration(spin.Now()-start))
			return binary.LittleEndian.Uint64(buf[:]), nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return 0, fmt.Errorf("systrap mapping thread %d: reading its eventfd: %v", t.tid, err)
		}
		fds := []unix.PollFd{{Fd: int32(t.eventfd), Events: unix.POLLIN}, {Fd: int32(t.pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return 0, fmt.Errorf("systrap mapping thread %d: poll: %v", t.tid, err)
		}
		if fds[1].Revents != 0 && fds[0].Revents == 0 {
			return 0, fmt.Errorf("systrap mapping thread %d is gone", t.tid)
		}
	}
}

func (a *addressSpace) allocSlot() (int, error) {
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	for i, used := range a.slots {
		if !used {
			a.slots[i] = true
			return i, nil
		}
	}
	if len(a.slots) == maxTrapThreads {
		return 0, fmt.Errorf("systrap: address space has %d threads already", maxTrapThreads)
	}
	a.slots = append(a.slots, true)
	return len(a.slots) - 1, nil
}

func (a *addressSpace) freeSlot(i int) {
	a.threadsMu.Lock()
	if i < len(a.slots) {
		a.slots[i] = false
	}
	a.threadsMu.Unlock()
}

// errCorrupt: what the thread's slot holds is not what the protocol allows.
var errCorrupt = errors.New("systrap: the thread's context page is corrupt")

// Spinning. A hand-over that finds the other side asleep costs a futex wake-up, tens
// of microseconds on a VM; one that finds it spinning costs a cache line. So each side
// spins a while before sleeping, for as long as the other side has been taking lately
// (three times the moving average), never more than maxSpin, and not at all when the
// other side usually takes longer than that (a thread computing, a blocking system
// call), when there is one CPU, or when the other side last ran on the spinner's own
// CPU (each side writes its CPU in the context page: ctxSentryCPU, ctxStubCPU): there
// the spin would only keep the other side off the CPU it needs, and the hand-over is
// a futex wake-up and sleep. (On a busy host the scheduler puts the two on one CPU,
// as wake-ups pull a woken thread to its waker's CPU. Handing that CPU over with
// sched_yield instead was measured no faster, and a yield gives the CPU to any other
// runnable thread for its whole time slice, where a woken thread preempts it.)
//
// The Sentry times the application separately after a go that found the handler
// awake and after one that had to wake it, so that the wake-ups of a slow stretch (a
// preempted thread) don't make the averages long enough to stop the spinning that
// would end it; a sample counts for at most maxSample, so that one preemption (a host
// time slice, milliseconds) does not either. The handler, for its part, does not spin
// after waking the Sentry.
//
// Past the first spin.Busy, a spinner calls sched_yield between looks, so that when the
// CPUs are oversubscribed (many sandboxes, many threads) the CPU goes to a thread that
// has work, often the very one the spinner waits for. The Sentry times its own spin;
// the handler counts PAUSEs (ctxSpin) and then sched_yields (ctxYield), whose durations
// (a PAUSE is tens of cycles on one CPU, a hundred and more on another) are measured
// once.
const (
	firstRun = 20 * time.Microsecond
	maxSpin  = 100 * time.Microsecond
	// maxMapperSpin bounds the mapping thread's spin, which is PAUSEs only (no
	// yields): batches that come back to back (fork's protection and refill, an
	// munmap's unmap and punch) are caught, but the mapping thread does not hold a CPU
	// through a fault's handling (a file page read, tens of microseconds) that the
	// application's thread and the Sentry need more.
	maxMapperSpin = spin.Busy
	maxSample     = 2 * maxSpin
)

var yieldTime = measureYield()

// spinFor is how long to spin for a side that has lately taken avg.
func spinFor(avg time.Duration) time.Duration { return spin.For(avg, maxSpin) }

// average folds d into the moving average avg.
func average(avg, d time.Duration) time.Duration { return spin.Average(avg, d, maxSample) }

// measureYield times a sched_yield with nothing else to run: the best of a few runs.
func measureYield() time.Duration {
	best := time.Duration(1 << 62)
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		for j := 0; j < 100; j++ {
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
		best = min(best, time.Since(t0))
	}
	return max(best/100, 100*time.Nanosecond)
}

// setSpin tells the handler (or the mapping thread) to spin for d.
func (t *trapThread) setSpin(d time.Duration) {
	le := binary.LittleEndian
	busy := min(d, spin.Busy)
	le.PutUint32(t.slot[ctxSpin:], uint32(busy/spin.PauseTime))
	le.PutUint32(t.slot[ctxYield:], uint32((d-busy)/yieldTime))
}

// waitEvent waits until the handler posts an event.
func (t *trapThread) waitEvent() error {
	expect := t.appTime
	if t.woke {
		expect = t.appWakeTime
	}
	// The stub's CPU is what its handler last wrote: a hint, whatever the application
	// made of it.
	if d := spinFor(expect); d > 0 && t.stubCPU() != cpuNumber() {
		spin.Until(t.resumed, d, func() bool {
			s := t.state()
			return s == stateEvent || s == stateStubWait
		})
	}
	for {
		switch s := t.state(); s {
		case stateEvent, stateStubWait:
			t.posted = spin.Now()
			if d := time.Duration(t.posted - t.resumed); t.woke {
				t.appWakeTime = average(t.appWakeTime, d)
			} else {
				t.appTime = average(t.appTime, d)
			}
			return nil
		case stateDead:
			return fmt.Errorf("systrap thread %d is gone", t.tid)
		case stateApp:
			// The handler has not taken the go yet (it is waking, or was descheduled):
			// it will move the mark to stateSentryWait, for its event to wake this sleep.
			if !t.casState(stateApp, stateAppSentryWait) {
				continue
			}
			fallthrough
		case stateAppSentryWait:
			t.futexWaitFor(stateAppSentryWait, sentryWaitRecheck)
		case stateRunning:
			if !t.casState(stateRunning, stateSentryWait) {
				continue
			}
			fallthrough
		case stateSentryWait:
			// The handler wakes this sleep when it posts an event over
			// stateSentryWait. But the word is the application's to overwrite: a
			// value stored over it wakes nobody, and the handler, finding no
			// sleeper's value there, wakes nobody either. So look again every
			// sentryWaitRecheck: a corrupt word then ends the thread group, and
			// a thread that only computes costs a wake-up that often.
			t.futexWaitFor(stateSentryWait, sentryWaitRecheck)
		default:
			return fmt.Errorf("systrap thread %d: %w (state %d)", t.tid, errCorrupt, s)
		}
	}
}

// sentryWaitRecheck bounds how long the Sentry sleeps on a thread's state word before
// reading it again (see waitEvent).
const sentryWaitRecheck = 20 * time.Millisecond

// resume hands the thread back to the application, telling the handler how long to
// spin next time.
func (t *trapThread) resume() {
	t.resumed = spin.Now()
	if t.posted != 0 {
		t.sentryTime = average(t.sentryTime, time.Duration(t.resumed-t.posted))
	}
	t.setSpin(spinFor(t.sentryTime))
	binary.LittleEndian.PutUint32(t.slot[ctxSentryCPU:], cpuNumber())
	t.ran = true
	t.woke = t.swapState(stateApp) == stateStubWait
	if t.woke {
		t.futexWake()
	}
}

// stubCPU is the CPU the handler last posted an event from, as it says.
func (t *trapThread) stubCPU() uint32 {
	return binary.LittleEndian.Uint32(t.slot[ctxStubCPU:])
}

// noCPU is no CPU's number: the Sentry's before it first resumes a thread.
const noCPU = ^uint32(0)

// cpuNumber is the CPU the calling thread runs on (pause_amd64.s).
func cpuNumber() uint32

// readFrame checks the frame of the event just posted and returns the signal.
func (t *trapThread) readFrame() (arch.SignalInfo, error) {
	var si arch.SignalInfo
	le := binary.LittleEndian
	in := func(ptr uint64, size int) (int, bool) {
		lo, hi := uint64(t.addr+slotStackOffset), uint64(t.addr+slotSize)
		if ptr < lo || ptr > hi || hi-ptr < uint64(size) {
			return 0, false
		}
		return int(ptr - uint64(t.addr)), true
	}
	info, ok1 := in(le.Uint64(t.slot[ctxInfo:]), 128)
	uc, ok2 := in(le.Uint64(t.slot[ctxUcontext:]), arch.UcontextSize)
	if !ok1 || !ok2 {
		return si, fmt.Errorf("systrap thread %d: %w (frame pointers)", t.tid, errCorrupt)
	}
	t.info, t.uc = info, uc
	b := t.slot[info : info+128]
	si.Signo = int32(le.Uint32(b[0:]))
	si.Errno = int32(le.Uint32(b[4:]))
	si.Code = int32(le.Uint32(b[8:]))
	copy(si.Fields[:], b[16:])
	t.fp, t.fpLen = 0, 0
	if fpAddr := le.Uint64(t.slot[uc+arch.UcontextMcontext+arch.SigcontextFPState:]); fpAddr != 0 {
		fp, ok := in(fpAddr, 512+64)
		if !ok || fpAddr%64 != 0 {
			return si, fmt.Errorf("systrap thread %d: %w (FP state pointer)", t.tid, errCorrupt)
		}
		n := 512
		if le.Uint32(t.slot[fp+464:]) == arch.FPXstateMagic1 {
			n = int(le.Uint32(t.slot[fp+480:]))
			if _, ok := in(fpAddr, n+4); !ok || n < 512+64 {
				return si, fmt.Errorf("systrap thread %d: %w (XSAVE size %d)", t.tid, errCorrupt, n)
			}
		}
		t.fp, t.fpLen = fp, n
	}
	return si, nil
}

// Page-fault error code bits (arch/x86/include/asm/trap_pf.h).
const (
	pfWrite = 0x2  // X86_PF_WRITE
	pfInstr = 0x10 // X86_PF_INSTR
)

// saveState copies the frame's registers into st, and leaves the FP state in the
// frame (st.DeferFP): most system calls never look at it, and a frame left alone
// stays in the cache of the stub's CPU for rt_sigreturn to load (the XSAVE area is
// kilobytes, dozens of cache lines that would otherwise move to the Sentry's CPU and
// back on every call). The frame stays put until the thread runs again, which only
// loadState's caller makes it do (it fetches the state first unless it goes back
// unchanged), or until the thread is released: a Switch moving to another thread
// fetches it then (fetchFP), and a released context's task is done with it.
func (t *trapThread) saveState(st *arch.State, fpSize int) {
	le := binary.LittleEndian
	r := &st.Regs
	arch.ReadSigcontext(t.slot[t.uc+arch.UcontextMcontext:], r)
	r.Fs_base = le.Uint64(t.slot[ctxFSBase:])
	r.Gs_base = le.Uint64(t.slot[ctxGSBase:])
	r.Orig_rax = ^uint64(0)
	t.lazy, t.fpSize = st, fpSize
	st.DeferFP(t)
}

// LoadFP implements arch.FPSource: it copies the frame's FP state into st.FP.
func (t *trapThread) LoadFP(st *arch.State) {
	if t.lazy != st {
		return // not st's (its Switch failed, or another State took the frame)
	}
	t.lazy = nil
	if len(st.FP) != t.fpSize {
		st.FP = resizeFP(st.FP, t.fpSize)
	}
	if t.fpLen > 0 {
		n := min(t.fpLen, len(st.FP))
		copy(st.FP[:464], t.slot[t.fp:])
		copy(st.FP[512:n], t.slot[t.fp+512:])
		clear(st.FP[464:512])
	}
}

// fetchFP makes the FP state the frame holds for a State current in that State,
// before the frame changes.
func (t *trapThread) fetchFP() {
	if st := t.lazy; st != nil {
		st.LoadFP()
		t.lazy = nil
	}
}

// loadState writes st into the frame, for rt_sigreturn, and the bases into the
// context page. The FP state stays as it is where the frame holds it for st
// (saveState); otherwise it is written where it differs from the frame's (a frame
// left alone stays in the stub's cache).
func (t *trapThread) loadState(st *arch.State) {
	le := binary.LittleEndian
	r := &st.Regs
	arch.WriteSigcontext(t.slot[t.uc+arch.UcontextMcontext:], r)
	le.PutUint64(t.slot[t.uc+arch.UcontextSigmask:], 0)
	le.PutUint64(t.slot[ctxFSBase:], r.Fs_base)
	le.PutUint64(t.slot[ctxGSBase:], r.Gs_base)
	if st.DeferredFP() == t && t.lazy == st {
		return
	}
	st.LoadFP() // from another thread's frame
	t.fetchFP() // another State's, before this frame takes st's
	if t.fpLen > 0 && len(st.FP) >= 512+64 {
		n := min(t.fpLen, len(st.FP))
		copyChanged(t.slot[t.fp:t.fp+464], st.FP[:464])
		copyChanged(t.slot[t.fp+512:t.fp+n], st.FP[512:n])
	}
}

// copyChanged copies src over dst (of the same length) where they differ, 64 bytes
// (a cache line) at a time, leaving the lines that are the same unwritten. One
// comparison of the whole first: they are usually the same.
func copyChanged(dst, src []byte) {
	if bytes.Equal(dst, src) {
		return
	}
	for i := 0; i < len(src); i += 64 {
		j := min(i+64, len(src))
		if !bytes.Equal(dst[i:j], src[i:j]) {
			copy(dst[i:j], src[i:j])
		}
	}
}

// trapContext is a platform.Context on systrap: the thread it drives in the address
// space it last switched into.
type trapContext struct {
	p *Platform
	t *trapThread

	// As ptrace's context: Interrupt sets interrupted, then reads running; Switch sets
	// running, then reads interrupted.
	interrupted atomic.Bool
	running     atomic.Int64
}

var _ platform.Context = (*trapContext)(nil)

// Interrupt implements platform.Context.Interrupt.
func (c *trapContext) Interrupt() {
	c.interrupted.Store(true)
	if tid := c.running.Load(); tid != 0 {
		unix.Tgkill(int(tid), int(tid), interruptTrapSignal)
	}
}

// Release implements platform.Context.Release.
func (c *trapContext) Release() {
	if c.t != nil {
		// A State the frame holds the FP state of is not fetched: a context is
		// released when its task is done, perhaps after the platform closed.
		if !c.t.park() {
			c.t.release()
		}
		c.t = nil
	}
}

// park makes the thread its address space's spare, for the next context to switch
// into it, rather than killing it: if the address space has none, and the thread is
// in its handler after an event, as far as its state word tells (see "Spare
// threads").
func (t *trapThread) park() bool {
	a := t.as
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil || a.spareThread != nil || t.recycled.Load() || t.mapper {
		return false
	}
	if s := t.state(); s != stateEvent && s != stateStubWait {
		return false
	}
	t.lazy = nil
	a.spareThread = t
	return true
}

// resetSpare readies the spare thread of a recycled address space for its next user:
// one that ran application code is reset (reset), or killed if that fails.
func (a *addressSpace) resetSpare() {
	a.threadsMu.Lock()
	t := a.spareThread
	if t == nil || !t.ran {
		a.threadsMu.Unlock()
		return
	}
	a.spareThread = nil
	a.threadsMu.Unlock()
	if err := t.reset(); err != nil {
		t.release()
		return
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil {
		go t.release()
		return
	}
	a.spareThread = t
}

// ctxResetFrame is where in the context page reset writes the frame its rt_sigreturn
// loads.
const ctxResetFrame = 0x800

// reset makes a thread that ran application code what a new thread is after its
// first event: stopped at siteStart's int3 in the handler, on its alternate stack,
// with an empty signal mask and the initial FP state, whatever the application did to
// it. The application may have left it anywhere, running its own code included (the
// state word is the application's to write), so nothing the thread would do is
// trusted: the Sentry stops it with ptrace wherever it is, points it at the stub's
// rt_sigreturn with a frame of the Sentry's (uc_stack the thread's slot, no FP state,
// no signal blocked, rip siteStart), lets it go and waits for the int3's event.
// Nothing else of the application runs meanwhile: its address space is being recycled.
func (t *trapThread) reset() error {
	le := binary.LittleEndian
	f := t.slot[ctxResetFrame : ctxResetFrame+8+arch.UcontextSize]
	clear(f)
	uc := f[8:]
	le.PutUint64(uc[arch.UcontextStack:], uint64(t.addr+slotStackOffset))
	le.PutUint64(uc[arch.UcontextStack+16:], slotSize-slotStackOffset)
	// rsp 0 is on no stack: the int3's signal goes to the top of the alternate one.
	start := uint64(stubBase + siteStart)
	arch.WriteSigcontext(uc[arch.UcontextMcontext:], &arch.Registers{Rip: start, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: 0x202})
	var err error
	t.as.p.factory.do(func() { err = t.redirect() })
	if err != nil {
		return fmt.Errorf("systrap thread %d: reset: %w", t.tid, err)
	}
	t.resumed, t.woke = spin.Now(), false
	for {
		if err := t.waitEvent(); err != nil {
			return err
		}
		si, err := t.readFrame()
		if err != nil {
			return err
		}
		if si.Signo == int32(interruptTrapSignal) {
			// A stale interrupt, taken before the int3: go on to it.
			if t.swapState(stateApp) == stateStubWait {
				t.futexWake()
			}
			t.resumed = spin.Now()
			continue
		}
		var r arch.Registers
		arch.ReadSigcontext(t.slot[t.uc+arch.UcontextMcontext:], &r)
		if si.Signo != int32(unix.SIGTRAP) || r.Rip != start+1 {
			return fmt.Errorf("systrap thread %d: reset: signal %d at %#x, not siteStart's int3", t.tid, si.Signo, r.Rip)
		}
		break
	}
	t.ran, t.lazy = false, nil
	t.appTime, t.appWakeTime, t.sentryTime = firstRun, firstRun, 0
	return nil
}

// redirect stops the thread with ptrace (it runs untraced), sets its registers to
// run the stub's rt_sigreturn with reset's frame, and lets it go. It runs on the
// factory's thread, the stubs' tracer.
func (t *trapThread) redirect() error {
	if err := ptrace(unix.PTRACE_SEIZE, t.tid, 0, ptraceOptions); err != nil {
		return fmt.Errorf("PTRACE_SEIZE: %w", err)
	}
	th := &thread{tid: t.tid, tracer: unix.Gettid(), cpu: -1}
	if err := ptrace(unix.PTRACE_INTERRUPT, t.tid, 0, 0); err != nil {
		return th.lost(err)
	}
	for {
		ws, err := th.wait()
		if err != nil {
			return err
		}
		if ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_STOP {
			break
		}
		// A signal on its way (a stale interrupt, one from outside): dropped.
		if err := ptrace(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return th.lost(err)
		}
	}
	// orig_rax -1: a system call the stop interrupted is not restarted.
	regs := arch.Registers{Rip: uint64(stubBase + restorer), Rsp: uint64(t.addr + ctxResetFrame + 8),
		Cs: arch.UserCS, Ss: arch.UserSS, Eflags: 0x202, Orig_rax: ^uint64(0)}
	if err := setRegs(t.tid, &regs); err != nil {
		return th.lost(err)
	}
	// The handler's event finds no Sentry asleep; waitEvent takes it from here.
	t.swapState(stateRunning)
	if err := ptrace(unix.PTRACE_DETACH, t.tid, 0, 0); err != nil {
		return th.lost(err)
	}
	return nil
}

// Switch implements platform.Context.Switch.
func (c *trapContext) Switch(as platform.AddressSpace, st *arch.State) (platform.Event, error) {
	a, ok := as.(*addressSpace)
	if !ok || a.p != c.p {
		return platform.Event{}, fmt.Errorf("systrap: Switch into a foreign address space %T", as)
	}
	if c.t != nil && (c.t.as != a || c.t.recycled.Load()) {
		c.t.fetchFP() // the frame is as the thread left it: killed, if at all, parked
		c.t.release()
		c.t = nil
	}
	if a.leftover.Load() {
		if err := a.clearLeftover(); err != nil {
			return platform.Event{}, err
		}
	}
	if c.t == nil {
		a.threadsMu.Lock()
		dead := a.dead
		a.threadsMu.Unlock()
		if dead != nil {
			return platform.Event{}, dead
		}
		t, err := a.newTrapThread()
		if err != nil {
			return platform.Event{}, err
		}
		c.t = t
	}
	t := c.t
	c.running.Store(int64(t.tid))
	defer c.running.Store(0)
	if c.interrupted.Swap(false) {
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	t.loadState(st)
	for {
		t.resume()
		if err := t.waitEvent(); err != nil {
			return platform.Event{}, c.failed(err)
		}
		si, err := t.readFrame()
		if err != nil {
			return platform.Event{}, c.failed(err)
		}
		if si.Signo == int32(interruptTrapSignal) && si.Code == arch.SI_TKILL && int(si.PID()) == pid {
			if !c.interrupted.Swap(false) {
				continue // a stale interrupt: run on
			}
			t.saveState(st, c.p.fpSize)
			return platform.Event{Kind: platform.EventInterrupt}, nil
		}
		t.saveState(st, c.p.fpSize)
		return t.event(&si, st), nil
	}
}

// pid is the Sentry's own process ID: interrupts come from it.
var pid = unix.Getpid()

// event classifies the signal the handler took.
func (t *trapThread) event(si *arch.SignalInfo, st *arch.State) platform.Event {
	const sysSeccomp = 1 // SYS_SECCOMP
	le := binary.LittleEndian
	switch {
	case si.Signo == int32(unix.SIGSYS) && si.Code == sysSeccomp && le.Uint32(si.Fields[12:]) != unix.AUDIT_ARCH_X86_64:
		return legacySyscall(st) // si_arch: an i386 call
	case si.Signo == int32(unix.SIGSYS) && si.Code == sysSeccomp:
		// The kernel rolled rax back to the number (seccomp's syscall_rollback), all
		// 64 bits of it where si_syscall has 32; show the registers as a system
		// call's entry has them, as ptrace does: the number in orig_rax, -ENOSYS in
		// rax.
		st.Regs.Orig_rax = st.Regs.Rax
		st.Regs.Rax = ^uint64(unix.ENOSYS) + 1
		return platform.Event{Kind: platform.EventSyscall}
	case si.Signo == int32(unix.SIGSEGV) && (si.Code == arch.SEGV_MAPERR || si.Code == arch.SEGV_ACCERR),
		si.Signo == int32(unix.SIGBUS) && (si.Code == arch.BUS_ADRERR || si.Code == arch.BUS_OBJERR):
		sc := t.slot[t.uc+arch.UcontextMcontext:]
		access := platform.Read
		if le.Uint64(sc[arch.SigcontextTrapno:]) == 14 { // #PF: the error code tells the access
			switch e := le.Uint64(sc[arch.SigcontextErr:]); {
			case e&pfInstr != 0:
				access = platform.AccessType{Execute: true}
			case e&pfWrite != 0:
				access = platform.AccessType{Write: true}
			}
		}
		return platform.Event{Kind: platform.EventFault, Info: *si, Addr: si.Addr(), Access: access}
	}
	return platform.Event{Kind: platform.EventSignal, Info: *si}
}

// failed ends a Switch whose thread can't go on: its address space is dead.
func (c *trapContext) failed(err error) error {
	t := c.t
	c.t = nil
	t.release()
	return t.as.die(err)
}
