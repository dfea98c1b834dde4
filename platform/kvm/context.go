package kvm

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/internal/spin"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// vcpu is one KVM vCPU and its page of the kernel area, run by a Switch's thread or by
// a thread of its own (package comment, "A Switch").
type vcpu struct {
	p      *Platform
	id     int
	fd     int
	runMem []byte
	run    *kvmRun
	page   []byte // the Sentry's view of the vCPU's page: GDT, TSS, stack
	gva    uint64 // the page's guest virtual address

	tid      atomic.Int32 // the thread that last ran it, for kicks
	idleSpin atomic.Int64 // how long the vCPU's thread spins for a request
	kickMu   sync.Mutex   // kick against close

	// The hand-over between a Switch and the thread. The Switch writes req, as and st,
	// then moves ctl from ctlIdle to ctlRequest; the thread moves it to ctlBusy, runs,
	// writes res (and st), and moves it to ctlDone; the Switch reads them and moves it
	// back to ctlIdle. Each side sleeps on ctl with its flag set.
	ctl          atomic.Uint32
	threadSleeps atomic.Bool
	switchSleeps atomic.Bool
	req          int
	as           *addressSpace
	st           arch.State // the state to load; the state at the exit
	res          result
	stop         atomic.Bool                  // a kick that wants the vCPU stopped
	curAS        atomic.Pointer[addressSpace] // the address space it runs, for Release
	runMu        sync.Mutex                   // held by the thread while it may run the guest
	exited       chan struct{}                // closed when the thread ends

	// The fast system call (fast.go): tried on the first system call, on when LSTAR
	// is the vCPU's fast entry; the slot of the address space it runs.
	fastTried, fast bool
	sawRing3Syscall bool
	slot            atomic.Pointer[callSlot]
	runGen          atomic.Uint64 // the generation it last loaded

	// What the vCPU holds, as the thread last set it.
	sregs     kvmSregs
	loadedAS  *addressSpace
	loadedGen uint64
	xsave     []byte
	fp        []byte // the FP state the vCPU holds, when fpKnown
	fpKnown   bool
	broken    bool // an unexpected exit: never used again
	ran       bool // kvm_run's registers are the vCPU's
}

// Values of vcpu.ctl.
const (
	ctlIdle = iota
	ctlRequest
	ctlBusy
	ctlDone
)

// Requests to the vCPU thread.
const (
	reqLoad   = iota // load st and run
	reqResume        // re-enter the fast entry's fastResume (the answer is in the slot) and run
	reqQuit          // end the thread
)

// result is what a request ended with.
type result struct {
	kind int
	ev   platform.Event // resEvent: st holds the state at it
	err  error          // the address space can no longer run
}

// Kinds of result.
const (
	resEvent   = iota // an event, with st
	resPosted         // a fast system call is posted in the slot; the vCPU waits in the entry
	resStopped        // stopped by a kick before it ran st, or while it loaded the fast answer: st stands
)

// getVCPU takes a released vCPU or makes a new one.
func (p *Platform) getVCPU() (*vcpu, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		v := p.free[n-1]
		p.free = p.free[:n-1]
		return v, nil
	}
	if len(p.vcpus) >= p.maxVCPUs {
		return nil, fmt.Errorf("kvm: all %d vCPUs are in use", p.maxVCPUs)
	}
	v, err := p.newVCPU(len(p.vcpus))
	if err != nil {
		return nil, err
	}
	p.vcpus = append(p.vcpus, v)
	return v, nil
}

func (p *Platform) newVCPU(id int) (*vcpu, error) {
	fd, err := ioctlInt(p.vm, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("kvm: KVM_CREATE_VCPU: %v", err)
	}
	off := vcpuOff + uint64(id)*pageSize
	v := &vcpu{p: p, id: id, fd: int(fd), page: p.platMem[off : off+pageSize : off+pageSize],
		gva: kernelBase + off, xsave: make([]byte, p.xsaveSize)}
	if err := v.init(); err != nil {
		v.close()
		return nil, fmt.Errorf("kvm: vCPU %d: %v", id, err)
	}
	v.exited = make(chan struct{})
	started := make(chan struct{})
	go v.thread(started)
	<-started
	return v, nil
}

func (v *vcpu) init() error {
	p := v.p
	var err error
	if v.runMem, err = unix.Mmap(v.fd, 0, p.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("mapping kvm_run: %v", err)
	}
	v.run = runOf(v.runMem)
	v.run.ValidRegs = kvmSyncRegs | kvmSyncSregs | kvmSyncEvents
	cpuid := *p.cpuid
	if _, err := ioctl(v.fd, kvmSetCPUID2, unsafe.Pointer(&cpuid)); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %v", err)
	}

	// GDT: Linux's selectors. TSS: RSP0 and IST1 at the top of the page, no I/O bitmap.
	g := v.page
	clear(g)
	le.PutUint64(g[gdtOff+8*2:], 0x00af9b000000ffff) // kernel code, 64-bit
	le.PutUint64(g[gdtOff+8*3:], 0x00cf93000000ffff) // kernel data
	le.PutUint64(g[gdtOff+8*5:], 0x00cff3000000ffff) // user data (0x2b)
	le.PutUint64(g[gdtOff+8*6:], 0x00affb000000ffff) // user code, 64-bit (0x33)
	tss := v.gva + tssOff
	le.PutUint64(g[gdtOff+8*8:], tssLimit|(tss&0xffffff)<<16|0x8b<<40|(tss>>24&0xff)<<56)
	le.PutUint64(g[gdtOff+8*9:], tss>>32)
	le.PutUint64(g[tssOff+4:], v.gva+stackTop)  // RSP0
	le.PutUint64(g[tssOff+36:], v.gva+stackTop) // IST1
	le.PutUint16(g[tssOff+102:], tssLimit+1)    // I/O bitmap base past the limit

	code := kvmSegment{Limit: 0xffffffff, Selector: kernelCS, Type: 0xb, Present: 1, S: 1, L: 1, G: 1}
	data := kvmSegment{Limit: 0xffffffff, Selector: kernelSS, Type: 0x3, Present: 1, S: 1, DB: 1, G: 1}
	// The data segments hold selector 0 with DPL 3, so that iretq to ring 3 keeps them
	// (and the fs and gs bases) as they are.
	user := kvmSegment{Limit: 0xffffffff, Type: 0x3, Present: 1, S: 1, DB: 1, G: 1, DPL: 3}
	s := &v.sregs
	if _, err := ioctl(v.fd, kvmGetSregs, unsafe.Pointer(s)); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %v", err)
	}
	s.CS, s.SS = code, data
	s.DS, s.ES, s.FS, s.GS = user, user, user, user
	s.TR = kvmSegment{Base: tss, Limit: tssLimit, Selector: tssSel, Type: 0xb, Present: 1}
	s.LDT = kvmSegment{Type: 0x2, Unusable: 1}
	s.GDT = kvmDtable{Base: v.gva + gdtOff, Limit: gdtLimit}
	s.IDT = kvmDtable{Base: kernelBase + idtOff, Limit: 256*16 - 1}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	s.CR4 = p.cr4
	s.EFER = eferSCE | eferLME | eferLMA | eferNXE
	s.CR3 = p.gpa + kPDPTOff // a placeholder until the first address space
	if err := v.setSregs(); err != nil {
		return err
	}
	msrs := kvmMSRs{Nmsrs: 4}
	msrs.Entries[0] = kvmMSREntry{Index: msrSTAR, Data: userBase<<48 | kernelCS<<32}
	msrs.Entries[1] = kvmMSREntry{Index: msrLSTAR, Data: kernelBase + codeOff + syscallEntryOff}
	msrs.Entries[2] = kvmMSREntry{Index: msrCSTAR, Data: kernelBase + codeOff + unexpectedOff}
	msrs.Entries[3] = kvmMSREntry{Index: msrSFMASK, Data: sfmask}
	if n, err := ioctl(v.fd, kvmSetMSRs, unsafe.Pointer(&msrs)); err != nil || n != 4 {
		return fmt.Errorf("KVM_SET_MSRS: %d of 4 set (%v)", n, err)
	}
	if p.xcr0 != 0 {
		var x kvmXCRs
		x.NrXCRs = 1
		x.XCRs[0].Value = p.xcr0
		if _, err := ioctl(v.fd, kvmSetXCRs, unsafe.Pointer(&x)); err != nil {
			return fmt.Errorf("KVM_SET_XCRS (%#x): %v", p.xcr0, err)
		}
	}
	return nil
}

func (v *vcpu) setSregs() error {
	if _, err := ioctl(v.fd, kvmSetSregs, unsafe.Pointer(&v.sregs)); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %v", err)
	}
	return nil
}

func (v *vcpu) close() {
	v.kickMu.Lock()
	defer v.kickMu.Unlock()
	if v.runMem != nil {
		unix.Munmap(v.runMem)
		v.runMem, v.run = nil, nil
	}
	if v.fd >= 0 {
		unix.Close(v.fd)
		v.fd = -1
	}
}

// putVCPU gives a vCPU back for reuse, unless it is broken.
func (p *Platform) putVCPU(v *vcpu) {
	if v.broken {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, v)
	p.mu.Unlock()
}

// thread is the vCPU's own thread, which runs it while the application makes fast
// system calls. It takes a request, runs it, posts the result, until reqQuit.
func (v *vcpu) thread(started chan<- struct{}) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	close(started)
	defer close(v.exited)
	spinFirst := false
	for {
		// After a call posted while the Sentry slept, spin first for as long as
		// the Sentry said (idleSpin): a call it answers at once comes back here.
		// (A call whose entry gave up spinning is a slow one, whose answer the
		// Sentry runs on its own thread.)
		if d := time.Duration(v.idleSpin.Load()); spinFirst && d > 0 && v.ctl.Load() != ctlRequest {
			spin.Until(spin.Now(), d, func() bool { return v.ctl.Load() == ctlRequest })
		}
		for {
			c := v.ctl.Load()
			if c == ctlRequest {
				break
			}
			v.threadSleeps.Store(true)
			if v.ctl.Load() == c {
				futexWait(&v.ctl, c)
			}
			v.threadSleeps.Store(false)
		}
		v.ctl.Store(ctlBusy)
		if v.req == reqQuit {
			v.post(result{})
			return
		}
		res := v.runOn(v.as, v.req)
		s := v.slot.Load()
		spinFirst = res.kind == resPosted && s != nil && s.state().Load() == stateSyscall
		v.post(res)
	}
}

// runOn runs a request on the calling thread, which is locked to its goroutine.
func (v *vcpu) runOn(a *addressSpace, req int) result {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	v.tid.Store(tid())
	v.curAS.Store(a)
	return v.runReq(a, req)
}

// post ends a request with res.
func (v *vcpu) post(res result) {
	v.res = res
	v.ctl.Store(ctlDone)
	if v.switchSleeps.Load() {
		futexWake(&v.ctl)
	}
}

// request hands the thread a request (ctl is ctlIdle).
func (v *vcpu) request(req int, a *addressSpace) {
	v.req, v.as = req, a
	v.ctl.Store(ctlRequest)
	if v.threadSleeps.Load() {
		futexWake(&v.ctl)
	}
}

// waitDone waits for the thread to finish its request and takes the result.
func (v *vcpu) waitDone() result {
	for {
		c := v.ctl.Load()
		if c == ctlDone {
			break
		}
		v.switchSleeps.Store(true)
		if v.ctl.Load() == c {
			futexWait(&v.ctl, c)
		}
		v.switchSleeps.Store(false)
	}
	res := v.res
	v.ctl.Store(ctlIdle)
	return res
}

// stopRun stops the vCPU's run and takes its result.
func (v *vcpu) stopRun() result {
	v.stop.Store(true)
	v.kick()
	return v.waitDone()
}

// quit ends the vCPU's thread.
func (v *vcpu) quit() {
	switch v.ctl.Load() {
	case ctlRequest, ctlBusy:
		v.stopRun()
	case ctlDone:
		v.waitDone()
	}
	v.request(reqQuit, nil)
	<-v.exited
}

// runReq runs a request on the vCPU's thread until an event.
func (v *vcpu) runReq(a *addressSpace, req int) result {
	st := &v.st
	if req == reqLoad {
		if err := v.setFP(st.FP); err != nil {
			return v.fail(err)
		}
	}
	if v.fast {
		v.fpKnown = false // the fast entry loads the FP state from the slot
	}
	load := true // the registers must be loaded
	for {
		if err := a.deadErr(); err != nil {
			return result{err: err}
		}
		if load {
			var err error
			if req == reqLoad {
				err = v.load(a, st)
			} else {
				err = v.loadResume(a)
			}
			if err != nil {
				return v.fail(err)
			}
			load = false
		}
		errno := runVCPU(v.fd)
		v.ran = true
		run := v.run
		run.DirtyRegs = 0
		if errno == unix.EINTR || errno == 0 && run.ExitReason == exitIntr {
			setImmediateExit(run, false)
			stop := v.stop.Swap(false)
			switch v.where() {
			case atExit, inReturn:
				// Stopped before it took the registers: load them again.
				if stop {
					return result{kind: resStopped}
				}
				load = true
			case inUser:
				if stop {
					return v.stoppedInUser()
				}
			case inExit:
				// Finishing an exception's delivery or about to exit: let it.
			}
			continue
		}
		if errno != 0 {
			return v.fail(fmt.Errorf("kvm: vCPU %d: KVM_RUN: %v", v.id, errno))
		}
		if v.fastExit() {
			return result{kind: resPosted}
		}
		if err := v.getFP(st); err != nil {
			return v.fail(err)
		}
		ev, err := v.exit(st)
		if errors.Is(err, errSlotTampered) {
			return result{err: err} // the application's doing; the vCPU is sound
		}
		if err != nil {
			return v.fail(err)
		}
		if v.sawRing3Syscall && !v.fastTried {
			v.enableFast()
		}
		return result{kind: resEvent, ev: ev}
	}
}

// fail retires the vCPU after an unexpected exit.
func (v *vcpu) fail(err error) result {
	v.broken = true
	return result{err: err}
}

// stoppedInUser is the result of a kick that found the vCPU in ring 3: the
// application's registers, or where the fast entry was.
func (v *vcpu) stoppedInUser() result {
	if s := v.slot.Load(); v.fast && s != nil {
		if off, ok := inFastCode(v.run.Regs.Rip); ok {
			switch {
			case off >= fastPostedOff && off < fastResumeOff:
				if s.state().Load()&1 != 0 { // stateApp, stateSleep: the answer is there
					return result{kind: resStopped} // the answer is there: st stands
				}
				return result{kind: resPosted}
			case off >= fastResumeOff && off < fastEntryOff:
				return result{kind: resStopped}
			default:
				v.stoppedSaving(s, off)
				if err := v.getFP(&v.st); err != nil {
					return v.fail(err)
				}
				return result{kind: resEvent, ev: platform.Event{Kind: platform.EventSyscall}}
			}
		}
	}
	v.saveRegs(&v.st)
	if err := v.getFP(&v.st); err != nil {
		return v.fail(err)
	}
	return result{kind: resEvent, ev: platform.Event{Kind: platform.EventInterrupt}}
}

// fastExit reports whether the exit is the fast entry's hlt: the #GP it raises in
// ring 3 at fastExit.
func (v *vcpu) fastExit() bool {
	run := v.run
	if !v.fast || run.ExitReason != exitHlt || run.Sregs.CS.Selector != kernelCS ||
		run.Regs.Rip != kernelBase+codeOff+vectorsOff+vectorStride*vecGP+1 {
		return false
	}
	rip, cs := *frameWord(v.page, frameOff), *frameWord(v.page, frameOff+8)
	return cs&3 == 3 && rip == kernelBase+codeOff+fastExitOff
}

// context is a platform.Context: the vCPU it runs on, once it has one.
type context struct {
	p *Platform
	v *vcpu

	// Interrupt sets interrupted, then reads running; Switch sets running, then reads
	// interrupted (package comment, Interrupt).
	interrupted atomic.Bool
	running     atomic.Pointer[vcpu]

	// The Switch's own view of the vCPU thread: busy while it has a request the
	// Switch has not taken the result of; posted while the vCPU waits in the fast
	// entry (running it, or stopped there) for the answer to a call of slot's.
	busy, posted bool
	slot         *callSlot

	// Spinning (fast.go): how long the application took from a go to its next event,
	// when the go found the entry spinning (appTime) and when the thread had to be
	// woken (appWakeTime), so that the wake-ups of a slow stretch do not stop the
	// spinning that would end it; how long the Sentry took from an event to the next
	// go; when the last event (postedAt, 0 once timed) and go came (goAt, 0 when the
	// Switch ran the vCPU itself: an exit's time, not the application's), and
	// whether the go woke the thread. quick, won and tries decide the hand-over to
	// the thread (handOver).
	appTime, appWakeTime, sentryTime time.Duration
	postedAt, goAt                   spin.Mono
	woke                             bool
	quick                            int  // system calls answered within quickCall in a row
	won                              int  // % of the answers lately caught by the entry's spin
	tries                            int  // hand-overs declined since the spin last won
	lastIntr                         bool // the last event was an interrupt
}

var _ platform.Context = (*context)(nil)

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupted.Store(true)
	if v := c.running.Load(); v != nil {
		v.stop.Store(true)
		v.kick()
	}
}

// Release implements platform.Context.Release.
func (c *context) Release() {
	if c.v != nil {
		if c.busy {
			c.v.stopRun()
		}
		c.busy, c.posted, c.slot = false, false, nil
		c.p.putVCPU(c.v)
		c.v = nil
	}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(as platform.AddressSpace, st *arch.State) (platform.Event, error) {
	a, ok := as.(*addressSpace)
	if !ok || a.p != c.p {
		return platform.Event{}, fmt.Errorf("kvm: Switch into a foreign address space %T", as)
	}
	if err := a.deadErr(); err != nil {
		return platform.Event{}, err
	}
	if c.v == nil {
		v, err := c.p.getVCPU()
		if err != nil {
			return platform.Event{}, a.die(err)
		}
		c.v = v
	}
	v := c.v
	c.running.Store(v)
	defer c.running.Store(nil)
	v.stop.Store(false)
	if c.interrupted.Swap(false) {
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	r := &st.Regs
	if !isCanonical(r.Rip) || !isCanonical(r.Fs_base) || !isCanonical(r.Gs_base) {
		// What a return to such a state does on Linux: iretq's #GP, a SIGSEGV.
		return sigsegvKernel(), nil
	}
	fpSize := c.p.fpSize
	fast := c.posted && c.slot != nil && c.slot.as == a && fastAnswer(st, fpSize)
	if c.busy && (!fast || a.gen.Load() != v.runGen.Load()) {
		// The vCPU runs the fast entry in the guest, which can take only an answer
		// for the same page tables. (An error here is the end of the address space
		// the vCPU ran, which may not be a, unless the vCPU broke.)
		if res := v.stopRun(); res.err != nil && v.broken {
			return platform.Event{}, c.failed(a, res.err)
		}
		c.busy = false
		v.stop.Store(false)
		if c.interrupted.Swap(false) {
			return platform.Event{Kind: platform.EventInterrupt}, nil
		}
	}
	slow := false // the Sentry took long to answer the application's last event
	if c.postedAt != 0 {
		d := time.Duration(spin.Now() - c.postedAt)
		c.sentryTime = spin.Average(c.sentryTime, d, maxSample)
		c.postedAt = 0
		slow = d > quickCall
		switch {
		case c.lastIntr:
			// The Sentry's event, not the application's: the run goes on.
		case fast && !slow:
			c.quick++
		default:
			c.quick = 0
		}
	} else if !c.lastIntr {
		c.quick = 0
	}
	c.posted = false
	if c.quick > 0 {
		v.idleSpin.Store(int64(spin.For(c.sentryTime, maxSpin)))
	} else {
		v.idleSpin.Store(0)
	}
	if fast {
		s := c.slot
		budget := uint32(spin.For(c.sentryTime, maxGuestSpin) / spin.PauseTime)
		s.writeAnswer(st, c.p.xcr0, budget)
		c.goAt = spin.Now()
		wasBusy := c.busy
		if !c.busy && !c.handOver() {
			s.state().Store(stateSleep)
			return c.runHere(a, reqResume, st)
		}
		old := s.state().Swap(stateApp)
		if won := old == stateSyscall && v.ctl.Load() != ctlDone; c.busy && (won || slow) {
			// (An answer that came quickly and still found the entry gone is the
			// host's scheduling, not the application's doing.)
			c.bet(won)
		}
		if c.busy && (old == stateExiting || v.ctl.Load() == ctlDone) {
			// The entry gave up spinning, or a kick stopped it (an Interrupt after
			// the call was taken): take the thread's result, and re-enter.
			res := v.waitDone()
			c.busy = false
			if res.err != nil {
				return platform.Event{}, c.failed(a, res.err)
			}
			if res.kind == resEvent {
				// Not the entry's exit after all (the application wrote the state
				// word itself): the event stands, the answer is dropped.
				return c.event(res, st)
			}
			if res.kind == resPosted && s.state().Load()&1 == 0 {
				// The entry took the answer, and the application made its next
				// call before the vCPU stopped.
				return c.takePosted(s, st), nil
			}
		}
		c.woke = !c.busy
		if !c.busy {
			if wasBusy && !c.handOver() {
				s.state().Store(stateSleep)
				return c.runHere(a, reqResume, st)
			}
			v.request(reqResume, a)
			c.busy = true
		}
		return c.wait(a, st)
	}
	if s := v.slot.Load(); s != nil && s.as == a {
		s.state().Store(stateSleep) // no call posted, and nobody spins for one
	}
	v.st.Regs = st.Regs
	v.st.FP = append(v.st.FP[:0], st.FP...)
	return c.runHere(a, reqLoad, st)
}

// handOver reports whether the application should go on on the vCPU's thread, where
// its system calls can stay in the guest: after quickCalls system calls in a row the
// Sentry answered within quickCall, where a CPU is free for each side.
func (c *context) handOver() bool {
	if c.quick < quickCalls || spin.For(c.sentryTime, maxGuestSpin) == 0 {
		return false // (no spin on one CPU)
	}
	if c.won >= betWon {
		return true
	}
	// The application's calls have lately been slow ones on the vCPU's thread:
	// try again once in a while.
	c.tries++
	return c.tries%betRetry == 0
}

// bet notes whether an event on the vCPU's thread was a call taken while the entry
// spun (won) or came through an exit.
func (c *context) bet(won bool) {
	if won {
		c.won += (100 - c.won) / 8
	} else {
		c.won -= (c.won + 7) / 8
	}
}

// runHere runs a request on the Switch's own thread (the exit path) and returns the
// application's next event. The slot's state is stateSleep, so a system call exits.
func (c *context) runHere(a *addressSpace, req int, st *arch.State) (platform.Event, error) {
	v := c.v
	v.as = a // the address space an error ends (context.event)
	c.woke, c.goAt = false, 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		res := v.runOn(a, req)
		if res.kind == resPosted {
			s := v.slot.Load()
			if s == nil || s.as != a {
				return platform.Event{}, c.failed(a, fmt.Errorf("kvm: vCPU %d: a fast system call with no slot", v.id))
			}
			if s.state().Load()&1 != 0 {
				// The application wrote its state word: the entry stopped for an
				// answer that is there. Re-enter it.
				req = reqResume
				continue
			}
			return c.takePosted(s, st), nil
		}
		return c.result(a, res, st)
	}
}

// wait waits for the application's next event: a call posted in the slot, or the
// thread's result.
func (c *context) wait(a *addressSpace, st *arch.State) (platform.Event, error) {
	v := c.v
	var s *callSlot // the slot the vCPU uses, once the thread published it
	posted := func() bool {
		if s == nil {
			if s = v.slot.Load(); s != nil && s.as != a {
				s = nil
			}
		}
		return s != nil && s.state().Load() == stateSyscall
	}
	d := spin.For(c.appTime, maxSpin)
	if c.woke {
		// The thread must wake first: wait (yielding the CPU, which the thread
		// may need) until it took the request, then spin for as long as the
		// application lately took from there, the entry's way in included (a
		// time that counts the Sentry's own wake-ups after a sleep, so it is
		// capped: the spinning that would end a slow stretch is not stopped by it).
		for v.ctl.Load() == ctlRequest {
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
		c.goAt = spin.Now()
		d = spin.For(min(c.appWakeTime, maxSpin/3), maxSpin)
	}
	if d > 0 {
		spin.Until(spin.Now(), d, func() bool { return posted() || v.ctl.Load() == ctlDone })
	}
	if posted() && v.ctl.Load() != ctlDone {
		return c.takePosted(s, st), nil
	}
	// Sleep. A call posted from now on exits to wake the Sentry, which then takes it
	// from the thread's result, not from the slot.
	if s != nil && v.ctl.Load() != ctlDone && !s.state().CompareAndSwap(stateApp, stateSleep) && posted() {
		return c.takePosted(s, st), nil
	}
	res := v.waitDone()
	c.busy = false
	if !c.woke {
		c.bet(false) // (after a wake-up, the thread may have been slow to enter)
	}
	if res.kind == resPosted {
		if posted(); s == nil {
			return platform.Event{}, c.failed(a, fmt.Errorf("kvm: vCPU %d: a fast system call with no slot", v.id))
		}
		if s.state().Load()&1 != 0 {
			// A kick stopped the entry spinning for an answer the Sentry has
			// given since (the call was taken from the slot): re-enter it.
			v.request(reqResume, a)
			c.busy, c.woke = true, true
			return c.wait(a, st)
		}
		return c.takePosted(s, st), nil
	}
	return c.result(a, res, st)
}

// result returns the application's event from a request's result other than a posted
// call.
func (c *context) result(a *addressSpace, res result, st *arch.State) (platform.Event, error) {
	if res.kind == resStopped {
		if err := a.deadErr(); err != nil {
			return platform.Event{}, err
		}
		c.interrupted.Store(false)
		c.lastIntr = true
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	return c.event(res, st)
}

// takePosted takes the call posted in s.
func (c *context) takePosted(s *callSlot, st *arch.State) platform.Event {
	s.readSyscall(st, c.p.fpSize)
	c.posted, c.slot = true, s
	c.lastIntr = false
	c.timeEvent()
	return platform.Event{Kind: platform.EventSyscall}
}

// timeEvent notes that the application's event came now (see context's times).
func (c *context) timeEvent() {
	c.postedAt = spin.Now()
	if c.goAt == 0 {
		return // run on the Switch's thread: an exit's time, not the application's
	}
	if d := time.Duration(c.postedAt - c.goAt); c.woke {
		c.appWakeTime = spin.Average(c.appWakeTime, d, maxSample)
	} else {
		c.appTime = spin.Average(c.appTime, d, maxSample)
	}
}

// event returns the thread's result res, its state copied to st.
func (c *context) event(res result, st *arch.State) (platform.Event, error) {
	if res.err != nil {
		return platform.Event{}, c.failed(c.v.as, res.err)
	}
	v := c.v
	c.timeEvent()
	c.lastIntr = res.ev.Kind == platform.EventInterrupt
	st.Regs = v.st.Regs
	if len(st.FP) != len(v.st.FP) {
		st.FP = make(arch.FPState, len(v.st.FP))
	}
	copy(st.FP, v.st.FP)
	if res.ev.Kind == platform.EventInterrupt {
		c.interrupted.Store(false)
	}
	return res.ev, nil
}

// failed drops the context's vCPU after an unexpected exit (it is retired if the
// exit was the vCPU's) and ends the address space with err.
func (c *context) failed(a *addressSpace, err error) error {
	if c.busy {
		c.v.stopRun()
	}
	if !c.v.broken {
		c.p.putVCPU(c.v)
	}
	c.v, c.busy, c.posted, c.slot = nil, false, false, nil
	if a == nil {
		return err
	}
	return a.die(err)
}

// loadResume prepares the vCPU to re-enter the fast entry at fastResume, which loads
// the answer from the slot.
func (v *vcpu) loadResume(a *addressSpace) error {
	var st arch.State
	r := &st.Regs
	r.Rip = kernelBase + codeOff + fastResumeOff
	r.Rbx = slotVA(v.id)
	r.Rsp = slotVA(v.id) + slotStack
	r.Eflags = 0x202
	r.Fs_base, r.Gs_base = v.run.Sregs.FS.Base, v.run.Sregs.GS.Base
	return v.load(a, &st)
}

// load prepares the vCPU to run st in a: CR3 and the fs and gs bases if they changed,
// the iretq frame on the vCPU's stack, and the general registers with rip at the
// return stub (retFlush if the vCPU's TLB may hold translations a has dropped).
func (v *vcpu) load(a *addressSpace, st *arch.State) error {
	if a.leftover.Load() {
		if err := a.dropLeftover(); err != nil { // a recycled address space's first use is a Switch
			return err
		}
	}
	gen := a.gen.Load()
	v.runGen.Store(gen)
	if v.fast {
		s, err := a.callSlotFor(v.id)
		if err != nil {
			return err
		}
		v.slot.Store(s)
	} else {
		v.slot.Store(nil)
	}
	r := &st.Regs
	s := &v.sregs
	flush := v.loadedAS != a || v.loadedGen != gen
	// Compared with what the vCPU held at its last exit: ring 3 after a signal, or
	// bases the application changed itself (wrfsbase).
	cur := &v.run.Sregs
	dirty := uint64(kvmSyncRegs)
	if !v.ran || cur.CS.Selector != kernelCS || cur.CR3 != a.rootGPA || cur.FS.Base != r.Fs_base || cur.GS.Base != r.Gs_base {
		s.CR3, s.FS.Base, s.GS.Base = a.rootGPA, r.Fs_base, r.Gs_base
		// Through kvm_run's synchronized sregs too: KVM_RUN sets them (as
		// KVM_SET_SREGS does) before it enters, and an ioctl fewer costs a load and a
		// put of the vCPU's state, which under PVM reads and writes MSRs.
		*cur = *s
		dirty |= kvmSyncSregs
	}
	v.loadedAS, v.loadedGen = a, gen
	*frameWord(v.page, frameOff) = r.Rip
	*frameWord(v.page, frameOff+8) = userCS
	*frameWord(v.page, frameOff+16) = r.Eflags&userFlags | 0x202
	*frameWord(v.page, frameOff+24) = r.Rsp
	*frameWord(v.page, frameOff+32) = userSS
	entry := uint64(kernelBase + codeOff + retUserOff)
	if flush {
		entry = kernelBase + codeOff + retFlushOff
	}
	// Through kvm_run's synchronized registers, which KVM_RUN loads first, rather than
	// a KVM_SET_REGS of its own.
	v.run.Regs = kvmRegs{Rax: r.Rax, Rbx: r.Rbx, Rcx: r.Rcx, Rdx: r.Rdx, Rsi: r.Rsi, Rdi: r.Rdi,
		Rsp: v.gva + frameOff, Rbp: r.Rbp, R8: r.R8, R9: r.R9, R10: r.R10, R11: r.R11,
		R12: r.R12, R13: r.R13, R14: r.R14, R15: r.R15, Rip: entry, Rflags: 0x2}
	v.run.DirtyRegs = dirty
	return nil
}

// Where a vCPU stopped by a signal was.
const (
	inUser   = iota // in ring 3, nothing pending
	inReturn        // in ring 0, on the way back to ring 3
	inExit          // delivering an exception, or in ring 0 on the way out
	atExit          // still where the last exit left it: the registers were not taken
)

func (v *vcpu) where() int {
	run := v.run
	ev := &run.Events
	if ev.ExcInjected != 0 || ev.ExcPending != 0 || ev.IntInjected != 0 || ev.NMIInjected != 0 {
		return inExit
	}
	if run.Sregs.CS.DPL == 3 {
		return inUser
	}
	rip := run.Regs.Rip - (kernelBase + codeOff)
	if rip >= retUserOff && rip < ring0CodeSize {
		return inReturn
	}
	if rip < retUserOff && rip%vectorStride == 1 {
		return atExit // just after a hlt
	}
	return inExit
}

// saveRegs copies the vCPU's ring-3 registers (as kvm_run shows them) into st.
func (v *vcpu) saveRegs(st *arch.State) {
	k := &v.run.Regs
	r := &st.Regs
	r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rsp, r.Rbp = k.Rax, k.Rbx, k.Rcx, k.Rdx, k.Rsi, k.Rdi, k.Rsp, k.Rbp
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = k.R8, k.R9, k.R10, k.R11, k.R12, k.R13, k.R14, k.R15
	r.Rip, r.Eflags = k.Rip, k.Rflags
	r.Fs_base, r.Gs_base = v.run.Sregs.FS.Base, v.run.Sregs.GS.Base
	r.Cs, r.Ss = userCS, userSS
	r.Orig_rax = ^uint64(0)
}

// exit turns a KVM exit other than a signal into an event.
func (v *vcpu) exit(st *arch.State) (platform.Event, error) {
	run := v.run
	switch run.ExitReason {
	case exitHlt:
	case exitShutdown:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: the guest shut down (triple fault) at rip %#x", v.id, run.Regs.Rip)
	case exitFailEntry:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: VM entry failed (reason %#x)", v.id, le.Uint64(run.Exit[0:]))
	case exitInternalError:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: KVM internal error (suberror %d)", v.id, le.Uint32(run.Exit[0:]))
	case exitMMIO:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: access to guest physical %#x, which no memory backs", v.id, le.Uint64(run.Exit[0:]))
	case exitIO:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: port I/O to %#x at rip %#x", v.id, le.Uint16(run.Exit[2:]), run.Regs.Rip)
	default:
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: unexpected exit %d at rip %#x", v.id, run.ExitReason, run.Regs.Rip)
	}
	// A hlt: which one?
	k := &run.Regs
	off := k.Rip - 1 - (kernelBase + codeOff)
	if run.Sregs.CS.Selector == kernelCS && off == fastRing0Off {
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: %w", v.id, errFastRing0)
	}
	if run.Sregs.CS.Selector != kernelCS || off >= ring0CodeSize {
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: halted at %#x (cs %#x), not in the ring-0 code", v.id, k.Rip-1, run.Sregs.CS.Selector)
	}
	if off == syscallEntryOff {
		return v.syscall(st), nil
	}
	if off%vectorStride != 0 || off/vectorStride >= 32 {
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: interrupt or exit at ring-0 offset %#x", v.id, off)
	}
	vector := int(off / vectorStride)
	frame := func(i uint64) uint64 { return *frameWord(v.page, frameOff+8*i) }
	rip, cs, rflags, rsp := frame(0), frame(1), frame(2), frame(3)
	if cs&3 == 3 && vector == vecGP && rip == kernelBase+codeOff+syscallEntryOff {
		// A syscall that did not leave ring 3 (see ring0.go): the entry's hlt faulted
		// there instead of exiting.
		v.sawRing3Syscall = true
		ev := v.syscall(st)
		st.Regs.Rsp = rsp
		return ev, nil
	}
	if cs&3 != 3 {
		if vector == vecDB && rip == kernelBase+codeOff+syscallEntryOff {
			// syscall with TF set: the single-step trap lands on the entry. It is the
			// system call; TF stays set in the flags.
			ev := v.syscall(st)
			st.Regs.Rsp = rsp
			return ev, nil
		}
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: exception %d in ring 0 at %#x", v.id, vector, rip)
	}
	if off, ok := inFastCode(rip); ok && v.fast {
		if s := v.slot.Load(); s != nil && vector == vecUD && off == fastRdfsbaseOff {
			// The host does not let ring 3 read its fs base: no fast system calls
			// here. This one was saved: it is the call.
			v.disableFast()
			v.stoppedSaving(s, off)
			return platform.Event{Kind: platform.EventSyscall}, nil
		}
		// The fast entry faults only on a slot the application wrote (or when the
		// application jumped into it with registers of its own).
		return platform.Event{}, fmt.Errorf("kvm: vCPU %d: exception %d in the fast system call at %#x: %w", v.id, vector, rip, errSlotTampered)
	}
	v.saveRegs(st)
	st.Regs.Rip, st.Regs.Eflags, st.Regs.Rsp = rip, rflags, rsp
	var errCode uint64
	if hasErrorCode(vector) {
		errCode = *frameWord(v.page, errCodeAt)
	}
	return v.signalFor(vector, errCode, st)
}

// syscall is the event of a syscall instruction: the registers as ptrace shows a
// system-call stop.
func (v *vcpu) syscall(st *arch.State) platform.Event {
	v.saveRegs(st)
	r := &st.Regs
	r.Rip, r.Eflags = r.Rcx, r.R11
	r.Orig_rax = r.Rax
	r.Rax = ^uint64(unix.ENOSYS) + 1
	return platform.Event{Kind: platform.EventSyscall}
}

// setFP loads the FP state into the vCPU, unless it holds it already (the Sentry left
// the state of the last exit as it was).
func (v *vcpu) setFP(fp arch.FPState) error {
	if v.fpKnown && bytes.Equal(v.fp, fp) {
		return nil
	}
	v.fpKnown = false
	b := v.xsave
	clear(b)
	copy(b, fp)
	if len(b) >= 576 {
		bv := le.Uint64(b[512:])
		if v.p.xcr0 != 0 {
			bv &= v.p.xcr0
		} else {
			bv &= 3
		}
		le.PutUint64(b[512:], bv)
		le.PutUint64(b[520:], 0) // standard format
	}
	if _, err := ioctl(v.fd, kvmSetXsave, unsafe.Pointer(&b[0])); err != nil {
		return fmt.Errorf("kvm: vCPU %d: KVM_SET_XSAVE: %v", v.id, err)
	}
	v.fp = append(v.fp[:0], fp...)
	v.fpKnown = true
	return nil
}

// getFP saves the vCPU's FP state into st.
func (v *vcpu) getFP(st *arch.State) error {
	b := v.xsave
	if _, err := ioctl(v.fd, v.p.xsaveIoc, unsafe.Pointer(&b[0])); err != nil {
		return fmt.Errorf("kvm: vCPU %d: KVM_GET_XSAVE: %v", v.id, err)
	}
	if len(st.FP) != v.p.fpSize {
		st.FP = arch.NewFPStateSized(v.p.fpSize)
	}
	n := copy(st.FP, b)
	clear(st.FP[n:])
	v.fp = append(v.fp[:0], st.FP...)
	v.fpKnown = true
	return nil
}
