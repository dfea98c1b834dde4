package vfs

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// FDTable maps file descriptors to file descriptions, with the close-on-exec flag.
type FDTable struct {
	mu    sync.Mutex
	files map[int32]fdEntry
	// users counts the tasks sharing the table (CLONE_FILES).
	users int
}

// IncUsers adds a task sharing the table.
func (t *FDTable) IncUsers() {
	t.mu.Lock()
	t.users++
	t.mu.Unlock()
}

// DecUsers removes a task; the last one closes every descriptor.
func (t *FDTable) DecUsers() {
	t.mu.Lock()
	t.users--
	last := t.users <= 0
	t.mu.Unlock()
	if last {
		t.CloseAll()
	}
}

type fdEntry struct {
	file    *FileDescription
	cloexec bool
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable { return &FDTable{files: map[int32]fdEntry{}, users: 1} }

// NewFD installs file at the lowest free descriptor ≥ min, below limit (RLIMIT_NOFILE):
// EMFILE if there is none. The table takes the caller's reference.
func (t *FDTable) NewFD(file *FileDescription, min int32, cloexec bool, limit uint64) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fd := min
	for ; uint64(fd) < limit; fd++ {
		if _, used := t.files[fd]; !used {
			t.files[fd] = fdEntry{file, cloexec}
			return fd, nil
		}
	}
	return -1, unix.EMFILE
}

// Set installs file at fd, closing what was there (dup2).
func (t *FDTable) Set(fd int32, file *FileDescription, cloexec bool) {
	t.mu.Lock()
	old, had := t.files[fd]
	t.files[fd] = fdEntry{file, cloexec}
	t.mu.Unlock()
	if had {
		t.close(old.file)
	}
}

// Get returns the description at fd with a reference the caller drops, or EBADF.
func (t *FDTable) Get(fd int32) (*FileDescription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.files[fd]
	if !ok {
		return nil, unix.EBADF
	}
	e.file.IncRef()
	return e.file, nil
}

// CloseOnExec reports fd's close-on-exec flag.
func (t *FDTable) CloseOnExec(fd int32) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.files[fd]
	if !ok {
		return false, unix.EBADF
	}
	return e.cloexec, nil
}

// SetCloseOnExec sets fd's close-on-exec flag.
func (t *FDTable) SetCloseOnExec(fd int32, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.files[fd]
	if !ok {
		return unix.EBADF
	}
	e.cloexec = on
	t.files[fd] = e
	return nil
}

// Remove closes fd, or returns EBADF.
func (t *FDTable) Remove(fd int32) error {
	t.mu.Lock()
	e, ok := t.files[fd]
	delete(t.files, fd)
	t.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	t.close(e.file)
	return nil
}

// RemoveRange closes every descriptor in [lo, hi], or with cloexecOnly marks them
// close-on-exec (close_range).
func (t *FDTable) RemoveRange(lo, hi uint32, cloexecOnly bool) {
	t.mu.Lock()
	var closed []*FileDescription
	for fd, e := range t.files {
		if uint32(fd) < lo || uint32(fd) > hi {
			continue
		}
		if cloexecOnly {
			e.cloexec = true
			t.files[fd] = e
			continue
		}
		closed = append(closed, e.file)
		delete(t.files, fd)
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.close(f)
	}
}

// Fds returns the open descriptors in order.
func (t *FDTable) Fds() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int32, 0, len(t.files))
	for fd := range t.files {
		out = append(out, fd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// CloseAll closes every descriptor.
func (t *FDTable) CloseAll() {
	t.RemoveRange(0, ^uint32(0), false)
}

// CloseExec closes every descriptor marked close-on-exec (at execve).
func (t *FDTable) CloseExec() {
	t.mu.Lock()
	var closed []*FileDescription
	for fd, e := range t.files {
		if e.cloexec {
			closed = append(closed, e.file)
			delete(t.files, fd)
		}
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.close(f)
	}
}

// Fork returns a copy of the table for a new process: the same descriptions, each with
// a new reference, and the same close-on-exec flags.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &FDTable{files: make(map[int32]fdEntry, len(t.files)), users: 1}
	for fd, e := range t.files {
		e.file.IncRef()
		c.files[fd] = e
	}
	return c
}

// Shared reports whether more than one task uses the table.
func (t *FDTable) Shared() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.users > 1
}
