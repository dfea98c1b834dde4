package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// consoleSocket listens where a runtime sends a terminal's master, as containerd's
// console socket does, and returns its path and the master once received.
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *os.File, 1)
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			close(ch)
			return
		}
		defer conn.Close()
		name := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
		if err != nil {
			close(ch)
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			close(ch)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			close(ch)
			return
		}
		ch <- os.NewFile(uintptr(fds[0]), string(name[:n]))
	}()
	return path, ch
}

// terminal reads a master into a transcript.
type terminal struct {
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	eof    bool
}

func newTerminal(t *testing.T, ch <-chan *os.File) *terminal {
	t.Helper()
	var m *os.File
	select {
	case m = <-ch:
	case <-time.After(10 * time.Second):
	}
	if m == nil {
		t.Fatal("no master received on the console socket")
	}
	term := &terminal{master: m}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			if err != nil {
				term.eof = true
			}
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close() })
	return term
}

// expect waits until the transcript holds s.
func (term *terminal) expect(t *testing.T, s string) bool {
	t.Helper()
	for i := 0; i < 500; i++ {
		term.mu.Lock()
		ok := strings.Contains(term.out.String(), s)
		term.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%q never came; got %q", s, term.transcript())
	return false
}

// waitEOF waits until the master reads EIO: no slave is open any more.
func (term *terminal) waitEOF() {
	for i := 0; i < 300; i++ {
		term.mu.Lock()
		eof := term.eof
		term.mu.Unlock()
		if eof {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (term *terminal) transcript() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

func (term *terminal) resize(t *testing.T, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(term.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

// terminalBundle is a bundle with process.terminal true.
func terminalBundle(t *testing.T, args ...string) string {
	b := bundle(t, args...)
	path := filepath.Join(b, "config.json")
	var spec map[string]any
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &spec)
	spec["process"].(map[string]any)["terminal"] = true
	data, _ = json.MarshalIndent(spec, "", "  ")
	os.WriteFile(path, data, 0o644)
	return b
}

// The application on the terminal: it reports its terminal and its size, reads a
// line, and on SIGWINCH reports the new size and exits.
const consoleScript = `read l; echo "got:$l"; tty; stty size; trap "stty size; exit 4" WINCH; echo trapped; while true; do sleep 0.05; done`

// drive plays the dialogue with the application on term and returns the transcript.
func drive(t *testing.T, term *terminal) string {
	term.resize(t, 30, 90)
	term.master.Write([]byte("hello\r"))
	if term.expect(t, "trapped") {
		term.resize(t, 50, 120)
		term.expect(t, "50 120")
	}
	term.waitEOF()
	return term.transcript()
}

// consoleInit runs the script as a container's init with a terminal sent over the
// console socket.
func consoleInit(t *testing.T, r runtime, id string) string {
	sock, ch := consoleSocket(t)
	b := terminalBundle(t, "sh", "-c", consoleScript)
	res := r.cmd(t, "create", "--bundle", b, "--console-socket", sock, id)
	if res.status != 0 {
		t.Fatalf("%s create: %+v", r.bin, res)
	}
	defer r.cmd(t, "delete", "--force", id)
	term := newTerminal(t, ch)
	if res := r.cmd(t, "start", id); res.status != 0 {
		t.Fatalf("%s start: %+v", r.bin, res)
	}
	out := drive(t, term)
	r.waitStopped(t, id)
	return out
}

// TestConsoleMatchesRunc: process.terminal with --console-socket. The master arrives
// as runc sends it; what the application writes comes out of it, what is written to
// it is the application's input (echoed, CR made NL), the application's terminal is
// /dev/pts/0, and window sizes set on the master reach it, with SIGWINCH. Byte for
// byte as under runc.
func TestConsoleMatchesRunc(t *testing.T) {
	needRunc(t)
	needApplets("stty", "tty")
	id := fmt.Sprintf("moat-console-%d", os.Getpid())
	want := consoleInit(t, newRuntime(t, "runc"), id)
	got := consoleInit(t, newRuntime(t, runsc), id)
	if got != want {
		t.Errorf("console transcript:\nrunc:  %q\nrunsc: %q", want, got)
	}
}

// consoleExec runs the script with exec --tty --detach --console-socket in a running
// container without a terminal.
func consoleExec(t *testing.T, r runtime, id string) string {
	started(t, r, id, "sleep", "100")
	sock, ch := consoleSocket(t)
	res := r.cmd(t, "exec", "--tty", "--detach", "--console-socket", sock, id, "sh", "-c", consoleScript)
	if res.status != 0 {
		t.Fatalf("%s exec: %+v", r.bin, res)
	}
	return drive(t, newTerminal(t, ch))
}

// TestExecConsoleMatchesRunc: exec --tty with --console-socket, as containerd's shim
// runs it; the same dialogue as runc's.
func TestExecConsoleMatchesRunc(t *testing.T) {
	needRunc(t)
	needApplets("stty", "tty")
	id := fmt.Sprintf("moat-execcons-%d", os.Getpid())
	want := consoleExec(t, newRuntime(t, "runc"), id)
	got := consoleExec(t, newRuntime(t, runsc), id)
	if got != want {
		t.Errorf("exec console transcript:\nrunc:  %q\nrunsc: %q", want, got)
	}
}

// hostPty opens a pseudo-terminal pair of the host's, for a runtime's own stdio.
func hostPty(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0)
	n, _ := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestAttachedTerminal: run (and exec --tty) without --console-socket, attached: the
// runtime keeps the master and copies it to and from its own stdio, here a terminal;
// the container's window size is that terminal's.
func TestAttachedTerminal(t *testing.T) {
	needApplets("stty", "tty")
	r := newRuntime(t, runsc)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "--bundle", terminalBundle(t, "sh", "-c", "tty; stty size; read l; echo got:$l; exit 3"), "att"}},
		{"exec", nil},
	} {
		if c.name == "exec" {
			started(t, r, "attexec", "sleep", "100")
			c.args = []string{"exec", "--tty", "attexec", "sh", "-c", "tty; stty size; read l; echo got:$l; exit 3"}
		}
		m, s := hostPty(t)
		unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 70})
		cmd := exec.Command(runsc, append([]string{"--root", r.root}, c.args...)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		term := &terminal{master: m}
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := m.Read(buf)
				term.mu.Lock()
				term.out.Write(buf[:n])
				term.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		term.expect(t, "24 70")
		m.Write([]byte("hi\r"))
		term.expect(t, "got:hi")
		cmd.Wait()
		if st := cmd.ProcessState.ExitCode(); st != 3 {
			t.Errorf("%s: status %d, want 3; transcript %q", c.name, st, term.transcript())
		}
		if !strings.Contains(term.transcript(), "/dev/pts/0") {
			t.Errorf("%s: transcript %q", c.name, term.transcript())
		}
		// runsc restored its terminal's settings (echo, canonical mode).
		if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err != nil || tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
			t.Errorf("%s: terminal left raw: %+v %v", c.name, tio, err)
		}
	}
}

// TestConsoleErrors: process.terminal without a console socket (create, run --detach),
// a console socket without process.terminal, and one that is not a socket: each is
// refused, as runc refuses them, and leaves nothing behind.
func TestConsoleErrors(t *testing.T) {
	needRunc(t)
	tb := terminalBundle(t, "true")
	plain := bundle(t, "true")
	notSocket := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notSocket, nil, 0o644)
	sock, _ := consoleSocket(t)
	cases := [][]string{
		{"create", "--bundle", tb, "c1"},
		{"run", "--detach", "--bundle", tb, "c2"},
		{"create", "--bundle", plain, "--console-socket", sock, "c3"},
		{"create", "--bundle", tb, "--console-socket", notSocket, "c4"},
	}
	for _, bin := range []string{"runc", runsc} {
		r := newRuntime(t, bin)
		for _, c := range cases {
			if res := r.cmd(t, c...); res.status == 0 {
				t.Errorf("%s %q succeeded", bin, c)
				r.cmd(t, "delete", "--force", c[len(c)-1])
			} else if bin == runsc && !strings.Contains(res.stderr, c[len(c)-1]) {
				t.Errorf("runsc %q: the error does not name the container: %q", c, res.stderr)
			}
		}
		if bin == runsc {
			noTrace(t, r)
		}
	}
	// exec: a terminal with --detach needs a console socket; a console socket needs
	// --tty and --detach.
	r := newRuntime(t, runsc)
	started(t, r, "cons", "sleep", "100")
	for _, c := range [][]string{
		{"exec", "--tty", "--detach", "cons", "true"},
		{"exec", "--console-socket", sock, "--detach", "cons", "true"},
		{"exec", "--tty", "--console-socket", sock, "cons", "true"},
	} {
		if res := r.cmd(t, c...); res.status != 255 {
			t.Errorf("%q: %+v, want status 255", c, res)
		}
	}
}

// TestConsoleBulkInput: input written to the master faster than the application reads
// it is all delivered: the console waits for room in the terminal's input queue.
func TestConsoleBulkInput(t *testing.T) {
	needApplets("stty", "wc")
	r := newRuntime(t, runsc)
	started(t, r, "bulk", "sleep", "100")
	sock, ch := consoleSocket(t)
	if res := r.cmd(t, "exec", "-t", "-d", "--console-socket", sock, "bulk", "sh", "-c", "stty -echo; echo ready; wc -c"); res.status != 0 {
		t.Fatalf("exec: %+v", res)
	}
	term := newTerminal(t, ch)
	term.expect(t, "ready")
	line := strings.Repeat("0123456789", 7) + "\n"
	data := strings.Repeat(line, 3000) // 213000 bytes, 52 times the queue
	go func() {
		term.master.Write([]byte(data))
		term.master.Write([]byte{4}) // ^D: end of input
	}()
	term.expect(t, fmt.Sprintf("%d\r\n", len(data)))
}
