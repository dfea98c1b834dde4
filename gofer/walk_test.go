package gofer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

func TestAttachReturnsEachMountRoot(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		mount uint32
		host  string
	}{{rootMount, f.root}, {secondMount, f.second}, {roMount, f.ro}} {
		_, st, err := f.c.Attach(tt.mount)
		if err != nil {
			t.Fatalf("Attach(%d): %v", tt.mount, err)
		}
		var host unix.Stat_t
		must(t, unix.Stat(tt.host, &host))
		if st.Ino != host.Ino || st.Dev != host.Dev || fileType(st) != unix.S_IFDIR {
			t.Errorf("Attach(%d) stat %+v is not %s", tt.mount, st, tt.host)
		}
	}
	_, _, err := f.c.Attach(3)
	wantErrno(t, "Attach of a mount that is not configured", err, unix.ENOENT)
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name      string
		names     []string
		wantTypes []uint32 // of the nodes returned
		wantErr   unix.Errno
	}{
		{"file", []string{"file"}, []uint32{unix.S_IFREG}, 0},
		{"nested", []string{"dir", "inner"}, []uint32{unix.S_IFDIR, unix.S_IFREG}, 0},
		{"no names", nil, nil, 0},
		{"missing first component", []string{"nope"}, nil, unix.ENOENT},
		{"missing after a prefix", []string{"dir", "nope", "x"}, []uint32{unix.S_IFDIR}, unix.ENOENT},
		{"file followed by more names", []string{"file", "x"}, []uint32{unix.S_IFREG}, unix.ENOTDIR},
		{"symlink out of the root is a node", []string{"escape"}, []uint32{unix.S_IFLNK}, 0},
		{"symlink out of the root is not walked through", []string{"escape", "passwd"}, []uint32{unix.S_IFLNK}, unix.ENOTDIR},
		{"symlink to a directory inside is not walked through", []string{"dirlink", "inner"}, []uint32{unix.S_IFLNK}, unix.ENOTDIR},
	}
	run := func(t *testing.T) {
		f := newFixture(t)
		root := f.attach(t, rootMount)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				nodes, err := f.c.Walk(root, tt.names)
				wantErrno(t, "Walk", err, tt.wantErr)
				if len(nodes) != len(tt.wantTypes) {
					t.Fatalf("walked %d nodes, want %d", len(nodes), len(tt.wantTypes))
				}
				for i, n := range nodes {
					if fileType(n.Stat) != tt.wantTypes[i] {
						t.Errorf("node %d (%s) has type %#o, want %#o", i, tt.names[i], fileType(n.Stat), tt.wantTypes[i])
					}
					st, err := f.c.Stat(n.FID)
					if err != nil || st.Ino != n.Stat.Ino {
						t.Errorf("Stat of node %d: %+v, %v", i, st, err)
					}
				}
			})
		}
	}
	t.Run("openat2", run)
	t.Run("openat fallback", func(t *testing.T) {
		noOpenat2.Store(true)
		defer noOpenat2.Store(false)
		run(t)
	})
}

func TestWalkStatMatchesHost(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "dir", "inner")
	var host unix.Stat_t
	must(t, unix.Lstat(filepath.Join(f.root, "dir", "inner"), &host))
	if n.Stat != toStat(&host) {
		t.Errorf("walk stat %+v, host %+v", n.Stat, toStat(&host))
	}
}

func TestWalkFromAFileIsENOTDIR(t *testing.T) {
	f := newFixture(t)
	file := f.walk(t, rootMount, "file")
	nodes, err := f.c.Walk(file.FID, []string{"x"})
	wantErrno(t, "Walk from a file", err, unix.ENOTDIR)
	if len(nodes) != 0 {
		t.Errorf("walked %d nodes", len(nodes))
	}
}

func TestWalkRefusesAnythingButSingleComponents(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	for _, names := range [][]string{
		{".."}, {"."}, {"a/b"}, {""}, {"/"}, {"/etc"}, {"a\x00b"},
		{"dir", ".."}, {"dir", "..", "..", "etc"}, {"dir", "inner/.."},
		tooManyNames(),
	} {
		nodes, err := f.c.Walk(root, names)
		if len(names) > 4 {
			names = names[:1]
		}
		wantErrno(t, "Walk "+quote(names), err, unix.EINVAL)
		if len(nodes) != 0 {
			t.Errorf("Walk %s walked %d nodes", quote(names), len(nodes))
		}
	}
}

// tooManyNames is a walk of valid names, one more than a Twalk may carry.
func tooManyNames() []string {
	names := make([]string, protocol.MaxWalkNames+1)
	for i := range names {
		names[i] = "dir"
	}
	return names
}

func quote(names []string) string {
	s := "["
	for i, n := range names {
		if i > 0 {
			s += " "
		}
		s += "\"" + n + "\""
	}
	return s + "]"
}

func TestSymlinkOutOfTheRootCannotBeFollowed(t *testing.T) {
	f := newFixture(t)
	esc := f.walk(t, rootMount, "escape")
	if fileType(esc.Stat) != unix.S_IFLNK {
		t.Fatalf("escape has type %#o, want a symlink", fileType(esc.Stat))
	}
	for _, flags := range []uint32{unix.O_RDONLY, unix.O_RDONLY | unix.O_DIRECTORY, unix.O_WRONLY} {
		_, err := f.c.Open(esc.FID, flags)
		wantErrno(t, "Open of a symlink", err, unix.ELOOP)
	}
	nodes, err := f.c.Walk(esc.FID, []string{"passwd"})
	wantErrno(t, "Walk from a symlink", err, unix.ENOTDIR)
	if len(nodes) != 0 {
		t.Errorf("walked %d nodes through a symlink", len(nodes))
	}
	target, err := f.c.Readlink(esc.FID)
	if err != nil || target != "/etc" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	// Operations on the symlink node act on the link itself.
	if _, err := f.c.Readdir(esc.FID, 0, 10); err == nil {
		t.Error("Readdir of a symlink to /etc succeeded")
	}
	st, err := f.c.Setattr(esc.FID, protocol.Attr{Mask: protocol.SetattrMode, Mode: 0o777})
	wantErrno(t, "chmod of a symlink", err, unix.EOPNOTSUPP)
	var etc unix.Stat_t
	must(t, unix.Stat("/etc", &etc))
	if st.Ino == etc.Ino {
		t.Error("Setattr reached /etc")
	}
}

func TestWalkDoesNotFollowASymlinkSwappedIn(t *testing.T) {
	// The name was a directory when the client learnt of it; now it is a
	// symlink out of the root. Walking it yields the symlink, nothing more.
	f := newFixture(t)
	root := f.attach(t, rootMount)
	must(t, os.Rename(filepath.Join(f.root, "dir"), filepath.Join(f.root, "dir.old")))
	must(t, os.Symlink("/", filepath.Join(f.root, "dir")))
	nodes, err := f.c.Walk(root, []string{"dir", "etc"})
	wantErrno(t, "Walk", err, unix.ENOTDIR)
	if len(nodes) != 1 || fileType(nodes[0].Stat) != unix.S_IFLNK {
		t.Errorf("nodes %+v", nodes)
	}
}
