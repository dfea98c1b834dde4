package linux

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
	"github.com/moat-sandbox/moat/sentry/vfs/lock"
)

// Advisory locks: flock(2) and fcntl(2)'s record locks; the locks are vfs/lock's.

// flock(2)'s operations.
const (
	lockSH   = 1
	lockEX   = 2
	lockNB   = 4
	lockUN   = 8
	lockMand = 32
)

// Flock implements flock(2), as fs/locks.c: LOCK_MAND is ignored (Linux warns and
// returns 0), the operation is checked (EINVAL), then the descriptor (EBADF, also for
// an O_PATH one when locking).
func Flock(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	cmd := uint32(a[1])
	if cmd&lockMand != 0 {
		return 0, nil
	}
	var typ int16
	switch cmd &^ lockNB {
	case lockSH:
		typ = lock.Read
	case lockEX:
		typ = lock.Write
	case lockUN:
		typ = lock.Unlock
	default:
		return 0, unix.EINVAL
	}
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.StatusFlags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	return 0, f.Flock(t, typ, cmd&lockNB == 0)
}

// flockT is struct flock on x86-64, its padding spelled out for encoding/binary
// (unix.Flock_t leaves the hole after l_whence implicit).
type flockT struct {
	Type   int16
	Whence int16
	_      [4]byte
	Start  int64
	Len    int64
	Pid    int32
	_      [4]byte
}

// flockRange converts a struct flock to a lock range, as flock64_to_posix_lock: the
// whence (EINVAL), an overflowing start or length (EOVERFLOW), a negative start
// (EINVAL), then the type (EINVAL).
func flockRange(f *vfs.FileDescription, fl *flockT) (lock.Range, error) {
	var base int64
	switch fl.Whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = f.Offset()
	case unix.SEEK_END:
		st, err := f.Stat()
		if err != nil {
			return lock.Range{}, err
		}
		base = int64(st.Size)
	default:
		return lock.Range{}, unix.EINVAL
	}
	if fl.Start > math.MaxInt64-base {
		return lock.Range{}, unix.EOVERFLOW
	}
	start := base + fl.Start
	if start < 0 {
		return lock.Range{}, unix.EINVAL
	}
	end := int64(lock.EOF)
	switch {
	case fl.Len > 0:
		if fl.Len-1 > math.MaxInt64-start {
			return lock.Range{}, unix.EOVERFLOW
		}
		end = start + fl.Len - 1
	case fl.Len < 0:
		end = start - 1
		start += fl.Len
		if start < 0 {
			return lock.Range{}, unix.EINVAL
		}
	}
	switch fl.Type {
	case lock.Read, lock.Write, lock.Unlock:
	default:
		return lock.Range{}, unix.EINVAL
	}
	return lock.Range{Type: fl.Type, Start: start, End: end}, nil
}

// fcntlLock is fcntl's F_GETLK, F_SETLK, F_SETLKW and their OFD forms. A POSIX lock's
// owner is the FD table (Linux's files_struct), an OFD lock's the description.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int, addr uintptr) error {
	if f.StatusFlags()&unix.O_PATH != 0 {
		return unix.EBADF
	}
	var fl flockT
	if err := t.CopyInObj(addr, &fl); err != nil {
		return unix.EFAULT
	}
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	var owner any = t.FDs
	if ofd {
		owner = f
	}
	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		// As fcntl_getlk: F_OFD_GETLK may ask with F_UNLCK for the description's own
		// lock.
		if fl.Type != lock.Read && fl.Type != lock.Write && !(ofd && fl.Type == lock.Unlock) {
			return unix.EINVAL
		}
		r, err := flockRange(f, &fl)
		if err != nil {
			return err
		}
		if ofd && fl.Pid != 0 {
			return unix.EINVAL
		}
		l, found := f.TestLock(owner, r)
		if !found {
			fl.Type = lock.Unlock
		} else {
			fl.Type, fl.Whence, fl.Start, fl.Pid = l.Type, unix.SEEK_SET, l.Start, l.PID
			if l.PID > 0 {
				// The holder as the caller's PID namespace sees it, 0 if it can't
				// (locks_translate_pid); an OFD lock's -1 stays.
				fl.Pid = t.PIDNamespace().IDOfRoot(l.PID)
			}
			fl.Len = 0
			if l.End != lock.EOF {
				fl.Len = l.End - l.Start + 1
			}
		}
		return t.CopyOutObj(addr, &fl)
	}
	// As fcntl_setlk.
	r, err := flockRange(f, &fl)
	if err != nil {
		return err
	}
	if r.Type == lock.Read && !f.Readable() || r.Type == lock.Write && !f.Writable() {
		return unix.EBADF
	}
	if ofd && fl.Pid != 0 {
		return unix.EINVAL
	}
	r.PID = -1
	if !ofd {
		r.PID = t.Proc.PID // the root namespace's: F_GETLK translates it
	}
	block := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return f.SetLock(t, owner, r, block, !ofd)
}
