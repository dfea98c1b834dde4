package kvm

import (
	"errors"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
)

// The fast system call (package comment, "Fast system calls"): where the syscall
// instruction reaches LSTAR in ring 3, the vCPU's LSTAR is its fastEntry, whose code
// hands the call to the Sentry through the vCPU's slot in the address space and takes
// the answer from there, without leaving the guest.

// The slot: vCPU i's is at slotVA(i) in every address space it ran, its own pages in
// each (addressSpace.slots), mapped user-writable and not executable.
const (
	slotBase = 0xffff_ff00_0000_0000 // upper entry 510
	slotSize = 0x4000                // the most a slot may take

	slotState  = 0x00 // u32: state*
	slotBudget = 0x04 // u32: the entry's spin, in PAUSEs
	slotRegs   = 0x40 // rax rbx rcx rdx rsi rdi rsp rbp r8-r15
	slotRflags = 0xc0 // the flags the answer returns with
	slotFS     = 0xc8
	slotGS     = 0xd0
	slotStack  = 0x140 // the top of the few bytes popfq needs
	slotXsave  = 0x400 // the XSAVE area, standard format
)

// Values of the slot's state word. The application can write any value there; the
// Sentry only ever reads registers from the slot as the application's own. The two
// values with bit 0 set both say the answer is in the slot (the entry spinning for it
// takes either), so the Sentry may move stateApp to stateSleep whether or not the
// entry has taken the go yet.
const (
	stateApp     = 1 // the Sentry gave the go and spins for the next call
	stateSyscall = 2 // the entry posted a call: the registers are in the slot
	stateSleep   = 3 // the Sentry gave the go and sleeps: the next call exits to wake it
	stateExiting = 4 // the entry stopped spinning for the answer and exits
)

func slotVA(i int) uint64 { return slotBase + uint64(i)*slotSize }

// fastSyscalls turns the fast system call on (tests turn it off to compare).
var fastSyscalls = true

// fastPossible reports whether the platform can offer fast system calls on vCPUs
// whose syscall reaches LSTAR in ring 3: the entry saves the FP state with XSAVE and
// the bases with RDFSBASE, and the XSAVE area must fit the slot.
//
// RDFSBASE needs CR4.FSGSBASE where ring 3 runs: under PVM that is the host's CR4, not
// the guest's (KVM may not offer FSGSBASE to the guest where the host has it on). So
// it is tried: an entry whose RDFSBASE raises #UD turns fast system calls off for the
// platform, and the call it was saving goes on as an ordinary one.
func (p *Platform) fastPossible() bool {
	return p.xcr0 != 0 && slotXsave+p.fpSize <= slotSize && !p.noFast.Load()
}

// disableFast gives the vCPU its ordinary LSTAR back and turns fast system calls off
// for the platform.
func (v *vcpu) disableFast() {
	v.p.noFast.Store(true)
	v.fast = false
	msrs := kvmMSRs{Nmsrs: 1}
	msrs.Entries[0] = kvmMSREntry{Index: msrLSTAR, Data: kernelBase + codeOff + syscallEntryOff}
	ioctl(v.fd, kvmSetMSRs, unsafe.Pointer(&msrs))
}

// callSlot is vCPU id's slot in as: its pages, as offsets in platMem.
type callSlot struct {
	as    *addressSpace
	mem   []byte // platMem
	pages []uint64
}

// callSlotFor returns the slot of vCPU id in a, mapping it on first use. An address
// space's first slot comes with the slots of a released one where the platform kept
// some (takeSlots).
func (a *addressSpace) callSlotFor(id int) (*callSlot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.deadErr(); err != nil {
		return nil, err
	}
	if s := a.callSlots[id]; s != nil {
		return s, nil
	}
	if a.slots == nil {
		a.slots = &slotTables{pages: map[int][]uint64{}}
		if k := a.p.takeSlots(); k != nil {
			a.adoptSlots(k)
			if s := a.callSlots[id]; s != nil {
				return s, nil
			}
		}
	}
	n := (slotXsave + a.p.fpSize + pageSize - 1) / pageSize
	s := &callSlot{as: a, mem: a.p.platMem}
	for range n {
		off, err := a.p.allocTable()
		if err != nil {
			a.slots.partial = true
			return nil, err
		}
		s.pages = append(s.pages, off)
		a.slots.pages[id] = s.pages // freed or kept with the slot tables
	}
	const low48 = 1<<48 - 1
	va := slotVA(id) & low48
	k := 0
	made := len(a.tables)
	err := a.walkTable(a.root, 39, 0, va, va+uint64(n)*pageSize, true, func(e *uint64, _ uint64) {
		atomic.StoreUint64(e, (a.p.gpa+s.pages[k])|ptePresent|pteWrite|pteUser|pteAcc|pteDirty|pteNX)
		k++
	})
	// The tables the walk made are the slots' (upper entry 510 maps nothing else).
	a.slots.tables = append(a.slots.tables, a.tables[made:]...)
	a.tables = a.tables[:made]
	if err != nil {
		a.slots.partial = true
		return nil, err
	}
	s.state().Store(stateSleep) // no call answered here yet: the entry's first call exits
	if a.callSlots == nil {
		a.callSlots = map[int]*callSlot{}
	}
	a.callSlots[id] = s
	return s, nil
}

// slotTables are the tables under an address space's upper entry 510 and the slots
// they map, by vCPU id.
type slotTables struct {
	tables  []uint64 // the PDPT (first), and the tables below it
	pages   map[int][]uint64
	partial bool // a slot's pages are not all mapped (the pool ran out): not kept
}

// maxKeptSlots bounds the slot tables the platform keeps for reuse.
const maxKeptSlots = 64

// keepSlots takes the slot tables of a released address space, which no vCPU runs,
// for the next address space that needs a slot: their table pages are not released
// (see freeTables), so KVM's shadow pages of them, which are all it derived from them
// and hold only what they still say, serve the next user too, with no shadow page to
// build for its slots and none to zap later (every fork's child gets a slot). It
// reports false where the platform keeps enough already.
func (p *Platform) keepSlots(k *slotTables) bool {
	p.ptMu.Lock()
	defer p.ptMu.Unlock()
	if p.closed || len(p.keptSlots) >= maxKeptSlots {
		return false
	}
	p.keptSlots = append(p.keptSlots, k)
	return true
}

// takeSlots returns slot tables kept by keepSlots, or nil.
func (p *Platform) takeSlots() *slotTables {
	p.ptMu.Lock()
	defer p.ptMu.Unlock()
	n := len(p.keptSlots)
	if n == 0 {
		return nil
	}
	k := p.keptSlots[n-1]
	p.keptSlots = p.keptSlots[:n-1]
	return k
}

// adoptSlots makes k, kept from a released address space, a's slots: its upper entry
// 510 points at k's PDPT, which maps the same slot pages, cleared (they held the last
// user's registers), at the same addresses as before. Nothing that maps them changed,
// so nothing KVM derived from k's tables is stale. a.mu is held; a has no slot yet.
func (a *addressSpace) adoptSlots(k *slotTables) {
	m := a.p.platMem
	for id, pages := range k.pages {
		for _, off := range pages {
			clear(m[off : off+pageSize])
		}
		s := &callSlot{as: a, mem: m, pages: pages}
		s.state().Store(stateSleep)
		if a.callSlots == nil {
			a.callSlots = map[int]*callSlot{}
		}
		a.callSlots[id] = s
	}
	a.slots = k
	atomic.StoreUint64(pte(m, a.root+8*510), (a.p.gpa+k.tables[0])|ptePresent|pteWrite|pteUser|pteAcc)
}

// allPages lists k's table and slot pages.
func (k *slotTables) allPages() []uint64 {
	out := append([]uint64(nil), k.tables...)
	for _, pages := range k.pages {
		out = append(out, pages...)
	}
	return out
}

func (s *callSlot) state() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(slotWord(s.mem, s.pages[0]+slotState)))
}

func (s *callSlot) u64(off uint64) *uint64 { return frameWord(s.mem, s.pages[0]+off) }

// copyOut copies the slot's bytes from off into b, across its pages.
func (s *callSlot) copyOut(off uint64, b []byte) {
	for len(b) > 0 {
		p, o := off/pageSize, off%pageSize
		n := copy(b, s.mem[s.pages[p]+o:s.pages[p]+pageSize])
		b, off = b[n:], off+uint64(n)
	}
}

// copyIn copies b into the slot from off.
func (s *callSlot) copyIn(off uint64, b []byte) {
	for len(b) > 0 {
		p, o := off/pageSize, off%pageSize
		n := copy(s.mem[s.pages[p]+o:s.pages[p]+pageSize], b)
		b, off = b[n:], off+uint64(n)
	}
}

// regs are the general registers' slots, in the slot's order.
func regs(r *arch.Registers) [16]*uint64 {
	return [16]*uint64{&r.Rax, &r.Rbx, &r.Rcx, &r.Rdx, &r.Rsi, &r.Rdi, &r.Rsp, &r.Rbp,
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15}
}

// readSyscall fills st with the call posted in the slot, as Switch reports a system
// call: rip and rflags from rcx and r11, the number in orig_rax, -ENOSYS in rax.
func (s *callSlot) readSyscall(st *arch.State, fpSize int) {
	r := &st.Regs
	for i, p := range regs(r) {
		*p = *s.u64(slotRegs + 8*uint64(i))
	}
	r.Fs_base, r.Gs_base = *s.u64(slotFS), *s.u64(slotGS)
	r.Cs, r.Ss = userCS, userSS
	r.Rip, r.Eflags = r.Rcx, r.R11
	r.Orig_rax = r.Rax
	r.Rax = ^uint64(unix.ENOSYS) + 1
	if len(st.FP) != fpSize {
		st.FP = arch.NewFPStateSized(fpSize)
	}
	s.copyOut(slotXsave, st.FP)
}

// fastAnswer reports whether st can go back through the slot: a return as sysret
// makes it (rip in rcx, rflags in r11, no single step).
func fastAnswer(st *arch.State, fpSize int) bool {
	r := &st.Regs
	return r.Rcx == r.Rip && r.R11 == r.Eflags && r.Eflags&(0x100|0x10000) == 0 &&
		r.Cs == userCS && r.Ss == userSS && len(st.FP) == fpSize
}

// writeAnswer puts st in the slot for fastResume, with the FP state made loadable
// (XRSTOR faults on what a standard-format header cannot hold) and the entry's spin.
func (s *callSlot) writeAnswer(st *arch.State, xcr0 uint64, budget uint32) {
	r := &st.Regs
	for i, p := range regs(r) {
		*s.u64(slotRegs + 8*uint64(i)) = *p
	}
	*s.u64(slotRflags) = r.Eflags&userFlags | 0x202
	*s.u64(slotFS), *s.u64(slotGS) = r.Fs_base, r.Gs_base
	s.copyIn(slotXsave, st.FP)
	var h [64]byte
	s.copyOut(slotXsave+512, h[:])
	le.PutUint64(h[0:], le.Uint64(h[0:])&xcr0)
	clear(h[8:])
	s.copyIn(slotXsave+512, h[:])
	var mx [4]byte
	s.copyOut(slotXsave+24, mx[:])
	le.PutUint32(mx[:], le.Uint32(mx[:])&0xffff)
	s.copyIn(slotXsave+24, mx[:])
	atomic.StoreUint32(slotWord(s.mem, s.pages[0]+slotBudget), budget)
}

// Spinning. A hand-over that finds the other side asleep costs an exit and a futex
// wake-up; one that finds it spinning costs a cache line. Each side spins for about
// as long as the other has been taking lately (three times the moving average, 2 µs
// more), not at all when that is more than its limit, and not at all on one CPU. The
// limits are about what not spinning costs: for the guest, an exit and a re-entry
// (~20 µs under PVM), and it cannot yield its CPU; for the Sentry, that and a futex
// wake-up, and its spin yields its CPU past spin.Busy (platform/internal/spin).
const (
	maxSpin      = 50 * time.Microsecond
	maxGuestSpin = 20 * time.Microsecond
	maxSample    = 2 * maxSpin

	// A system call the Sentry answers within quickCall is one the entry's spin
	// wins on; after quickCalls of them in a row the application goes on on the
	// vCPU's thread (context.handOver).
	quickCall  = maxGuestSpin / 2
	quickCalls = 16
	betWon     = 60
	betRetry   = 64
)

// enableFast makes the vCPU's LSTAR its fast entry, once its first system call showed
// that syscall stays in ring 3 here. It is never done where syscall enters ring 0: the
// entry's code must not run there (it would jump to the application's rcx in ring 0).
func (v *vcpu) enableFast() {
	v.fastTried = true
	if !fastSyscalls || !v.p.fastPossible() || v.id >= maxFastVCPUs {
		return
	}
	msrs := kvmMSRs{Nmsrs: 1}
	msrs.Entries[0] = kvmMSREntry{Index: msrLSTAR, Data: kernelBase + codeOff + fastEntryOff + uint64(fastEntryStride*v.id)}
	if n, err := ioctl(v.fd, kvmSetMSRs, unsafe.Pointer(&msrs)); err != nil || n != 1 {
		return
	}
	v.fast = true
}

// inFastCode reports whether rip (ring 3) is in the fast system call's code, and at
// which offset of the code page.
func inFastCode(rip uint64) (uint64, bool) {
	off := rip - (kernelBase + codeOff)
	return off, off >= fastSaveOff && off < codePageSize
}

// stoppedSaving is a vCPU stopped while the entry saved a call it had not posted yet:
// the call, as if posted, from the slot and the registers the entry had not touched.
func (v *vcpu) stoppedSaving(s *callSlot, off uint64) {
	st := &v.st
	v.saveRegs(st)
	r := &st.Regs
	atEntry := off >= fastEntryOff && (off-fastEntryOff)%fastEntryStride == 0
	switch {
	case off >= fastSavedOff && off < fastPostedOff:
		for i, p := range regs(r) {
			*p = *s.u64(slotRegs + 8*uint64(i))
		}
	case !atEntry:
		r.Rax = *s.u64(slotRegs)
	}
	r.Rip, r.Eflags = r.Rcx, r.R11
	r.Orig_rax = r.Rax
	r.Rax = ^uint64(unix.ENOSYS) + 1
}

var (
	errFastRing0    = errors.New("the fast system call's entry ran in ring 0")
	errSlotTampered = errors.New("the application wrote its slot")
)
