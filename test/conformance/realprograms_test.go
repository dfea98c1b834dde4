package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealPrograms runs the host's own dynamically linked programs natively and under
// runsc do, in the same working directory, and compares stdout and status.
func TestRealPrograms(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755)
	for i, name := range []string{"b.txt", "a.txt", "sub/c.txt"} {
		os.WriteFile(filepath.Join(dir, "tree", name), []byte(strings.Repeat("line "+name+"\n", i+3)), 0o644)
	}
	os.Symlink("a.txt", filepath.Join(dir, "tree", "link"))
	os.WriteFile(filepath.Join(dir, "unixsock.py"), []byte(unixSockPy), 0o644)
	for _, argv := range [][]string{
		{"ls", "-la", "--time-style=+%s", "tree", "tree/sub"},
		{"ls", "-R", "tree"},
		{"cat", "tree/a.txt", "tree/link", "tree/sub/c.txt"},
		{"cat", "tree/missing"},
		{"sha256sum", "tree/a.txt", "tree/b.txt"},
		{"sort", "-r", "tree/b.txt", "tree/a.txt"},
		{"find", "tree", "-name", "*.txt"},
		{"find", "tree", "-type", "l"},
		{"tar", "-cf", "-", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "tree"},
		{"wc", "-l", "tree/a.txt", "tree/b.txt"},
		{"head", "-c", "10", "tree/a.txt"},
		{"stat", "-c", "%n %s %F %a", "tree/a.txt", "tree/link", "tree"},
		// Shells run commands with vfork (dash) and fork, and wait for them.
		{"sh", "-c", "ls tree; echo status $?; false; echo false $?; sh -c 'exit 7'; echo nested $?"},
		{"busybox", "sh", "-c", "busybox ls tree && busybox echo done; exit 4"},
		{"sh", "-c", "cat tree/a.txt | sort | uniq -c | sort -rn; ls tree | wc -l; seq 1 20000 | tail -2; yes | head -3"},
		{"sh", "-c", "find tree -type f | xargs cat | sha256sum"},
		// Interpreters: many shared libraries, modules read through the Gofer.
		{"/usr/bin/python3", "-c", "import json, hashlib, os; print(json.dumps(sorted(os.listdir('tree'))), hashlib.sha256(open('tree/a.txt', 'rb').read()).hexdigest())"},
		{"/usr/bin/python3", "-c", "import sys; sys.exit(5)"},
		{"/usr/bin/python3", "unixsock.py"},
		{"perl", "-e", "opendir(D, 'tree'); print join(',', sort grep { !/^\\./ } readdir(D)), qq(\\n); exit 2"},
		// Debian's busybox-static: one static binary, many programs.
		{"busybox", "ls", "-l", "-e", "tree"},
		{"busybox", "cat", "tree/a.txt", "tree/link"},
		{"busybox", "sort", "-r", "tree/b.txt"},
		{"busybox", "sha256sum", "tree/a.txt"},
		{"busybox", "md5sum", "tree/b.txt"},
		{"busybox", "find", "tree"},
		{"busybox", "wc", "tree/a.txt"},
		{"busybox", "od", "-c", "tree/sub/c.txt"},
		{"busybox", "du", "-a", "tree"},
		{"busybox", "tr", "a-z", "A-Z"},
		{"busybox", "seq", "1", "5"},
		{"busybox", "uname", "-s", "-m"},
		{"busybox", "stat", "-c", "%n %s %F", "tree/a.txt"},
		{"busybox", "nonexistent-applet"},
	} {
		path, err := exec.LookPath(argv[0])
		if err != nil {
			t.Logf("skipping %s: not installed", argv[0])
			continue
		}
		argv := append([]string{path}, argv[1:]...)
		t.Run(strings.Join(argv, "_"), func(t *testing.T) {
			native := runIn(t, dir, argv...)
			sandboxed := runIn(t, dir, append([]string{runsc, "do"}, argv...)...)
			if native != sandboxed {
				t.Errorf("%v:\nnative    (status %d): %q\nsandboxed (status %d): %q\n%s", argv,
					native.status, tail(native.stdout), sandboxed.status, tail(sandboxed.stdout),
					diff(native.stdout, sandboxed.stdout))
			}
		})
	}
}

// TestSandboxOnly checks what only makes sense inside: the program is PID 1, /proc is
// the Sentry's (no host process shows), and writes stay in the sandbox.
func TestSandboxOnly(t *testing.T) {
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("cat is not installed")
	}
	ls, _ := exec.LookPath("ls")
	touch, _ := exec.LookPath("touch")
	for _, tc := range []struct {
		name string
		argv []string
		want func(string) bool
	}{
		{"pid is 1", []string{cat, "/proc/self/status"}, func(s string) bool { return strings.Contains(s, "\nPid:\t1\n") }},
		{"cmdline", []string{cat, "/proc/self/cmdline"}, func(s string) bool { return s == cat+"\x00/proc/self/cmdline\x00" }},
		{"proc lists only the sandbox", []string{ls, "/proc"}, func(s string) bool {
			for _, f := range strings.Fields(s) {
				if f[0] >= '0' && f[0] <= '9' && f != "1" {
					return false
				}
			}
			return strings.Contains(s, "self")
		}},
		{"proc self is the reader", []string{"/bin/sh", "-c", "echo $$; readlink /proc/self"}, func(s string) bool {
			f := strings.Fields(s)
			return len(f) == 2 && f[0] == "1" && f[1] != "1"
		}},
		{"mounts", []string{cat, "/proc/mounts"}, func(s string) bool {
			return strings.Contains(s, "proc /proc proc") && strings.Contains(s, " / overlay ")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{runsc, "do"}, tc.argv...)...)
			if r.status != 0 || !tc.want(r.stdout) {
				t.Errorf("%v: status %d, output %q", tc.argv, r.status, tail(r.stdout))
			}
		})
	}
	t.Run("stdout redirected to a host file", func(t *testing.T) {
		// cat copies with copy_file_range into a regular-file stdout, and must fall
		// back to read and write when the sandbox says EXDEV.
		dir := t.TempDir()
		in, outPath := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
		if err := os.WriteFile(in, []byte("through a host file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(runsc, "do", cat, in)
		cmd.Stdout = out
		err = cmd.Run()
		out.Close()
		got, _ := os.ReadFile(outPath)
		if err != nil || string(got) != "through a host file\n" {
			t.Errorf("cat into a host file: %v, wrote %q", err, got)
		}
	})
	t.Run("writes stay in the overlay", func(t *testing.T) {
		dir := t.TempDir()
		r := runIn(t, dir, runsc, "do", touch, "created-inside")
		if r.status != 0 {
			t.Fatalf("touch failed: %d", r.status)
		}
		if _, err := os.Stat(filepath.Join(dir, "created-inside")); !os.IsNotExist(err) {
			t.Errorf("a file made in the sandbox reached the host: %v", err)
		}
	})
	t.Run("overlay none writes through", func(t *testing.T) {
		dir := t.TempDir()
		r := runIn(t, dir, runsc, "--overlay=none", "do", touch, "created-inside")
		if r.status != 0 {
			t.Fatalf("touch failed: %d", r.status)
		}
		if _, err := os.Stat(filepath.Join(dir, "created-inside")); err != nil {
			t.Errorf("with --overlay=none the file did not reach the host: %v", err)
		}
	})
}

// TestGoProgram runs a statically linked Go program (goroutines, channels, timers,
// os/exec) natively and under runsc do, twenty times in a row as issue 4 asks: the
// runtime's threads, signals and epoll must all hold.
func TestGoProgram(t *testing.T) {
	bin := filepath.Join(buildDir, "goprog")
	build := exec.Command("go", "build", "-o", bin, "./goprog")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building goprog: %v\n%s", err, out)
	}
	native := run(t, bin)
	for i := 0; i < 20; i++ {
		if got := run(t, runsc, "do", bin); got != native {
			t.Fatalf("run %d:\nnative    %+v\nsandboxed %+v", i, native, got)
		}
	}
}

// TestThreadsTwentyTimes runs the 32-thread mutex and condition-variable program
// sandboxed 20 times in a row, static and dynamic: each run must end, within the test's
// time limit, with native's output (a lost futex wake-up shows as a hang).
func TestThreadsTwentyTimes(t *testing.T) {
	for _, static := range []bool{true, false} {
		bin := compile(t, "threads", static)
		native := run(t, bin)
		for i := 0; i < 20; i++ {
			if got := run(t, runsc, "do", bin); got != native {
				t.Fatalf("static %v, run %d:\nnative    %+v\nsandboxed %+v", static, i, native, got)
			}
		}
	}
}

// unixSockPy uses AF_UNIX sockets as Python programs do: a stream pair, a server on a
// path with a thread accepting, and a file passed over a datagram pair.
const unixSockPy = `import socket, os, threading
a, b = socket.socketpair()
a.sendall(b"x" * 100000)
a.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = b.recv(65536)
    if not d:
        break
    got += d
print("pair", len(got))
path = "sock-%d" % os.getpid()
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
def serve():
    c, _ = srv.accept()
    with c:
        c.sendall(c.makefile("rb").readline().upper())
t = threading.Thread(target=serve)
t.start()
cl = socket.socket(socket.AF_UNIX)
cl.connect(path)
cl.sendall(b"hello over a path\n")
print(cl.recv(100))
cl.close()
t.join()
os.unlink(path)
x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
os.write(w, b"via fd")
socket.send_fds(x, [b"m"], [r])
msg, fds, flags, addr = socket.recv_fds(y, 10, 4)
print(msg, os.read(fds[0], 10), flags)
`

// TestShellScript runs scripts/shell.sh (pipelines, substitutions, background jobs and
// wait, traps, killing a job, read from a pipe, ulimit, exec redirections) with
// busybox's sh and with dash, natively and sandboxed: the outputs and statuses match.
func TestShellScript(t *testing.T) {
	script, err := filepath.Abs("scripts/shell.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range [][]string{{"/bin/busybox", "sh"}, {"/bin/dash"}} {
		if _, err := os.Stat(sh[0]); err != nil {
			t.Errorf("%s: %v (make deps installs it)", sh[0], err)
			continue
		}
		argv := append(append([]string(nil), sh...), script)
		t.Run(filepath.Base(sh[0]), func(t *testing.T) {
			native := run(t, argv...)
			if native.status != 0 || !strings.Contains(native.stdout, "here-doc: 42") {
				t.Fatalf("the script fails natively: status %d\n%s", native.status, native.stdout)
			}
			if sandboxed := run(t, append([]string{runsc, "do"}, argv...)...); sandboxed != native {
				t.Errorf("native (status %d):\n%s\nsandboxed (status %d):\n%s", native.status, native.stdout, sandboxed.status, sandboxed.stdout)
			}
		})
	}
}

// TestGoferFileMappings runs filemap.c (MAP_SHARED mappings of a file in the working
// directory) natively and sandboxed with --overlay=none, where the file is the Gofer's
// and its shared mappings go through the Sentry's page cache; and with the default
// overlay, where it is a tmpfs file of the upper layer.
func TestGoferFileMappings(t *testing.T) {
	bin := compile(t, "filemap", true)
	native := runIn(t, t.TempDir(), bin)
	for _, flags := range [][]string{{"--overlay=none"}, nil} {
		argv := append(append([]string{runsc}, flags...), "do", bin)
		if got := runIn(t, t.TempDir(), argv...); got != native {
			t.Errorf("%v:\nnative (status %d):\n%s\nsandboxed (status %d):\n%s", flags, native.status, native.stdout, got.status, got.stdout)
		}
	}
}
