package boot

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// A Console is a terminal of the Sentry's (a devpts pair, its slave /dev/pts/N in the
// container) joined to a host terminal: the slave of a host pty pair whose master runsc
// sent over --console-socket (or keeps, to copy to its own stdio). The application sees
// only the Sentry's terminal, so the line discipline, termios and job control are the
// Sentry's; the host slave is in raw mode (runsc set it so) and carries bytes only.
//
// Two goroutines pump: one reads the host slave and writes what it reads to the
// Sentry master (the application's input), the other reads the Sentry master (the
// application's output, after OPOST) and writes it to the host slave. The host
// descriptor is non-blocking and read through Go's poller, so closing it ends a read.
// The output pump ends when no slave description is left in the sandbox (the master
// reads EIO); the input pump when the host master is closed (the host slave reads
// EIO), which hangs up the Sentry terminal as closing a master does (SIGHUP to the
// session leader). When either ends, the console is closed.
//
// Window sizes: runsc, or whoever holds the host master, sets the size there
// (TIOCSWINSZ); the process that has the host slave as its controlling terminal
// (the sandbox process for init's console, the runsc exec waiting for an exec'd
// process) gets SIGWINCH from the host and has Resize called, which copies the host
// size to the Sentry terminal, which signals its foreground group if it changed.
// Since that signal takes its time, the size is also brought up to date when input
// comes from the host and when the application asks for it (TIOCGWINSZ).
//
// Input waits for room in the Sentry terminal's input queue, as a writer to a pty
// waits for the line discipline's receive room; meanwhile the host pty buffers it and
// then holds its writer.
//
// Divergence: termios set on the host master (TCSETS through it) reach the host
// slave, not the application's terminal.
type Console struct {
	host   *os.File
	master *devpts.Master
	tty    *devpts.Terminal

	stop      chan struct{} // closed to end the output pump's wait
	outDone   chan struct{} // closed when the output pump has ended
	inDone    chan struct{} // closed when the input pump has ended
	mu        sync.Mutex    // held by the output pump from a read to its write
	closeOnce sync.Once
}

// errNoDevpts is the error for a console in a container without /dev/pts.
var errNoDevpts = errors.New("a terminal needs a devpts mount at /dev/pts")

// newConsole makes a Sentry terminal joined to the host terminal hostFD (which the
// console owns from now on, even on error), owned by uid and gid, and returns it with
// a description of its slave, opened in container c's /dev/pts without O_NOCTTY's
// effect (the caller makes it a controlling terminal).
func (s *Sandbox) newConsole(c *ctr, hostFD int, uid, gid uint32) (*Console, *vfs.FileDescription, error) {
	if c.devpts == nil {
		unix.Close(hostFD)
		return nil, nil, errNoDevpts
	}
	if err := unix.SetNonblock(hostFD, true); err != nil {
		unix.Close(hostFD)
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	host := os.NewFile(uintptr(hostFD), "console")
	m := c.devpts.NewTerminal()
	tty := m.Terminal()
	tty.SetOwner(uid, gid)
	path := fmt.Sprintf("/dev/pts/%d", tty.Index)
	slave, err := s.Kernel.VFS.OpenAt(vfs.Caller{Creds: vfs.Root()},
		vfs.PathOp{Root: c.root, Start: c.root, Path: path}, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Release()
		host.Close()
		if err == unix.ENOENT {
			err = errNoDevpts
		}
		return nil, nil, fmt.Errorf("console: opening %s: %w", path, err)
	}
	con := &Console{host: host, master: m, tty: tty, stop: make(chan struct{}),
		outDone: make(chan struct{}), inDone: make(chan struct{})}
	con.Resize()
	tty.SetSizeQuery(func() { con.Resize() })
	go con.pumpOut()
	go con.pumpIn()
	return con, slave, nil
}

// Terminal is the Sentry terminal.
func (c *Console) Terminal() *devpts.Terminal { return c.tty }

// Resize copies the host terminal's window size to the Sentry terminal (which sends
// SIGWINCH to its foreground group if it changed), and reports whether it changed.
func (c *Console) Resize() bool {
	ws, err := unix.IoctlGetWinsize(int(c.host.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return false
	}
	if c.tty.WindowSize() == *ws {
		return false
	}
	c.tty.SetWindowSize(*ws)
	return true
}

// pumpOut copies the application's output to the host until no slave is open. It
// holds c.mu from taking bytes off the terminal's queue until they are written, so
// that Drain, holding c.mu, sees any byte the application wrote either queued or
// written.
func (c *Console) pumpOut() {
	defer close(c.outDone)
	defer c.close()
	buf := make([]byte, 4096)
	for {
		changed := c.master.Changed()
		c.mu.Lock()
		n, err := c.master.ReadCtx(nil, buf, true)
		if err == nil {
			_, err = c.host.Write(buf[:n])
		}
		c.mu.Unlock()
		switch {
		case err == unix.EAGAIN:
			select {
			case <-changed:
			case <-c.stop:
				return
			}
		case err != nil:
			return
		}
	}
}

// pumpIn copies the host's input to the application until the host master closes.
func (c *Console) pumpIn() {
	defer close(c.inDone)
	defer c.close()
	buf := make([]byte, 4096)
	for {
		n, err := c.host.Read(buf)
		if n > 0 {
			// A caller that resized and then typed expects the application reading
			// the input to see the new size.
			c.Resize()
		}
		for data := buf[:n]; len(data) > 0; {
			changed := c.master.Changed()
			room := c.tty.InputRoom()
			if room == 0 {
				select {
				case <-changed:
				case <-c.stop:
					return
				}
				continue
			}
			room = min(room, len(data))
			c.master.WriteCtx(nil, data[:room], false)
			data = data[room:]
		}
		if err != nil {
			return
		}
	}
}

// Drain waits, at most timeout, until the output the application has written has
// reached the host: the output pump has ended, or the terminal's output queue is
// empty (what the pump took off it is written: it holds c.mu meanwhile).
func (c *Console) Drain(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.outDone:
			return
		default:
		}
		c.mu.Lock()
		empty := c.master.Readiness()&vfs.EventIn == 0
		c.mu.Unlock()
		if empty {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// close ends both pumps: the Sentry master is released (the terminal hangs up: its
// session leader gets SIGHUP, its slaves read end-of-file) and the host descriptor is
// closed.
func (c *Console) close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.master.Release()
		c.host.Close()
	})
}

// controlledBy makes the console the controlling terminal of t, a session leader
// without one, with t's group in the foreground.
func (c *Console) controlledBy(t *kernel.Task) error {
	return t.SetControllingTTY(c.tty, false, true)
}
