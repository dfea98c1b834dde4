package devpts

import (
	"golang.org/x/sys/unix"
)

// The line discipline, as drivers/tty/n_tty.c: what the master writes is the
// terminal's input, processed here into what the slave reads; what the slave writes is
// output, processed (OPOST) into what the master reads. Echo is output too.

// Queue limits: N_TTY_BUF_SIZE for the input, and what a pty holds of output before a
// slave writer waits.
const (
	inputMax  = 4096
	outputMax = 8192
)

// The slave's initial termios, as tty_std_termios and the pty driver's init_termios.
var (
	defaultCC = [19]uint8{
		unix.VINTR: 3, unix.VQUIT: 0x1c, unix.VERASE: 0x7f, unix.VKILL: 0x15, unix.VEOF: 4,
		unix.VTIME: 0, unix.VMIN: 1, unix.VSTART: 0x11, unix.VSTOP: 0x13, unix.VSUSP: 0x1a,
		unix.VREPRINT: 0x12, unix.VDISCARD: 0x0f, unix.VWERASE: 0x17, unix.VLNEXT: 0x16,
	}
	slaveTermios = unix.Termios{
		Iflag: unix.ICRNL | unix.IXON, Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD,
		Lflag: unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
		Cc:    defaultCC, Ispeed: 38400, Ospeed: 38400,
	}
)

// pendingSignal is a signal the line discipline raises, sent once t.mu is released.
type pendingSignal struct {
	pgrp int32
	sig  unix.Signal
}

// receiveLocked processes input bytes (written to the master) as n_tty_receive_buf,
// and returns the signals they raise. t.mu is held.
func (t *Terminal) receiveLocked(src []byte) []pendingSignal {
	var sigs []pendingSignal
	tio := &t.slave
	for _, c := range src {
		if tio.Iflag&unix.ISTRIP != 0 {
			c &= 0x7f
		}
		switch {
		case c == '\r' && tio.Iflag&unix.IGNCR != 0:
			continue
		case c == '\r' && tio.Iflag&unix.ICRNL != 0:
			c = '\n'
		case c == '\n' && tio.Iflag&unix.INLCR != 0:
			c = '\r'
		}
		lflag := tio.Lflag
		if lflag&unix.ISIG != 0 {
			sig := unix.Signal(0)
			switch {
			case special(tio, unix.VINTR, c):
				sig = unix.SIGINT
			case special(tio, unix.VQUIT, c):
				sig = unix.SIGQUIT
			case special(tio, unix.VSUSP, c):
				sig = unix.SIGTSTP
			}
			if sig != 0 {
				if t.pgrp != 0 {
					sigs = append(sigs, pendingSignal{t.pgrp, sig})
				}
				if lflag&unix.NOFLSH == 0 {
					t.flushInputLocked()
					t.out = t.out[:0]
				}
				if lflag&unix.ECHO != 0 {
					t.echoLocked(c)
				}
				continue
			}
		}
		if lflag&unix.ICANON == 0 {
			if len(t.raw) < inputMax {
				t.raw = append(t.raw, c)
				if lflag&unix.ECHO != 0 {
					t.echoLocked(c)
				}
			}
			continue
		}
		switch {
		case special(tio, unix.VERASE, c):
			t.eraseLocked(false)
		case special(tio, unix.VKILL, c):
			t.eraseLocked(true)
		case special(tio, unix.VEOF, c):
			t.lines = append(t.lines, t.line)
			t.line = nil
		case c == '\n' || special(tio, unix.VEOL, c) || lflag&unix.IEXTEN != 0 && special(tio, unix.VEOL2, c):
			if lflag&unix.ECHO != 0 || c == '\n' && lflag&unix.ECHONL != 0 {
				t.echoLocked(c)
			}
			t.lines = append(t.lines, append(t.line, c))
			t.line = nil
		default:
			if t.inputLenLocked() >= inputMax-1 {
				continue // the line is full: n_tty drops what does not fit
			}
			t.line = append(t.line, c)
			if lflag&unix.ECHO != 0 {
				t.echoLocked(c)
			}
		}
	}
	return sigs
}

// special reports whether c is the enabled control character cc[i] (0 disables).
func special(tio *unix.Termios, i int, c byte) bool {
	return tio.Cc[i] != 0 && tio.Cc[i] == c
}

// inputLenLocked is the bytes held for the slave to read, line in progress included.
func (t *Terminal) inputLenLocked() int {
	n := len(t.raw) + len(t.line)
	for _, l := range t.lines {
		n += len(l)
	}
	return n
}

// readableLocked is what a read of the slave would return now (FIONREAD): complete
// lines in canonical mode, everything otherwise.
func (t *Terminal) readableLocked() int {
	if t.slave.Lflag&unix.ICANON == 0 {
		return len(t.raw)
	}
	n := 0
	for _, l := range t.lines {
		n += len(l)
	}
	return n
}

func (t *Terminal) flushInputLocked() {
	t.raw, t.line, t.lines = t.raw[:0], nil, nil
}

// isControl reports whether ECHOCTL echoes c as ^X.
func isControl(c byte) bool { return (c < 0x20 || c == 0x7f) && c != '\t' && c != '\n' }

// echoLocked echoes c as output (echo_char): a control character as ^X with ECHOCTL.
func (t *Terminal) echoLocked(c byte) {
	if t.slave.Lflag&unix.ECHOCTL != 0 && isControl(c) {
		t.outputLocked([]byte{'^', c ^ 0x40})
		return
	}
	t.outputLocked([]byte{c})
}

// eraseLocked handles ERASE (one character) or KILL (the line), as n_tty's eraser.
func (t *Terminal) eraseLocked(kill bool) {
	lflag := t.slave.Lflag
	if len(t.line) == 0 {
		return
	}
	if lflag&unix.ECHO == 0 {
		if kill {
			t.line = nil
		} else {
			t.line = t.line[:len(t.line)-1]
		}
		return
	}
	if kill && (lflag&unix.ECHOK == 0 || lflag&unix.ECHOKE == 0 || lflag&unix.ECHOE == 0) {
		t.line = nil
		t.echoLocked(t.slave.Cc[unix.VKILL])
		if lflag&unix.ECHOK != 0 {
			t.outputLocked([]byte{'\n'})
		}
		return
	}
	if !kill && lflag&unix.ECHOE == 0 {
		t.line = t.line[:len(t.line)-1]
		t.echoLocked(t.slave.Cc[unix.VERASE])
		return
	}
	for len(t.line) > 0 {
		c := t.line[len(t.line)-1]
		t.line = t.line[:len(t.line)-1]
		width := 1
		if isControl(c) && lflag&unix.ECHOCTL != 0 {
			width = 2
		}
		for range width {
			t.out = append(t.out, '\b', ' ', '\b')
		}
		if !kill {
			break
		}
	}
}

// outputLocked appends src to what the master reads, processed as the slave's
// oflag says (do_output_char): ONLCR, OCRNL, ONLRET, ONOCR.
func (t *Terminal) outputLocked(src []byte) {
	oflag := t.slave.Oflag
	if oflag&unix.OPOST == 0 {
		t.out = append(t.out, src...)
		return
	}
	for _, c := range src {
		switch {
		case c == '\n' && oflag&unix.ONLCR != 0:
			t.out = append(t.out, '\r', '\n')
			t.column = 0
			continue
		case c == '\n' && oflag&unix.ONLRET != 0:
			t.column = 0
		case c == '\r' && oflag&unix.ONOCR != 0 && t.column == 0:
			continue
		case c == '\r' && oflag&unix.OCRNL != 0:
			c = '\n'
			if oflag&unix.ONLRET != 0 {
				t.column = 0
			}
		case c == '\r':
			t.column = 0
		case c == '\b':
			if t.column > 0 {
				t.column--
			}
		case c >= 0x20 && c != 0x7f:
			t.column++
		}
		t.out = append(t.out, c)
	}
}

// takeInputLocked removes up to len(dst) bytes of input for a slave read: in canonical
// mode at most one line (an end-of-file line gives 0).
func (t *Terminal) takeInputLocked(dst []byte) int {
	if t.slave.Lflag&unix.ICANON == 0 {
		n := copy(dst, t.raw)
		t.raw = t.raw[n:]
		return n
	}
	l := t.lines[0]
	n := copy(dst, l)
	if n == len(l) {
		t.lines = t.lines[1:]
	} else {
		t.lines[0] = l[n:]
	}
	return n
}

// setTermiosLocked installs new slave termios; leaving canonical mode makes the line
// in progress readable, as n_tty_set_termios.
func (t *Terminal) setTermiosLocked(tio unix.Termios) {
	wasCanon := t.slave.Lflag&unix.ICANON != 0
	t.slave = tio
	if wasCanon && tio.Lflag&unix.ICANON == 0 {
		for _, l := range t.lines {
			t.raw = append(t.raw, l...)
		}
		t.raw = append(t.raw, t.line...)
		t.lines, t.line = nil, nil
	} else if !wasCanon && tio.Lflag&unix.ICANON != 0 && len(t.raw) > 0 {
		t.line = append(t.line, t.raw...)
		t.raw = t.raw[:0]
	}
}
