package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// largeTreeNOFILE is the RLIMIT_NOFILE the sandbox runs with in TestWalkOfALargeTree:
// the Gofer's cache of host FDs is sized from it (a few hundred), far below the
// entries of the tree, as a default 1024 limit is far below a real filesystem's.
const largeTreeNOFILE = 512

// makeLargeTree makes about 3300 entries under dir/tree: 60 directories of 50 files
// (each holding its own name), a nested chain 10 directories deep and a few symlinks.
func makeLargeTree(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "tree")
	for d := range 60 {
		sub := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 50 {
			name := fmt.Sprintf("f%02d", f)
			if err := os.WriteFile(filepath.Join(sub, name), []byte(strings.Repeat(name, d+f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(fmt.Sprintf("../d%02d/f00", (d+1)%60), filepath.Join(sub, "link")); err != nil {
			t.Fatal(err)
		}
	}
	deep := filepath.Join(root, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deep, "bottom"), []byte("bottom"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// withNOFILE is argv run with RLIMIT_NOFILE at n, soft and hard.
func withNOFILE(n int, argv ...string) []string {
	return append([]string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, n), "sh"}, argv...)
}

// TestWalkOfALargeTree walks a tree of more files than the Gofer may hold host FDs for
// (treewalk.c with nftw, and find), natively and sandboxed; with --overlay=none it then
// uses an unlinked file through its descriptor and removes the whole tree through the
// Gofer. The outputs must match: every file is reached and read, none gives EMFILE.
func TestWalkOfALargeTree(t *testing.T) {
	bin := compile(t, "treewalk", false)
	dir := t.TempDir()
	root := makeLargeTree(t, dir)
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"treewalk", []string{bin, root}},
		{"find", []string{"/bin/sh", "-c", `find "$1" -printf '%P %y %s %l\n' | sort`, "sh", root}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			native := runIn(t, dir, withNOFILE(largeTreeNOFILE, tc.argv...)...)
			sandboxed := runIn(t, dir, withNOFILE(largeTreeNOFILE, append([]string{runsc, "do"}, tc.argv...)...)...)
			if native != sandboxed || !strings.Contains(native.stdout, "d59 ") {
				t.Errorf("native (status %d): %q\nsandboxed (status %d): %q\n%s", native.status, tail(native.stdout),
					sandboxed.status, tail(sandboxed.stdout), diff(native.stdout, sandboxed.stdout))
			}
		})
	}
	t.Run("treewalk_rm_overlay_none", func(t *testing.T) {
		// Removal is on the host: each side gets a tree of its own.
		nativeDir, sandboxDir := t.TempDir(), t.TempDir()
		native := runIn(t, nativeDir, withNOFILE(largeTreeNOFILE, bin, makeLargeTree(t, nativeDir), "rm")...)
		sandboxed := runIn(t, sandboxDir, withNOFILE(largeTreeNOFILE, runsc, "--overlay=none", "do", bin, makeLargeTree(t, sandboxDir), "rm")...)
		if native != sandboxed || !strings.Contains(native.stdout, "removed 3") {
			t.Errorf("native (status %d): %q\nsandboxed (status %d): %q\n%s", native.status, tail(native.stdout),
				sandboxed.status, tail(sandboxed.stdout), diff(native.stdout, sandboxed.stdout))
		}
	})
}
