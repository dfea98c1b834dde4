// Package devpts is /dev/pts: Unix 98 pseudo-terminals. Opening ptmx makes a new
// terminal and returns its master; the slave appears as /dev/pts/N, locked until
// unlockpt (TIOCSPTLCK), and disappears when the master is closed.
//
// A Terminal holds the line discipline's queues (ldisc.go, after n_tty): the master's
// writes are the slave's input, edited in canonical mode, echoed, and turned into
// signals for the foreground process group (ISIG); the slave's writes are output,
// processed by OPOST, read by the master. Readers and writers that must wait sleep on
// a generation channel every change closes and replaces, and end with ERESTARTSYS when
// the caller is interrupted.
//
// Controlling terminals and job control belong to the kernel, which knows sessions and
// process groups: it records which session a terminal controls and its foreground
// group here (SetSession, SetForeground), checks a background reader or writer through
// the JobControl interface its tasks implement, and is told of a hang-up (the master's
// close) through Kernel. The ioctls that need the caller (TIOCSCTTY, TIOCSPGRP…) are
// the system call layer's; the others are here.
//
// The runtime makes terminals of its own for consoles (NewTerminal), whose masters it
// reads and writes from Go, pumping them to host terminals (runsc/boot's Console).
//
// Divergences: the master side is always raw (Linux gives it a line discipline of its
// own, with termios no ioctl reaches); a master write never waits (input past
// N_TTY_BUF_SIZE is dropped, as n_tty drops it when its buffer is full).
//
// Lock order: a Terminal's mu is never held while calling Kernel; the kernel may take
// it under its own lock.
package devpts

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/kernfs"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Kernel is what a terminal needs of the kernel.
type Kernel interface {
	// SignalGroup sends sig to process group pgrp (from the kernel, SI_KERNEL).
	SignalGroup(pgrp int32, sig unix.Signal)
	// HangUp tells the kernel that t was hung up: the processes it controls lose it,
	// and the session leader gets SIGHUP and SIGCONT.
	HangUp(t *Terminal)
}

// JobControl is implemented by the caller of a read or write (its vfs.Context), to
// apply job control to an access to t: nil if it may go on, else an errno (EIO, or
// ERESTARTSYS after sending sig to its process group), as tty_check_change.
type JobControl interface {
	CheckTTYAccess(t *Terminal, sig unix.Signal) error
}

// Major device numbers (include/uapi/linux/major.h).
const (
	ptySlaveMajor = 136
	ttyAuxMajor   = 5
)

// FS is one devpts instance.
type FS struct {
	k    Kernel
	kfs  *kernfs.FS
	dev  uint64
	root kernfs.DynamicDir
	ptmx *ptmxInode

	mu   sync.Mutex
	ttys map[uint32]*Terminal
}

// New returns a devpts filesystem whose terminals signal through k; its root is
// mounted at /dev/pts.
func New(v *vfs.VFS, k Kernel) *FS {
	fs := &FS{k: k, kfs: kernfs.New(v), dev: v.NewDev(), ttys: map[uint32]*Terminal{}}
	fs.ptmx = &ptmxInode{fs: fs, mtime: now()}
	fs.root = fs.kfs.NewDynamicDir(0o755, kernfs.Funcs{NamesFn: fs.names, LookupFn: fs.lookup})
	return fs
}

// Root is the directory to mount.
func (fs *FS) Root() vfs.DirInode { return fs.root }

func now() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

func (fs *FS) names() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	idx := make([]int, 0, len(fs.ttys))
	for i := range fs.ttys {
		idx = append(idx, int(i))
	}
	sort.Ints(idx)
	names := []string{"ptmx"}
	for _, i := range idx {
		names = append(names, strconv.Itoa(i))
	}
	return names
}

func (fs *FS) lookup(name string) (vfs.Inode, error) {
	if name == "ptmx" {
		return fs.ptmx, nil
	}
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return nil, unix.ENOENT
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.ttys[uint32(n)]
	if t == nil {
		return nil, unix.ENOENT
	}
	return &slaveInode{t}, nil
}

// newTerminal allocates the lowest free index.
func (fs *FS) newTerminal() *Terminal {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var i uint32
	for fs.ttys[i] != nil {
		i++
	}
	t := &Terminal{fs: fs, Index: i, locked: true, changed: make(chan struct{}),
		slave: slaveTermios, mode: 0o620, mtime: now(), masterOpen: true}
	fs.ttys[i] = t
	return t
}

// ptmxInode is /dev/pts/ptmx (/dev/ptmx links to it, as runc makes it).
type ptmxInode struct {
	fs    *FS
	mtime unix.Timespec
}

// Stat implements vfs.Inode.Stat.
func (p *ptmxInode) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: unix.S_IFCHR | 0o666, Nlink: 1, Ino: 2, Dev: p.fs.dev,
		Rdev: unix.Mkdev(ttyAuxMajor, 2), Blksize: 1024, Atime: p.mtime, Mtime: p.mtime, Ctime: p.mtime}, nil
}

// SetStat implements vfs.Inode.SetStat.
func (p *ptmxInode) SetStat(vfs.SetStat) error { return unix.EPERM }

// Open implements vfs.Inode.Open: a new terminal, and its master.
func (p *ptmxInode) Open(int) (vfs.FileImpl, error) {
	return &Master{t: p.fs.newTerminal()}, nil
}

// slaveInode is /dev/pts/N.
type slaveInode struct{ t *Terminal }

// Stat implements vfs.Inode.Stat.
func (s *slaveInode) Stat() (vfs.Stat, error) {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	return vfs.Stat{Mode: unix.S_IFCHR | t.mode, UID: t.uid, GID: t.gid, Nlink: 1, Ino: uint64(t.Index) + 3,
		Dev: t.fs.dev, Rdev: unix.Mkdev(ptySlaveMajor, t.Index), Blksize: 1024,
		Atime: t.mtime, Mtime: t.mtime, Ctime: t.mtime}, nil
}

// SetStat implements vfs.Inode.SetStat: grantpt's chown and chmod.
func (s *slaveInode) SetStat(o vfs.SetStat) error {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if o.Mask&vfs.SetStatMode != 0 {
		t.mode = o.Mode & 0o7777
	}
	if o.Mask&vfs.SetStatUID != 0 {
		t.uid = o.UID
	}
	if o.Mask&vfs.SetStatGID != 0 {
		t.gid = o.GID
	}
	return nil
}

// Open implements vfs.Inode.Open: EIO while the terminal is locked or hung up.
func (s *slaveInode) Open(int) (vfs.FileImpl, error) { return s.t.OpenSlave() }

// Terminal is one pseudo-terminal pair.
type Terminal struct {
	fs    *FS
	Index uint32

	mu      sync.Mutex
	changed chan struct{}
	locked  bool
	hungUp  bool
	// masterOpen is true until the master is closed; slaves counts open slave
	// descriptions and slaveOpened says one was ever opened.
	masterOpen  bool
	slaves      int
	slaveOpened bool
	// The termios (the slave's: both sides use them) and the window size.
	slave   unix.Termios
	winsize unix.Winsize
	// Input for the slave: lines complete in canonical mode, the line being edited,
	// and the bytes of non-canonical mode. out is what the master reads; column is
	// the output column (ONOCR).
	lines  [][]byte
	line   []byte
	raw    []byte
	out    []byte
	column int
	// sid is the session the terminal controls (0: none) and pgrp its foreground
	// process group; the kernel sets them.
	sid, pgrp int32
	// the slave inode's attributes
	mode, uid, gid uint32
	mtime          unix.Timespec
	// sizeQuery, if set, brings the window size up to date before TIOCGWINSZ reads
	// it (a console's, from its host terminal).
	sizeQuery func()
}

// changedLocked wakes every waiter.
func (t *Terminal) changedLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait releases t.mu, waits for a change, an interruption (ERESTARTSYS) or timeout
// (errTimeout; nil: none), and takes t.mu again.
func (t *Terminal) wait(ctx vfs.Context, timeout <-chan time.Time) error {
	ch := t.changed
	t.mu.Unlock()
	defer t.mu.Lock()
	var intr <-chan struct{}
	if ctx != nil {
		intr = ctx.Interrupted()
	}
	vfs.SleepStart(ctx)
	defer vfs.SleepFinish(ctx)
	select {
	case <-ch:
		return nil
	case <-timeout:
		return errTimeout
	case <-intr:
		return unix.Errno(512) // ERESTARTSYS
	}
}

// OpenSlave returns a new slave description: EIO while locked or hung up.
func (t *Terminal) OpenSlave() (*Slave, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.locked || t.hungUp {
		return nil, unix.EIO
	}
	t.slaves++
	t.slaveOpened = true
	return &Slave{t: t}, nil
}

// Session returns the session t controls (0: none) and its foreground group.
func (t *Terminal) Session() (sid, pgrp int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sid, t.pgrp
}

// SetSession makes t the controlling terminal of session sid with foreground group
// pgrp (0, 0: of none).
func (t *Terminal) SetSession(sid, pgrp int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sid, t.pgrp = sid, pgrp
}

// SetForeground sets the foreground process group.
func (t *Terminal) SetForeground(pgrp int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pgrp = pgrp
}

// HungUp reports whether the master was closed.
func (t *Terminal) HungUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hungUp
}

// send delivers signals the line discipline raised; t.mu is not held.
func (t *Terminal) send(sigs []pendingSignal) {
	for _, s := range sigs {
		t.fs.k.SignalGroup(s.pgrp, s.sig)
	}
}

// TTYFile is implemented by both ends: the terminal they belong to.
type TTYFile interface {
	Terminal() *Terminal
	IsMaster() bool
}

// Master is the master side, as the ptmx open returned it.
type Master struct{ t *Terminal }

// Terminal implements TTYFile.
func (m *Master) Terminal() *Terminal { return m.t }

// IsMaster implements TTYFile.
func (m *Master) IsMaster() bool { return true }

// IsStream implements vfs.Stream.
func (*Master) IsStream() {}

// Read implements vfs.FileImpl.Read for callers that can't wait.
func (m *Master) Read(dst []byte, _ int64) (int, error) { return m.ReadCtx(nil, dst, true) }

// Write implements vfs.FileImpl.Write.
func (m *Master) Write(src []byte, _ int64) (int, error) { return m.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile: the slave's output; EIO once every slave
// description that was opened is closed and nothing is left.
func (m *Master) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(dst) == 0 {
		return 0, nil
	}
	for len(t.out) == 0 {
		if t.slaveOpened && t.slaves == 0 {
			return 0, unix.EIO
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if err := t.wait(ctx, nil); err != nil {
			return 0, err
		}
	}
	n := copy(dst, t.out)
	t.out = t.out[n:]
	t.changedLocked()
	return n, nil
}

// WriteCtx implements vfs.BlockingFile: the slave's input, through the line
// discipline, as much as it has room for (inputRoomLocked); then a blocking write
// waits for the reader to make room, and a non-blocking one returns what it wrote, or
// EAGAIN. Nothing is dropped, but for what canonical mode drops past a full line, as
// n_tty does. (Linux's pty also holds up to 64 KiB in its flip buffer before the
// writer waits; here the writer waits once the 4 KiB queue is full.)
func (m *Master) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	t := m.t
	n := 0
	for n < len(src) {
		t.mu.Lock()
		room := t.inputRoomLocked()
		if room == 0 {
			if nonblock || n > 0 && ctx == nil {
				t.mu.Unlock()
				if n > 0 {
					return n, nil
				}
				return 0, unix.EAGAIN
			}
			err := t.wait(ctx, nil)
			t.mu.Unlock()
			if err != nil {
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			continue
		}
		k := min(room, len(src)-n)
		sigs := t.receiveLocked(src[n : n+k])
		n += k
		t.changedLocked()
		t.mu.Unlock()
		t.send(sigs)
	}
	return n, nil
}

// Readiness implements vfs.Waitable.
func (m *Master) Readiness() uint32 {
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	var r uint32
	if t.inputRoomLocked() > 0 {
		r |= vfs.EventOut
	}
	if len(t.out) > 0 {
		r |= vfs.EventIn
	}
	if t.slaveOpened && t.slaves == 0 {
		r |= vfs.EventHup
	}
	return r
}

// Changed implements vfs.Waitable.
func (m *Master) Changed() <-chan struct{} {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	return m.t.changed
}

// Release implements vfs.FileImpl.Release: closing the master hangs the terminal up
// and removes /dev/pts/N.
func (m *Master) Release() {
	t := m.t
	t.fs.mu.Lock()
	delete(t.fs.ttys, t.Index)
	t.fs.mu.Unlock()
	t.mu.Lock()
	t.masterOpen, t.hungUp = false, true
	t.changedLocked()
	t.mu.Unlock()
	t.fs.k.HangUp(t)
	t.SetSession(0, 0)
}

// Slave is a slave description.
type Slave struct{ t *Terminal }

// Terminal implements TTYFile.
func (s *Slave) Terminal() *Terminal { return s.t }

// IsMaster implements TTYFile.
func (s *Slave) IsMaster() bool { return false }

// IsStream implements vfs.Stream.
func (*Slave) IsStream() {}

// Read implements vfs.FileImpl.Read for callers that can't wait.
func (s *Slave) Read(dst []byte, _ int64) (int, error) { return s.ReadCtx(nil, dst, true) }

// Write implements vfs.FileImpl.Write.
func (s *Slave) Write(src []byte, _ int64) (int, error) { return s.WriteCtx(nil, src, true) }

// ReadCtx implements vfs.BlockingFile, as n_tty_read: a background reader is stopped
// (SIGTTIN); canonical mode returns at most a line; otherwise VMIN and VTIME say how
// long to wait. A hung-up slave reads end-of-file.
func (s *Slave) ReadCtx(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	t := s.t
	if t.HungUp() {
		return 0, nil
	}
	if jc, ok := ctx.(JobControl); ok {
		if err := jc.CheckTTYAccess(t, unix.SIGTTIN); err != nil {
			return 0, err
		}
	}
	if len(dst) == 0 {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.slave.Lflag&unix.ICANON != 0 {
		for len(t.lines) == 0 {
			if t.hungUp {
				return 0, nil
			}
			if err := t.waitInputLocked(ctx, nonblock, nil); err != nil {
				return 0, err
			}
		}
		n := t.takeInputLocked(dst)
		t.changedLocked()
		return n, nil
	}
	// As n_tty_read: with VMIN > 0, wait for VMIN bytes (VTIME, if set, bounds the
	// wait after each byte); with VMIN 0, wait VTIME at most for any byte.
	vmin, vtime := int(t.slave.Cc[unix.VMIN]), time.Duration(t.slave.Cc[unix.VTIME])*100*time.Millisecond
	minimum, inter := vmin, vtime
	var deadline time.Time // zero: no limit
	if vmin == 0 {
		minimum, inter = 1, 0
		deadline = time.Now().Add(vtime)
	}
	n := 0
	var err error
	for n < len(dst) {
		if len(t.raw) == 0 {
			if t.hungUp || !deadline.IsZero() && !time.Now().Before(deadline) {
				break
			}
			var timeout <-chan time.Time
			if !deadline.IsZero() {
				timer := time.NewTimer(time.Until(deadline))
				timeout = timer.C
				err = t.waitInputLocked(ctx, nonblock, timeout)
				timer.Stop()
			} else {
				err = t.waitInputLocked(ctx, nonblock, nil)
			}
			if err == errTimeout {
				err = nil
				continue
			}
			if err != nil {
				break
			}
			continue
		}
		n += t.takeInputLocked(dst[n:])
		if n >= minimum {
			break
		}
		if inter > 0 {
			deadline = time.Now().Add(inter)
		}
	}
	if n > 0 {
		t.changedLocked()
		return n, nil
	}
	return 0, err
}

var errTimeout = unix.ETIME

// waitInputLocked waits for input to change; EAGAIN if nonblock, errTimeout when
// timeout fires first.
func (t *Terminal) waitInputLocked(ctx vfs.Context, nonblock bool, timeout <-chan time.Time) error {
	if nonblock {
		return unix.EAGAIN
	}
	return t.wait(ctx, timeout)
}

// WriteCtx implements vfs.BlockingFile: output for the master, OPOST-processed; a
// background writer with TOSTOP is stopped (SIGTTOU). A hung-up slave is EIO.
func (s *Slave) WriteCtx(ctx vfs.Context, src []byte, nonblock bool) (int, error) {
	t := s.t
	if t.HungUp() {
		return 0, unix.EIO
	}
	t.mu.Lock()
	tostop := t.slave.Lflag&unix.TOSTOP != 0
	t.mu.Unlock()
	if jc, ok := ctx.(JobControl); ok && tostop {
		if err := jc.CheckTTYAccess(t, unix.SIGTTOU); err != nil {
			return 0, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for n < len(src) {
		if t.hungUp {
			if n > 0 {
				return n, nil
			}
			return 0, unix.EIO
		}
		room := outputMax - len(t.out)
		if room <= 0 {
			if nonblock {
				if n > 0 {
					return n, nil
				}
				return 0, unix.EAGAIN
			}
			if err := t.wait(ctx, nil); err != nil {
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			continue
		}
		chunk := src[n:min(len(src), n+max(room/2, 1))]
		t.outputLocked(chunk)
		n += len(chunk)
		t.changedLocked()
	}
	return n, nil
}

// Readiness implements vfs.Waitable, as n_tty_poll (and hung_up_tty_poll).
func (s *Slave) Readiness() uint32 {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hungUp {
		return vfs.EventIn | vfs.EventOut | vfs.EventErr | vfs.EventHup
	}
	var r uint32
	need := 1
	if t.slave.Lflag&unix.ICANON == 0 && t.slave.Cc[unix.VTIME] == 0 && t.slave.Cc[unix.VMIN] > 0 {
		need = int(t.slave.Cc[unix.VMIN])
	}
	if t.slave.Lflag&unix.ICANON != 0 && len(t.lines) > 0 || t.slave.Lflag&unix.ICANON == 0 && len(t.raw) >= need {
		r |= vfs.EventIn
	}
	if len(t.out) < outputMax {
		r |= vfs.EventOut
	}
	return r
}

// Changed implements vfs.Waitable.
func (s *Slave) Changed() <-chan struct{} {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.t.changed
}

// Release implements vfs.FileImpl.Release.
func (s *Slave) Release() {
	t := s.t
	t.mu.Lock()
	t.slaves--
	t.changedLocked()
	t.mu.Unlock()
}

// Ioctl implements vfs.FileImpl.Ioctl for the master.
func (m *Master) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	return m.t.ioctl(mem, true, req, arg)
}

// Ioctl implements vfs.FileImpl.Ioctl for the slave; a hung-up slave is EIO.
func (s *Slave) Ioctl(mem vfs.UserMemory, req, arg uintptr) (uintptr, error) {
	if s.t.HungUp() {
		return 0, unix.EIO
	}
	return s.t.ioctl(mem, false, req, arg)
}

// termiosSize is the size of the kernel's struct termios (without the speeds).
const termiosSize = 36

func copyOut(mem vfs.UserMemory, addr uintptr, v any, size int) error {
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, v)
	_, err := mem.CopyOut(addr, buf.Bytes()[:size])
	return err
}

func copyIn(mem vfs.UserMemory, addr uintptr, v any, size int) error {
	buf := make([]byte, binary.Size(v))
	if _, err := mem.CopyIn(addr, buf[:size]); err != nil {
		return err
	}
	return binary.Read(bytes.NewReader(buf), binary.LittleEndian, v)
}

// The ioctls handled here (include/uapi/asm-generic/ioctls.h).
const (
	tiocgptn   = 0x80045430
	tiocsptlck = 0x40045431
	tiocgptlck = 0x80045439
)

// ioctl handles the requests that don't need the caller, as tty_ioctl, n_tty_ioctl
// and pty_unix98_ioctl.
func (t *Terminal) ioctl(mem vfs.UserMemory, master bool, req, arg uintptr) (uintptr, error) {
	switch req {
	case unix.TCGETS:
		// Through either side, the slave's (tty_mode_ioctl).
		t.mu.Lock()
		tio := t.slave
		t.mu.Unlock()
		return 0, copyOut(mem, arg, &tio, termiosSize)
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		var tio unix.Termios
		if err := copyIn(mem, arg, &tio, termiosSize); err != nil {
			return 0, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if req == unix.TCSETSF {
			t.flushInputLocked()
		}
		tio.Ispeed, tio.Ospeed = t.slave.Ispeed, t.slave.Ospeed
		tio.Cflag = tio.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8 | unix.CREAD // pty_set_termios
		t.setTermiosLocked(tio)
		t.changedLocked()
		return 0, nil
	case unix.TIOCGWINSZ:
		t.mu.Lock()
		query := t.sizeQuery
		t.mu.Unlock()
		if query != nil {
			query()
		}
		t.mu.Lock()
		ws := t.winsize
		t.mu.Unlock()
		return 0, copyOut(mem, arg, &ws, 8)
	case unix.TIOCSWINSZ:
		var ws unix.Winsize
		if err := copyIn(mem, arg, &ws, 8); err != nil {
			return 0, err
		}
		t.SetWindowSize(ws)
		return 0, nil
	case unix.TIOCINQ: // FIONREAD
		t.mu.Lock()
		n := t.readableLocked()
		if master {
			n = len(t.out)
		}
		t.mu.Unlock()
		return 0, copyOut(mem, arg, int32(n), 4)
	case unix.TIOCOUTQ:
		// A pty passes output on at once: nothing waits in a driver's queue.
		return 0, copyOut(mem, arg, int32(0), 4)
	case unix.TCFLSH:
		t.mu.Lock()
		defer t.mu.Unlock()
		// TCIFLUSH empties what this side reads; a pty keeps no output to flush
		// (pty_flush_buffer discards nothing).
		switch arg {
		case unix.TCIFLUSH, unix.TCIOFLUSH:
			if master {
				t.out = t.out[:0]
			} else {
				t.flushInputLocked()
			}
		case unix.TCOFLUSH:
		default:
			return 0, unix.EINVAL
		}
		t.changedLocked()
		return 0, nil
	}
	if !master {
		return 0, unix.ENOTTY
	}
	switch req {
	case tiocgptn:
		return 0, copyOut(mem, arg, t.Index, 4)
	case tiocsptlck:
		var lock int32
		if err := copyIn(mem, arg, &lock, 4); err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.locked = lock != 0
		t.mu.Unlock()
		return 0, nil
	case tiocgptlck:
		t.mu.Lock()
		var lock int32
		if t.locked {
			lock = 1
		}
		t.mu.Unlock()
		return 0, copyOut(mem, arg, lock, 4)
	}
	return 0, unix.ENOTTY
}

// CurrentTTY is what opening /dev/tty gives the VFS: the system call layer replaces
// it with the caller's controlling terminal (ENXIO without one). Used as a file, it
// fails.
type CurrentTTY struct{}

func (CurrentTTY) Read([]byte, int64) (int, error)  { return 0, unix.ENXIO }
func (CurrentTTY) Write([]byte, int64) (int, error) { return 0, unix.ENXIO }
func (CurrentTTY) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENXIO
}
func (CurrentTTY) Release() {}

// NewTerminal makes a terminal for the Sentry's own use, as a console the runtime
// feeds from the host: it is unlocked, so that its slave (/dev/pts/N) can be opened at
// once, and its master is returned, as opening ptmx would.
func (fs *FS) NewTerminal() *Master {
	t := fs.newTerminal()
	t.mu.Lock()
	t.locked = false
	t.mu.Unlock()
	return &Master{t: t}
}

// SetOwner gives the slave's inode to uid and gid, mode 0620, as grantpt does.
func (t *Terminal) SetOwner(uid, gid uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.uid, t.gid, t.mode = uid, gid, 0o620
}

// SetSizeQuery makes f run before each TIOCGWINSZ, to bring the size up to date.
func (t *Terminal) SetSizeQuery(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sizeQuery = f
}

// WindowSize returns the window size.
func (t *Terminal) WindowSize() unix.Winsize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.winsize
}

// SetWindowSize sets the window size as TIOCSWINSZ does: a change sends SIGWINCH to
// the foreground process group.
func (t *Terminal) SetWindowSize(ws unix.Winsize) {
	t.mu.Lock()
	same := ws == t.winsize
	t.winsize = ws
	pgrp := t.pgrp
	t.mu.Unlock()
	if !same && pgrp != 0 {
		t.fs.k.SignalGroup(pgrp, unix.SIGWINCH)
	}
}

// InputRoom is how many bytes of input the line discipline takes now before it drops
// any: a console's pump writes no more than that, and waits (Master.Changed) for the
// reader to make room, as a pty's writer waits for n_tty's receive room.
// In canonical mode the last byte of the queue is kept for a line's end (the
// receiver drops other bytes there); as n_tty_receive_buf_common, a line that fills
// the queue leaves room for one byte, so that the newline ending it is taken.
func (t *Terminal) InputRoom() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inputRoomLocked()
}

// inputRoomLocked is InputRoom with t.mu held.
func (t *Terminal) inputRoomLocked() int {
	if t.slave.Lflag&unix.ICANON == 0 {
		return max(inputMax-len(t.raw), 0)
	}
	room := max(inputMax-1-t.inputLenLocked(), 0)
	if room == 0 && len(t.lines) == 0 {
		room = 1
	}
	return room
}
