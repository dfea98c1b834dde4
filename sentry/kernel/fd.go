package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// File is an open file description.
type File interface {
	Read(t *Task, dst []byte) (int, error)
	Write(t *Task, src []byte) (int, error)
	// Stat fills st as fstat(2) would.
	Stat(st *unix.Stat_t) error
	// Ioctl handles the terminal requests a file supports; others return ENOTTY.
	Ioctl(t *Task, req uintptr, arg uintptr) (uintptr, error)
	// StatusFlags are the description's open flags (O_ACCMODE, O_APPEND, O_NONBLOCK…).
	StatusFlags() int
	Close() error
}

// FDTable is a task's file descriptor table.
type FDTable struct {
	mu    sync.Mutex
	files map[int32]fdEntry
}

type fdEntry struct {
	file    File
	cloexec bool
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable { return &FDTable{files: map[int32]fdEntry{}} }

// Install puts f at fd.
func (d *FDTable) Install(fd int32, f File) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.files[fd] = fdEntry{file: f}
}

// Get returns the file at fd, or EBADF.
func (d *FDTable) Get(fd int32) (File, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.files[fd]
	if !ok {
		return nil, unix.EBADF
	}
	return e.file, nil
}

// Remove closes fd, or returns EBADF.
func (d *FDTable) Remove(fd int32) error {
	d.mu.Lock()
	e, ok := d.files[fd]
	delete(d.files, fd)
	d.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	return e.file.Close()
}

// CloseAll closes every file.
func (d *FDTable) CloseAll() {
	d.mu.Lock()
	files := d.files
	d.files = map[int32]fdEntry{}
	d.mu.Unlock()
	for _, e := range files {
		e.file.Close()
	}
}

// HostFile is a file description backed by a host FD the Sentry was given: the
// container's stdio. Reads and writes go to the host FD; the application never holds it.
type HostFile struct {
	FD int
}

// Read implements File.Read.
func (h *HostFile) Read(_ *Task, dst []byte) (int, error) {
	for {
		n, err := unix.Read(h.FD, dst)
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// Write implements File.Write.
func (h *HostFile) Write(_ *Task, src []byte) (int, error) {
	for {
		n, err := unix.Write(h.FD, src)
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// Stat implements File.Stat.
func (h *HostFile) Stat(st *unix.Stat_t) error { return unix.Fstat(h.FD, st) }

// Ioctl implements File.Ioctl: the terminal queries of a host terminal.
func (h *HostFile) Ioctl(t *Task, req, arg uintptr) (uintptr, error) {
	switch req {
	case unix.TCGETS:
		tio, err := unix.IoctlGetTermios(h.FD, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		return 0, t.CopyOutObj(arg, tio)
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(h.FD, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		return 0, t.CopyOutObj(arg, ws)
	}
	return 0, unix.ENOTTY
}

// StatusFlags implements File.StatusFlags: the host description's flags.
func (h *HostFile) StatusFlags() int {
	fl, err := unix.FcntlInt(uintptr(h.FD), unix.F_GETFL, 0)
	if err != nil {
		return unix.O_RDWR
	}
	return fl
}

// Close implements File.Close. The host FD is the Sentry's, shared by the descriptions
// dup'd from it, so it stays open.
func (h *HostFile) Close() error { return nil }
