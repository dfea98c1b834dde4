package inotify_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/inotify"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// world is a VFS with a tmpfs root, one inotify instance, and helpers acting as root.
type world struct {
	t    *testing.T
	v    *vfs.VFS
	root vfs.VirtualDentry
	c    vfs.Caller
	fd   *vfs.FileDescription
	in   *inotify.Instance
}

func newWorld(t *testing.T) *world {
	v := vfs.New()
	_, rootIno := tmpfs.New(v, 0o755, vfs.Owner{})
	m := v.NewMount(rootIno, "tmpfs", "none", vfs.MountFlags{})
	fd, err := inotify.New(v, 0, unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fd.DecRef)
	return &world{t: t, v: v, root: m.Root(), c: vfs.Caller{Creds: vfs.Root(), Umask: 0o022}, fd: fd, in: fd.Impl().(*inotify.Instance)}
}

func (w *world) at(path string) vfs.PathOp {
	return vfs.PathOp{Root: w.root, Start: w.root, Path: path}
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) watch(path string, mask uint32) int32 {
	w.t.Helper()
	vd, err := w.v.Resolve(w.c.Creds, w.root, w.root, path, true)
	w.must(err)
	wd, err := w.in.AddWatch(vd.Dentry, mask)
	w.must(err)
	return wd
}

func (w *world) open(path string, flags int) *vfs.FileDescription {
	w.t.Helper()
	fd, err := w.v.OpenAt(w.c, w.at(path), flags, 0o644)
	w.must(err)
	return fd
}

// events reads every queued event as "wd mask name" lines.
func (w *world) events() string {
	w.t.Helper()
	var out []string
	buf := make([]byte, 1<<20)
	for {
		n, err := w.fd.Read(buf)
		if errors.Is(err, unix.EAGAIN) {
			return strings.Join(out, "\n")
		}
		w.must(err)
		for b := buf[:n]; len(b) > 0; {
			wd := int32(binary.LittleEndian.Uint32(b))
			mask := binary.LittleEndian.Uint32(b[4:])
			l := binary.LittleEndian.Uint32(b[12:])
			name := strings.TrimRight(string(b[16:16+l]), "\x00")
			out = append(out, strings.TrimSpace(fmt.Sprintf("%d %#x %s", wd, mask, name)))
			b = b[16+l:]
		}
	}
}

func (w *world) expect(want ...string) {
	w.t.Helper()
	if got := w.events(); got != strings.Join(want, "\n") {
		w.t.Errorf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestCreateWriteCloseOnDirectoryAndFile(t *testing.T) {
	w := newWorld(t)
	w.watch("/", unix.IN_ALL_EVENTS)
	f := w.open("/f", unix.O_CREAT|unix.O_WRONLY)
	w.expect("1 0x100 f", "1 0x20 f")
	fw := w.watch("/f", unix.IN_MODIFY|unix.IN_CLOSE_WRITE)
	if fw != 2 {
		t.Errorf("file wd %d, want 2", fw)
	}
	f.Write([]byte("x"))
	f.DecRef()
	w.expect("1 0x2 f", "2 0x2", "1 0x8 f", "2 0x8")
}

// An event identical to the last one queued is dropped, as inotify_merge; an event in
// between (another watch's) keeps both, as on Linux.
func TestCoalescing(t *testing.T) {
	w := newWorld(t)
	f := w.open("/f", unix.O_CREAT|unix.O_WRONLY)
	defer f.DecRef()
	w.watch("/f", unix.IN_MODIFY)
	f.Write([]byte("x"))
	f.Write([]byte("y"))
	w.expect("1 0x2")
	w.watch("/", unix.IN_MODIFY)
	f.Write([]byte("x"))
	f.Write([]byte("y"))
	w.expect("2 0x2 f", "1 0x2", "2 0x2 f", "1 0x2")
}

func TestHardLinksShareWatches(t *testing.T) {
	w := newWorld(t)
	w.open("/a", unix.O_CREAT|unix.O_WRONLY).DecRef()
	wa := w.watch("/a", unix.IN_ATTRIB)
	w.must(w.v.LinkAt(w.c, w.at("/a"), false, w.at("/b")))
	if wb := w.watch("/b", unix.IN_ATTRIB|unix.IN_MASK_ADD); wb != wa {
		t.Errorf("wd of the link %d, want %d", wb, wa)
	}
	w.expect("1 0x4") // the link count changed
	w.must(w.v.UnlinkAt(w.c, w.at("/a")))
	w.expect("1 0x4") // one name left: no IN_DELETE_SELF
	w.must(w.v.UnlinkAt(w.c, w.at("/b")))
	w.expect("1 0x4", "1 0x8000") // the last: IN_IGNORED (IN_DELETE_SELF not asked for)
	if err := w.in.RemoveWatch(wa); !errors.Is(err, unix.EINVAL) {
		t.Errorf("RemoveWatch of an ended watch: %v, want EINVAL", err)
	}
}

func TestMaskCreateAndOneshot(t *testing.T) {
	w := newWorld(t)
	f := w.open("/f", unix.O_CREAT|unix.O_RDWR)
	defer f.DecRef()
	wd := w.watch("/f", unix.IN_MODIFY|unix.IN_ONESHOT)
	vd, _ := w.v.Resolve(w.c.Creds, w.root, w.root, "/f", true)
	if _, err := w.in.AddWatch(vd.Dentry, unix.IN_ACCESS|unix.IN_MASK_CREATE); !errors.Is(err, unix.EEXIST) {
		t.Errorf("IN_MASK_CREATE on a watched file: %v, want EEXIST", err)
	}
	f.PWrite([]byte("x"), 0)
	f.PWrite([]byte("x"), 0)
	w.expect(fmt.Sprintf("%d 0x2", wd), fmt.Sprintf("%d 0x8000", wd))
}

func TestOverflow(t *testing.T) {
	w := newWorld(t)
	f := w.open("/f", unix.O_CREAT|unix.O_RDWR)
	defer f.DecRef()
	w.watch("/f", unix.IN_MODIFY|unix.IN_ACCESS)
	b := []byte("x")
	for i := 0; i < inotify.MaxQueuedEvents; i++ {
		f.PWrite(b, 0)
		f.PRead(b, 0)
	}
	lines := strings.Split(w.events(), "\n")
	if len(lines) != inotify.MaxQueuedEvents+1 || lines[len(lines)-1] != "-1 0x4000" {
		t.Errorf("%d events, the last %q; want %d and an overflow", len(lines), lines[len(lines)-1], inotify.MaxQueuedEvents+1)
	}
}

func TestReadTooSmall(t *testing.T) {
	w := newWorld(t)
	w.watch("/", unix.IN_CREATE)
	w.open("/a_name_of_16_chr", unix.O_CREAT|unix.O_WRONLY).DecRef()
	if _, err := w.fd.Read(make([]byte, 47)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("read of 47 bytes: %v, want EINVAL", err)
	}
	buf := make([]byte, 48)
	if n, err := w.fd.Read(buf); n != 48 || err != nil {
		t.Errorf("read of 48 bytes: %d, %v", n, err)
	}
	if l := binary.LittleEndian.Uint32(buf[12:]); l != 32 || buf[16+16] != 0 {
		t.Errorf("len %d, want 32 with a NUL after the name", l)
	}
}

func TestReleaseEndsWatches(t *testing.T) {
	w := newWorld(t)
	fd, err := inotify.New(w.v, 0, 0)
	w.must(err)
	vd, _ := w.v.Resolve(w.c.Creds, w.root, w.root, "/", true)
	fd.Impl().(*inotify.Instance).AddWatch(vd.Dentry, unix.IN_CREATE)
	r := inotify.RegistryOf(w.v)
	if !r.Watched(vd.Dentry) {
		t.Fatal("not watched")
	}
	fd.DecRef()
	if r.Watched(vd.Dentry) {
		t.Error("still watched after the last close")
	}
}

func TestTooManyInstances(t *testing.T) {
	v := vfs.New()
	var fds []*vfs.FileDescription
	defer func() {
		for _, fd := range fds {
			fd.DecRef()
		}
	}()
	for i := 0; i < inotify.MaxUserInstances; i++ {
		fd, err := inotify.New(v, 1000, 0)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		fds = append(fds, fd)
	}
	if _, err := inotify.New(v, 1000, 0); !errors.Is(err, unix.EMFILE) {
		t.Errorf("one instance too many: %v, want EMFILE", err)
	}
	fd, err := inotify.New(v, 1001, 0) // another user's count
	w := err == nil
	if fd != nil {
		fd.DecRef()
	}
	if !w {
		t.Errorf("another user's instance: %v", err)
	}
}

// mapInode is a synthetic file whose Inode is a map, as some kernfs ones are.
type mapInode map[string]int

func (mapInode) Stat() (vfs.Stat, error)        { return vfs.Stat{Mode: unix.S_IFREG | 0o444}, nil }
func (mapInode) SetStat(vfs.SetStat) error      { return unix.EPERM }
func (mapInode) Open(int) (vfs.FileImpl, error) { return nopFile{}, nil }

type nopFile struct{}

func (nopFile) Read(b []byte, _ int64) (int, error) { return len(b), nil }
func (nopFile) Write([]byte, int64) (int, error)    { return 0, unix.EINVAL }
func (nopFile) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (nopFile) Release() {}

// A file whose Inode is not a pointer (a map can't even be a map key) is watched by
// its dentry, without a panic.
func TestNonPointerInodes(t *testing.T) {
	v := vfs.New()
	vd := v.Anonymous(mapInode{}, "proc")
	fd, err := inotify.New(v, 0, unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef()
	in := fd.Impl().(*inotify.Instance)
	if wd, err := in.AddWatch(vd.Dentry, unix.IN_ACCESS); err != nil || wd != 1 {
		t.Fatalf("AddWatch: %d, %v", wd, err)
	}
	f := vfs.NewFileDescription(vd, nopFile{}, unix.O_RDONLY)
	f.Read(make([]byte, 1))
	f.DecRef()
	buf := make([]byte, 64)
	if n, err := fd.Read(buf); n != 16 || err != nil || binary.LittleEndian.Uint32(buf[4:]) != unix.IN_ACCESS {
		t.Errorf("read: %d, %v, %x", n, err, buf[:n])
	}
}
