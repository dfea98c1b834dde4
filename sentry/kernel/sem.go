package kernel

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
)

// SysV semaphores (ipc/sem.c). A set is an array of semaphores, each with a value and
// the PID of the last process to change it. semop applies a list of operations
// atomically: all of them or none. When some operation can't proceed (a decrement below
// zero, a wait-for-zero on a non-zero value), the task queues itself on the set and
// sleeps unless IPC_NOWAIT; every change to a set retries the queue in order, as
// update_queue, and wakes the tasks whose operations now succeed. A sleeping semop is
// interrupted by a signal with EINTR (never restarted, as on Linux), by a timeout with
// EAGAIN, and by the set's removal with EIDRM.
//
// SEM_UNDO records, per process, the opposite of each operation; when the process's last
// thread exits the adjustments are applied (clamped to [0, SEMVMX]), as exit_sem.
// SETVAL and SETALL clear the adjustments of what they set.
//
// Divergence: the undo list belongs to the process (thread group). Linux shares it
// among tasks made with CLONE_SYSVSEM, which glibc passes for threads only, so the two
// differ only for clone(CLONE_SYSVSEM) without CLONE_THREAD.

// semaphore is one semaphore (struct sem).
type semaphore struct {
	val int32
	pid int32
}

// semWaiter is a task blocked in semop (struct sem_queue).
type semWaiter struct {
	proc     *Process
	pid      int32
	sops     []linux.Sembuf
	blocking linux.Sembuf // the operation that could not proceed
	done     chan error   // receives the outcome once, when woken
}

// semSet is one semaphore set (struct sem_array).
type semSet struct {
	ipc     ipcPerm
	sems    []semaphore
	otime   time.Time
	pending []*semWaiter
}

func (s *semSet) perm() *ipcPerm { return &s.ipc }

// semState is the kernel's semaphore sets and the processes' undo adjustments.
type semState struct {
	ipcTable[*semSet]
	used int64                          // semaphores in all sets (used_sems)
	undo map[*Process]map[int32][]int32 // per process, per set id, per semaphore
}

// SemGet implements semget(2).
func (t *Task) SemGet(key int32, nsems int32, flag uintptr) (int32, error) {
	if nsems < 0 || nsems > linux.SEMMSL {
		return 0, unix.EINVAL
	}
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	more := func(s *semSet) error {
		if int(nsems) > len(s.sems) {
			return unix.EINVAL // sem_more_checks
		}
		return nil
	}
	return ipcGet(&k.sem.ipcTable, t.Creds, key, flag, more, func() (int32, error) {
		// As newary.
		if nsems == 0 {
			return 0, unix.EINVAL
		}
		if k.sem.used+int64(nsems) > linux.SEMMNS {
			return 0, unix.ENOSPC
		}
		s := &semSet{ipc: newIPCPerm(t.Creds, key, flag), sems: make([]semaphore, nsems)}
		id, err := k.sem.add(s, linux.SEMMNI)
		if err != nil {
			return 0, err
		}
		k.sem.used += int64(nsems)
		return id, nil
	})
}

// errBlock is tryOps' "would block" outcome (not an errno: EWOULDBLOCK is EAGAIN,
// IPC_NOWAIT's).
var errBlock = errors.New("semop would block")

// tryOps applies sops to s atomically for the process p (its undo adjustments adj, nil
// without SEM_UNDO), as perform_atomic_semop: nil if they all apply, errBlock with the
// operation that can't proceed (EAGAIN instead with IPC_NOWAIT), or ERANGE.
func (s *semSet) tryOps(sops []linux.Sembuf, pid int32, adj []int32) (linux.Sembuf, error) {
	vals := make([]int32, len(s.sems))
	for i := range s.sems {
		vals[i] = s.sems[i].val
	}
	var newAdj []int32
	if adj != nil {
		newAdj = append([]int32(nil), adj...)
	}
	for _, op := range sops {
		cur := vals[op.Num]
		if op.Op == 0 && cur != 0 || cur+int32(op.Op) < 0 {
			if op.Flg&unix.IPC_NOWAIT != 0 {
				return op, unix.EAGAIN
			}
			return op, errBlock
		}
		if cur+int32(op.Op) > linux.SEMVMX {
			return op, unix.ERANGE
		}
		if op.Flg&linux.SEM_UNDO != 0 && newAdj != nil {
			u := newAdj[op.Num] - int32(op.Op)
			if u < -linux.SEMAEM-1 || u > linux.SEMAEM {
				return op, unix.ERANGE
			}
			newAdj[op.Num] = u
		}
		vals[op.Num] = cur + int32(op.Op)
	}
	for i := range s.sems {
		s.sems[i].val = vals[i]
	}
	for _, op := range sops {
		s.sems[op.Num].pid = pid
	}
	copy(adj, newAdj)
	s.otime = time.Now()
	return linux.Sembuf{}, nil
}

// undoFor returns p's adjustments for set id (made if make), or nil.
func (st *semState) undoFor(p *Process, id int32, n int, make_ bool) []int32 {
	if st.undo == nil {
		st.undo = map[*Process]map[int32][]int32{}
	}
	m := st.undo[p]
	if m == nil {
		if !make_ {
			return nil
		}
		m = map[int32][]int32{}
		st.undo[p] = m
	}
	a := m[id]
	if a == nil && make_ {
		a = make([]int32, n)
		m[id] = a
	}
	return a
}

// updateLocked retries the set's waiters in order until none can proceed, waking those
// whose operations succeed or fail (update_queue).
func (k *Kernel) semUpdateLocked(s *semSet) {
	for progress := true; progress; {
		progress = false
		for i := 0; i < len(s.pending); i++ {
			w := s.pending[i]
			var adj []int32
			if hasUndo(w.sops) {
				adj = k.sem.undoFor(w.proc, s.ipc.id, len(s.sems), true)
			}
			op, err := s.tryOps(w.sops, w.pid, adj)
			if err == errBlock {
				w.blocking = op
				continue
			}
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			i--
			w.done <- err
			if err == nil {
				progress = true
			}
		}
	}
}

func hasUndo(sops []linux.Sembuf) bool {
	for _, op := range sops {
		if op.Flg&linux.SEM_UNDO != 0 {
			return true
		}
	}
	return false
}

// SemOp implements semop(2) and semtimedop(2) once the operations (and the timeout, a
// deadline when not zero) are copied in, in the order of do_semtimedop.
func (t *Task) SemOp(id int32, sops []linux.Sembuf, deadline time.Time) error {
	k := t.k
	maxNum, undo, alter := uint16(0), false, false
	for _, op := range sops {
		maxNum = max(maxNum, op.Num)
		undo = undo || op.Flg&linux.SEM_UNDO != 0
		alter = alter || op.Op != 0
	}
	k.sem.mu.Lock()
	s, err := k.sem.lookup(id)
	if err != nil {
		k.sem.mu.Unlock()
		return err
	}
	if int(maxNum) >= len(s.sems) {
		k.sem.mu.Unlock()
		return unix.EFBIG
	}
	acc := uint32(0o444)
	if alter {
		acc = 0o222
	}
	if !s.ipc.permits(t.Creds, acc) {
		k.sem.mu.Unlock()
		return unix.EACCES
	}
	var adj []int32
	if undo {
		adj = k.sem.undoFor(t.Proc, id, len(s.sems), true)
	}
	op, err := s.tryOps(sops, t.Proc.PID, adj)
	if err == nil {
		k.semUpdateLocked(s)
		k.sem.mu.Unlock()
		return nil
	}
	if err != errBlock {
		k.sem.mu.Unlock()
		return err
	}
	w := &semWaiter{proc: t.Proc, pid: t.Proc.PID, sops: sops, blocking: op, done: make(chan error, 1)}
	s.pending = append(s.pending, w)
	k.sem.mu.Unlock()

	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	var why error
	t.SleepStart()
	select {
	case err := <-w.done:
		t.SleepFinish()
		return err
	case <-timeout:
		why = unix.EAGAIN
	case <-t.Interrupted():
		why = unix.EINTR
	}
	t.SleepFinish()
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	for i, x := range s.pending {
		if x == w {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return why
		}
	}
	return <-w.done // woken meanwhile
}

// semExit applies the exiting process's undo adjustments (exit_sem).
func (k *Kernel) semExit(p *Process) {
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	for id, adj := range k.sem.undo[p] {
		s, err := k.sem.lookup(id)
		if err != nil {
			continue
		}
		for i, a := range adj {
			if a == 0 {
				continue
			}
			v := min(max(s.sems[i].val+a, 0), linux.SEMVMX)
			s.sems[i].val, s.sems[i].pid = v, p.PID
		}
		k.semUpdateLocked(s)
	}
	delete(k.sem.undo, p)
}

// clearUndoLocked clears every process's adjustment of semaphore num of set id (all of
// them when num < 0), as SETVAL and SETALL do.
func (k *Kernel) semClearUndoLocked(id int32, num int) {
	for _, m := range k.sem.undo {
		if a := m[id]; a != nil {
			if num < 0 {
				clear(a)
			} else {
				a[num] = 0
			}
		}
	}
}

// semLookup returns the set id names after a permission check for acc.
func (t *Task) semLookupLocked(id int32, acc uint32) (*semSet, error) {
	s, err := t.k.sem.lookup(id)
	if err != nil {
		return nil, err
	}
	if !s.ipc.permits(t.Creds, acc) {
		return nil, unix.EACCES
	}
	return s, nil
}

// SemGetAll implements GETALL.
func (t *Task) SemGetAll(id int32) ([]uint16, error) {
	t.k.sem.mu.Lock()
	defer t.k.sem.mu.Unlock()
	s, err := t.semLookupLocked(id, 0o444)
	if err != nil {
		return nil, err
	}
	out := make([]uint16, len(s.sems))
	for i, x := range s.sems {
		out[i] = uint16(x.val)
	}
	return out, nil
}

// SemCount returns how many semaphores set id has, after a permission check for acc
// (SETALL's copy-in needs it first).
func (t *Task) SemCount(id int32, acc uint32) (int, error) {
	t.k.sem.mu.Lock()
	defer t.k.sem.mu.Unlock()
	s, err := t.semLookupLocked(id, acc)
	if err != nil {
		return 0, err
	}
	return len(s.sems), nil
}

// SemSetAll implements SETALL once the values are copied in.
func (t *Task) SemSetAll(id int32, vals []uint16) error {
	for _, v := range vals {
		if v > linux.SEMVMX {
			return unix.ERANGE
		}
	}
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	s, err := t.semLookupLocked(id, 0o222)
	if err != nil {
		return err
	}
	if len(vals) != len(s.sems) {
		return unix.EIDRM // replaced meanwhile
	}
	for i, v := range vals {
		s.sems[i] = semaphore{val: int32(v), pid: t.Proc.PID}
	}
	k.semClearUndoLocked(id, -1)
	s.ipc.ctime = time.Now()
	k.semUpdateLocked(s)
	return nil
}

// SemGet1 implements GETVAL, GETPID, GETNCNT and GETZCNT. A semaphore keeps the
// root-namespace PID of its last operator; GETPID gives it in t's PID namespace (0
// for a process outside it).
func (t *Task) SemGet1(id int32, num int32, cmd int32) (int32, error) {
	v, err := t.semGet1(id, num, cmd)
	if err == nil && cmd == linux.GETPID {
		v = t.Proc.ns.IDOfRoot(v)
	}
	return v, err
}

// semGet1 is SemGet1, GETPID's PID untranslated.
func (t *Task) semGet1(id int32, num int32, cmd int32) (int32, error) {
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	s, err := t.semLookupLocked(id, 0o444)
	if err != nil {
		return 0, err
	}
	if num < 0 || int(num) >= len(s.sems) {
		return 0, unix.EINVAL
	}
	switch cmd {
	case linux.GETVAL:
		return s.sems[num].val, nil
	case linux.GETPID:
		return s.sems[num].pid, nil
	}
	// As count_semcnt: the waiters whose blocking operation is on num and decrements
	// (GETNCNT) or waits for zero (GETZCNT).
	n := int32(0)
	for _, w := range s.pending {
		if int32(w.blocking.Num) == num && (cmd == linux.GETNCNT && w.blocking.Op < 0 || cmd == linux.GETZCNT && w.blocking.Op == 0) {
			n++
		}
	}
	return n, nil
}

// SemSetVal implements SETVAL (semctl_setval).
func (t *Task) SemSetVal(id int32, num int32, val int32) error {
	if val < 0 || val > linux.SEMVMX {
		return unix.ERANGE
	}
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	s, err := k.sem.lookup(id)
	if err != nil {
		return err
	}
	if num < 0 || int(num) >= len(s.sems) {
		return unix.EINVAL
	}
	if !s.ipc.permits(t.Creds, 0o222) {
		return unix.EACCES
	}
	s.sems[num] = semaphore{val: val, pid: t.Proc.PID}
	k.semClearUndoLocked(id, int(num))
	s.ipc.ctime = time.Now()
	k.semUpdateLocked(s)
	return nil
}

// SemStat is a set's semid64_ds for IPC_STAT, SEM_STAT and SEM_STAT_ANY; with byIndex,
// id is an index and the set's identifier is returned.
func (t *Task) SemStat(id int32, byIndex, anyAccess bool) (linux.SemidDS, int32, error) {
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	s, err := k.sem.lookupToStat(t.Creds, id, byIndex, anyAccess)
	if err != nil {
		return linux.SemidDS{}, 0, err
	}
	return linux.SemidDS{Perm: s.ipc.stat(), Otime: unixTime(s.otime), Ctime: unixTime(s.ipc.ctime),
		Nsems: uint64(len(s.sems))}, s.ipc.id, nil
}

// SemSet implements IPC_SET.
func (t *Task) SemSet(id int32, uid, gid, mode uint32) error {
	return ipcSet(&t.k.sem.ipcTable, t.Creds, id, uid, gid, mode)
}

// SemRemove implements IPC_RMID (freeary): the sleepers wake with EIDRM.
func (t *Task) SemRemove(id int32) error {
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	s, err := k.sem.lookupToChange(t.Creds, id)
	if err != nil {
		return err
	}
	for _, w := range s.pending {
		w.done <- unix.EIDRM
	}
	s.pending = nil
	for _, m := range k.sem.undo {
		delete(m, id)
	}
	k.sem.remove(s)
	k.sem.used -= int64(len(s.sems))
	return nil
}

// SemInfo returns IPC_INFO's (or, with usage, SEM_INFO's) figures and the highest
// index in use.
func (t *Task) SemInfo(usage bool) (linux.Seminfo, int32) {
	k := t.k
	k.sem.mu.Lock()
	defer k.sem.mu.Unlock()
	info := linux.Seminfo{Semmap: linux.SEMMAP, Semmni: linux.SEMMNI, Semmns: linux.SEMMNS,
		Semmnu: linux.SEMMNU, Semmsl: linux.SEMMSL, Semopm: linux.SEMOPM, Semume: linux.SEMUME,
		Semusz: linux.SEMUSZ, Semvmx: linux.SEMVMX, Semaem: linux.SEMAEM}
	if usage {
		// As semctl_info: SEM_INFO reports the sets in use and the semaphores in them.
		info.Semusz = int32(len(k.sem.objs))
		info.Semaem = int32(k.sem.used)
	}
	return info, k.sem.maxIndex()
}
