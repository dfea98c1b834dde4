package gofer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// Mount numbers of the fixture.
const (
	rootMount   = 0
	secondMount = 1
	roMount     = 2
)

const fileContent = "hello, gofer"

// fixture is a Server over three temporary trees, connected to a Client:
//
//	mount 0 (root):  file, dir/inner, escape -> /etc, dirlink -> dir,
//	                 many/f000..f099
//	mount 1:         other
//	mount 2 (read-only): rofile, rodir/
type fixture struct {
	root, second, ro string
	c                *protocol.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureFDs(t, 0)
}

// newFixtureFDs is newFixture with a server keeping at most nodeFDs node FDs
// open when idle (Config.NodeFDs; 0 for the default).
func newFixtureFDs(t *testing.T, nodeFDs int) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), second: t.TempDir(), ro: t.TempDir()}
	must(t, os.WriteFile(filepath.Join(f.root, "file"), []byte(fileContent), 0o644))
	must(t, os.Mkdir(filepath.Join(f.root, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "dir", "inner"), []byte("inner"), 0o644))
	must(t, os.Symlink("/etc", filepath.Join(f.root, "escape")))
	must(t, os.Symlink("dir", filepath.Join(f.root, "dirlink")))
	must(t, os.Mkdir(filepath.Join(f.root, "many"), 0o755))
	for i := range 100 {
		must(t, os.WriteFile(filepath.Join(f.root, "many", fmt.Sprintf("f%03d", i)), nil, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(f.second, "other"), []byte("other"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.ro, "rofile"), []byte("read-only"), 0o644))
	must(t, os.Mkdir(filepath.Join(f.ro, "rodir"), 0o755))

	cfg := Config{Mounts: []Mount{{HostPath: f.root}, {HostPath: f.second}, {HostPath: f.ro, ReadOnly: true}},
		NodeFDs: nodeFDs}
	clientFD, done := serveOnSocketpair(t, cfg)
	f.c = protocol.NewClient(clientFD)
	t.Cleanup(func() {
		f.c.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after the client closed")
		}
	})
	return f
}

// serveOnSocketpair runs Serve on one end of a new socketpair and returns
// the other end and a channel that receives Serve's result.
func serveOnSocketpair(t *testing.T, cfg Config) (int, chan error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(fds[0], cfg) }()
	return fds[1], done
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func (f *fixture) attach(t *testing.T, mount uint32) protocol.FID {
	t.Helper()
	fid, _, err := f.c.Attach(mount)
	if err != nil {
		t.Fatalf("Attach(%d): %v", mount, err)
	}
	return fid
}

// walk walks names from mount's root and returns the last node.
func (f *fixture) walk(t *testing.T, mount uint32, names ...string) protocol.Node {
	t.Helper()
	root, st, err := f.c.Attach(mount)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		return protocol.Node{FID: root, Stat: st}
	}
	nodes, err := f.c.Walk(root, names)
	if err != nil {
		t.Fatalf("Walk(%q): %v", names, err)
	}
	return nodes[len(nodes)-1]
}

// readFD reads all of fd from offset 0 and closes it.
func readFD(t *testing.T, fd int) string {
	t.Helper()
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		t.Fatalf("pread: %v", err)
	}
	return string(buf[:n])
}

func fileType(st protocol.Stat) uint32 { return st.Mode & unix.S_IFMT }

func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}
