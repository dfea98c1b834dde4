package devpts

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// fakeKernel records the signals and hang-ups a terminal asks for.
type fakeKernel struct {
	sigs    []pendingSignal
	hangups int
}

func (k *fakeKernel) SignalGroup(pgrp int32, sig unix.Signal) {
	k.sigs = append(k.sigs, pendingSignal{pgrp, sig})
}
func (k *fakeKernel) HangUp(*Terminal) { k.hangups++ }

func newPair(t *testing.T) (*fakeKernel, *Master, *Slave) {
	t.Helper()
	k := &fakeKernel{}
	fs := New(vfs.New(), k)
	impl, err := fs.ptmx.Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	m := impl.(*Master)
	if _, err := m.t.OpenSlave(); err != unix.EIO {
		t.Fatalf("open of a locked slave: %v, want EIO", err)
	}
	m.t.locked = false
	s, err := m.t.OpenSlave()
	if err != nil {
		t.Fatal(err)
	}
	return k, m, s
}

func read(t *testing.T, r interface {
	Read([]byte, int64) (int, error)
}) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := r.Read(buf, 0)
	if err != nil && err != unix.EAGAIN {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestCanonicalEditingAndEcho(t *testing.T) {
	for _, c := range []struct{ name, in, read, echo string }{
		{"erase", "abc\x7fd\n", "abd\n", "abc\b \bd\r\n"},
		{"kill with ECHOKE", "xy\x15q\n", "q\n", "xy\b \b\b \bq\r\n"},
		{"eof ends a line", "hi\x04", "hi", "hi"},
		{"control characters echo as ^X", "\x01\n", "\x01\n", "^A\r\n"},
		{"ICRNL", "a\r", "a\n", "a\r\n"},
		{"no line yet", "abc", "", "abc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, m, s := newPair(t)
			m.Write([]byte(c.in), 0)
			if got := read(t, s); got != c.read {
				t.Errorf("slave read %q, want %q", got, c.read)
			}
			if got := read(t, m); got != c.echo {
				t.Errorf("echo %q, want %q", got, c.echo)
			}
		})
	}
}

func TestISIGSignalsTheForegroundGroup(t *testing.T) {
	k, m, s := newPair(t)
	m.Write([]byte("ab\x03"), 0) // no foreground group: no signal
	if len(k.sigs) != 0 {
		t.Fatalf("signals without a foreground group: %v", k.sigs)
	}
	m.t.SetSession(7, 9)
	m.Write([]byte("ab\x1c"), 0)
	if len(k.sigs) != 1 || k.sigs[0] != (pendingSignal{9, unix.SIGQUIT}) {
		t.Fatalf("signals %v, want SIGQUIT to 9", k.sigs)
	}
	if got := read(t, s); got != "" {
		t.Errorf("input after the signal %q, want it flushed", got)
	}
}

func TestHangUp(t *testing.T) {
	k, m, s := newPair(t)
	m.Release()
	if k.hangups != 1 {
		t.Errorf("hang-ups %d, want 1", k.hangups)
	}
	if n, err := s.Read(make([]byte, 4), 0); n != 0 || err != nil {
		t.Errorf("read after the hang-up: %d, %v; want end-of-file", n, err)
	}
	if _, err := s.Write([]byte("x"), 0); err != unix.EIO {
		t.Errorf("write after the hang-up: %v, want EIO", err)
	}
	if r := s.Readiness(); r != vfs.EventIn|vfs.EventOut|vfs.EventErr|vfs.EventHup {
		t.Errorf("readiness %#x", r)
	}
}

// TestInputRoom: what a console's pump may write is exactly what the line discipline
// takes: writing InputRoom bytes drops none; a full canonical line still takes its
// newline; a non-canonical queue takes up to its size.
func TestInputRoom(t *testing.T) {
	_, m, s := newPair(t)
	tty := m.Terminal()
	tty.mu.Lock()
	tty.slave.Lflag &^= unix.ECHO
	tty.mu.Unlock()
	line := make([]byte, 100)
	for i := range line {
		line[i] = 'a'
	}
	written := 0
	for tty.InputRoom() > 1 {
		n := min(tty.InputRoom(), len(line))
		m.Write(line[:n], 0)
		written += n
	}
	if got := tty.InputRoom(); got != 1 {
		t.Fatalf("room of a full line: %d, want 1 (for its newline)", got)
	}
	m.Write([]byte("\n"), 0)
	buf := make([]byte, 8192)
	n, err := s.Read(buf, 0)
	if err != nil || n != written+1 {
		t.Errorf("read %d (%v), want the %d bytes written and the newline", n, err, written)
	}
	tty.mu.Lock()
	tty.slave.Lflag &^= unix.ICANON
	tty.mu.Unlock()
	if got := tty.InputRoom(); got != inputMax {
		t.Errorf("room of an empty raw queue: %d, want %d", got, inputMax)
	}
}
