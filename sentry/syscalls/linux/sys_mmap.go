package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/mm"
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
	addr, length, prot, flags, fdArg, off := a[0], a[1], a[2], a[3], fd(a[4]), a[5]
	if off%pageSize != 0 {
		return 0, unix.EINVAL
	}
	anon := flags&unix.MAP_ANONYMOUS != 0
	var file kernel.File
	if !anon {
		f, err := t.FDs.Get(fdArg)
		if err != nil {
			return 0, err
		}
		file = f
	}
	if length == 0 {
		return 0, unix.EINVAL
	}
	// Unknown prot bits are ignored here (mprotect rejects them).
	switch flags & unix.MAP_TYPE {
	case unix.MAP_PRIVATE, unix.MAP_SHARED, unix.MAP_SHARED_VALIDATE:
	default:
		return 0, unix.EINVAL
	}
	if file != nil {
		// As do_mmap: the file must be open for reading, and for writing to share
		// writable pages; then the file must support mmap. The only files today are
		// host stdio (terminals, pipes), which don't.
		acc := file.StatusFlags() & unix.O_ACCMODE
		if acc == unix.O_WRONLY ||
			flags&unix.MAP_TYPE != unix.MAP_PRIVATE && prot&unix.PROT_WRITE != 0 && acc != unix.O_RDWR {
			return 0, unix.EACCES
		}
		return 0, unix.ENODEV
	}
	return t.MM.MMap(mm.MMapOpts{
		Addr: addr, Length: length, Perms: perms(prot),
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0,
		GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
	})
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
