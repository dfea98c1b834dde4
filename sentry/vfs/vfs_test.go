package vfs_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// world is a VFS with a tmpfs root, and helpers that act as root.
type world struct {
	t    *testing.T
	v    *vfs.VFS
	root vfs.VirtualDentry
	c    vfs.Caller
}

func newWorld(t *testing.T) *world {
	v := vfs.New()
	_, rootIno := tmpfs.New(v, 0o755, vfs.Owner{})
	m := v.NewMount(rootIno, "tmpfs", "none", vfs.MountFlags{})
	return &world{t: t, v: v, root: m.Root(), c: vfs.Caller{Creds: vfs.Root(), Umask: 0o022}}
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

func (w *world) write(path, data string) {
	w.t.Helper()
	fd, err := w.v.OpenAt(w.c, w.at(path), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	w.must(err)
	defer fd.DecRef()
	_, err = fd.Write([]byte(data))
	w.must(err)
}

func (w *world) read(path string) (string, error) {
	fd, err := w.v.OpenAt(w.c, w.at(path), unix.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer fd.DecRef()
	buf := make([]byte, 100)
	n, err := fd.Read(buf)
	return string(buf[:n]), err
}

func TestResolution(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/a"), 0o755))
	w.must(w.v.MkdirAt(w.c, w.at("/a/b"), 0o755))
	w.write("/a/b/f", "data")
	w.must(w.v.SymlinkAt(w.c, "b/f", w.at("/a/rel")))
	w.must(w.v.SymlinkAt(w.c, "/a/b", w.at("/abs")))
	w.must(w.v.SymlinkAt(w.c, "loop2", w.at("/loop1")))
	w.must(w.v.SymlinkAt(w.c, "loop1", w.at("/loop2")))
	w.must(w.v.SymlinkAt(w.c, "nowhere", w.at("/dangling")))
	w.must(w.v.SymlinkAt(w.c, "../../../../..", w.at("/a/up")))

	for _, tc := range []struct {
		path string
		want string // file content, or an errno name
	}{
		{"/a/b/f", "data"},
		{"a/b/f", "data"},
		{"//a///b//f", "data"},
		{"/a/./b/../b/f", "data"},
		{"/../../a/b/f", "data"}, // ".." stops at the root
		{"/a/rel", "data"},       // relative to the link's directory
		{"/abs/f", "data"},       // absolute target, followed mid-path
		{"/a/up/a/b/f", "data"},  // a link climbing above the root stays in it
		{"/a/b/f/", "ENOTDIR"},   // trailing slash on a file
		{"/a/b/f/x", "ENOTDIR"},
		{"/a/missing", "ENOENT"},
		{"/missing/f", "ENOENT"},
		{"/dangling", "ENOENT"},
		{"/loop1", "ELOOP"},
		{"/loop1/x", "ELOOP"},
		{"", "ENOENT"},
		{"/" + strings.Repeat("x", 256), "ENAMETOOLONG"},
	} {
		got, err := w.read(tc.path)
		if err != nil {
			got = unix.ErrnoName(err.(unix.Errno))
		}
		if got != tc.want {
			t.Errorf("open %q: got %s, want %s", tc.path, got, tc.want)
		}
	}
	// 40 links in a chain resolve; 41 do not.
	for i := 0; i < 41; i++ {
		w.must(w.v.SymlinkAt(w.c, "c"+itoa(i+1), w.at("/c"+itoa(i))))
	}
	w.write("/c41", "end")
	if got, err := w.read("/c1"); err != nil || got != "end" {
		t.Errorf("40 symlinks: %q %v, want end", got, err)
	}
	if _, err := w.read("/c0"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("41 symlinks: %v, want ELOOP", err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestOpenFlags(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/d"), 0o755))
	w.write("/f", "hello")
	w.must(w.v.SymlinkAt(w.c, "f", w.at("/l")))
	w.must(w.v.SymlinkAt(w.c, "new", w.at("/dl")))
	for _, tc := range []struct {
		name  string
		path  string
		flags int
		want  error
	}{
		{"O_EXCL on existing", "/f", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"O_EXCL through symlink", "/l", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, unix.EEXIST},
		{"O_NOFOLLOW on symlink", "/l", unix.O_RDONLY | unix.O_NOFOLLOW, unix.ELOOP},
		{"O_DIRECTORY on file", "/f", unix.O_RDONLY | unix.O_DIRECTORY, unix.ENOTDIR},
		{"write a directory", "/d", unix.O_WRONLY, unix.EISDIR},
		{"O_CREAT on a directory", "/d", unix.O_CREAT | unix.O_RDONLY, unix.EISDIR},
		{"O_CREAT with trailing slash", "/x/", unix.O_CREAT | unix.O_RDONLY, unix.EISDIR},
		{"O_CREAT in missing dir", "/nodir/x", unix.O_CREAT | unix.O_RDONLY, unix.ENOENT},
		{"O_CREAT through dangling symlink", "/dl", unix.O_CREAT | unix.O_WRONLY, nil},
		{"O_PATH on symlink nofollow", "/l", unix.O_PATH | unix.O_NOFOLLOW, nil},
	} {
		fd, err := w.v.OpenAt(w.c, w.at(tc.path), tc.flags, 0o644)
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if fd != nil {
			fd.DecRef()
		}
	}
	if _, err := w.v.StatAt(w.c, w.at("/new"), false); err != nil {
		t.Errorf("O_CREAT through a dangling symlink did not create its target: %v", err)
	}
	// O_TRUNC empties; O_APPEND appends; the O_PATH description does no I/O.
	fd, _ := w.v.OpenAt(w.c, w.at("/f"), unix.O_WRONLY|unix.O_APPEND, 0)
	fd.Write([]byte(" world"))
	fd.DecRef()
	if got, _ := w.read("/f"); got != "hello world" {
		t.Errorf("after append: %q", got)
	}
	fd, _ = w.v.OpenAt(w.c, w.at("/f"), unix.O_PATH, 0)
	if _, err := fd.Read(make([]byte, 1)); !errors.Is(err, unix.EBADF) {
		t.Errorf("read of O_PATH: %v, want EBADF", err)
	}
	fd.DecRef()
	fd, _ = w.v.OpenAt(w.c, w.at("/f"), unix.O_RDWR|unix.O_TRUNC, 0)
	fd.DecRef()
	if got, _ := w.read("/f"); got != "" {
		t.Errorf("after O_TRUNC: %q", got)
	}
}

func TestPermissions(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/private"), 0o700))
	w.write("/private/f", "secret")
	w.write("/ro", "r")
	noUmask := vfs.Caller{Creds: vfs.Root()}
	w.must(w.v.MkdirAt(noUmask, w.at("/sticky"), 0o1777))
	w.write("/sticky/roots", "x")
	user := vfs.Caller{Creds: &vfs.Credentials{UID: 1000, GID: 1000}, Umask: 0o022}
	op := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	_, err := w.v.OpenAt(user, w.at("/private/f"), unix.O_RDONLY, 0)
	op("search a 0700 directory", err, unix.EACCES)
	_, err = w.v.OpenAt(user, w.at("/ro"), unix.O_WRONLY, 0)
	op("write a 0644 file of root's", err, unix.EACCES)
	fd, err := w.v.OpenAt(user, w.at("/ro"), unix.O_RDONLY, 0)
	op("read a 0644 file", err, nil)
	if fd != nil {
		fd.DecRef()
	}
	op("mkdir in root's directory", w.v.MkdirAt(user, w.at("/mine"), 0o755), unix.EACCES)
	op("mkdir existing beats EACCES", w.v.MkdirAt(user, w.at("/ro"), 0o755), unix.EEXIST)
	op("unlink a sticky dir's file of root's", w.v.UnlinkAt(user, w.at("/sticky/roots")), unix.EPERM)
	fd, err = w.v.OpenAt(user, w.at("/sticky/own"), unix.O_CREAT|unix.O_WRONLY, 0o400)
	op("create in a sticky world-writable dir", err, nil)
	if fd != nil {
		fd.DecRef()
	}
	op("unlink own file in a sticky dir", w.v.UnlinkAt(user, w.at("/sticky/own")), nil)
	vd, _ := w.v.Resolve(user.Creds, w.root, w.root, "/ro", true)
	op("chmod another's file", w.v.SetStatAt(user, vd, vfs.SetStat{Mask: vfs.SetStatMode, Mode: 0o777}, false), unix.EPERM)
	op("chown to another user", w.v.SetStatAt(user, vd, vfs.SetStat{Mask: vfs.SetStatUID, UID: 1000}, false), unix.EPERM)
	op("access W_OK", w.v.AccessAt(user, w.at("/ro"), true, unix.W_OK), unix.EACCES)
	op("access R_OK", w.v.AccessAt(user, w.at("/ro"), true, unix.R_OK), nil)
	// Root's CAP_DAC_OVERRIDE reads anything, but execs only what has an x bit.
	op("root execs a 0644 file", w.v.AccessAt(w.c, w.at("/ro"), true, unix.X_OK), unix.EACCES)
	op("root writes a 0644 file", w.v.AccessAt(w.c, w.at("/ro"), true, unix.W_OK), nil)
}

func TestRemoveAndRename(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/d"), 0o755))
	w.must(w.v.MkdirAt(w.c, w.at("/d/sub"), 0o755))
	w.write("/d/f", "1")
	w.write("/g", "2")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"unlink a directory", w.v.UnlinkAt(w.c, w.at("/d")), unix.EISDIR},
		{"unlink file/", w.v.UnlinkAt(w.c, w.at("/g/")), unix.ENOTDIR},
		{"unlink .", w.v.UnlinkAt(w.c, w.at("/d/.")), unix.EISDIR},
		{"rmdir a file", w.v.RmdirAt(w.c, w.at("/g")), unix.ENOTDIR},
		{"rmdir non-empty", w.v.RmdirAt(w.c, w.at("/d")), unix.ENOTEMPTY},
		{"rmdir .", w.v.RmdirAt(w.c, w.at("/d/.")), unix.EINVAL},
		{"rmdir ..", w.v.RmdirAt(w.c, w.at("/d/..")), unix.ENOTEMPTY},
		{"rmdir /", w.v.RmdirAt(w.c, w.at("/")), unix.EBUSY},
		{"mkdir existing", w.v.MkdirAt(w.c, w.at("/d"), 0o755), unix.EEXIST},
		{"mkdir .", w.v.MkdirAt(w.c, w.at("/d/."), 0o755), unix.EEXIST},
		{"symlink with trailing slash", w.v.SymlinkAt(w.c, "x", w.at("/newlink/")), unix.ENOENT},
		{"rename dir into itself", w.v.RenameAt(w.c, w.at("/d"), w.at("/d/sub/x"), false), unix.EINVAL},
		{"rename file over dir", w.v.RenameAt(w.c, w.at("/g"), w.at("/d"), false), unix.EISDIR},
		{"rename dir over file", w.v.RenameAt(w.c, w.at("/d"), w.at("/g"), false), unix.ENOTDIR},
		{"rename noreplace", w.v.RenameAt(w.c, w.at("/g"), w.at("/d/f"), true), unix.EEXIST},
		{"rename missing", w.v.RenameAt(w.c, w.at("/nope"), w.at("/x"), false), unix.ENOENT},
		{"link a directory", w.v.LinkAt(w.c, w.at("/d"), false, w.at("/dl")), unix.EPERM},
		{"rename over file", w.v.RenameAt(w.c, w.at("/g"), w.at("/d/f"), false), nil},
		{"rename dir", w.v.RenameAt(w.c, w.at("/d/sub"), w.at("/sub2"), false), nil},
		{"link", w.v.LinkAt(w.c, w.at("/d/f"), false, w.at("/h")), nil},
	} {
		if !errors.Is(tc.err, tc.want) || tc.want == nil && tc.err != nil {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if got, _ := w.read("/d/f"); got != "2" {
		t.Errorf("renamed file holds %q", got)
	}
	if st, _ := w.v.StatAt(w.c, w.at("/h"), true); st.Nlink != 2 {
		t.Errorf("nlink after link = %d", st.Nlink)
	}
	if _, err := w.v.StatAt(w.c, w.at("/g"), true); !errors.Is(err, unix.ENOENT) {
		t.Errorf("old name still there: %v", err)
	}
	w.must(w.v.RmdirAt(w.c, w.at("/sub2")))
}

func TestMounts(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/mnt"), 0o755))
	w.write("/mnt/under", "hidden")
	_, ino := tmpfs.New(w.v, 0o755, vfs.Owner{})
	m := w.v.NewMount(ino, "tmpfs", "none", vfs.MountFlags{ReadOnly: true})
	mnt, _ := w.v.Resolve(w.c.Creds, w.root, w.root, "/mnt", true)
	w.must(w.v.Attach(m, mnt))
	if _, err := w.read("/mnt/under"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("file under a mount visible: %v", err)
	}
	if err := w.v.MkdirAt(w.c, w.at("/mnt/x"), 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir on a read-only mount: %v, want EROFS", err)
	}
	up, err := w.v.Resolve(w.c.Creds, w.root, w.root, "/mnt/..", true)
	if err != nil || up != w.root {
		t.Errorf("/mnt/.. = %v, %v; want the root", up, err)
	}
	if err := w.v.RmdirAt(w.c, w.at("/mnt")); !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		t.Errorf("rmdir of a mountpoint: %v", err)
	}
	st1, _ := w.v.StatAt(w.c, w.at("/"), true)
	st2, _ := w.v.StatAt(w.c, w.at("/mnt"), true)
	if st1.Dev == st2.Dev {
		t.Error("mounted filesystem has the same st_dev as its parent")
	}
}

func TestReaddirAndSeek(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/d"), 0o755))
	for i := 0; i < 10; i++ {
		w.write("/d/f"+itoa(i), "x")
	}
	fd, err := w.v.OpenAt(w.c, w.at("/d"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	w.must(err)
	defer fd.DecRef()
	var names []string
	// Read 3 at a time, removing a file not yet listed midway.
	for {
		n := 0
		w.must(fd.Readdir(3, func(e vfs.Dirent) bool {
			if n == 3 {
				return false
			}
			names = append(names, e.Name)
			n++
			return true
		}))
		if n == 0 {
			break
		}
		if len(names) == 3 {
			w.must(w.v.UnlinkAt(w.c, w.at("/d/f9")))
		}
	}
	if len(names) != 11 || names[0] != "." || names[1] != ".." {
		t.Errorf("listing = %v, want . .. and f0..f8", names)
	}
	if _, err := fd.Seek(0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	var again []string
	fd.Readdir(100, func(e vfs.Dirent) bool { again = append(again, e.Name); return true })
	if len(again) != 11 {
		t.Errorf("after rewind: %v", again)
	}
	f, _ := w.v.OpenAt(w.c, w.at("/d/f0"), unix.O_RDWR, 0)
	defer f.DecRef()
	if off, err := f.Seek(10, unix.SEEK_END); err != nil || off != 11 {
		t.Errorf("SEEK_END+10 = %d, %v", off, err)
	}
	f.Write([]byte("y"))
	buf := make([]byte, 20)
	n, _ := f.PRead(buf, 0)
	if string(buf[:n]) != "x\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00y" {
		t.Errorf("hole not read as zeroes: %q", buf[:n])
	}
	if _, err := f.Seek(-100, unix.SEEK_CUR); !errors.Is(err, unix.EINVAL) {
		t.Errorf("seek before 0: %v", err)
	}
}

func TestMountRootPath(t *testing.T) {
	w := newWorld(t)
	w.must(w.v.MkdirAt(w.c, w.at("/a"), 0o755))
	w.must(w.v.MkdirAt(w.c, w.at("/a/b"), 0o755))
	w.must(w.v.MkdirAt(w.c, w.at("/mnt"), 0o755))
	if got := w.root.Mount.RootPath(); got != "/" {
		t.Errorf("root mount's root = %q, want /", got)
	}
	sub, err := w.v.Resolve(w.c.Creds, w.root, w.root, "/a/b", true)
	w.must(err)
	bind := w.v.NewBindMount(sub, vfs.MountFlags{})
	if got := bind.RootPath(); got != "/a/b" {
		t.Errorf("bind of /a/b: root %q", got)
	}
	// A host directory served as a filesystem of its own, and a bind mount inside it.
	_, ino := tmpfs.New(w.v, 0o755, vfs.Owner{})
	host := w.v.NewMount(ino, "9p", "9p", vfs.MountFlags{})
	host.FSRoot = "/etc"
	mnt, _ := w.v.Resolve(w.c.Creds, w.root, w.root, "/mnt", true)
	w.must(w.v.Attach(host, mnt))
	w.must(w.v.MkdirAt(w.c, w.at("/mnt/ssl"), 0o755))
	ssl, err := w.v.Resolve(w.c.Creds, w.root, w.root, "/mnt/ssl", true)
	w.must(err)
	if got := w.v.NewBindMount(ssl, vfs.MountFlags{}).RootPath(); got != "/etc/ssl" {
		t.Errorf("bind inside a host directory's mount: root %q, want /etc/ssl", got)
	}
}
