package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// UserMemory is the application memory an ioctl reads and writes.
type UserMemory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// FileImpl is what a filesystem implements for an open file.
type FileImpl interface {
	// Read reads into dst at offset off (ignored by streams).
	Read(dst []byte, off int64) (int, error)
	// Write writes src at offset off; off < 0 means at the end (O_APPEND), atomically.
	// Streams ignore off.
	Write(src []byte, off int64) (int, error)
	// Ioctl handles a request; ENOTTY if it has none.
	Ioctl(mem UserMemory, req, arg uintptr) (uintptr, error)
	// Release is called when the last reference to the description goes away.
	Release()
}

// Stream is implemented by FileImpls without a file offset (pipes, terminals,
// sockets): lseek fails with ESPIPE and pread/pwrite with ESPIPE.
type Stream interface {
	IsStream()
}

// Seeker is implemented by FileImpls whose lseek is their own (devices, and streams
// whose lseek succeeds without moving, as Linux's noop_llseek): it gets the arguments
// and the current offset, and returns the new offset.
type Seeker interface {
	Llseek(off int64, whence int, cur int64) (int64, error)
}

// FileDescription is an open file description: what open returns and dup shares.
type FileDescription struct {
	vd   VirtualDentry
	impl FileImpl
	refs atomic.Int64

	mu     sync.Mutex
	flags  int // status flags and access mode (O_APPEND, O_NONBLOCK…)
	offset int64
	// dirCookie is where getdents goes on; dots counts "." and ".." already given.
	dirCookie uint64
	dots      int
}

// NewFileDescription makes a description of the file at vd with impl and flags.
func NewFileDescription(vd VirtualDentry, impl FileImpl, flags int) *FileDescription {
	fd := &FileDescription{vd: vd, impl: impl, flags: flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC)}
	fd.refs.Store(1)
	vd.Dentry.opened()
	return fd
}

// NewFileDescriptionFlags is NewFileDescription keeping every flag given, for files
// whose status flags carry more than open's (a pidfd's PIDFD_THREAD is O_EXCL).
func NewFileDescriptionFlags(vd VirtualDentry, impl FileImpl, flags int) *FileDescription {
	fd := &FileDescription{vd: vd, impl: impl, flags: flags}
	fd.refs.Store(1)
	vd.Dentry.opened()
	return fd
}

// IncRef adds a reference (a dup, another FD table entry).
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// DecRef drops a reference, releasing the file after the last.
func (fd *FileDescription) DecRef() {
	if fd.refs.Add(-1) == 0 {
		fd.releaseLocks()
		fd.notifyClose()
		fd.impl.Release()
		fd.vd.Dentry.closed(fd.vd.Mount)
	}
}

// Refs is how many references the description has (FD table entries, files in
// flight in sockets): what a collector of unreachable sockets compares.
func (fd *FileDescription) Refs() int64 { return fd.refs.Load() }

// VirtualDentry is the file's name.
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// Impl is the filesystem's implementation.
func (fd *FileDescription) Impl() FileImpl { return fd.impl }

// StatusFlags are the open flags that fcntl(F_GETFL) shows.
func (fd *FileDescription) StatusFlags() int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.flags
}

// SetStatusFlags changes the flags fcntl(F_SETFL) may change: O_APPEND, O_NONBLOCK,
// O_ASYNC, O_DIRECT, O_NOATIME.
func (fd *FileDescription) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.flags = fd.flags&^settable | flags&settable
}

func (fd *FileDescription) readable() bool {
	acc := fd.flags & unix.O_ACCMODE
	return acc == unix.O_RDONLY || acc == unix.O_RDWR
}

func (fd *FileDescription) writable() bool {
	acc := fd.flags & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR
}

func (fd *FileDescription) isPath() bool { return fd.flags&unix.O_PATH != 0 }

func (fd *FileDescription) stream() bool {
	_, ok := fd.impl.(Stream)
	return ok
}

// Read reads at the file offset and advances it, as read(2).
func (fd *FileDescription) Read(dst []byte) (int, error) {
	n, err := fd.read(dst)
	fd.notifyIO(n, unix.IN_ACCESS)
	return n, err
}

func (fd *FileDescription) read(dst []byte) (int, error) {
	if !fd.readable() || fd.isPath() {
		return 0, unix.EBADF
	}
	if fd.vd.Ok() && fd.vd.Dentry.IsDir() {
		return 0, unix.EISDIR
	}
	if fd.stream() {
		return fd.impl.Read(dst, -1)
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	n, err := fd.impl.Read(dst, fd.offset)
	fd.offset += int64(n)
	return n, err
}

// PRead reads at off, as pread64(2).
func (fd *FileDescription) PRead(dst []byte, off int64) (int, error) {
	n, err := fd.pread(dst, off)
	fd.notifyIO(n, unix.IN_ACCESS)
	return n, err
}

func (fd *FileDescription) pread(dst []byte, off int64) (int, error) {
	if !fd.readable() || fd.isPath() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	if fd.stream() {
		return 0, unix.ESPIPE
	}
	if fd.vd.Ok() && fd.vd.Dentry.IsDir() {
		return 0, unix.EISDIR
	}
	return fd.impl.Read(dst, off)
}

// Write writes at the file offset (or the end, with O_APPEND), as write(2).
func (fd *FileDescription) Write(src []byte) (int, error) {
	n, err := fd.write(src)
	fd.notifyIO(n, unix.IN_MODIFY)
	return n, err
}

func (fd *FileDescription) write(src []byte) (int, error) {
	if !fd.writable() || fd.isPath() {
		return 0, unix.EBADF
	}
	if fd.stream() {
		return fd.impl.Write(src, -1)
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.flags&unix.O_APPEND != 0 {
		n, err := fd.impl.Write(src, -1)
		if st, serr := fd.vd.Dentry.inode.Stat(); serr == nil {
			fd.offset = int64(st.Size)
		}
		return n, err
	}
	n, err := fd.impl.Write(src, fd.offset)
	fd.offset += int64(n)
	return n, err
}

// PWrite writes at off, as pwrite64(2) (which on Linux ignores off with O_APPEND).
func (fd *FileDescription) PWrite(src []byte, off int64) (int, error) {
	n, err := fd.pwrite(src, off)
	fd.notifyIO(n, unix.IN_MODIFY)
	return n, err
}

func (fd *FileDescription) pwrite(src []byte, off int64) (int, error) {
	if !fd.writable() || fd.isPath() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	if fd.stream() {
		return 0, unix.ESPIPE
	}
	if fd.StatusFlags()&unix.O_APPEND != 0 {
		off = -1
	}
	return fd.impl.Write(src, off)
}

// Seek moves the file offset, as lseek(2).
func (fd *FileDescription) Seek(off int64, whence int) (int64, error) {
	if fd.isPath() {
		return 0, unix.EBADF
	}
	s, seeker := fd.impl.(Seeker)
	if fd.stream() && !seeker {
		return 0, unix.ESPIPE
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if seeker {
		n, err := s.Llseek(off, whence, fd.offset)
		if err == nil {
			fd.offset = n
		}
		return n, err
	}
	isDir := fd.vd.Ok() && fd.vd.Dentry.IsDir()
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = fd.offset
	case unix.SEEK_END:
		st, err := fd.vd.Dentry.inode.Stat()
		if err != nil {
			return 0, err
		}
		base = int64(st.Size)
	default:
		return 0, unix.EINVAL
	}
	n := base + off
	if n < 0 || off > 0 && n < base {
		return 0, unix.EINVAL
	}
	if isDir {
		if whence != unix.SEEK_SET || n != 0 {
			// Directory offsets are cookies; only rewinding is supported for now.
			if whence == unix.SEEK_CUR && off == 0 {
				return fd.offset, nil
			}
			return 0, unix.EINVAL
		}
		fd.dirCookie, fd.dots = 0, 0
	}
	fd.offset = n
	return n, nil
}

// Ioctl passes a request to the file.
func (fd *FileDescription) Ioctl(mem UserMemory, req, arg uintptr) (uintptr, error) {
	if fd.isPath() {
		return 0, unix.EBADF
	}
	return fd.impl.Ioctl(mem, req, arg)
}

// Stat returns the file's attributes.
func (fd *FileDescription) Stat() (Stat, error) {
	return fd.vd.Dentry.inode.Stat()
}

// Readdir returns up to max entries from the description's position, "." and ".."
// first, and advances the position past them. A listing is an access (IN_ACCESS), as
// iterate_dir reports.
func (fd *FileDescription) Readdir(max int, fill func(Dirent) bool) error {
	err := fd.readdir(max, fill)
	if err == nil {
		fd.notifyIO(1, unix.IN_ACCESS)
	}
	return err
}

func (fd *FileDescription) readdir(max int, fill func(Dirent) bool) error {
	if fd.isPath() {
		return unix.EBADF
	}
	dir, ok := fd.vd.Dentry.inode.(DirInode)
	if !ok {
		return unix.ENOTDIR
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	for fd.dots < 2 {
		vd := fd.vd
		if fd.dots == 1 {
			vd = (&resolver{v: fd.vd.Mount.vfs, root: VirtualDentry{}}).dotdot(fd.vd)
		}
		st, err := vd.Dentry.inode.Stat()
		if err != nil {
			return err
		}
		if !fill(Dirent{Name: [...]string{".", ".."}[fd.dots], Ino: st.Ino, Type: DirentType(unix.S_IFDIR)}) {
			return nil
		}
		fd.dots++
		fd.offset++
	}
	for {
		ents, err := dir.Readdir(fd.dirCookie, max)
		if err != nil || len(ents) == 0 {
			return err
		}
		for _, e := range ents {
			if !fill(e) {
				return nil
			}
			fd.dirCookie = e.Next
			fd.offset++
		}
	}
}

// Context is what a blocking operation needs from the task performing it: a channel
// closed when the task must stop waiting (it was killed, or a signal interrupts it).
type Context interface {
	Interrupted() <-chan struct{}
}

// Sleeper is a Context that wants to know when its goroutine is about to block and
// when it runs again: the kernel's tasks, which let go of their OS thread while they
// wait (sentry/kernel's usage.go). A wait calls SleepStart(ctx) right before its select
// and SleepFinish(ctx) right after it, and nothing else in between.
type Sleeper interface {
	Context
	SleepStart()
	SleepFinish()
}

// SleepStart tells ctx, if it is a Sleeper, that a wait that may block comes next.
func SleepStart(ctx Context) {
	if s, ok := ctx.(Sleeper); ok {
		s.SleepStart()
	}
}

// SleepFinish tells ctx, if it is a Sleeper, that the wait is over.
func SleepFinish(ctx Context) {
	if s, ok := ctx.(Sleeper); ok {
		s.SleepFinish()
	}
}

// BlockingFile is implemented by FileImpls whose reads and writes wait (pipes,
// sockets): they take the caller's Context, and whether the description is
// O_NONBLOCK. A wait that is interrupted returns EINTR.
type BlockingFile interface {
	ReadCtx(ctx Context, dst []byte, nonblock bool) (int, error)
	WriteCtx(ctx Context, src []byte, nonblock bool) (int, error)
}

// ReadCtx is Read for a caller that may block.
func (fd *FileDescription) ReadCtx(ctx Context, dst []byte) (int, error) {
	return fd.readCtx(ctx, dst, fd.StatusFlags()&unix.O_NONBLOCK != 0)
}

func (fd *FileDescription) readCtx(ctx Context, dst []byte, nonblock bool) (int, error) {
	b, ok := fd.impl.(BlockingFile)
	if !ok {
		return fd.Read(dst)
	}
	if !fd.readable() || fd.isPath() {
		return 0, unix.EBADF
	}
	return b.ReadCtx(ctx, dst, nonblock)
}

// ReadNowait is ReadCtx that never waits, whatever O_NONBLOCK says (preadv2's
// RWF_NOWAIT): EAGAIN where it would.
func (fd *FileDescription) ReadNowait(ctx Context, dst []byte) (int, error) {
	return fd.readCtx(ctx, dst, true)
}

// FlagsWriter is a BlockingFile whose writes depend on more of the description's
// status flags than O_NONBLOCK (a pipe's O_DIRECT, packet mode).
type FlagsWriter interface {
	WriteFlags(ctx Context, src []byte, flags int) (int, error)
}

// WriteCtx is Write for a caller that may block.
func (fd *FileDescription) WriteCtx(ctx Context, src []byte) (int, error) {
	b, ok := fd.impl.(BlockingFile)
	if !ok {
		return fd.Write(src)
	}
	if !fd.writable() || fd.isPath() {
		return 0, unix.EBADF
	}
	var n int
	var err error
	if fw, ok := fd.impl.(FlagsWriter); ok {
		n, err = fw.WriteFlags(ctx, src, fd.StatusFlags())
	} else {
		n, err = b.WriteCtx(ctx, src, fd.StatusFlags()&unix.O_NONBLOCK != 0)
	}
	fd.notifyIO(n, unix.IN_MODIFY)
	return n, err
}

// Syncer is implemented by FileImpls whose data can reach storage (fsync).
type Syncer interface {
	Sync() error
}

// Allocator is implemented by regular files that support fallocate: mode is
// fallocate's (0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE).
type Allocator interface {
	Allocate(mode uint32, off, length int64) error
}

// Offset is the file offset.
func (fd *FileDescription) Offset() int64 {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.offset
}

// Readable reports whether the description was opened for reading.
func (fd *FileDescription) Readable() bool { return fd.readable() && !fd.isPath() }

// Writable reports whether the description was opened for writing.
func (fd *FileDescription) Writable() bool { return fd.writable() && !fd.isPath() }

// Readiness bits (EPOLLIN…; the same values as POLLIN… for poll).
const (
	EventIn     = 0x1
	EventPri    = 0x2
	EventOut    = 0x4
	EventErr    = 0x8
	EventHup    = 0x10
	EventRdNorm = 0x40
	EventWrNorm = 0x100
	EventRdHup  = 0x2000
)

// Waitable is implemented by FileImpls that can be waited on (pipes, eventfds): what
// they are ready for now, and a channel closed at their next change of state.
type Waitable interface {
	Readiness() uint32
	Changed() <-chan struct{}
}

// Readiness returns what the file is ready for; a file that can't be waited on (a
// regular file, a directory, a device) is always ready to read and write, as poll(2)
// treats it (DEFAULT_POLLMASK).
func (fd *FileDescription) Readiness() uint32 {
	if w, ok := fd.impl.(Waitable); ok {
		return w.Readiness()
	}
	return EventIn | EventOut | EventRdNorm | EventWrNorm
}

// CallerWaitable is implemented by Waitables whose readiness depends on the task that
// asks (a signalfd is readable when the caller has a signal of its mask pending).
type CallerWaitable interface {
	ReadinessFor(ctx Context) uint32
	ChangedFor(ctx Context) <-chan struct{}
}

// ReadinessFor is Readiness as the caller ctx sees it (poll, select, epoll_wait).
func (fd *FileDescription) ReadinessFor(ctx Context) uint32 {
	if w, ok := fd.impl.(CallerWaitable); ok {
		return w.ReadinessFor(ctx)
	}
	return fd.Readiness()
}

// ChangedFor returns a channel closed at the file's next change of readiness as ctx
// sees it, or nil for a file that can't be waited on.
func (fd *FileDescription) ChangedFor(ctx Context) <-chan struct{} {
	switch w := fd.impl.(type) {
	case CallerWaitable:
		return w.ChangedFor(ctx)
	case Waitable:
		return w.Changed()
	}
	return nil
}
