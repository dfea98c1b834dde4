package tmpfs

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// maxFileSize is the largest a file may grow: MAX_LFS_FILESIZE.
const maxFileSize = 1<<63 - 1

const pageSize = 4096

// regular is a regular file. Its data is sparse: pages that were never written (holes,
// a truncate's extension) take no memory and read as zeroes.
type regular struct {
	inode
	pages map[int64]*[pageSize]byte
	size  int64
	// seals are the F_SEAL_* bits (seals.go).
	seals uint32
}

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
		if n := int64(o.Size); n < f.size && f.seals&unix.F_SEAL_SHRINK != 0 ||
			n > f.size && f.seals&unix.F_SEAL_GROW != 0 {
			return unix.EPERM
		}
		f.truncate(int64(o.Size))
		f.touch(true)
	}
	f.setStat(o)
	return nil
}

// truncate sets the size, dropping pages past it and zeroing the tail of the last one;
// f.mu is held.
func (f *regular) truncate(n int64) {
	if n < f.size {
		for i := range f.pages {
			if i*pageSize >= n {
				delete(f.pages, i)
			}
		}
		if p, ok := f.pages[n/pageSize]; ok {
			clear(p[n%pageSize:])
		}
	}
	f.setSize(n)
}

func (f *regular) setSize(n int64) {
	f.size = n
	f.st.Size = uint64(n)
	f.st.Blocks = uint64(len(f.pages)) * (pageSize / 512)
}

// Open implements vfs.Inode.Open.
func (f *regular) Open(flags int) (vfs.FileImpl, error) { return &regularFile{f: f}, nil }

type regularFile struct{ f *regular }

// Read implements vfs.FileImpl.Read.
func (r *regularFile) Read(dst []byte, off int64) (int, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= f.size {
		return 0, nil
	}
	n := int(min(int64(len(dst)), f.size-off))
	for done := 0; done < n; {
		o := off + int64(done)
		chunk := dst[done:min(n, done+int(pageSize-o%pageSize))]
		if p, ok := f.pages[o/pageSize]; ok {
			copy(chunk, p[o%pageSize:])
		} else {
			clear(chunk)
		}
		done += len(chunk)
	}
	return n, nil
}

// Write implements vfs.FileImpl.Write.
func (r *regularFile) Write(src []byte, off int64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 {
		off = f.size
	}
	end := off + int64(len(src))
	if end < off {
		return 0, unix.EFBIG
	}
	if f.seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 {
		return 0, unix.EPERM
	}
	if f.pages == nil {
		f.pages = map[int64]*[pageSize]byte{}
	}
	for done := 0; done < len(src); {
		o := off + int64(done)
		if f.seals&unix.F_SEAL_GROW != 0 && min(o-o%pageSize+pageSize, end) > f.size {
			// As shmem_write_begin, a page at a time: the write stops at the page
			// that would grow the file.
			if done == 0 {
				return 0, unix.EPERM
			}
			end = o
			break
		}
		p, ok := f.pages[o/pageSize]
		if !ok {
			p = new([pageSize]byte)
			f.pages[o/pageSize] = p
		}
		done += copy(p[o%pageSize:], src[done:])
	}
	f.setSize(max(f.size, end))
	f.touch(true)
	return int(end - off), nil
}

// Ioctl implements vfs.FileImpl.Ioctl.
func (r *regularFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Release implements vfs.FileImpl.Release.
func (r *regularFile) Release() {}

// Allocate implements vfs.Allocator: holes cost nothing here, so allocating is growing
// the size (unless FALLOC_FL_KEEP_SIZE), and punching a hole zeroes the range.
func (r *regularFile) Allocate(mode uint32, off, length int64) error {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	end := off + length
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 && f.seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 ||
		f.seals&unix.F_SEAL_GROW != 0 && end > f.size {
		return unix.EPERM // as shmem_fallocate
	}
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 {
		for o := off; o < min(end, f.size); {
			p, ok := f.pages[o/pageSize]
			n := min(pageSize-o%pageSize, end-o)
			if ok {
				if o%pageSize == 0 && n == pageSize {
					delete(f.pages, o/pageSize)
				} else {
					clear(p[o%pageSize : o%pageSize+n])
				}
			}
			o += n
		}
		f.setSize(f.size)
		f.touch(true)
		return nil
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 && end > f.size {
		f.setSize(end)
		f.touch(true)
	}
	return nil
}
