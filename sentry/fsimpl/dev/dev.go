// Package dev is /dev: a tmpfs holding the devices every container has (null, zero,
// full, random, urandom, tty), the symlinks into /proc/self/fd (fd, stdin, stdout,
// stderr), ptmx (a symlink to pts/ptmx, as runc makes it), and /dev/shm. Like the
// /dev runc makes, it is writable, so a container may add names of its own. Its
// devices are also the VFS's drivers of their numbers, so that a node that mknod(2)
// or the spec's linux.devices makes for one of them opens as it does; a node of any
// other number opens with ENXIO, as a device with no driver does on Linux.
package dev

import (
	"crypto/rand"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// device describes one character device.
type device struct {
	name         string
	major, minor uint32
	read         func(dst []byte) (int, error)
	write        func(src []byte) (int, error)
	// seekZero: lseek always gives 0 (null_lseek); otherwise it changes nothing
	// (noop_llseek).
	seekZero bool
	// impl, if set, is what opening the device gives instead of read and write.
	impl vfs.FileImpl
}

var devices = []device{
	{"null", 1, 3, func([]byte) (int, error) { return 0, nil }, func(b []byte) (int, error) { return len(b), nil }, true, nil},
	{"zero", 1, 5, zeroes, func(b []byte) (int, error) { return len(b), nil }, true, nil},
	{"full", 1, 7, zeroes, func([]byte) (int, error) { return 0, unix.ENOSPC }, true, nil},
	{"random", 1, 8, random, func(b []byte) (int, error) { return len(b), nil }, false, nil},
	{"urandom", 1, 9, random, func(b []byte) (int, error) { return len(b), nil }, false, nil},
	// The caller's controlling terminal: the system call layer opens it.
	{"tty", 5, 0, nil, nil, false, devpts.CurrentTTY{}},
}

func zeroes(b []byte) (int, error) { clear(b); return len(b), nil }

func random(b []byte) (int, error) {
	// As Linux's /dev/urandom, a read returns at most 32 MiB - 1 at once.
	if len(b) > 1<<25-1 {
		b = b[:1<<25-1]
	}
	rand.Read(b)
	return len(b), nil
}

// New returns the root of a new /dev.
func New(v *vfs.VFS) (vfs.DirInode, error) {
	_, root := tmpfs.New(v, 0o755, vfs.Owner{})
	dev := v.NewDev()
	for i := range devices {
		v.RegisterDevice(unix.S_IFCHR, devices[i].major, devices[i].minor, &devices[i])
		in := &inode{dev: &devices[i], fsDev: dev, ino: uint64(i + 2)}
		in.times()
		if err := tmpfs.AddChild(root, devices[i].name, in); err != nil {
			return nil, err
		}
	}
	for _, l := range [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}} {
		if _, err := root.Symlink(l[0], l[1], vfs.Owner{}); err != nil {
			return nil, err
		}
	}
	if _, err := root.Symlink("ptmx", "pts/ptmx", vfs.Owner{}); err != nil {
		return nil, err
	}
	if _, err := root.Mkdir("shm", 0o1777, vfs.Owner{}); err != nil {
		return nil, err
	}
	if _, err := root.Mkdir("pts", 0o755, vfs.Owner{}); err != nil {
		return nil, err
	}
	return root, nil
}

// inode is a character device.
type inode struct {
	dev   *device
	fsDev uint64
	ino   uint64

	mu    sync.Mutex
	mode  uint32
	owner vfs.Owner
	atime unix.Timespec
	mtime unix.Timespec
	ctime unix.Timespec
}

func (in *inode) times() {
	t := unix.NsecToTimespec(time.Now().UnixNano())
	in.mode = 0o666
	in.atime, in.mtime, in.ctime = t, t, t
}

// Stat implements vfs.Inode.Stat.
func (in *inode) Stat() (vfs.Stat, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return vfs.Stat{Mode: unix.S_IFCHR | in.mode, UID: in.owner.UID, GID: in.owner.GID, Nlink: 1,
		Ino: in.ino, Dev: in.fsDev, Rdev: unix.Mkdev(in.dev.major, in.dev.minor), Blksize: 4096,
		Atime: in.atime, Mtime: in.mtime, Ctime: in.ctime}, nil
}

// SetStat implements vfs.Inode.SetStat.
func (in *inode) SetStat(o vfs.SetStat) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if o.Mask&vfs.SetStatSize != 0 {
		return nil // truncating a character device does nothing
	}
	if o.Mask&vfs.SetStatMode != 0 {
		in.mode = o.Mode & 0o7777
	}
	if o.Mask&vfs.SetStatUID != 0 {
		in.owner.UID = o.UID
	}
	if o.Mask&vfs.SetStatGID != 0 {
		in.owner.GID = o.GID
	}
	if o.Mask&vfs.SetStatAtime != 0 {
		in.atime = o.Atime
	}
	if o.Mask&vfs.SetStatMtime != 0 {
		in.mtime = o.Mtime
	}
	in.ctime = unix.NsecToTimespec(time.Now().UnixNano())
	return nil
}

// Open implements vfs.Inode.Open.
func (in *inode) Open(flags int) (vfs.FileImpl, error) { return in.dev.Open(flags) }

// Open implements vfs.Device: a node of the device's number, made by mknod(2) or
// for the spec's linux.devices, opens as the device's own name does.
func (d *device) Open(int) (vfs.FileImpl, error) {
	if d.impl != nil {
		return d.impl, nil
	}
	return file{d}, nil
}

// file is an open device. Devices have a file offset that means nothing: reads and
// writes ignore it, lseek succeeds.
type file struct{ dev *device }

func (f file) Read(dst []byte, _ int64) (int, error)  { return f.dev.read(dst) }
func (f file) Write(src []byte, _ int64) (int, error) { return f.dev.write(src) }
func (f file) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (f file) Release() {}

// Llseek implements vfs.Seeker, as the devices' llseek operations.
func (f file) Llseek(_ int64, _ int, cur int64) (int64, error) {
	if f.dev.seekZero {
		return 0, nil
	}
	return cur, nil
}
