package linux

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Terminals: what opening and ioctl of a pseudo-terminal need of the caller
// (controlling terminals, job control). The terminal itself is sentry/fsimpl/devpts;
// sessions and process groups are the kernel's (sentry/kernel/tty.go).

// Terminal ioctls x/sys/unix does not name (include/uapi/asm-generic/ioctls.h).
const (
	tiocgptpeer = 0x5441
	tcsbrkp     = 0x5425
	tiocgetd    = 0x5424
)

// unsupportedTTYIoctls are terminal ioctls Linux has and Moat does not yet: logged by
// name, ENOSYS.
var unsupportedTTYIoctls = map[uintptr]string{
	unix.TCGETS2: "TCGETS2", unix.TCSETS2: "TCSETS2", unix.TCSETSW2: "TCSETSW2", unix.TCSETSF2: "TCSETSF2",
	unix.TCGETA: "TCGETA", unix.TCSETA: "TCSETA", unix.TCSETAW: "TCSETAW", unix.TCSETAF: "TCSETAF",
	unix.TCXONC: "TCXONC", unix.TIOCSTI: "TIOCSTI", unix.TIOCPKT: "TIOCPKT", unix.TIOCGPKT: "TIOCGPKT",
	unix.TIOCEXCL: "TIOCEXCL", unix.TIOCNXCL: "TIOCNXCL", unix.TIOCGEXCL: "TIOCGEXCL",
	unix.TIOCSETD: "TIOCSETD", unix.TIOCCONS: "TIOCCONS", unix.TIOCVHANGUP: "TIOCVHANGUP",
	unix.TIOCSIG: "TIOCSIG", unix.TIOCSBRK: "TIOCSBRK", unix.TIOCCBRK: "TIOCCBRK",
	unix.TIOCGLCKTRMIOS: "TIOCGLCKTRMIOS", unix.TIOCSLCKTRMIOS: "TIOCSLCKTRMIOS",
	unix.TIOCMGET: "TIOCMGET", unix.TIOCMSET: "TIOCMSET", unix.TIOCMBIS: "TIOCMBIS", unix.TIOCMBIC: "TIOCMBIC",
}

// openedFile finishes an open: /dev/tty becomes the caller's controlling terminal
// (ENXIO without one), and opening a terminal may make it the controlling one.
func openedFile(t *kernel.Task, f *vfs.FileDescription, flags int) (*vfs.FileDescription, error) {
	switch impl := f.Impl().(type) {
	case devpts.CurrentTTY:
		tty := t.ControllingTTY()
		if tty == nil {
			f.DecRef()
			return nil, unix.ENXIO
		}
		s, err := tty.OpenSlave()
		if err != nil {
			f.DecRef()
			return nil, err
		}
		nf := vfs.NewFileDescription(f.VirtualDentry(), s, flags)
		f.DecRef()
		return nf, nil
	case *devpts.Slave:
		t.OpenedTTY(impl.Terminal(), flags)
	}
	return f, nil
}

// ttyIoctl is ioctl(2) on either side of a pseudo-terminal, as tty_ioctl: the
// requests about controlling terminals and process groups here, the others in the
// terminal. A hung-up slave answers EIO (ENOTTY to TIOCSPGRP), as hung_up_tty_ioctl.
func ttyIoctl(t *kernel.Task, f *vfs.FileDescription, tf devpts.TTYFile, req, arg uintptr) (uintptr, error) {
	tty, master := tf.Terminal(), tf.IsMaster()
	if !master && tty.HungUp() {
		if req == unix.TIOCSPGRP {
			return 0, unix.ENOTTY
		}
		return 0, unix.EIO
	}
	switch req {
	case unix.TIOCSCTTY:
		return 0, t.SetControllingTTY(tty, arg == 1, f.StatusFlags()&unix.O_ACCMODE != unix.O_WRONLY)
	case unix.TIOCNOTTY:
		if master {
			return 0, unix.ENOTTY // the master is never a controlling terminal
		}
		return 0, t.DropControllingTTY(tty)
	case unix.TIOCGPGRP:
		pgrp, err := t.ForegroundGroup(tty, master)
		if err != nil {
			return 0, err
		}
		return 0, t.CopyOutObj(arg, pgrp)
	case unix.TIOCGSID:
		sid, err := t.TTYSession(tty, master)
		if err != nil {
			return 0, err
		}
		return 0, t.CopyOutObj(arg, sid)
	case unix.TIOCSPGRP:
		switch err := t.CheckTTYAccess(tty, unix.SIGTTOU); err {
		case nil:
		case unix.EIO:
			return 0, unix.ENOTTY
		default:
			return 0, err
		}
		var pgrp int32
		if err := t.CopyInObj(arg, &pgrp); err != nil {
			return 0, err
		}
		if pgrp < 0 {
			return 0, unix.EINVAL
		}
		return 0, t.SetForegroundGroup(tty, pgrp)
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		// tty_check_change on the slave, through either side.
		if err := t.CheckTTYAccess(tty, unix.SIGTTOU); err != nil {
			return 0, err
		}
	case unix.TCFLSH:
		if !master {
			if err := t.CheckTTYAccess(tty, unix.SIGTTOU); err != nil {
				return 0, err
			}
		}
	case unix.TCSBRK, tcsbrkp:
		// tcdrain: a pty has no output waiting in a driver and no break to send.
		if !master {
			if err := t.CheckTTYAccess(tty, unix.SIGTTOU); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case tiocgetd:
		return 0, t.CopyOutObj(arg, int32(0)) // N_TTY, the only line discipline
	case tiocgptpeer:
		if !master {
			return 0, unix.EIO // ptm_open_peer: not a ptmx master
		}
		return openPeer(t, tty, int(int32(arg)))
	}
	if name, ok := unsupportedTTYIoctls[req]; ok {
		return 0, unsupported(t, "ioctl %s on a pseudo-terminal", name)
	}
	return f.Ioctl(t.MM, req, arg)
}

// openPeer opens the slave of tty's master with flags and returns its descriptor, as
// TIOCGPTPEER: through /dev/pts, so that it has its name there.
func openPeer(t *kernel.Task, tty *devpts.Terminal, flags int) (uintptr, error) {
	flags &= validOpenFlags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_DIRECTORY | unix.O_TMPFILE | unix.O_PATH)
	op, err := t.PathOp(unix.AT_FDCWD, "/dev/pts/"+strconv.FormatUint(uint64(tty.Index), 10))
	if err != nil {
		return 0, err
	}
	f, err := t.Kernel().VFS.OpenAt(t.Caller(), op, flags, 0)
	if err != nil {
		return 0, err
	}
	if s, ok := f.Impl().(*devpts.Slave); !ok || s.Terminal() != tty {
		f.DecRef()
		return 0, unix.EIO // /dev/pts is not this terminal's devpts
	}
	f, err = openedFile(t, f, flags)
	if err != nil {
		return 0, err
	}
	return installFD(t, f, flags&unix.O_CLOEXEC != 0)
}
