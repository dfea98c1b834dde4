package gofer_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	gofersrv "github.com/moat-sandbox/moat/gofer"
	"github.com/moat-sandbox/moat/gofer/protocol"
	"github.com/moat-sandbox/moat/sentry/fsimpl/gofer"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// served starts a Gofer over a temporary directory holding a few files and returns the
// host directory and a VFS root over it.
func served(t *testing.T, readOnly bool) (string, *vfs.VFS, vfs.VirtualDentry) {
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "etc"), 0o755)
	os.WriteFile(filepath.Join(host, "etc", "hostname"), []byte("moat\n"), 0o644)
	os.Symlink("/etc/hostname", filepath.Join(host, "abs"))
	os.Symlink("../../../../etc/shadow", filepath.Join(host, "escape"))
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	go gofersrv.Serve(fds[1], gofersrv.Config{Mounts: []gofersrv.Mount{{HostPath: host, ReadOnly: readOnly}}})
	c := protocol.NewClient(fds[0])
	t.Cleanup(func() { c.Close() })
	v := vfs.New()
	root, err := gofer.New(v, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	return host, v, v.NewMount(root, "9p", "gofer", vfs.MountFlags{ReadOnly: readOnly}).Root()
}

func read(t *testing.T, v *vfs.VFS, root vfs.VirtualDentry, p string) (string, error) {
	f, err := v.OpenAt(vfs.Caller{Creds: vfs.Root()}, vfs.PathOp{Root: root, Start: root, Path: p}, unix.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.DecRef()
	b := make([]byte, 100)
	n, err := f.Read(b)
	return string(b[:n]), err
}

func TestReadThroughTheGofer(t *testing.T) {
	_, v, root := served(t, true)
	if got, err := read(t, v, root, "/etc/hostname"); err != nil || got != "moat\n" {
		t.Errorf("read: %q %v", got, err)
	}
	// Symlinks are resolved by the Sentry, inside the sandbox's root: an absolute
	// target names the served tree, and one that climbs stays in it.
	if got, err := read(t, v, root, "/abs"); err != nil || got != "moat\n" {
		t.Errorf("absolute symlink: %q %v", got, err)
	}
	if _, err := read(t, v, root, "/escape"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("symlink out of the root reached %v, want ENOENT inside the root", err)
	}
	if _, err := read(t, v, root, "/etc/missing"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing file: %v", err)
	}
	c := vfs.Caller{Creds: vfs.Root()}
	if err := v.MkdirAt(c, vfs.PathOp{Root: root, Start: root, Path: "/new"}, 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir on a read-only mount: %v", err)
	}
}

func TestWritesReachTheHost(t *testing.T) {
	host, v, root := served(t, false)
	c := vfs.Caller{Creds: vfs.Root(), Umask: 0o022}
	at := func(p string) vfs.PathOp { return vfs.PathOp{Root: root, Start: root, Path: p} }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.MkdirAt(c, at("/d"), 0o755))
	f, err := v.OpenAt(c, at("/d/f"), unix.O_CREAT|unix.O_WRONLY, 0o644)
	must(err)
	_, err = f.Write([]byte("written in the sandbox"))
	must(err)
	st, _ := f.Stat()
	f.DecRef()
	if st.Size != 22 {
		t.Errorf("size after write = %d", st.Size)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "d", "f")); string(b) != "written in the sandbox" {
		t.Errorf("host file holds %q", b)
	}
	must(v.RenameAt(c, at("/d/f"), at("/g"), false))
	must(v.SymlinkAt(c, "g", at("/lg")))
	if got, _ := read(t, v, root, "/lg"); got != "written in the sandbox" {
		t.Errorf("through the new symlink: %q", got)
	}
	must(v.UnlinkAt(c, at("/lg")))
	must(v.RmdirAt(c, at("/d")))
	d, err := v.OpenAt(c, at("/"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(err)
	var names []string
	d.Readdir(0, func(e vfs.Dirent) bool { names = append(names, e.Name); return true })
	d.DecRef()
	sort.Strings(names)
	if got := strings.Join(names, " "); got != ". .. abs escape etc g" {
		t.Errorf("listing = %q", got)
	}
}
