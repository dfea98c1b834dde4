package tmpfs

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/mm"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// maxFileSize is the largest a file may grow: MAX_LFS_FILESIZE.
const maxFileSize = 1<<63 - 1

const pageSize = 4096

// regular is a regular file. Its data is sparse: pages that were never written (holes,
// a truncate's extension) take no memory and read as zeroes. data's size is the file's
// size; f.mu serializes the changes of size with the seal checks.
type regular struct {
	inode
	data *mm.Shared
	// seals are the F_SEAL_* bits (seals.go).
	seals uint32
	// opens counts the open descriptions; anon is set for a memfd, which no name
	// keeps. The data's pages are freed when the file has no name and no opens (open
	// descriptions include those a mapping holds).
	opens int
	anon  bool
}

// maybeFree frees the data of a file no one can reach any more; f.mu is held.
func (f *regular) maybeFree() {
	if f.opens == 0 && (f.anon || f.st.Nlink == 0) {
		f.data.SetSize(0)
	}
}

func (fs *Filesystem) newRegular(seals uint32) *regular {
	return &regular{data: mm.NewShared(fs.mf, 0), seals: seals}
}

// testMemFile is the memory file of tmpfs files made over a VFS without one (unit
// tests), made at first use.
var testMemFile = sync.OnceValue(func() *pgalloc.MemoryFile {
	mf, err := pgalloc.New("tmpfs-test", 1<<30)
	if err != nil {
		panic("tmpfs: no memory file: " + err.Error())
	}
	return mf
})

// SetStat implements vfs.Inode.SetStat, with the seals' checks of mm/shmem.c:shmem_setattr.
func (f *regular) SetStat(o vfs.SetStat) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seals&unix.F_SEAL_EXEC != 0 && o.Mask&vfs.SetStatMode != 0 && (f.st.Mode^o.Mode)&0o111 != 0 {
		return unix.EPERM
	}
	if o.Mask&vfs.SetStatSize != 0 {
		if o.Size > maxFileSize {
			return unix.EFBIG
		}
		size := f.data.Size()
		if o.Size < size && f.seals&unix.F_SEAL_SHRINK != 0 || o.Size > size && f.seals&unix.F_SEAL_GROW != 0 {
			return unix.EPERM
		}
		// Shrinking frees the pages past the end, zeroes the tail of the last one and
		// takes the freed pages out of every mapping.
		f.data.SetSize(o.Size)
		f.statSize()
		f.touch(true)
	}
	f.setStat(o)
	return nil
}

// statSize updates st_size and st_blocks from the data; f.mu is held.
func (f *regular) statSize() {
	f.st.Size = f.data.Size()
	f.st.Blocks = f.data.Resident() / 512
}

// Open implements vfs.Inode.Open.
func (f *regular) Open(flags int) (vfs.FileImpl, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	return &regularFile{f: f}, nil
}

type regularFile struct{ f *regular }

// Shared is the file's data, which a MAP_SHARED mapping maps.
func (r *regularFile) Shared() *mm.Shared { return r.f.data }

// Read implements vfs.FileImpl.Read. It takes no inode lock, only the data's, so a
// fault in a private mapping of the file (under a memory manager's lock) may read it.
func (r *regularFile) Read(dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	return r.f.data.ReadAt(dst, uint64(off)), nil
}

// Write implements vfs.FileImpl.Write.
func (r *regularFile) Write(src []byte, off int64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	size := int64(f.data.Size())
	if off < 0 {
		off = size
	}
	end := off + int64(len(src))
	if end < off {
		return 0, unix.EFBIG
	}
	if f.seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 {
		return 0, unix.EPERM
	}
	if f.seals&unix.F_SEAL_GROW != 0 && end > size {
		// As shmem_write_begin, a page at a time: the write stops at the page that
		// would grow the file.
		o := off
		for o < end {
			pageEnd := min(o-o%pageSize+pageSize, end)
			if pageEnd > size {
				break
			}
			o = pageEnd
		}
		if o == off {
			return 0, unix.EPERM
		}
		end = o
		src = src[:end-off]
	}
	n, err := f.data.WriteAt(src, uint64(off))
	f.statSize()
	f.touch(true)
	if n == 0 && err != nil {
		return 0, unix.ENOSPC
	}
	return n, nil
}

// Ioctl implements vfs.FileImpl.Ioctl.
func (r *regularFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Release implements vfs.FileImpl.Release.
func (r *regularFile) Release() {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens--
	f.maybeFree()
}

// Allocate implements vfs.Allocator: holes cost nothing here, so allocating is growing
// the size (unless FALLOC_FL_KEEP_SIZE), and punching a hole zeroes the range.
func (r *regularFile) Allocate(mode uint32, off, length int64) error {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	end := off + length
	size := int64(f.data.Size())
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 && f.seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 ||
		f.seals&unix.F_SEAL_GROW != 0 && end > size {
		return unix.EPERM // as shmem_fallocate
	}
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 {
		if off < size {
			f.data.PunchHole(uint64(off), uint64(min(end, size)-off))
		}
		f.statSize()
		f.touch(true)
		return nil
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 && end > size {
		f.data.SetSize(uint64(end))
		f.statSize()
		f.touch(true)
	}
	return nil
}
