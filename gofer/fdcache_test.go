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

// testNodeFDs is the node FD budget of these tests: far fewer than the files
// they walk.
const testNodeFDs = 16

// fdSlack is what the process may hold beyond its FDs before the test and
// the budget: the FDs of a request in flight (a lookup, a reopened parent
// chain, an FD being sent), more than enough for one client.
const fdSlack = 8

// openFDs counts the process's open FDs, the server's among them.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory's own FD
}

// makeTree makes dirs directories of files files each under root/tree, each
// directory with an empty subdirectory "sub", each file holding its path
// relative to root. It returns the number of files and directories made.
func makeTree(t *testing.T, root string, dirs, files int) int {
	t.Helper()
	must(t, os.Mkdir(filepath.Join(root, "tree"), 0o755))
	for d := range dirs {
		dir := filepath.Join("tree", fmt.Sprintf("d%02d", d))
		must(t, os.MkdirAll(filepath.Join(root, dir, "sub"), 0o755))
		for i := range files {
			p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
			must(t, os.WriteFile(filepath.Join(root, p), []byte(p), 0o644))
		}
	}
	return 1 + dirs*(2+files)
}

// readdirAll lists dir the way the Sentry does, a few entries per request.
func readdirAll(t *testing.T, c *protocol.Client, dir protocol.FID, cookie uint64) []string {
	t.Helper()
	var names []string
	for {
		ents, err := c.Readdir(dir, cookie, 5)
		if err != nil {
			t.Fatalf("Readdir: %v", err)
		}
		if len(ents) == 0 {
			return names
		}
		for _, e := range ents {
			names = append(names, e.Name)
		}
		cookie = ents[len(ents)-1].Next
	}
}

// hostNames lists a host directory, sorted.
func hostNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// treeWalker walks a tree through the protocol as the Sentry does: Treaddir
// pages, a Twalk of each name, Tstat, and Topen and a read of each file,
// checking each against the host and the server's FD count against the
// budget.
type treeWalker struct {
	t       *testing.T
	f       *fixture
	maxFDs  int
	visited int
	mu      sync.Mutex // for concurrent walkers
	first   protocol.Node
}

func (w *treeWalker) walk(dir protocol.FID, rel string) error {
	f, t := w.f, w.t
	names := readdirAll(t, f.c, dir, 0)
	slices.Sort(names)
	if want := hostNames(t, filepath.Join(f.root, rel)); !slices.Equal(names, want) {
		return fmt.Errorf("Treaddir of %s: %q, host has %q", rel, names, want)
	}
	for _, name := range names {
		p := filepath.Join(rel, name)
		nodes, err := f.c.Walk(dir, []string{name})
		if err != nil {
			return fmt.Errorf("Twalk to %s: %v", p, err)
		}
		n := nodes[0]
		var host unix.Stat_t
		must(t, unix.Lstat(filepath.Join(f.root, p), &host))
		st, err := f.c.Stat(n.FID)
		if err != nil {
			return fmt.Errorf("Tstat of %s: %v", p, err)
		}
		if st.Ino != host.Ino || st.Mode != host.Mode {
			return fmt.Errorf("Tstat of %s: ino %d mode %o, host %d %o", p, st.Ino, st.Mode, host.Ino, host.Mode)
		}
		w.mu.Lock()
		w.visited++
		if w.first.FID == 0 && fileType(st) == unix.S_IFREG {
			w.first = n
		}
		w.mu.Unlock()
		if fileType(st) == unix.S_IFDIR {
			if err := w.walk(n.FID, p); err != nil {
				return err
			}
		} else {
			fd, err := f.c.Open(n.FID, unix.O_RDONLY)
			if err != nil {
				return fmt.Errorf("Topen of %s: %v", p, err)
			}
			if got := readFD(t, fd); got != p {
				return fmt.Errorf("%s holds %q", p, got)
			}
		}
		if k := openFDs(t); k > w.maxFDs {
			return fmt.Errorf("after %s: %d FDs open, want at most %d", p, k, w.maxFDs)
		}
	}
	return nil
}

func TestWalkOfMoreFilesThanTheFDBudget(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	made := makeTree(t, f.root, 8, 40)
	base := openFDs(t)
	w := &treeWalker{t: t, f: f, maxFDs: base + testNodeFDs + fdSlack}
	root := f.attach(t, rootMount)
	tree, err := f.c.Walk(root, []string{"tree"})
	must(t, err)
	if err := w.walk(tree[0].FID, "tree"); err != nil {
		t.Fatal(err)
	}
	if w.visited != made-1 {
		t.Errorf("visited %d files, made %d", w.visited, made-1)
	}

	// The first file's FD is long closed: it is looked up again on demand.
	st, err := f.c.Stat(w.first.FID)
	must(t, err)
	if st.Ino != w.first.Stat.Ino {
		t.Errorf("first file: ino %d, was %d", st.Ino, w.first.Stat.Ino)
	}
	fd, err := f.c.Open(w.first.FID, unix.O_RDONLY)
	must(t, err)
	if got := readFD(t, fd); got != filepath.Join("tree", "d00", "f000") {
		t.Errorf("first file holds %q", got)
	}
	// So are a directory's and its directory FD: a listing goes on across
	// their closing.
	d0, err := f.c.Walk(tree[0].FID, []string{"d00"})
	must(t, err)
	page, err := f.c.Readdir(d0[0].FID, 0, 5)
	must(t, err)
	names := []string{}
	for _, e := range page {
		names = append(names, e.Name)
	}
	if err := w.walk(tree[0].FID, "tree"); err != nil { // closes d00's FDs
		t.Fatal(err)
	}
	names = append(names, readdirAll(t, f.c, d0[0].FID, page[len(page)-1].Next)...)
	slices.Sort(names)
	if want := hostNames(t, filepath.Join(f.root, "tree", "d00")); !slices.Equal(names, want) {
		t.Errorf("listing across eviction: %q, want %q", names, want)
	}
	// Changes work through evicted directory nodes too.
	nodes, err := f.c.Walk(tree[0].FID, []string{"d01"})
	must(t, err)
	for i := range 40 { // evict d01
		_, err := f.c.Walk(d0[0].FID, []string{fmt.Sprintf("f%03d", i)})
		must(t, err)
	}
	_, err = f.c.Mkdir(nodes[0].FID, "new", 0o755, 0, 0)
	must(t, err)
	if fi, err := os.Stat(filepath.Join(f.root, "tree", "d01", "new")); err != nil || !fi.IsDir() {
		t.Errorf("Tmkdir through an evicted node: %v", err)
	}
	if k := openFDs(t); k > w.maxFDs {
		t.Errorf("%d FDs open, want at most %d", k, w.maxFDs)
	}
	// Mount roots too: a client attaching and listing over and over holds
	// no more.
	var roots []protocol.FID
	for range 4 * testNodeFDs {
		r := f.attach(t, rootMount)
		roots = append(roots, r)
		readdirAll(t, f.c, r, 0)
	}
	if k := openFDs(t); k > w.maxFDs {
		t.Errorf("after %d Tattach: %d FDs open, want at most %d", len(roots), k, w.maxFDs)
	}
	names = readdirAll(t, f.c, roots[0], 0)
	slices.Sort(names)
	if want := hostNames(t, f.root); !slices.Equal(names, want) {
		t.Errorf("listing an evicted root: %q, want %q", names, want)
	}
}

func TestConcurrentWalksWithinTheFDBudget(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	makeTree(t, f.root, 4, 30)
	base := openFDs(t)
	// Each request in flight may hold a few FDs beyond the budget.
	w := &treeWalker{t: t, f: f, maxFDs: base + testNodeFDs + maxInFlight*fdReservePerRequest}
	root := f.attach(t, rootMount)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel := filepath.Join("tree", fmt.Sprintf("d%02d", g%4))
			nodes, err := f.c.Walk(root, []string{"tree", filepath.Base(rel)})
			if err != nil {
				errs <- err
				return
			}
			errs <- w.walk(nodes[1].FID, rel)
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

// evict walks enough other files for the server to close the FDs of every
// idle node walked before.
func (f *fixture) evict(t *testing.T) {
	t.Helper()
	many := f.walk(t, rootMount, "many")
	for i := range 2 * testNodeFDs {
		_, err := f.c.Walk(many.FID, []string{fmt.Sprintf("f%03d", i)})
		must(t, err)
	}
}

func TestEvictedNodeReplacedOnTheHostIsESTALE(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	file := f.walk(t, rootMount, "file")
	dir := f.walk(t, rootMount, "dir")
	inner := f.walk(t, rootMount, "dir", "inner")
	f.evict(t)

	// Another file takes each name behind the server's back.
	must(t, os.WriteFile(filepath.Join(f.root, "file.new"), []byte("new"), 0o644))
	must(t, os.Rename(filepath.Join(f.root, "file.new"), filepath.Join(f.root, "file")))
	must(t, os.Rename(filepath.Join(f.root, "dir"), filepath.Join(f.root, "dir.old")))
	must(t, os.Mkdir(filepath.Join(f.root, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "dir", "inner"), nil, 0o644))

	_, err := f.c.Stat(file.FID)
	wantErrno(t, "Tstat of a replaced file", err, unix.ESTALE)
	_, err = f.c.Open(file.FID, unix.O_RDONLY)
	wantErrno(t, "Topen of a replaced file", err, unix.ESTALE)
	_, err = f.c.Readdir(dir.FID, 0, 10)
	wantErrno(t, "Treaddir of a replaced directory", err, unix.ESTALE)
	_, err = f.c.Walk(dir.FID, []string{"inner"})
	wantErrno(t, "Twalk from a replaced directory", err, unix.ESTALE)
	// inner is still the file it was, but at a name its parent node no
	// longer leads to.
	_, err = f.c.Stat(inner.FID)
	wantErrno(t, "Tstat below a replaced directory", err, unix.ESTALE)

	// A walk finds the new files.
	fresh := f.walk(t, rootMount, "file")
	fd, err := f.c.Open(fresh.FID, unix.O_RDONLY)
	must(t, err)
	if got := readFD(t, fd); got != "new" {
		t.Errorf("new file holds %q", got)
	}
}

func TestEvictedNodeRemovedOnTheHostIsENOENT(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	file := f.walk(t, rootMount, "file")
	inner := f.walk(t, rootMount, "dir", "inner")
	f.evict(t)
	must(t, os.Remove(filepath.Join(f.root, "file")))
	must(t, os.RemoveAll(filepath.Join(f.root, "dir")))

	_, err := f.c.Stat(file.FID)
	wantErrno(t, "Tstat of a removed file", err, unix.ENOENT)
	_, err = f.c.Open(file.FID, unix.O_RDONLY)
	wantErrno(t, "Topen of a removed file", err, unix.ENOENT)
	_, err = f.c.Setattr(file.FID, protocol.Attr{Mask: protocol.SetattrMode, Mode: 0o600})
	wantErrno(t, "Tsetattr of a removed file", err, unix.ENOENT)
	_, err = f.c.Stat(inner.FID)
	wantErrno(t, "Tstat below a removed directory", err, unix.ENOENT)
}

func TestNodesUnlinkedThroughTheConnectionKeepTheirFile(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	root := f.attach(t, rootMount)
	// An application's temporary file: created, opened, unlinked.
	tmp, hfd, err := f.c.Create(root, "tmp", unix.O_RDWR, 0o644, 0, 0)
	must(t, err)
	defer unix.Close(hfd)
	must(t, f.c.Unlink(root, "tmp", 0))
	// A file looked up by another walk, then renamed over.
	victim := f.walk(t, rootMount, "file")
	must(t, os.WriteFile(filepath.Join(f.root, "other"), []byte("other"), 0o644))
	must(t, f.c.Rename(root, "other", root, "file", 0))
	// A directory removed.
	dirNode, err := f.c.Mkdir(root, "gone", 0o755, 0, 0)
	must(t, err)
	must(t, f.c.Unlink(root, "gone", unix.AT_REMOVEDIR))
	f.evict(t)

	for _, n := range []protocol.Node{tmp, victim, dirNode} {
		st, err := f.c.Setattr(n.FID, protocol.Attr{Mask: protocol.SetattrMode, Mode: 0o640})
		if err != nil {
			t.Errorf("Tsetattr (chmod) of an unlinked node: %v", err)
			continue
		}
		if st.Mode&0o7777 != 0o640 || st.Ino != n.Stat.Ino {
			t.Errorf("after chmod: mode %o ino %d, want 0640 on ino %d", st.Mode, st.Ino, n.Stat.Ino)
		}
		st, err = f.c.Stat(n.FID)
		if err != nil {
			t.Errorf("Tstat of an unlinked node: %v", err)
			continue
		}
		if st.Ino != n.Stat.Ino || (fileType(st) != unix.S_IFDIR && st.Nlink != 0) {
			t.Errorf("Tstat of an unlinked node: ino %d nlink %d, want ino %d nlink 0", st.Ino, st.Nlink, n.Stat.Ino)
		}
	}
	// Another file takes the name: the node is still the unlinked file, and
	// can be opened (as /proc/PID/fd/N reopens it on Linux) and truncated.
	must(t, os.WriteFile(filepath.Join(f.root, "tmp"), []byte("another"), 0o644))
	ofd, err := f.c.Open(tmp.FID, unix.O_RDWR)
	must(t, err)
	var ost unix.Stat_t
	must(t, unix.Fstat(ofd, &ost))
	unix.Close(ofd)
	if ost.Ino != tmp.Stat.Ino {
		t.Errorf("Topen of the unlinked file opened ino %d, want %d", ost.Ino, tmp.Stat.Ino)
	}
	st, err := f.c.Setattr(tmp.FID, protocol.Attr{Mask: protocol.SetattrSize, Size: 100})
	must(t, err)
	if st.Size != 100 {
		t.Errorf("Tsetattr (truncate) of the unlinked file: size %d", st.Size)
	}
	// Nothing that took the name is mistaken for it.
	var nst unix.Stat_t
	must(t, unix.Stat(filepath.Join(f.root, "tmp"), &nst))
	if nst.Mode&0o7777 != 0o644 || nst.Size != int64(len("another")) {
		t.Errorf("the new tmp changed: mode %o size %d", nst.Mode&0o7777, nst.Size)
	}
	// The host FD the client holds is the same file, which is still usable.
	if _, err := unix.Pwrite(hfd, []byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	var hst unix.Stat_t
	must(t, unix.Fstat(hfd, &hst))
	if hst.Ino != tmp.Stat.Ino || hst.Mode&0o7777 != 0o640 || hst.Size != 100 {
		t.Errorf("client's FD: ino %d mode %o size %d, want ino %d mode 0640 size 100", hst.Ino, hst.Mode&0o7777, hst.Size, tmp.Stat.Ino)
	}
}

func TestUnnamedNodesKeepBoundedFDs(t *testing.T) {
	f := newFixtureFDs(t, testNodeFDs)
	root := f.attach(t, rootMount)
	base := openFDs(t)
	// A removal of a whole directory of files looked up: only the most
	// recently removed keep their FDs.
	many := f.walk(t, rootMount, "many")
	var nodes []protocol.Node
	for i := range 100 {
		name := fmt.Sprintf("f%03d", i)
		ns, err := f.c.Walk(many.FID, []string{name})
		must(t, err)
		nodes = append(nodes, ns[0])
		must(t, f.c.Unlink(many.FID, name, 0))
	}
	must(t, f.c.Unlink(root, "many", unix.AT_REMOVEDIR))
	if k := openFDs(t); k > base+testNodeFDs+fdSlack {
		t.Errorf("%d FDs open after removing 100 files, want at most %d", k, base+testNodeFDs+fdSlack)
	}
	limit := testNodeFDs / unnamedShare
	for i, n := range nodes {
		_, err := f.c.Setattr(n.FID, protocol.Attr{Mask: protocol.SetattrMode, Mode: 0o600})
		if i < len(nodes)-limit {
			wantErrno(t, fmt.Sprintf("Tsetattr of removed file %d", i), err, unix.ESTALE)
		} else if i > len(nodes)-limit { // the last ones kept theirs (the directory is the newest)
			wantErrno(t, fmt.Sprintf("Tsetattr of removed file %d", i), err, 0)
		}
	}
}
