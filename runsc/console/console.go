// Package console is the host side of containers' terminals (process.terminal, and
// runsc exec --tty), as runc has them.
//
// runsc makes a host pseudo-terminal pair. The master goes to the caller: sent over
// the AF_UNIX socket named by --console-socket, as runc sends it (one message whose
// data is the master's name and whose SCM_RIGHTS carry its descriptor), or, without
// --console-socket, kept by runsc itself, which copies between it and its own stdio
// (its stdin terminal, if it has one, in raw mode meanwhile). The slave, in raw mode,
// goes to the sandbox, which joins it to a terminal of the Sentry's (runsc/boot's
// Console): the application's terminal is the Sentry's, the host pair only carries
// bytes and window sizes.
package console

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewPty makes a host pseudo-terminal pair, its slave in raw mode: the slave carries
// bytes unchanged, since the line discipline the application sees is the Sentry's.
func NewPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	if _, err := MakeRaw(s); err != nil {
		m.Close()
		s.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// MakeRaw puts terminal f in raw mode, as cfmakeraw(3), and returns its termios from
// before, to restore.
func MakeRaw(f *os.File) (*unix.Termios, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	tio := *old
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &tio); err != nil {
		return nil, err
	}
	return old, nil
}

// SendMaster sends master over the AF_UNIX stream socket at path, as runc does
// (utils.SendFd): one message, the master's name as data and its descriptor in
// SCM_RIGHTS.
func SendMaster(path string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connecting to the console socket: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix([]byte(master.Name()), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("sending the console to %s: %w", path, err)
	}
	return nil
}

// CheckSocket checks that path is a socket, before anything is made.
func CheckSocket(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("console socket %s is not a socket", path)
	}
	return nil
}

// Attached is a master runsc keeps, copied to and from runsc's own stdio, as runc's
// foreground console: the stdin terminal (if stdin is one) is raw meanwhile, and its
// window size is the master's, then and at every SIGWINCH.
type Attached struct {
	master  *os.File
	stdin   *os.File
	restore *unix.Termios
	outDone chan struct{}
	winch   chan os.Signal
}

// Attach starts copying; resized is called after each change of the master's size.
func Attach(master *os.File, resized func()) *Attached {
	a := &Attached{master: master, stdin: os.Stdin, winch: make(chan os.Signal, 4), outDone: make(chan struct{})}
	if old, err := MakeRaw(os.Stdin); err == nil {
		a.restore = old
	}
	a.copySize()
	signal.Notify(a.winch, unix.SIGWINCH)
	go func() {
		for range a.winch {
			a.copySize()
			if resized != nil {
				resized()
			}
		}
	}()
	go io.Copy(master, os.Stdin)
	go func() {
		defer close(a.outDone)
		io.Copy(os.Stdout, master)
	}()
	return a
}

// copySize gives the master the size of runsc's stdin terminal, if it is one.
func (a *Attached) copySize() { InheritSize(a.master) }

// SetSize sets the window size of master to process.consoleSize, if the spec gives one.
func SetSize(master *os.File, size *specs.Box) {
	if size != nil {
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ,
			&unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	}
}

// InheritSize gives master the window size of runsc's stdin terminal, if it is one:
// done before the application starts, so that it sees the size from the first.
func InheritSize(master *os.File) {
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// Close waits, at most timeout, for the output to end (the slave's last holder closed
// it), restores the stdin terminal and closes the master.
func (a *Attached) Close(timeout time.Duration) {
	select {
	case <-a.outDone:
	case <-time.After(timeout):
	}
	signal.Stop(a.winch)
	if a.restore != nil {
		unix.IoctlSetTermios(int(a.stdin.Fd()), unix.TCSETS, a.restore)
	}
	a.master.Close()
}
