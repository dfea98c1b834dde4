// Package signalfd is signalfd(2): a file from which a task reads the signals of a
// mask that are pending for it, instead of having them delivered.
//
// A read dequeues pending signals in the mask, lowest number first, blocked or not
// (through the task's Source, the kernel's dequeue hook), and returns each as a 128-byte
// struct signalfd_siginfo filled from its siginfo as fs/signalfd.c:signalfd_copyinfo
// does. The first signal may be waited for (EAGAIN with O_NONBLOCK); the next ones
// are taken only if they are already pending. The signals a read takes are those of
// the reading task, whoever created the file.
//
// Readiness (poll, epoll, select) is "readable" while a signal in the mask is pending
// for the task that asks (vfs.CallerWaitable), as signalfd_poll looks at current.
package signalfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Source is a task's pending signals, as the kernel lets signalfd take them.
type Source interface {
	vfs.Context
	// DequeueSignal takes the lowest pending signal in mask, or returns 0.
	DequeueSignal(mask uint64) (int, arch.SignalInfo)
	// Pending returns the pending signals.
	Pending() uint64
	// SignalQueued returns a channel closed at the next signal queued.
	SignalQueued() <-chan struct{}
}

// SiginfoSize is sizeof(struct signalfd_siginfo).
const SiginfoSize = 128

// File is one signalfd.
type File struct {
	vfs.NoopSeeker
	owner Source

	mu   sync.Mutex
	mask uint64
}

// New returns a signalfd reading the signals in mask; owner is the creating task, whose
// pending signals make it ready. flags may hold O_NONBLOCK.
func New(v *vfs.VFS, owner Source, mask uint64, flags int) *vfs.FileDescription {
	f := &File{owner: owner, mask: mask}
	vd := v.Anonymous(vfs.AnonInode{Name: "signalfd"}, "anon_inode")
	return vfs.NewFileDescription(vd, f, unix.O_RDWR|flags&unix.O_NONBLOCK)
}

// SetMask replaces the mask (signalfd on an existing signalfd).
func (f *File) SetMask(mask uint64) {
	f.mu.Lock()
	f.mask = mask
	f.mu.Unlock()
}

func (f *File) getMask() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mask
}

// IsStream implements vfs.Stream.
func (*File) IsStream() {}

func (f *File) Read(dst []byte, _ int64) (int, error)  { return f.ReadCtx(f.owner, dst, true) }
func (f *File) Write(src []byte, _ int64) (int, error) { return f.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile.ReadCtx: as many signals as fit, at least one.
func (f *File) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	n := len(dst) / SiginfoSize
	if n == 0 {
		return 0, unix.EINVAL
	}
	src := f.source(ctx)
	got := 0
	for got < n {
		queued := src.SignalQueued()
		sig, info := src.DequeueSignal(f.getMask())
		if sig != 0 {
			putSiginfo(dst[got*SiginfoSize:(got+1)*SiginfoSize], info)
			got++
			continue
		}
		if got > 0 {
			break
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		vfs.SleepStart(ctx)
		select {
		case <-queued:
		case <-src.Interrupted():
			vfs.SleepFinish(ctx)
			return 0, unix.Errno(512) // ERESTARTSYS
		}
		vfs.SleepFinish(ctx)
	}
	return got * SiginfoSize, nil
}

// WriteCtx implements vfs.BlockingFile.WriteCtx: a signalfd can't be written.
func (f *File) WriteCtx(vfs.Context, []byte, bool) (int, error) { return 0, unix.EINVAL }

// source is the task ctx if it is one, else the creator.
func (f *File) source(ctx vfs.Context) Source {
	if src, ok := ctx.(Source); ok {
		return src
	}
	return f.owner
}

// ReadinessFor implements vfs.CallerWaitable: readable while the caller has a signal
// of the mask pending, as signalfd_poll.
func (f *File) ReadinessFor(ctx vfs.Context) uint32 {
	if f.source(ctx).Pending()&f.getMask() != 0 {
		return vfs.EventIn
	}
	return 0
}

// ChangedFor implements vfs.CallerWaitable.
func (f *File) ChangedFor(ctx vfs.Context) <-chan struct{} { return f.source(ctx).SignalQueued() }

// Readiness implements vfs.Waitable, for a caller that is no task: the creator's view.
func (f *File) Readiness() uint32 { return f.ReadinessFor(nil) }

// Changed implements vfs.Waitable.
func (f *File) Changed() <-chan struct{} { return f.ChangedFor(nil) }

func (f *File) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (f *File) Release() {}

// The layouts of siginfo's union (include/linux/signal.h:siginfo_layout).
const (
	silKill = iota
	silTimer
	silPoll
	silFault
	silChld
	silRT
	silSys
)

// siCodeLimits are the highest si_code each signal's own layout covers (sig_sicodes).
var siCodeLimits = map[int32]struct {
	limit  int32
	layout int
}{
	int32(unix.SIGILL):  {11, silFault},
	int32(unix.SIGFPE):  {15, silFault},
	int32(unix.SIGSEGV): {10, silFault},
	int32(unix.SIGBUS):  {5, silFault},
	int32(unix.SIGTRAP): {6, silFault},
	int32(unix.SIGCHLD): {6, silChld},
	int32(unix.SIGPOLL): {6, silPoll},
	int32(unix.SIGSYS):  {2, silSys},
}

// si_code values beyond arch's.
const (
	siTimer = -2
	siSigio = -5
)

func layout(signo, code int32) int {
	if code > arch.SI_USER && code < arch.SI_KERNEL {
		if l, ok := siCodeLimits[signo]; ok && code <= l.limit {
			return l.layout
		}
		if code <= 6 { // NSIGPOLL
			return silPoll
		}
		return silKill
	}
	switch {
	case code == siTimer:
		return silTimer
	case code == siSigio:
		return silPoll
	case code < 0:
		return silRT
	}
	return silKill
}

// putSiginfo fills b (SiginfoSize bytes) with the struct signalfd_siginfo of info, as
// fs/signalfd.c:signalfd_copyinfo.
func putSiginfo(b []byte, info arch.SignalInfo) {
	le := binary.LittleEndian
	clear(b)
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	u := info.Fields[:]
	pidUID := func() {
		copy(b[12:16], u[0:4]) // ssi_pid
		copy(b[16:20], u[4:8]) // ssi_uid
	}
	sigval := func() {
		copy(b[48:56], u[8:16]) // ssi_ptr
		copy(b[44:48], u[8:12]) // ssi_int
	}
	switch layout(info.Signo, info.Code) {
	case silKill:
		pidUID()
	case silTimer:
		copy(b[24:28], u[0:4]) // ssi_tid
		copy(b[32:36], u[4:8]) // ssi_overrun
		sigval()
	case silPoll:
		copy(b[28:32], u[0:4]) // ssi_band (a long, truncated as Linux does)
		copy(b[20:24], u[8:12])
	case silFault:
		copy(b[72:80], u[0:8]) // ssi_addr
	case silChld:
		pidUID()
		copy(b[40:44], u[8:12])  // ssi_status
		copy(b[56:64], u[16:24]) // ssi_utime
		copy(b[64:72], u[24:32]) // ssi_stime
	case silRT:
		pidUID()
		sigval()
	case silSys:
		copy(b[88:96], u[0:8])    // ssi_call_addr
		copy(b[84:88], u[8:12])   // ssi_syscall
		copy(b[96:100], u[12:16]) // ssi_arch
	}
}
