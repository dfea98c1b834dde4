package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
)

// addressSpace is one application address space: a set of stub processes sharing one
// host mm. The control stub, traced by the factory, clones the others; each Sentry OS
// thread that switches into the address space gets a stub thread of its own.
//
// Lock order: mapMu, then threadsMu.
type addressSpace struct {
	p       *Platform
	control *thread // traced by the factory's thread

	// mapMu serializes changes to the host mappings with the record of them.
	mapMu sync.Mutex
	maps  mappings

	threadsMu sync.Mutex
	threads   map[int]*thread // by tracer tid
	// spareStub (ptrace) is a stub thread cloned ahead of time (prepareStub), stopped
	// and not seized yet: the first OS thread to switch in without one seizes it, or 0.
	spareStub int
	dead      error // why the address space can no longer run, or nil
	released  bool  // Release was called (reset when recycled and handed out)

	// systrap: the threads (the mapping thread among them), and which of the address
	// space's slots are taken.
	trapThreads map[*trapThread]struct{}
	slots       []bool
	mapper      *trapThread // systrap's mapping thread, made at the first call; mapMu
	// spareThread is an application thread made ahead of time, for the first
	// context that switches in (prepareThreads); threadsMu.
	spareThread *trapThread
	// stale are released threads whose slots are still mapped here (threadsMu), until
	// the next batch of memory calls unmaps them (memoryCalls) or the address space
	// dies.
	stale []*trapThread

	// leftover: recycled holding its last user's mappings, as maps records them (see
	// "Spare address spaces" in ptrace.go). A Refill keeps those its next user maps
	// again and unmaps the rest; any other first use (a mapping call, a Switch) unmaps
	// them all first (dropLeftoverLocked). Written under mapMu.
	leftover atomic.Bool
	// wipePending (systrap; mapMu): the record was emptied of a leftover, and the next
	// batch of memory calls unmaps the whole application range first.
	wipePending bool
}

var _ platform.AddressSpace = (*addressSpace)(nil)

func (a *addressSpace) checkRange(addr, length uintptr) error {
	switch {
	case addr%pageSize != 0 || length%pageSize != 0:
		return fmt.Errorf("%w: [%#x, +%#x) is not page-aligned", platform.ErrBadRange, addr, length)
	case length == 0:
		return fmt.Errorf("%w: empty range at %#x", platform.ErrBadRange, addr)
	case addr < a.p.MinUserAddress() || addr+length < addr || addr+length > a.p.MaxUserAddress():
		return fmt.Errorf("%w: [%#x, %#x) is outside the application's range [%#x, %#x)",
			platform.ErrBadRange, addr, addr+length, a.p.MinUserAddress(), a.p.MaxUserAddress())
	}
	return nil
}

// MapFile implements platform.AddressSpace.MapFile.
func (a *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType, precommit bool) error {
	length := uintptr(fr.Length())
	if err := a.checkRange(addr, length); err != nil {
		return err
	}
	if fr.Start%pageSize != 0 || fr.End <= fr.Start {
		return fmt.Errorf("%w: file range [%#x, %#x) is empty or not page-aligned", platform.ErrBadRange, fr.Start, fr.End)
	}
	if err := a.p.checkFileRange(fr); err != nil {
		return err
	}
	flags := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
	if precommit {
		flags |= unix.MAP_POPULATE
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.dropLeftoverLocked(); err != nil {
		return err
	}
	_, err := a.inject(unix.SYS_MMAP, addr, length, uintptr(at.Prot()), flags, uintptr(a.p.memfd), uintptr(fr.Start))
	if err != nil {
		return err
	}
	a.maps.add(addr, addr+length, fr.Start, at)
	return nil
}

// MapFiles implements platform.MapBatcher: on systrap the mapping thread makes the
// calls in batches of up to maxBatch; on ptrace they are injected one after another
// under one hold of mapMu.
func (a *addressSpace) MapFiles(ms []platform.FileMapping) error {
	if err := a.checkMappings(ms); err != nil {
		return err
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.dropLeftoverLocked(); err != nil {
		return err
	}
	return a.mapFilesLocked(ms)
}

// checkMappings checks each of ms as MapFile does.
func (a *addressSpace) checkMappings(ms []platform.FileMapping) error {
	for _, m := range ms {
		if err := a.checkRange(m.Addr, uintptr(m.File.Length())); err != nil {
			return err
		}
		if m.File.Start%pageSize != 0 || m.File.End <= m.File.Start {
			return fmt.Errorf("%w: file range [%#x, %#x) is empty or not page-aligned", platform.ErrBadRange, m.File.Start, m.File.End)
		}
		if err := a.p.checkFileRange(m.File); err != nil {
			return err
		}
	}
	return nil
}

// mapFilesLocked makes the checked mappings ms, after the calls in first (systrap,
// in the same batches); mapMu is held.
func (a *addressSpace) mapFilesLocked(ms []platform.FileMapping, first ...[7]uintptr) error {
	calls := first
	for _, m := range ms {
		calls = append(calls, [7]uintptr{unix.SYS_MMAP, m.Addr, uintptr(m.File.Length()), uintptr(m.Access.Prot()),
			unix.MAP_SHARED | unix.MAP_FIXED, uintptr(a.p.memfd), uintptr(m.File.Start)})
	}
	ms = append(make([]platform.FileMapping, len(first)), ms...) // first's entries are not mappings
	for len(calls) > 0 {
		n := len(calls)
		if a.p.trap != nil {
			n = min(n, maxBatch)
			if err := a.injectBatch(calls[:n]); err != nil {
				return err
			}
		} else {
			n = 1
			if _, err := a.inject(calls[0][0], calls[0][1:]...); err != nil {
				return err
			}
		}
		for _, m := range ms[:n] {
			if m.File.Length() > 0 {
				a.maps.add(m.Addr, m.Addr+uintptr(m.File.Length()), m.File.Start, m.Access)
			}
		}
		calls, ms = calls[n:], ms[n:]
	}
	return nil
}

// Batched implements platform.MapBatcher.Batched: on systrap.
func (a *addressSpace) Batched() bool { return a.p.trap != nil }

// Refill implements platform.Refiller: of a recycled address space's leftover
// mappings, those the same in ms stay and the others are unmapped; the rest of ms is
// mapped on systrap (with the unmaps, in one batch when they fit), and left to faults
// on ptrace. A fork loop's children map the same pages as each other (the parent's,
// shared copy-on-write, and their own copies, at the offsets the last child freed), so
// a child then costs no mapping call at all.
func (a *addressSpace) Refill(ms []platform.FileMapping) error {
	if err := a.checkMappings(ms); err != nil {
		return err
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	var keep []segment
	var unmaps [][7]uintptr
	if a.leftover.Load() && !a.wipePending {
		keep = a.maps.same(ms)
		// The leftovers not kept go: those recorded, or every gap between the kept
		// ones, whichever takes fewer calls (a last user that ran another program
		// left little the same: one munmap of all).
		for _, s := range subtract(a.maps.segs, keep) {
			if n := len(unmaps); n > 0 && unmaps[n-1][1]+unmaps[n-1][2] == s.start {
				unmaps[n-1][2] += s.end - s.start
				continue
			}
			unmaps = append(unmaps, [7]uintptr{unix.SYS_MUNMAP, s.start, s.end - s.start})
		}
		lo, hi := a.p.MinUserAddress(), a.p.MaxUserAddress()
		if len(unmaps) > len(keep)+1 {
			unmaps = unmaps[:0]
			for _, s := range subtract([]segment{{start: lo, end: hi}}, keep) {
				unmaps = append(unmaps, [7]uintptr{unix.SYS_MUNMAP, s.start, s.end - s.start})
			}
		}
	}
	var todo []platform.FileMapping
	for _, m := range ms {
		whole := []segment{{m.Addr, m.Addr + uintptr(m.File.Length()), m.File.Start, m.Access}}
		for _, s := range subtract(whole, keep) {
			todo = append(todo, platform.FileMapping{Addr: s.start, File: platform.FileRange{Start: s.off, End: s.off + uint64(s.end-s.start)}, Access: s.at})
		}
	}
	if a.p.trap == nil {
		todo = nil // ptrace: the faults map them
		for _, c := range unmaps {
			if _, err := a.inject(c[0], c[1], c[2]); err != nil {
				return err
			}
		}
		unmaps = nil
	}
	a.maps = mappings{segs: keep}
	a.leftover.Store(false)
	if len(unmaps) == 0 && len(todo) == 0 {
		return nil
	}
	return a.mapFilesLocked(todo, unmaps...)
}

// subtract returns the parts of segs (sorted, disjoint) outside every segment of cut
// (sorted, disjoint), with their offsets.
func subtract(segs, cut []segment) []segment {
	var out []segment
	j := 0
	for _, s := range segs {
		for j < len(cut) && cut[j].end <= s.start {
			j++
		}
		from := s.start
		for k := j; k < len(cut) && cut[k].start < s.end; k++ {
			if cut[k].start > from {
				out = append(out, s.cut(from, cut[k].start))
			}
			from = max(from, cut[k].end)
		}
		if from < s.end {
			out = append(out, s.cut(from, s.end))
		}
	}
	return out
}

// dropLeftoverLocked forgets a recycled address space's leftover mappings before a
// use other than Refill, and unmaps them: on ptrace now, on systrap with the next
// batch (wipePending). mapMu is held.
func (a *addressSpace) dropLeftoverLocked() error {
	if !a.leftover.Load() || a.wipePending {
		return nil
	}
	a.maps = mappings{}
	if a.p.trap != nil {
		a.wipePending = true
		return nil
	}
	lo, hi := a.p.MinUserAddress(), a.p.MaxUserAddress()
	if _, err := a.inject(unix.SYS_MUNMAP, lo, hi-lo); err != nil {
		return err
	}
	a.leftover.Store(false)
	return nil
}

// clearLeftover unmaps a recycled address space's leftover mappings before a Switch
// runs code in it (no mapping call came first).
func (a *addressSpace) clearLeftover() error {
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.dropLeftoverLocked(); err != nil {
		return err
	}
	if a.wipePending {
		return a.memoryCalls()
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap.
func (a *addressSpace) Unmap(addr, length uintptr) error {
	if err := a.checkRange(addr, length); err != nil {
		return err
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.dropLeftoverLocked(); err != nil {
		return err
	}
	if _, err := a.inject(unix.SYS_MUNMAP, addr, length); err != nil {
		return err
	}
	a.maps.remove(addr, addr+length)
	return nil
}

// Protect implements platform.AddressSpace.Protect.
func (a *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	return a.ProtectAll([]platform.Protection{{Addr: addr, Length: length, Access: at}})
}

// ProtectAll implements platform.MapBatcher.ProtectAll. mprotect stops at the first
// hole (ENOMEM), so each mapped piece is changed by itself; on systrap, all of them in
// batches of the mapping thread.
func (a *addressSpace) ProtectAll(ps []platform.Protection) error {
	for _, p := range ps {
		if err := a.checkRange(p.Addr, p.Length); err != nil {
			return err
		}
	}
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.dropLeftoverLocked(); err != nil {
		return err
	}
	var change []segment
	for _, p := range ps {
		for _, s := range a.maps.within(p.Addr, p.Addr+p.Length) {
			if s.at != p.Access {
				s.at = p.Access
				change = append(change, s)
			}
		}
	}
	for len(change) > 0 {
		n := 1
		if a.p.trap != nil {
			n = min(len(change), maxBatch)
			calls := make([][7]uintptr, n)
			for i, s := range change[:n] {
				calls[i] = [7]uintptr{unix.SYS_MPROTECT, s.start, s.end - s.start, uintptr(s.at.Prot())}
			}
			if err := a.injectBatch(calls); err != nil {
				return err
			}
		} else if _, err := a.inject(unix.SYS_MPROTECT, change[0].start, change[0].end-change[0].start, uintptr(change[0].at.Prot())); err != nil {
			return err
		}
		for _, s := range change[:n] {
			a.maps.add(s.start, s.end, s.off, s.at)
		}
		change = change[n:]
	}
	return nil
}

// inject runs a memory system call in the address space: on the calling OS thread's own
// stub thread when it has one (a task handling its own fault: no goroutine switch), else
// on the control stub through the factory.
func (a *addressSpace) inject(nr uintptr, args ...uintptr) (uintptr, error) {
	if a.p.trap != nil {
		// systrap: the address space's mapping thread makes the call.
		a.threadsMu.Lock()
		dead := a.dead
		a.threadsMu.Unlock()
		if dead != nil {
			return 0, dead
		}
		c := [7]uintptr{nr}
		copy(c[1:], args)
		return 0, a.memoryCalls(c)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a.threadsMu.Lock()
	dead, t := a.dead, a.threads[unix.Gettid()]
	a.threadsMu.Unlock()
	if dead != nil {
		return 0, dead
	}
	var r uintptr
	var err error
	if t != nil {
		t.mu.Lock()
		r, err = t.syscall(siteSyscall, nr, args...)
		t.mu.Unlock()
	} else {
		a.p.factory.do(func() { r, err = a.control.syscall(siteSyscall, nr, args...) })
	}
	if died := (*errStubDied)(nil); errors.As(err, &died) {
		return 0, a.die(err)
	}
	return r, err
}

// injectBatch makes systrap's mapping thread run calls, in order, in one round trip.
func (a *addressSpace) injectBatch(calls [][7]uintptr) error {
	a.threadsMu.Lock()
	dead := a.dead
	a.threadsMu.Unlock()
	if dead != nil {
		return dead
	}
	return a.memoryCalls(calls...)
}

// threadFor returns the stub thread traced by the calling OS thread (tid), making one
// if there is none: the control stub clones it (on the factory), and this thread seizes
// it. The caller is locked to its OS thread.
func (a *addressSpace) threadFor(tid int) (*thread, error) {
	a.threadsMu.Lock()
	dead, t := a.dead, a.threads[tid]
	a.threadsMu.Unlock()
	if dead != nil {
		return nil, dead
	}
	if t != nil {
		return t, nil
	}
	a.threadsMu.Lock()
	newTid := a.spareStub
	a.spareStub = 0
	a.threadsMu.Unlock()
	var err error
	if newTid == 0 {
		a.p.factory.do(func() { newTid, err = cloneStub(a.control, true) })
		if err != nil {
			return nil, a.die(err)
		}
	}
	if t, err = seize(newTid); err != nil {
		unix.Kill(newTid, unix.SIGKILL)
		return nil, a.die(err)
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil { // released meanwhile
		go t.kill()
		return nil, a.dead
	}
	a.threads[tid] = t
	return t, nil
}

// park (ptrace) makes the stub thread that OS thread tracer traces the address
// space's spare stub, if it has none, rather than leaving it to be killed: its
// registers are put back to where it was seized (its self-stop loop) and it is
// detached, so that it stops itself again, untraced, for the next OS thread to seize.
// The application can't have changed the thread but for its registers (under
// PTRACE_SYSEMU none of its system calls reaches the host), and the next tracer loads
// all of them, the FP state included, before it runs. It runs on tracer's thread.
func (a *addressSpace) park(tracer int) {
	a.threadsMu.Lock()
	t := a.threads[tracer]
	if t == nil || a.dead != nil || a.spareStub != 0 || a.p.trap != nil {
		a.threadsMu.Unlock()
		return
	}
	delete(a.threads, tracer)
	a.threadsMu.Unlock()
	regs := t.initRegs
	regs.Orig_rax = ^uint64(0) // no system call to restart
	if setRegs(t.tid, &regs) != nil || ptrace(unix.PTRACE_DETACH, t.tid, 0, 0) != nil {
		t.kill()
		return
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil || a.spareStub != 0 {
		unix.Kill(t.tid, unix.SIGKILL) // untraced now: the control stub's kernel reaps it
		return
	}
	a.spareStub = t.tid
}

// prepareStub (ptrace) clones a stub thread for the first OS thread that will switch
// into a spare or recycled address space, so that a fork's child only seizes it: it
// waits stopped, untraced, and has never run application code.
func (a *addressSpace) prepareStub() error {
	a.threadsMu.Lock()
	has := a.spareStub != 0
	a.threadsMu.Unlock()
	if has {
		return nil
	}
	var tid int
	var err error
	a.p.factory.do(func() { tid, err = cloneStub(a.control, true) })
	if err != nil {
		return a.die(err)
	}
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead != nil {
		unix.Kill(tid, unix.SIGKILL) // untraced: the control stub's kernel reaps it
		return a.dead
	}
	a.spareStub = tid
	return nil
}

// die marks the address space dead for cause and kills its stubs: once one stub is
// lost, the memory the others share can't be trusted to be what the Sentry mapped.
func (a *addressSpace) die(cause error) error {
	a.threadsMu.Lock()
	if a.dead == nil {
		a.dead = fmt.Errorf("%w: %v", platform.ErrAddressSpaceDead, cause)
		a.killLocked()
	}
	err := a.dead
	a.threadsMu.Unlock()
	return err
}

// Release implements platform.AddressSpace.Release: the platform recycles the address
// space if it can, else it is killed.
// A second Release (before the address space is handed out again) does nothing: one
// that recycled it twice would hand it to two owners.
func (a *addressSpace) Release() {
	a.threadsMu.Lock()
	again := a.released
	a.released = true
	a.threadsMu.Unlock()
	if again {
		return
	}
	if a.p.recycle(a) {
		return
	}
	a.release()
}

// wipe readies a released address space for its next user: the application's
// mappings stay, recorded, as leftovers for Refill (or dropLeftoverLocked), and on
// systrap every slot but those of the threads in keep (the mapping thread, an unused
// spare) is unmapped now, in one mapping call: a dead thread's slot maps a part of the
// context file that another address space's thread may get next, and it may hold the
// last user's registers.
func (a *addressSpace) wipe(keep []uintptr) error {
	a.mapMu.Lock()
	defer a.mapMu.Unlock()
	if err := a.stubsAlive(); err != nil {
		return a.die(err)
	}
	a.leftover.Store(true)
	if a.p.trap == nil {
		return nil
	}
	var calls [][7]uintptr
	slices.Sort(keep)
	from := slotBase()
	for _, k := range append(keep, slotBase()+maxTrapThreads*slotSize) {
		if k > from {
			calls = append(calls, [7]uintptr{unix.SYS_MUNMAP, from, k - from})
		}
		from = k + slotSize
	}
	return a.injectBatch(calls)
}

// stubsAlive checks that the control stub and (systrap) the mapping thread have not
// died, as a stub killed from outside would have: a recycled address space makes no
// call that would tell before its next user's. mapMu is held.
func (a *addressSpace) stubsAlive() error {
	fd, err := unix.PidfdOpen(a.control.tid, 0)
	if err != nil {
		return fmt.Errorf("control stub %d is gone", a.control.tid)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if a.mapper != nil {
		fds = append(fds, unix.PollFd{Fd: int32(a.mapper.pidfd), Events: unix.POLLIN})
	}
	if n, err := unix.Poll(fds, 0); err != nil || n > 0 {
		return fmt.Errorf("a stub of the address space is gone (control stub %d)", a.control.tid)
	}
	return nil
}

// release kills the address space.
func (a *addressSpace) release() {
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	if a.dead == nil {
		a.dead = fmt.Errorf("%w: released", platform.ErrAddressSpaceDead)
		a.killLocked()
	}
}

// killLocked kills every stub of the address space, and reaps them in the background:
// waiting for a killed process to be gone takes a scheduling round of the host, and an
// exiting process's parent should not wait for it (its wait4 would). No stub runs
// application code by then: the application's threads are parked in the Sentry, and
// the control stub and the mapping thread only make the Sentry's own calls, so the
// memory file's pages can be reused at once. Any Sentry thread may reap a tracee of any
// other (wait4 without __WNOTHREAD looks at the whole thread group's tracees); a tracer
// blocked in wait4 for one of them gets ECHILD or the death.
func (a *addressSpace) killLocked() {
	for _, t := range a.threads {
		unix.Kill(t.tid, unix.SIGKILL)
	}
	if a.spareStub != 0 { // untraced: reaped by the kernel (its parent ignores SIGCHLD)
		unix.Kill(a.spareStub, unix.SIGKILL)
		a.spareStub = 0
	}
	// systrap threads are not traced: their contexts reap them (trapThread.release),
	// and the mapping thread is reaped here.
	for t := range a.trapThreads {
		unix.Kill(t.tid, unix.SIGKILL)
		if t.mapper || t == a.spareThread {
			go t.release()
		}
	}
	// Released threads' slots die with the stubs (a killed stub runs nothing).
	if stale := a.stale; len(stale) > 0 {
		a.stale = nil
		go func() {
			for _, t := range stale {
				t.free()
			}
		}()
	}
	unix.Kill(a.control.tid, unix.SIGKILL)
	threads, control := a.threads, a.control
	go func() {
		for _, t := range threads {
			t.kill()
		}
		control.kill()
	}()
	a.threads = nil
	a.p.forget(a)
}

// faultAccess tells what kind of access faulted at addr. ptrace shows the tracer the
// signal but not the page-fault error code, so the access is inferred from what the
// platform mapped there (mapMu must not be held):
//
//   - an instruction fetch: addr is on rip's page, or it is the first byte of the next
//     page and within the 15 bytes an instruction can span (an instruction straddling a
//     page boundary faults at the first byte it can't fetch);
//   - SEGV_MAPERR, nothing mapped on the host (trusted over the record): a read. If it
//     was a write, the Sentry maps the page and the retry faults again with SEGV_ACCERR
//     on a page without write access;
//   - SEGV_ACCERR: the first access the mapping lacks, in the order read, write (x86
//     makes every readable page executable-on-fetch only with PROT_EXEC, handled above).
func (a *addressSpace) faultAccess(si *arch.SignalInfo, rip uintptr) platform.AccessType {
	addr := si.Addr()
	fetch := addr/pageSize == rip/pageSize || addr%pageSize == 0 && addr > rip && addr-rip < 15
	a.mapMu.Lock()
	at, mapped := a.maps.lookup(addr)
	a.mapMu.Unlock()
	if si.Code == arch.SEGV_MAPERR {
		// The host has no page there, whatever the record says (another thread may be
		// between changing the mapping and recording it): the Sentry maps it again.
		mapped = false
	}
	switch {
	case fetch && (!mapped || !at.Execute):
		return platform.AccessType{Execute: true}
	case !mapped || !at.Read || si.Signo == int32(unix.SIGBUS):
		return platform.Read
	case !at.Write:
		return platform.AccessType{Write: true}
	}
	return platform.Read
}
