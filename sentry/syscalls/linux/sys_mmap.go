package linux

import (
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
			// A shared file mapping that can never be written (no PROT_WRITE, file not
			// open for writing) is mapped as a private copy that mprotect can't make
			// writable. It differs from Linux only if the file changes underneath it
			// afterwards; writable shared file mappings need the page cache.
			if prot&unix.PROT_WRITE != 0 || acc == unix.O_RDWR {
				return 0, unsupported(t, "mmap of a file with MAP_SHARED and write access")
			}
			opts.NoWrite = true
		}
		// Each VMA of the mapping holds a reference to the description (mm.RefCounted):
		// the file stays open while mapped, as on Linux.
		opts.File = fileData{file}
		opts.Offset = uint64(off)
		opts.Name, _ = t.Kernel().VFS.PathOf(t.FS.Root(), file.VirtualDentry())
		opts.FileSize = ^uint64(0) >> 1
	}
	return t.MM.MMap(opts)
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
