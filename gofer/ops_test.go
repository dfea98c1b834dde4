package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	f := newFixture(t)
	must(t, unix.Mkfifo(filepath.Join(f.root, "fifo"), 0o644))
	tests := []struct {
		name    string
		path    []string
		flags   uint32
		wantErr unix.Errno
	}{
		{"file for reading", []string{"file"}, unix.O_RDONLY, 0},
		{"file for reading and writing", []string{"file"}, unix.O_RDWR, 0},
		{"directory", []string{"dir"}, unix.O_RDONLY | unix.O_DIRECTORY, 0},
		{"file with O_DIRECTORY", []string{"file"}, unix.O_RDONLY | unix.O_DIRECTORY, unix.ENOTDIR},
		{"directory for writing", []string{"dir"}, unix.O_RDWR, unix.EISDIR},
		{"symlink out of the root", []string{"escape"}, unix.O_RDONLY, unix.ELOOP},
		{"symlink to a directory inside", []string{"dirlink"}, unix.O_RDONLY, unix.ELOOP},
		{"O_CREAT", []string{"file"}, unix.O_RDWR | unix.O_CREAT, unix.EINVAL},
		{"O_PATH", []string{"file"}, unix.O_PATH, unix.EINVAL},
		{"O_TMPFILE", []string{"dir"}, unix.O_RDWR | unix.O_TMPFILE, unix.EINVAL},
		{"bad access mode", []string{"file"}, unix.O_ACCMODE, unix.EINVAL},
		{"FIFO for reading does not block", []string{"fifo"}, unix.O_RDONLY, 0},
		{"FIFO for writing without a reader", []string{"fifo"}, unix.O_WRONLY, unix.ENXIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := f.walk(t, rootMount, tt.path...)
			fd, err := f.c.Open(n.FID, tt.flags)
			wantErrno(t, "Open", err, tt.wantErr)
			if err != nil {
				return
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			must(t, unix.Fstat(fd, &st))
			if st.Ino != n.Stat.Ino {
				t.Errorf("FD is inode %d, want %d", st.Ino, n.Stat.Ino)
			}
			fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			must(t, err)
			if fl&unix.O_ACCMODE != int(tt.flags&unix.O_ACCMODE) || fl&unix.O_NONBLOCK != int(tt.flags&unix.O_NONBLOCK) {
				t.Errorf("FD flags %#o for requested %#o", fl, tt.flags)
			}
		})
	}
}

func TestOpenedFileHasTheFileContent(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "file")
	fd, err := f.c.Open(n.FID, unix.O_RDONLY)
	must(t, err)
	if got := readFD(t, fd); got != fileContent {
		t.Errorf("read %q, want %q", got, fileContent)
	}
}

func TestOpenWithTruncAndAppend(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "file")
	fd, err := f.c.Open(n.FID, unix.O_WRONLY|unix.O_APPEND)
	must(t, err)
	_, err = unix.Write(fd, []byte("!"))
	must(t, err)
	unix.Close(fd)
	got, _ := os.ReadFile(filepath.Join(f.root, "file"))
	if string(got) != fileContent+"!" {
		t.Errorf("after an append: %q", got)
	}
	fd, err = f.c.Open(n.FID, unix.O_RDONLY|unix.O_TRUNC)
	must(t, err)
	unix.Close(fd)
	if got, _ := os.ReadFile(filepath.Join(f.root, "file")); len(got) != 0 {
		t.Errorf("after O_TRUNC: %q", got)
	}
}

func TestOpenFollowsRenamesThroughTheConnection(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	dir := f.walk(t, rootMount, "dir")
	n := f.walk(t, rootMount, "file")
	must(t, f.c.Rename(root, "file", dir.FID, "moved", 0))
	fd, err := f.c.Open(n.FID, unix.O_RDONLY)
	must(t, err)
	if got := readFD(t, fd); got != fileContent {
		t.Errorf("read %q", got)
	}
}

func TestOpenOfANameTakenByAnotherFileIsESTALE(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "file")
	// Behind the server's back: the FID's name now holds another file.
	must(t, os.Rename(filepath.Join(f.root, "file"), filepath.Join(f.root, "file.old")))
	must(t, os.WriteFile(filepath.Join(f.root, "file"), []byte("impostor"), 0o644))
	_, err := f.c.Open(n.FID, unix.O_RDWR|unix.O_TRUNC)
	wantErrno(t, "Open", err, unix.ESTALE)
	if got, _ := os.ReadFile(filepath.Join(f.root, "file")); string(got) != "impostor" {
		t.Errorf("the other file was changed: %q", got)
	}
}

func TestOpenOfADeviceNodeIsEPERM(t *testing.T) {
	requireRoot(t)
	f := newFixture(t)
	// /dev/null's numbers: harmless if the check were missing.
	must(t, unix.Mknod(filepath.Join(f.root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	n := f.walk(t, rootMount, "null")
	_, err := f.c.Open(n.FID, unix.O_RDWR)
	wantErrno(t, "Open of a device", err, unix.EPERM)
}

func TestCreate(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	n, fd, err := f.c.Create(root, "created", unix.O_RDWR, 0o644, 1234, 5678)
	must(t, err)
	_, err = unix.Write(fd, []byte("new"))
	must(t, err)
	if got := readFD(t, fd); got != "new" {
		t.Errorf("read back %q", got)
	}
	if n.Stat.Mode != unix.S_IFREG|0o644 {
		t.Errorf("mode %#o, want exactly 0644 despite the umask", n.Stat.Mode)
	}
	if os.Geteuid() == 0 && (n.Stat.UID != 1234 || n.Stat.GID != 5678) {
		t.Errorf("owner %d:%d, want 1234:5678", n.Stat.UID, n.Stat.GID)
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "created")); string(got) != "new" {
		t.Errorf("host file holds %q", got)
	}
	if _, err := f.c.Stat(n.FID); err != nil {
		t.Errorf("Stat of the new FID: %v", err)
	}

	for _, tt := range []struct {
		name    string
		flags   uint32
		wantErr unix.Errno
	}{
		{"created", unix.O_RDWR, unix.EEXIST},
		{"escape", unix.O_RDWR, unix.EEXIST}, // a symlink is not followed
		{"..", unix.O_RDWR, unix.EINVAL},
		{"a/b", unix.O_RDWR, unix.EINVAL},
		{"badmode", unix.O_ACCMODE, unix.EINVAL},
	} {
		_, _, err := f.c.Create(root, tt.name, tt.flags, 0o644, 0, 0)
		wantErrno(t, "Create "+tt.name, err, tt.wantErr)
	}
	file := f.walk(t, rootMount, "file")
	_, _, err = f.c.Create(file.FID, "x", unix.O_RDWR, 0o644, 0, 0)
	wantErrno(t, "Create in a file", err, unix.ENOTDIR)
}

func TestMkdirSymlinkMknod(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	old := unix.Umask(0o022)
	defer unix.Umask(old)

	d, err := f.c.Mkdir(root, "newdir", 0o777, 11, 12)
	must(t, err)
	if d.Stat.Mode != unix.S_IFDIR|0o777 {
		t.Errorf("Mkdir mode %#o", d.Stat.Mode)
	}
	if _, err := f.c.Walk(d.FID, []string{"nothing"}); err != unix.ENOENT {
		t.Errorf("Walk in the new directory: %v", err)
	}
	_, err = f.c.Mkdir(root, "newdir", 0o755, 0, 0)
	wantErrno(t, "Mkdir of an existing name", err, unix.EEXIST)

	l, err := f.c.Symlink(root, "link", "/etc/shadow", 13, 14)
	must(t, err)
	if fileType(l.Stat) != unix.S_IFLNK {
		t.Errorf("Symlink made type %#o", fileType(l.Stat))
	}
	if target, err := f.c.Readlink(l.FID); err != nil || target != "/etc/shadow" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	_, err = f.c.Open(l.FID, unix.O_RDONLY)
	wantErrno(t, "Open of the new symlink", err, unix.ELOOP)
	_, err = f.c.Symlink(root, "empty", "", 0, 0)
	wantErrno(t, "Symlink to an empty target", err, unix.ENOENT)

	if os.Geteuid() == 0 {
		for _, n := range []protocol.Node{d, l} {
			if n.Stat.UID == 0 || n.Stat.UID+1 != n.Stat.GID {
				t.Errorf("owner %d:%d not as requested", n.Stat.UID, n.Stat.GID)
			}
		}
		var host unix.Stat_t
		must(t, unix.Stat("/etc/shadow", &host))
		if host.Uid == 13 {
			t.Error("the symlink's chown reached its target")
		}
	}

	for _, tt := range []struct {
		name     string
		mode     uint32
		wantType uint32
		wantErr  unix.Errno
	}{
		{"n-fifo", unix.S_IFIFO | 0o640, unix.S_IFIFO, 0},
		{"n-sock", unix.S_IFSOCK | 0o640, unix.S_IFSOCK, 0},
		{"n-reg", unix.S_IFREG | 0o640, unix.S_IFREG, 0},
		{"n-notype", 0o640, unix.S_IFREG, 0},
		{"n-chr", unix.S_IFCHR | 0o640, 0, unix.EPERM},
		{"n-blk", unix.S_IFBLK | 0o640, 0, unix.EPERM},
		{"n-dir", unix.S_IFDIR | 0o640, 0, unix.EINVAL},
		{"n-lnk", unix.S_IFLNK | 0o640, 0, unix.EINVAL},
	} {
		n, err := f.c.Mknod(root, tt.name, tt.mode, 0, 0, 0)
		wantErrno(t, "Mknod "+tt.name, err, tt.wantErr)
		if err == nil && n.Stat.Mode != tt.wantType|0o640 {
			t.Errorf("Mknod %s: mode %#o", tt.name, n.Stat.Mode)
		}
		if tt.wantErr != 0 {
			if _, err := os.Lstat(filepath.Join(f.root, tt.name)); err == nil {
				t.Errorf("Mknod %s: refused but created", tt.name)
			}
		}
	}
}

func TestLinkUnlinkRename(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	file := f.walk(t, rootMount, "file")
	dir := f.walk(t, rootMount, "dir")

	h, err := f.c.Link(dir.FID, "hard", file.FID)
	must(t, err)
	if h.Stat.Ino != file.Stat.Ino || h.Stat.Nlink != 2 {
		t.Errorf("link stat %+v", h.Stat)
	}
	_, err = f.c.Link(root, "dirhard", dir.FID)
	wantErrno(t, "Link of a directory", err, unix.EPERM)
	esc := f.walk(t, rootMount, "escape")
	if _, err := f.c.Link(root, "esc2", esc.FID); err != nil {
		t.Errorf("Link of a symlink: %v", err)
	} else if target, _ := os.Readlink(filepath.Join(f.root, "esc2")); target != "/etc" {
		t.Errorf("the link to a symlink is %q", target)
	}

	must(t, f.c.Rename(dir.FID, "hard", root, "renamed", 0))
	if _, err := os.Stat(filepath.Join(f.root, "renamed")); err != nil {
		t.Errorf("after Rename: %v", err)
	}
	err = f.c.Rename(root, "renamed", root, "file", unix.RENAME_NOREPLACE)
	wantErrno(t, "Rename with RENAME_NOREPLACE", err, unix.EEXIST)
	err = f.c.Rename(root, "renamed", root, "x", unix.RENAME_WHITEOUT)
	wantErrno(t, "Rename with RENAME_WHITEOUT", err, unix.EINVAL)
	err = f.c.Rename(root, "renamed", root, "..", 0)
	wantErrno(t, "Rename to ..", err, unix.EINVAL)

	// RENAME_EXCHANGE swaps, and both FIDs follow their files.
	inner := f.walk(t, rootMount, "dir", "inner")
	must(t, f.c.Rename(root, "file", dir.FID, "inner", unix.RENAME_EXCHANGE))
	for _, tt := range []struct {
		fid  protocol.FID
		want string
	}{{file.FID, fileContent}, {inner.FID, "inner"}} {
		fd, err := f.c.Open(tt.fid, unix.O_RDONLY)
		if err != nil {
			t.Errorf("Open after the exchange: %v", err)
			continue
		}
		if got := readFD(t, fd); got != tt.want {
			t.Errorf("after the exchange read %q, want %q", got, tt.want)
		}
	}

	must(t, f.c.Unlink(root, "renamed", 0))
	if _, err := f.c.Walk(root, []string{"renamed"}); err != unix.ENOENT {
		t.Errorf("Walk after Unlink: %v", err)
	}
	wantErrno(t, "Unlink of a directory", f.c.Unlink(root, "dir", 0), unix.EISDIR)
	wantErrno(t, "Unlink with bad flags", f.c.Unlink(root, "dir", 7), unix.EINVAL)
	wantErrno(t, "Unlink of ..", f.c.Unlink(dir.FID, "..", unix.AT_REMOVEDIR), unix.EINVAL)
	_, err = f.c.Mkdir(root, "empty", 0o755, 0, 0)
	must(t, err)
	must(t, f.c.Unlink(root, "empty", unix.AT_REMOVEDIR))
}

func TestCrossMountLinkAndRenameAreEXDEV(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	second := f.attach(t, secondMount)
	other := f.walk(t, secondMount, "other")
	_, err := f.c.Link(root, "stolen", other.FID)
	wantErrno(t, "Link to a FID of another mount", err, unix.EXDEV)
	file := f.walk(t, rootMount, "file")
	_, err = f.c.Link(second, "stolen", file.FID)
	wantErrno(t, "Link into another mount", err, unix.EXDEV)
	wantErrno(t, "Rename across mounts", f.c.Rename(root, "file", second, "file", 0), unix.EXDEV)
}

func TestSetattr(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "file")
	st, err := f.c.Setattr(n.FID, protocol.Attr{
		Mask: protocol.SetattrMode | protocol.SetattrSize | protocol.SetattrAtime | protocol.SetattrMtime,
		Mode: 0o4600, Size: 5,
		Atime: protocol.Timespec{Sec: 1000, Nsec: 1}, Mtime: protocol.Timespec{Sec: 2000, Nsec: 2},
	})
	must(t, err)
	if st.Mode != unix.S_IFREG|0o4600 || st.Size != 5 || st.Atime.Sec != 1000 || st.Mtime != (protocol.Timespec{Sec: 2000, Nsec: 2}) {
		t.Errorf("after Setattr: %+v", st)
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "file")); string(got) != fileContent[:5] {
		t.Errorf("after truncating: %q", got)
	}
	before, err := f.c.Stat(n.FID) // reading the file above may have moved atime
	must(t, err)
	st, err = f.c.Setattr(n.FID, protocol.Attr{Mask: protocol.SetattrMtimeNow})
	must(t, err)
	if st.Mtime.Sec < 1e9 || st.Atime != before.Atime {
		t.Errorf("after SetattrMtimeNow: atime %v mtime %v", st.Atime, st.Mtime)
	}
	if os.Geteuid() == 0 {
		st, err = f.c.Setattr(n.FID, protocol.Attr{Mask: protocol.SetattrUID | protocol.SetattrGID, UID: 4321, GID: 8765})
		must(t, err)
		if st.UID != 4321 || st.GID != 8765 {
			t.Errorf("owner %d:%d", st.UID, st.GID)
		}
		st, err = f.c.Setattr(n.FID, protocol.Attr{Mask: protocol.SetattrGID, GID: 1})
		must(t, err)
		if st.UID != 4321 || st.GID != 1 {
			t.Errorf("after changing only the group: %d:%d", st.UID, st.GID)
		}
	}
	dir := f.walk(t, rootMount, "dir")
	_, err = f.c.Setattr(dir.FID, protocol.Attr{Mask: protocol.SetattrSize})
	wantErrno(t, "truncating a directory", err, unix.EISDIR)
	_, err = f.c.Setattr(n.FID, protocol.Attr{Mask: 1 << 20})
	wantErrno(t, "unknown mask bits", err, unix.EINVAL)
}

func TestStatfs(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, rootMount)
	got, err := f.c.Statfs(root)
	must(t, err)
	var host unix.Statfs_t
	must(t, unix.Statfs(f.root, &host))
	if got.Type != uint64(host.Type) || got.Bsize != uint64(host.Bsize) || got.Namelen != uint64(host.Namelen) || got.Blocks != host.Blocks {
		t.Errorf("Statfs %+v, host %+v", got, host)
	}
}

func TestReaddirPagesWithStableCookies(t *testing.T) {
	f := newFixture(t)
	many := f.walk(t, rootMount, "many")
	var all []protocol.Dirent
	pages := map[uint64][]protocol.Dirent{} // cookie -> page read from it
	cookie := uint64(0)
	for {
		ents, err := f.c.Readdir(many.FID, cookie, 7)
		must(t, err)
		if len(ents) > 7 {
			t.Fatalf("page of %d entries for a count of 7", len(ents))
		}
		if len(ents) == 0 {
			break
		}
		pages[cookie] = ents
		all = append(all, ents...)
		cookie = ents[len(ents)-1].Next
		if len(all) > 1000 {
			t.Fatal("readdir does not end")
		}
	}
	var names []string
	for _, e := range all {
		names = append(names, e.Name)
		if e.Type != unix.DT_REG {
			t.Errorf("%s has type %d", e.Name, e.Type)
		}
	}
	slices.Sort(names)
	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("f%03d", i))
	}
	if !slices.Equal(names, want) {
		t.Errorf("readdir returned %d names %v, want f000..f099 once each", len(names), names)
	}
	// Any cookie handed out reads the same page again, in any order.
	for c, page := range pages {
		again, err := f.c.Readdir(many.FID, c, 7)
		must(t, err)
		if !slices.Equal(again, page) {
			t.Errorf("cookie %d: read %v, then %v", c, page, again)
		}
	}

	file := f.walk(t, rootMount, "file")
	_, err := f.c.Readdir(file.FID, 0, 10)
	wantErrno(t, "Readdir of a file", err, unix.ENOTDIR)
	_, err = f.c.Readdir(many.FID, 0, 0)
	wantErrno(t, "Readdir with count 0", err, unix.EINVAL)
}

func TestReaddirRepliesFitInAMessage(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.root, "long")
	must(t, os.Mkdir(dir, 0o755))
	for i := range 600 {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%0250d", i)), nil, 0o644))
	}
	n := f.walk(t, rootMount, "long")
	total, cookie := 0, uint64(0)
	for {
		ents, err := f.c.Readdir(n.FID, cookie, 1<<20)
		must(t, err)
		if len(ents) == 0 {
			break
		}
		total += len(ents)
		cookie = ents[len(ents)-1].Next
	}
	if total != 600 {
		t.Errorf("read %d entries, want 600", total)
	}
}

func TestReadOnlyMountRefusesEveryChange(t *testing.T) {
	f := newFixture(t)
	root := f.attach(t, roMount)
	file := f.walk(t, roMount, "rofile")
	dir := f.walk(t, roMount, "rodir")
	tests := []struct {
		name string
		op   func() error
	}{
		{"create", func() error { _, _, err := f.c.Create(root, "x", unix.O_RDWR, 0o644, 0, 0); return err }},
		{"mkdir", func() error { _, err := f.c.Mkdir(root, "x", 0o755, 0, 0); return err }},
		{"symlink", func() error { _, err := f.c.Symlink(root, "x", "y", 0, 0); return err }},
		{"mknod", func() error { _, err := f.c.Mknod(root, "x", unix.S_IFIFO|0o644, 0, 0, 0); return err }},
		{"link", func() error { _, err := f.c.Link(dir.FID, "x", file.FID); return err }},
		{"unlink", func() error { return f.c.Unlink(root, "rofile", 0) }},
		{"rmdir", func() error { return f.c.Unlink(root, "rodir", unix.AT_REMOVEDIR) }},
		{"rename", func() error { return f.c.Rename(root, "rofile", dir.FID, "x", 0) }},
		{"chmod", func() error {
			_, err := f.c.Setattr(file.FID, protocol.Attr{Mask: protocol.SetattrMode, Mode: 0o777})
			return err
		}},
		{"chown", func() error {
			_, err := f.c.Setattr(file.FID, protocol.Attr{Mask: protocol.SetattrUID, UID: 1})
			return err
		}},
		{"truncate", func() error { _, err := f.c.Setattr(file.FID, protocol.Attr{Mask: protocol.SetattrSize}); return err }},
		{"utimes", func() error {
			_, err := f.c.Setattr(dir.FID, protocol.Attr{Mask: protocol.SetattrMtimeNow})
			return err
		}},
		{"open for writing", func() error { return openClose(f.c, file.FID, unix.O_WRONLY) }},
		{"open for reading and writing", func() error { return openClose(f.c, file.FID, unix.O_RDWR) }},
		{"open with O_TRUNC", func() error { return openClose(f.c, file.FID, unix.O_RDONLY|unix.O_TRUNC) }},
	}
	for _, tt := range tests {
		wantErrno(t, tt.name, tt.op(), unix.EROFS)
	}
	got, _ := os.ReadFile(filepath.Join(f.ro, "rofile"))
	ents, _ := os.ReadDir(f.ro)
	if string(got) != "read-only" || len(ents) != 2 {
		t.Errorf("the read-only mount changed: %q, %d entries", got, len(ents))
	}
	// Reading still works.
	wantErrno(t, "open for reading", openClose(f.c, file.FID, unix.O_RDONLY), 0)
	if _, err := f.c.Readdir(root, 0, 10); err != nil {
		t.Errorf("Readdir: %v", err)
	}
}

func openClose(c *protocol.Client, fid protocol.FID, flags uint32) error {
	fd, err := c.Open(fid, flags)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func TestClunkedFIDsAreEBADF(t *testing.T) {
	f := newFixture(t)
	n := f.walk(t, rootMount, "dir")
	root := f.attach(t, rootMount)
	must(t, f.c.Clunk(n.FID))
	_, err := f.c.Stat(n.FID)
	wantErrno(t, "Stat", err, unix.EBADF)
	_, err = f.c.Walk(n.FID, []string{"inner"})
	wantErrno(t, "Walk", err, unix.EBADF)
	_, err = f.c.Open(n.FID, unix.O_RDONLY)
	wantErrno(t, "Open", err, unix.EBADF)
	_, err = f.c.Mkdir(n.FID, "x", 0o755, 0, 0)
	wantErrno(t, "Mkdir", err, unix.EBADF)
	wantErrno(t, "Clunk again", f.c.Clunk(n.FID), unix.EBADF)
	wantErrno(t, "Clunk of a FID never handed out", f.c.Clunk(1<<40), unix.EBADF)
	// A child outlives its clunked parent.
	inner, err := f.c.Walk(root, []string{"dir", "inner"})
	must(t, err)
	must(t, f.c.Clunk(root, inner[0].FID))
	fd, err := f.c.Open(inner[1].FID, unix.O_RDONLY)
	must(t, err)
	if got := readFD(t, fd); got != "inner" {
		t.Errorf("read %q", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Run("default", func(t *testing.T) { concurrentRequests(t, newFixture(t)) })
	// With an FD cache far smaller than the nodes: FDs closed and reopened
	// under concurrent walks, opens, creations and removals.
	t.Run("small FD cache", func(t *testing.T) { concurrentRequests(t, newFixtureFDs(t, 4)) })
}

func concurrentRequests(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for i := range 50 {
					root, _, err := f.c.Attach(rootMount)
					if err != nil {
						return err
					}
					nodes, err := f.c.Walk(root, []string{"dir", "inner"})
					if err != nil {
						return err
					}
					fd, err := f.c.Open(nodes[1].FID, unix.O_RDONLY)
					if err != nil {
						return err
					}
					buf := make([]byte, 16)
					n, _ := unix.Pread(fd, buf, 0)
					unix.Close(fd)
					if string(buf[:n]) != "inner" {
						return fmt.Errorf("read %q", buf[:n])
					}
					name := fmt.Sprintf("g%d-%d", g, i)
					if _, err := f.c.Mkdir(nodes[0].FID, name, 0o755, 0, 0); err != nil {
						return err
					}
					if err := f.c.Unlink(nodes[0].FID, name, unix.AT_REMOVEDIR); err != nil {
						return err
					}
					if _, err := f.c.Readdir(root, 0, 3); err != nil {
						return err
					}
					if err := f.c.Clunk(root, nodes[0].FID, nodes[1].FID); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
