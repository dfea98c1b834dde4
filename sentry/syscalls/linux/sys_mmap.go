package linux

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/mm"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

const pageSize = platform.PageSize

func perms(prot uintptr) platform.AccessType {
	return platform.AccessType{
		Read:    prot&(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0, // x86: write and exec imply read
		Write:   prot&unix.PROT_WRITE != 0,
		Execute: prot&unix.PROT_EXEC != 0,
	}
}

// Brk implements brk(2).
func Brk(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return t.MM.Brk(a[0]), nil
}

// Mmap implements mmap(2), in the order of arch/x86's sys_mmap, ksys_mmap_pgoff and
// do_mmap: offset alignment, the file, the length, the mapping type.
func Mmap(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, length, prot, flags, off := a[0], a[1], a[2], a[3], a[5]
	if off%pageSize != 0 {
		return 0, unix.EINVAL
	}
	anon := flags&unix.MAP_ANONYMOUS != 0
	var file *vfs.FileDescription
	if !anon {
		f, err := getFD(t, a[4])
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		file = f
	}
	if length == 0 {
		return 0, unix.EINVAL
	}
	// Unknown prot bits are ignored here (mprotect rejects them).
	typ := flags & unix.MAP_TYPE
	switch typ {
	case unix.MAP_PRIVATE, unix.MAP_SHARED, unix.MAP_SHARED_VALIDATE:
	default:
		return 0, unix.EINVAL
	}
	opts := mm.MMapOpts{
		Addr: addr, Length: length, Perms: perms(prot),
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0,
		GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
	}
	if file != nil {
		// As do_mmap: the file must be open for reading, and for writing to share
		// writable pages; then it must be a file that can be mapped.
		acc := file.StatusFlags() & unix.O_ACCMODE
		if acc == unix.O_WRONLY || file.StatusFlags()&unix.O_PATH != 0 ||
			typ != unix.MAP_PRIVATE && prot&unix.PROT_WRITE != 0 && acc != unix.O_RDWR {
			return 0, unix.EACCES
		}
		st, err := file.Stat()
		if err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, unix.ENODEV
		}
		if typ != unix.MAP_PRIVATE {
			sealed := false
			if s, ok := file.Impl().(vfs.Sealer); ok {
				seals := s.Seals()
				if prot&unix.PROT_WRITE != 0 && seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 {
					return 0, unix.EPERM // as mm/memfd.c:memfd_check_seals_mmap
				}
				sealed = seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0
			}
			// Without write access to the file (or with a write seal), mprotect may
			// never make the mapping writable (no VM_MAYWRITE).
			opts.NoWrite = acc != unix.O_RDWR || sealed
			switch f := file.Impl().(type) {
			case sharedFile:
				// A tmpfs file: the mapping maps the file's own pages.
				opts.Shared = f.Shared()
			case cachedFile:
				// A Gofer file: the mapping maps its page cache.
				c, err := f.Cache()
				if err != nil {
					return 0, err
				}
				opts.Shared = c
			default:
				if prot&unix.PROT_WRITE != 0 || acc == unix.O_RDWR {
					return 0, unsupported(t, "mmap with MAP_SHARED and write access of a file with no page cache")
				}
			}
			// Else a shared file mapping that can never be written is mapped as a
			// private copy. It differs from Linux only if the file changes
			// underneath it afterwards.
			opts.MayShare = opts.Shared == nil
		}
		// Each VMA of the mapping holds a reference to the description (mm.RefCounted):
		// the file stays open while mapped, as on Linux.
		opts.File = fileData{file}
		opts.Offset = uint64(off)
		opts.Name, _ = t.Kernel().VFS.PathOf(t.FS.Root(), file.VirtualDentry())
		if n, ok := file.VirtualDentry().Dentry.Inode().(vfs.FDNamer); ok && strings.HasPrefix(opts.Name, "(unreachable)") {
			opts.Name = n.FDName() // a memfd: "/memfd:NAME (deleted)"
		}
		opts.FileSize = ^uint64(0) >> 1
	}
	if anon && typ != unix.MAP_PRIVATE {
		// One shared object for the mapping, as mm/shmem.c:shmem_zero_setup; the
		// mapping holds the only reference once made. Linux names it after /dev/zero.
		sh := mm.NewShared(t.Kernel().MemFile, uint64(length))
		defer sh.DecRef()
		opts.Shared = sh
		opts.Name = "/dev/zero (deleted)"
	}
	// A mapping locked when made (MAP_LOCKED, or after mlockall(MCL_FUTURE)) must fit
	// in RLIMIT_MEMLOCK (EAGAIN, mlock_future_ok); MAP_LOCKED also needs the right to
	// lock at all (EPERM), and populates the mapping.
	locked := flags&unix.MAP_LOCKED != 0
	if locked && !canMlock(t) {
		return 0, unix.EPERM
	}
	if (locked || t.MM.LocksFuture()) && !t.Creds.HasCap(vfs.CapIPCLock) {
		if _, n := lockable(0, length); t.MM.Locked()+uint64(n) > t.Limits[unix.RLIMIT_MEMLOCK].Cur {
			return 0, unix.EAGAIN
		}
	}
	got, err := t.MM.MMap(opts)
	if err == nil && locked {
		_, n := lockable(got, length)
		t.MM.MLock(got, n, true)
		t.MM.Populate(got, n)
	}
	return got, err
}

// sharedFile is a file whose data a MAP_SHARED mapping maps (tmpfs and memfd files).
type sharedFile interface{ Shared() *mm.Shared }

// cachedFile is a file whose MAP_SHARED mappings map a page cache written back to it
// (the Gofer's files).
type cachedFile interface {
	Cache() (*mm.Shared, error)
}

// fileData reads a private file mapping's bytes through the file's description.
type fileData struct{ f *vfs.FileDescription }

// IncRef implements mm.RefCounted.
func (d fileData) IncRef() { d.f.IncRef() }

// DecRef implements mm.RefCounted.
func (d fileData) DecRef() { d.f.DecRef() }

// ReadAt implements mm.FileData.ReadAt.
func (d fileData) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.Impl().Read(p, off)
	if err == nil && n < len(p) {
		clear(p[n:]) // past the end of the file: zeroes (and SIGBUS on Linux; later)
		n = len(p)
	}
	return n, err
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.MM.MUnmap(a[0], a[1])
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	prot := a[2]
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 ||
		prot&unix.PROT_GROWSDOWN != 0 && prot&unix.PROT_GROWSUP != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MM.MProtect(a[0], a[1], perms(prot))
}

// The Sentry offers no memory protection keys, as Linux on a CPU without them (or
// with OSPKE off): pkey_alloc and pkey_free fail with EINVAL, and pkey_mprotect is
// mprotect for key -1 and EINVAL for any other key (mm/mprotect.c).

// PkeyAlloc implements pkey_alloc(2).
func PkeyAlloc(t *kernel.Task, a [6]uintptr) (uintptr, error) { return 0, unix.EINVAL }

// PkeyFree implements pkey_free(2).
func PkeyFree(t *kernel.Task, a [6]uintptr) (uintptr, error) { return 0, unix.EINVAL }

// PkeyMprotect implements pkey_mprotect(2).
func PkeyMprotect(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if int32(a[3]) != -1 {
		return 0, unix.EINVAL
	}
	return Mprotect(t, a)
}

// mremap flags (include/uapi/linux/mman.h).
const (
	mremapMaymove   = 1
	mremapFixed     = 2
	mremapDontunmap = 4
)

// Mremap implements mremap(2), with the checks of mm/mremap.c.
func Mremap(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	oldAddr, oldSize, newSize, flags, newAddr := a[0], a[1], a[2], a[3], a[4]
	if flags&^(mremapMaymove|mremapFixed|mremapDontunmap) != 0 || oldAddr%pageSize != 0 {
		return 0, unix.EINVAL
	}
	if flags&(mremapFixed|mremapDontunmap) != 0 && flags&mremapMaymove == 0 {
		return 0, unix.EINVAL
	}
	if flags&mremapDontunmap != 0 && oldSize != newSize {
		return 0, unix.EINVAL
	}
	oldSize = (oldSize + pageSize - 1) &^ (pageSize - 1)
	newSize = (newSize + pageSize - 1) &^ (pageSize - 1)
	if newSize == 0 {
		return 0, unix.EINVAL
	}
	return t.MM.MRemap(oldAddr, oldSize, newSize, flags&mremapMaymove != 0, flags&mremapFixed != 0,
		flags&mremapDontunmap != 0, newAddr)
}

// Madvise implements madvise(2). Dropping pages (MADV_DONTNEED, MADV_FREE) and the fork
// advice (MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK) are done; the
// rest are hints the Sentry takes as Linux may (doing nothing).
func Madvise(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, length, advice := a[0], a[1], a[2]
	if addr%pageSize != 0 {
		return 0, unix.EINVAL
	}
	length = (length + pageSize - 1) &^ (pageSize - 1)
	if addr+length < addr {
		return 0, unix.EINVAL
	}
	switch advice {
	case unix.MADV_DONTNEED, unix.MADV_FREE:
		if length == 0 {
			return 0, nil
		}
		return 0, t.MM.MAdviseDontNeed(addr, length)
	case unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK:
		if length == 0 {
			return 0, nil
		}
		advice := map[uintptr]mm.ForkAdvice{unix.MADV_DONTFORK: mm.DontFork, unix.MADV_DOFORK: mm.DoFork,
			unix.MADV_WIPEONFORK: mm.WipeOnFork, unix.MADV_KEEPONFORK: mm.KeepOnFork}[advice]
		return 0, t.MM.MAdviseFork(addr, length, advice)
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE,
		unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP, unix.MADV_DODUMP,
		unix.MADV_COLD, unix.MADV_PAGEOUT:
		if length == 0 {
			return 0, nil
		}
		return 0, t.MM.CheckMapped(addr, length)
	}
	return 0, unix.EINVAL
}

// Msync implements msync(2): private mappings have nothing to write back.
func Msync(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, length, flags := a[0], a[1], a[2]
	if addr%pageSize != 0 || flags&^(unix.MS_ASYNC|unix.MS_INVALIDATE|unix.MS_SYNC) != 0 ||
		flags&unix.MS_ASYNC != 0 && flags&unix.MS_SYNC != 0 {
		return 0, unix.EINVAL
	}
	length = (length + pageSize - 1) &^ (pageSize - 1)
	if addr+length < addr {
		return 0, unix.ENOMEM
	}
	if length == 0 {
		return 0, nil
	}
	return 0, t.MM.Sync(addr, length)
}

// Mincore implements mincore(2): a byte per page, 1 where the page is populated.
func Mincore(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, length, vec := a[0], a[1], a[2]
	if addr%pageSize != 0 {
		return 0, unix.EINVAL
	}
	length = (length + pageSize - 1) &^ (pageSize - 1)
	if addr+length < addr || addr+length > t.MM.MaxAddress() {
		return 0, unix.ENOMEM
	}
	res, err := t.MM.Resident(addr, length)
	if err != nil {
		return 0, err
	}
	_, err = t.MM.CopyOut(vec, res)
	return 0, err
}

// Memory locks (mm/mlock.c). The mlockall and mlock2 flags:
const (
	mclCurrent   = 1
	mclFuture    = 2
	mclOnfault   = 4
	mlockOnfault = 1
)

// lockable page-aligns [addr, addr+length) as do_mlock: the start down, the length up
// to cover the same bytes.
func lockable(addr, length uintptr) (uintptr, uintptr) {
	off := addr % pageSize
	return addr - off, (length + off + pageSize - 1) &^ (pageSize - 1)
}

// canMlock is can_do_mlock: a non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK.
func canMlock(t *kernel.Task) bool {
	return t.Limits[unix.RLIMIT_MEMLOCK].Cur != 0 || t.Creds.HasCap(vfs.CapIPCLock)
}

// doMlock is mlock and mlock2: EPERM if the caller may lock nothing; ENOMEM if the
// range has a hole or the pages it adds to those locked exceed RLIMIT_MEMLOCK without
// CAP_IPC_LOCK; the pages are then populated unless onFault, and ENOMEM if some could
// not be (an inaccessible page), which leaves them locked, as Linux does.
func doMlock(t *kernel.Task, addr, length uintptr, onFault bool) (uintptr, error) {
	addr, length = lockable(addr, length)
	if !canMlock(t) {
		return 0, unix.EPERM
	}
	if !t.Creds.HasCap(vfs.CapIPCLock) {
		limit := t.Limits[unix.RLIMIT_MEMLOCK].Cur
		locked := uint64(length) + t.MM.Locked()
		if locked > limit {
			locked -= t.MM.LockedIn(addr, length)
		}
		if locked > limit {
			return 0, unix.ENOMEM
		}
	}
	if err := t.MM.MLock(addr, length, true); err != nil {
		return 0, err
	}
	if !onFault && t.MM.Populate(addr, length) != nil {
		return 0, unix.ENOMEM // the pages stay locked (__mlock_posix_error_return)
	}
	return 0, nil
}

// Mlock implements mlock(2).
func Mlock(t *kernel.Task, a [6]uintptr) (uintptr, error) { return doMlock(t, a[0], a[1], false) }

// Mlock2 implements mlock2(2): flags may be MLOCK_ONFAULT only (EINVAL).
func Mlock2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	if a[2]&^mlockOnfault != 0 {
		return 0, unix.EINVAL
	}
	return doMlock(t, a[0], a[1], a[2]&mlockOnfault != 0)
}

// Munlock implements munlock(2): ENOMEM if the range has a hole.
func Munlock(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, length := lockable(a[0], a[1])
	return 0, t.MM.MLock(addr, length, false)
}

// Mlockall implements mlockall(2): flags must be MCL_CURRENT, MCL_FUTURE or both, with
// or without MCL_ONFAULT (EINVAL); EPERM if the caller may lock nothing; ENOMEM for
// MCL_CURRENT when all that is mapped exceeds RLIMIT_MEMLOCK without CAP_IPC_LOCK.
func Mlockall(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := a[0]
	if flags == 0 || flags&^(mclCurrent|mclFuture|mclOnfault) != 0 || flags == mclOnfault {
		return 0, unix.EINVAL
	}
	if !canMlock(t) {
		return 0, unix.EPERM
	}
	current := flags&mclCurrent != 0
	if current && !t.Creds.HasCap(vfs.CapIPCLock) && t.MM.Total() > t.Limits[unix.RLIMIT_MEMLOCK].Cur {
		return 0, unix.ENOMEM
	}
	t.MM.MLockAll(current, flags&mclFuture != 0)
	if current && flags&mclOnfault == 0 {
		t.MM.Populate(0, ^uintptr(0))
	}
	return 0, nil
}

// Munlockall implements munlockall(2).
func Munlockall(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	t.MM.MLockAll(false, false)
	return 0, nil
}
