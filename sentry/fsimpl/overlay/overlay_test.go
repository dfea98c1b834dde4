package overlay_test

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/overlay"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

type world struct {
	t           *testing.T
	v           *vfs.VFS
	lower, root vfs.VirtualDentry
	c           vfs.Caller
}

// newWorld makes a lower tmpfs holding a few files, and an overlay of a fresh tmpfs
// over it.
func newWorld(t *testing.T) *world {
	v := vfs.New()
	c := vfs.Caller{Creds: vfs.Root()}
	_, lowerIno := tmpfs.New(v, 0o755, vfs.Owner{})
	w := &world{t: t, v: v, c: c}
	w.lower = v.NewMount(lowerIno, "tmpfs", "lower", vfs.MountFlags{}).Root()
	w.root = w.lower
	w.mkdir("/etc")
	w.mkdir("/etc/sub")
	w.write("/etc/passwd", "root:x:0:0")
	w.write("/etc/sub/deep", "deep")
	w.write("/bin", "binary")
	w.must(v.SymlinkAt(c, "etc/passwd", w.at("/link")))
	_, upperIno := tmpfs.New(v, 0o755, vfs.Owner{})
	w.root = v.NewMount(overlay.New(v, upperIno, lowerIno), "overlay", "root", vfs.MountFlags{}).Root()
	return w
}

func (w *world) at(p string) vfs.PathOp { return vfs.PathOp{Root: w.root, Start: w.root, Path: p} }

func (w *world) lowerAt(p string) vfs.PathOp {
	return vfs.PathOp{Root: w.lower, Start: w.lower, Path: p}
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) mkdir(p string) { w.t.Helper(); w.must(w.v.MkdirAt(w.c, w.at(p), 0o755)) }

func (w *world) write(p, data string) {
	w.t.Helper()
	f, err := w.v.OpenAt(w.c, w.at(p), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	w.must(err)
	defer f.DecRef()
	_, err = f.Write([]byte(data))
	w.must(err)
}

func (w *world) readOp(op vfs.PathOp) (string, error) {
	f, err := w.v.OpenAt(w.c, op, unix.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.DecRef()
	b := make([]byte, 100)
	n, err := f.Read(b)
	return string(b[:n]), err
}

func (w *world) list(p string) string {
	f, err := w.v.OpenAt(w.c, w.at(p), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	w.must(err)
	defer f.DecRef()
	var names []string
	w.must(f.Readdir(0, func(e vfs.Dirent) bool { names = append(names, e.Name); return true }))
	sort.Strings(names)
	return strings.Join(names, " ")
}

func TestReadsSeeTheLowerLayer(t *testing.T) {
	w := newWorld(t)
	if got, err := w.readOp(w.at("/link")); err != nil || got != "root:x:0:0" {
		t.Errorf("read through the overlay: %q %v", got, err)
	}
	if got := w.list("/etc"); got != ". .. passwd sub" {
		t.Errorf("listing = %q", got)
	}
}

func TestWritesCopyUpAndLeaveTheLowerLayer(t *testing.T) {
	w := newWorld(t)
	w.write("/etc/passwd", "changed")
	w.write("/etc/sub/new", "new")
	if got, _ := w.readOp(w.at("/etc/passwd")); got != "changed" {
		t.Errorf("overlay shows %q", got)
	}
	if got, _ := w.readOp(w.lowerAt("/etc/passwd")); got != "root:x:0:0" {
		t.Errorf("lower layer changed to %q", got)
	}
	if _, err := w.readOp(w.lowerAt("/etc/sub/new")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("new file reached the lower layer: %v", err)
	}
	if got := w.list("/etc/sub"); got != ". .. deep new" {
		t.Errorf("merged listing = %q", got)
	}
	// Appending to a lower file copies its data up first.
	f, err := w.v.OpenAt(w.c, w.at("/bin"), unix.O_WRONLY|unix.O_APPEND, 0)
	w.must(err)
	f.Write([]byte("+"))
	f.DecRef()
	if got, _ := w.readOp(w.at("/bin")); got != "binary+" {
		t.Errorf("append after copy-up: %q", got)
	}
	// chmod copies up too.
	vd, _ := w.v.Resolve(w.c.Creds, w.root, w.root, "/etc/sub/deep", true)
	w.must(w.v.SetStatAt(w.c, vd, vfs.SetStat{Mask: vfs.SetStatMode, Mode: 0o600}, false))
	st, _ := w.v.StatAt(w.c, w.at("/etc/sub/deep"), true)
	lst, _ := w.v.StatAt(w.c, w.lowerAt("/etc/sub/deep"), true)
	if st.Mode&0o777 != 0o600 || lst.Mode&0o777 != 0o644 {
		t.Errorf("modes: overlay %o lower %o", st.Mode, lst.Mode)
	}
}

func TestWhiteoutsAndOpaqueDirectories(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.UnlinkAt(w.c, w.at("/etc/passwd")))
	if _, err := w.readOp(w.at("/etc/passwd")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("removed lower file still visible: %v", err)
	}
	if got := w.list("/etc"); got != ". .. sub" {
		t.Errorf("listing after unlink = %q", got)
	}
	if _, err := w.readOp(w.lowerAt("/etc/passwd")); err != nil {
		t.Errorf("unlink reached the lower layer: %v", err)
	}
	w.write("/etc/passwd", "again")
	if got, _ := w.readOp(w.at("/etc/passwd")); got != "again" {
		t.Errorf("recreated file: %q", got)
	}
	// rmdir of a non-empty merged directory fails; emptied, it goes, and a new one made
	// in its place is opaque.
	if err := w.v.RmdirAt(w.c, w.at("/etc/sub")); !errors.Is(err, unix.ENOTEMPTY) {
		t.Errorf("rmdir of a merged non-empty dir: %v", err)
	}
	w.must(w.v.UnlinkAt(w.c, w.at("/etc/sub/deep")))
	w.must(w.v.RmdirAt(w.c, w.at("/etc/sub")))
	w.mkdir("/etc/sub")
	if got := w.list("/etc/sub"); got != ". .." {
		t.Errorf("directory made over a removed one shows %q", got)
	}
}

func TestRename(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.RenameAt(w.c, w.at("/etc/passwd"), w.at("/passwd2"), false))
	if got, _ := w.readOp(w.at("/passwd2")); got != "root:x:0:0" {
		t.Errorf("renamed lower file: %q", got)
	}
	if _, err := w.readOp(w.at("/etc/passwd")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("old name after rename: %v", err)
	}
	if err := w.v.RenameAt(w.c, w.at("/etc"), w.at("/etc2"), false); !errors.Is(err, unix.EXDEV) {
		t.Errorf("rename of a lower directory: %v, want EXDEV", err)
	}
	w.mkdir("/fresh")
	w.must(w.v.RenameAt(w.c, w.at("/fresh"), w.at("/fresh2"), false))
}
