package kvm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
)

// addressSpace is a platform.AddressSpace: a page-table root in the pool.
type addressSpace struct {
	p       *Platform
	root    uint64 // the PML4's offset in platMem
	rootGPA uint64

	// gen counts changes that removed or narrowed a present entry (see the package
	// comment's TLB section).
	gen atomic.Uint64
	// dead is the error that ended the address space (released, or a vCPU's exit
	// the platform did not expect); nil while it lives.
	dead atomic.Pointer[error]

	mu        sync.Mutex        // serializes changes to the tables
	tables    []uint64          // every table page, the root included, but the slots'
	slots     *slotTables       // the call slots' tables and pages (fast.go), or nil
	callSlots map[int]*callSlot // by vCPU id: the fast system call's slots (fast.go)

	// leftover: the tables still hold a released address space's mappings, which the
	// first use drops or, for Refill, keeps where the same (see recycle).
	leftover atomic.Bool
}

var (
	_ platform.AddressSpace = (*addressSpace)(nil)
	_ platform.MapBatcher   = (*addressSpace)(nil)
)

// NewAddressSpace implements platform.Platform.NewAddressSpace: a recycled one (see
// recycle) if there is one.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	if a := p.takeReady(); a != nil {
		return a, nil
	}
	root, err := p.allocTable()
	if err != nil {
		return nil, err
	}
	// Upper entry 511: the kernel area, supervisor-only, shared by every root.
	*pte(p.platMem, root+8*511) = (p.gpa + kPDPTOff) | ptePresent | pteWrite | pteUser | pteAcc
	return &addressSpace{p: p, root: root, rootGPA: p.gpa + root, tables: []uint64{root}}, nil
}

// leafBits are the entry bits of a mapping with access at.
func leafBits(at platform.AccessType) uint64 {
	if !at.Read && !at.Write && !at.Execute {
		return pteMapped // kept, not present
	}
	b := uint64(pteMapped | ptePresent | pteUser | pteAcc | pteDirty)
	if at.Write {
		b |= pteWrite
	}
	if !at.Execute {
		b |= pteNX
	}
	return b
}

// checkRange checks that [addr, addr+length) is a non-empty, page-aligned range of the
// application's addresses.
func (a *addressSpace) checkRange(addr, length uintptr) error {
	if addr%pageSize != 0 || length%pageSize != 0 || length == 0 || addr < minUser ||
		addr+length < addr || addr+length > maxUser {
		return fmt.Errorf("kvm: %w: [%#x, %#x) (application range [%#x, %#x))",
			platform.ErrBadRange, addr, addr+length, minUser, maxUser)
	}
	return nil
}

func (a *addressSpace) deadErr() error {
	if e := a.dead.Load(); e != nil {
		return *e
	}
	return nil
}

// MapFile implements platform.AddressSpace.MapFile.
func (a *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType, precommit bool) error {
	return a.MapFiles([]platform.FileMapping{{Addr: addr, File: fr, Access: at}})
}

// MapFiles implements platform.MapBatcher.MapFiles: each mapping is a walk of the
// tables, and one shootdown follows them all.
func (a *addressSpace) MapFiles(ms []platform.FileMapping) error {
	var end uint64
	for _, m := range ms {
		if err := a.checkRange(m.Addr, uintptr(m.File.Length())); err != nil {
			return err
		}
		if err := a.p.checkFileRange(m.File); err != nil {
			return err
		}
		end = max(end, m.File.End)
	}
	if err := a.p.ensureFileSlots(end); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.deadErr(); err != nil {
		return err
	}
	if err := a.resetLocked(); err != nil {
		return err
	}
	var z zapList
	defer a.shootdown(&z) // before the unlock
	for _, m := range ms {
		bits := leafBits(m.Access)
		off := m.File.Start - uint64(m.Addr)
		err := a.walk(uint64(m.Addr), uint64(m.Addr)+m.File.Length(), true, func(e *uint64, va uint64) {
			n := (va+off)&pteAddr | bits
			if old := atomic.SwapUint64(e, n); old&ptePresent != 0 && old != n {
				z.add(old & pteAddr)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Batched implements platform.MapBatcher.Batched: a mapping costs the Sentry a few
// table writes, no exit and no host call, so a forked child gets all its pages mapped
// at fork rather than an exit per fault.
func (a *addressSpace) Batched() bool { return true }

// Unmap implements platform.AddressSpace.Unmap.
func (a *addressSpace) Unmap(addr, length uintptr) error {
	if err := a.checkRange(addr, length); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.deadErr(); err != nil {
		return err
	}
	if err := a.resetLocked(); err != nil {
		return err
	}
	var z zapList
	a.unmapLocked(addr, addr+length, &z)
	a.shootdown(&z)
	return nil
}

// unmapLocked clears every entry of [start, end), adding the pages of present ones to
// z. a.mu is held.
func (a *addressSpace) unmapLocked(start, end uintptr, z *zapList) {
	a.walk(uint64(start), uint64(end), false, func(e *uint64, va uint64) {
		if old := atomic.SwapUint64(e, 0); old&ptePresent != 0 {
			z.add(old & pteAddr)
		}
	})
}

// dropLeftover drops a recycled address space's leftover mappings before it runs code
// (its first use was not a mapping call).
func (a *addressSpace) dropLeftover() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resetLocked()
}

// resetLocked drops a recycled address space's leftover mappings, if it still has
// them, by giving it new tables: a root with the kernel area and the slots' tables
// linked, no mapping. The old tables go back to the pool as a released address
// space's do (reused only after zapAll), so no leftover entry needs a shootdown, which
// would also take the pages out of KVM's translations for the address spaces still
// mapping them (the last user's parent, say). a.mu is held; no vCPU has run a yet.
func (a *addressSpace) resetLocked() error {
	if !a.leftover.Load() {
		return nil
	}
	root, err := a.p.allocTable()
	if err != nil {
		return err
	}
	a.p.freeTables(a.tables)
	m := a.p.platMem
	*pte(m, root+8*511) = *pte(m, a.root+8*511)
	*pte(m, root+8*510) = *pte(m, a.root+8*510)
	a.root, a.rootGPA, a.tables = root, a.p.gpa+root, []uint64{root}
	a.leftover.Store(false)
	return nil
}

// Refill implements platform.Refiller: of a recycled address space's leftover
// mappings, the entries ms repeats (the same page with the same access) stay as they
// are, and so does everything KVM derived from them; the others go, with a shootdown
// of their pages, and the rest of ms is mapped. A fork loop's children map the same
// pages as each other (the parent's, shared copy-on-write, and their own copies at the
// offsets the last child freed: pgalloc's AllocateResident), so a child then writes
// few entries, and under shadow paging finds most of its pages already in KVM's
// shadow tables: no fault, no shadow page to build, none to zap later.
func (a *addressSpace) Refill(ms []platform.FileMapping) error {
	a.mu.Lock()
	if a.leftover.Load() {
		for _, m := range ms {
			if err := a.checkRange(m.Addr, uintptr(m.File.Length())); err != nil {
				a.mu.Unlock()
				return err
			}
		}
		// Leftovers of another program (fewer than half of ms's pages the same) are
		// dropped whole, with no shootdown (resetLocked): their pages may still be
		// in use elsewhere, and a shootdown would take them out of KVM's
		// translations there too.
		var pages, same uint64
		for _, m := range ms {
			bits := leafBits(m.Access)
			off := m.File.Start - uint64(m.Addr)
			pages += m.File.Length() / pageSize
			a.walk(uint64(m.Addr), uint64(m.Addr)+m.File.Length(), false, func(e *uint64, va uint64) {
				if atomic.LoadUint64(e) == (va+off)&pteAddr|bits {
					same++
				}
			})
		}
		if pages == 0 || same*2 < pages {
			if err := a.resetLocked(); err != nil {
				a.mu.Unlock()
				return err
			}
		}
	}
	if a.leftover.Load() {
		// Every gap between the mappings of ms (sorted, disjoint) is cleared.
		var z zapList
		from := uintptr(minUser)
		for _, m := range ms {
			if m.Addr > from {
				a.unmapLocked(from, m.Addr, &z)
			}
			from = max(from, m.Addr+uintptr(m.File.Length()))
		}
		if from < maxUser {
			a.unmapLocked(from, maxUser, &z)
		}
		a.leftover.Store(false)
		a.shootdown(&z)
	}
	a.mu.Unlock()
	if len(ms) == 0 {
		return nil
	}
	return a.MapFiles(ms) // an entry it rewrites unchanged costs no shootdown
}

// Protect implements platform.AddressSpace.Protect.
func (a *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	return a.ProtectAll([]platform.Protection{{Addr: addr, Length: length, Access: at}})
}

// ProtectAll implements platform.MapBatcher.ProtectAll, with one shootdown.
func (a *addressSpace) ProtectAll(ps []platform.Protection) error {
	for _, p := range ps {
		if err := a.checkRange(p.Addr, p.Length); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.deadErr(); err != nil {
		return err
	}
	if err := a.resetLocked(); err != nil {
		return err
	}
	var z zapList
	for _, p := range ps {
		a.protectLocked(p.Addr, p.Length, leafBits(p.Access), &z)
	}
	a.shootdown(&z)
	return nil
}

// protectLocked gives the mapped pages of [addr, addr+length) the entry bits bits,
// adding those narrowed to z. a.mu is held.
func (a *addressSpace) protectLocked(addr, length uintptr, bits uint64, z *zapList) {
	a.walk(uint64(addr), uint64(addr+length), false, func(e *uint64, va uint64) {
		old := atomic.LoadUint64(e)
		if old&pteMapped == 0 {
			return // a hole
		}
		n := old&pteAddr | bits
		atomic.StoreUint64(e, n)
		if old&ptePresent != 0 && old&^n&(ptePresent|pteWrite) != 0 || n&^old&pteNX != 0 {
			z.add(old & pteAddr) // narrowed
		}
	})
}

// Release implements platform.AddressSpace.Release: no vCPU runs in it afterwards, and
// its tables go back to the pool.
func (a *addressSpace) Release() {
	err := fmt.Errorf("kvm: %w (released)", platform.ErrAddressSpaceDead)
	a.dead.CompareAndSwap(nil, &err)
	a.p.stopVCPUsIn(a) // a vCPU may wait in a fast system call's entry
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tables == nil {
		return
	}
	a.shootdown(&zapList{all: true})
	if a.dead.Load() == &err && recycleAddressSpaces && a.p.recycle(a) {
		a.tables, a.slots = nil, nil
		return
	}
	a.p.freeTables(a.tables)
	if k := a.slots; k != nil && (len(k.tables) == 0 || k.partial || !a.p.keepSlots(k)) {
		a.p.freeTables(k.allPages())
	}
	a.tables, a.slots = nil, nil
}

// maxReady bounds the released address spaces kept for reuse.
const maxReady = 4

// recycleAddressSpaces turns recycling on (tests turn it off to see tables freed).
var recycleAddressSpaces = true

// recycle keeps the tables of a, released (no vCPU runs it) and not ended by an error,
// in a new address space for the next NewAddressSpace, with a's mappings as leftovers
// (its slots are cleared when it is handed out); it reports false where enough are
// kept, or the platform is closing. A recycled address space runs no code before its
// first user's first call has dealt with the leftovers: a Refill that repeats most of
// them keeps those it repeats and changes the rest as a live address space's entries
// change, with a shootdown of each page whose entry goes or moves to another page, so
// nothing KVM derived from the old entries outlives them; any other first call, or a
// Refill that repeats little, gives it new tables (resetLocked) and the old ones go
// back to the pool as a released address space's do. a.mu is held.
func (p *Platform) recycle(a *addressSpace) bool {
	if a.slots != nil && a.slots.partial {
		return false
	}
	p.ptMu.Lock()
	defer p.ptMu.Unlock()
	if p.closed || len(p.ready) >= maxReady {
		return false // (closed: the Sentry is going away, and the pages with it)
	}
	// The slot pages are cleared when NewAddressSpace hands r out (takeReady).
	r := &addressSpace{p: p, root: a.root, rootGPA: a.rootGPA, tables: a.tables, slots: a.slots}
	r.leftover.Store(true)
	p.ready = append(p.ready, r)
	return true
}

// takeReady returns a recycled address space, its slots cleared, or nil.
func (p *Platform) takeReady() *addressSpace {
	p.ptMu.Lock()
	n := len(p.ready)
	if n == 0 {
		p.ptMu.Unlock()
		return nil
	}
	a := p.ready[n-1]
	p.ready = p.ready[:n-1]
	p.ptMu.Unlock()
	if k := a.slots; k != nil {
		a.mu.Lock()
		a.adoptSlots(k)
		a.mu.Unlock()
	}
	return a
}

// die ends the address space with err (the first error wins) and returns it.
func (a *addressSpace) die(err error) error {
	e := fmt.Errorf("%w: %w", platform.ErrAddressSpaceDead, err)
	if !a.dead.CompareAndSwap(nil, &e) {
		return a.deadErr()
	}
	return e
}

// walk calls fn for the leaf entry of each page of [start, end), making the tables on
// the way with create, and skipping the ranges with no table without.
func (a *addressSpace) walk(start, end uint64, create bool, fn func(e *uint64, va uint64)) error {
	return a.walkTable(a.root, 39, 0, start, end, create, fn)
}

func (a *addressSpace) walkTable(table uint64, shift uint, base, start, end uint64, create bool, fn func(e *uint64, va uint64)) error {
	m := a.p.platMem
	span := uint64(1) << shift
	for i := (start - base) >> shift; i < 512; i++ {
		va := base + i*span
		if va >= end {
			break
		}
		e := pte(m, table+8*i)
		if shift == 12 {
			fn(e, va)
			continue
		}
		cur := atomic.LoadUint64(e)
		if cur&ptePresent == 0 {
			if !create {
				continue
			}
			t, err := a.p.allocTable()
			if err != nil {
				return err
			}
			a.tables = append(a.tables, t)
			cur = (a.p.gpa + t) | ptePresent | pteWrite | pteUser | pteAcc
			atomic.StoreUint64(e, cur) // the table is zeroed before it is linked
		}
		child := cur&pteAddr - a.p.gpa
		if err := a.walkTable(child, shift-9, va, max(start, va), min(end, va+span), create, fn); err != nil {
			return err
		}
	}
	return nil
}

// zapList collects the memory-file pages whose translations a change removed or
// narrowed, as runs of contiguous offsets.
type zapList struct {
	runs [][2]uint64 // [start, end) file offsets
	all  bool        // every translation of the address space
}

func (z *zapList) add(off uint64) {
	if n := len(z.runs); n > 0 && z.runs[n-1][1] == off {
		z.runs[n-1][1] += pageSize
		return
	}
	z.runs = append(z.runs, [2]uint64{off, off + pageSize})
}

// shootdown makes the changes just made to the tables reach every vCPU. The Sentry's
// view of each page whose translation went is dropped (madvise MADV_DONTNEED on a
// shared mapping keeps the data); KVM's MMU notifier then zaps every translation KVM
// derived from the page (shadow page tables under PVM, nested page tables on hardware
// virtualization) and flushes the TLBs of every vCPU, waiting for running ones to leave
// the guest, which on hardware virtualization drops the guest's own translations too
// (the flush is per address-space identifier, ASID or VPID). When madvise returns, no
// vCPU can use a removed or narrowed translation. The generation moves on as well, so
// a vCPU entering from ring 0 reloads CR3 (retFlush) on top of that.
//
// Called with a.mu held.
func (a *addressSpace) shootdown(z *zapList) {
	if len(z.runs) == 0 && !z.all {
		return
	}
	for _, r := range z.runs {
		if r[1] <= a.p.fileSize {
			unix.Madvise(a.p.fileMem[r[0]:r[1]], unix.MADV_DONTNEED)
		}
	}
	a.gen.Add(1)
}

// kick makes the vCPU leave KVM_RUN promptly, or not enter it.
func (v *vcpu) kick() {
	v.kickMu.Lock()
	defer v.kickMu.Unlock()
	if v.run == nil {
		return // closed
	}
	setImmediateExit(v.run, true)
	if t := v.tid.Load(); t != 0 {
		unix.Tgkill(pid, int(t), unix.SIGURG)
	}
}
