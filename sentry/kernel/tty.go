package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/fsimpl/devpts"
)

// Controlling terminals, as drivers/tty/tty_jobctrl.c. Each process has a controlling
// terminal or none (Process.ctty, inherited by fork, dropped by setsid); a terminal
// records the session it controls and its foreground process group (devpts.Terminal's
// Session). A session leader without one acquires a terminal by opening it without
// O_NOCTTY or by TIOCSCTTY. A process outside the foreground group that reads its
// controlling terminal, or writes it with TOSTOP, is sent SIGTTIN or SIGTTOU
// (CheckTTYAccess). k.mu is taken before a terminal's lock.

// capSysAdmin is CAP_SYS_ADMIN.
const capSysAdmin = 21

// SignalGroup implements devpts.Kernel: sig, from the kernel, to every process of
// group pgrp.
func (k *Kernel) SignalGroup(pgrp int32, sig unix.Signal) {
	k.mu.Lock()
	targets := k.groupTargetsLocked(pgrp, sig)
	k.mu.Unlock()
	var info arch.SignalInfo
	info.Code = arch.SI_KERNEL
	for _, t := range targets {
		t.Queue(int(sig), info)
	}
}

// groupTargetsLocked is the thread each live process of group pgrp gets sig on. k.mu
// is held.
func (k *Kernel) groupTargetsLocked(pgrp int32, sig unix.Signal) []*Task {
	var targets []*Task
	for _, q := range k.procs {
		if q.pgid == pgrp && q.exit == nil && len(q.threads) > 0 {
			targets = append(targets, q.signalTarget(sig))
		}
	}
	return targets
}

// HangUp implements devpts.Kernel, as tty_signal_session_leader: the processes tty
// controls lose it, and the session's leader gets SIGHUP and SIGCONT.
func (k *Kernel) HangUp(tty *devpts.Terminal) {
	k.mu.Lock()
	sid, _ := tty.Session()
	var leaders []*Task
	for _, q := range k.procs {
		if q.ctty == tty {
			q.ctty = nil
		}
		if sid != 0 && q.PID == sid && q.sid == sid && q.exit == nil && len(q.threads) > 0 {
			leaders = append(leaders, q.signalTarget(unix.SIGHUP))
		}
	}
	tty.SetSession(0, 0)
	k.mu.Unlock()
	var info arch.SignalInfo
	info.Code = arch.SI_KERNEL
	for _, l := range leaders {
		l.Queue(int(unix.SIGHUP), info)
		l.Queue(int(unix.SIGCONT), info)
	}
}

// sessionClearTTYLocked drops the controlling terminal of every process of session
// sid (session_clear_tty). k.mu is held.
func (k *Kernel) sessionClearTTYLocked(sid int32) {
	for _, q := range k.procs {
		if q.sid == sid {
			q.ctty = nil
		}
	}
}

// ControllingTTY returns t's process's controlling terminal, or nil.
func (t *Task) ControllingTTY() *devpts.Terminal {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.Proc.ctty
}

// CheckTTYAccess implements devpts.JobControl, as __tty_check_change: a process whose
// controlling terminal is tty, outside its foreground group, sends sig to its own
// group and makes the call wait for it (ERESTARTSYS); EIO instead if its group is
// orphaned, or for SIGTTIN if it blocks or ignores the signal (which it may then
// ignore for SIGTTOU).
func (t *Task) CheckTTYAccess(tty *devpts.Terminal, sig unix.Signal) error {
	k := t.k
	k.mu.Lock()
	p := t.Proc
	if p.ctty != tty {
		k.mu.Unlock()
		return nil
	}
	_, fg := tty.Session()
	if fg == 0 || fg == p.pgid {
		k.mu.Unlock()
		return nil
	}
	t.sigMu.Lock()
	blocked := t.SigMask&sigBit(int(sig)) != 0
	t.sigMu.Unlock()
	if blocked || p.sig[sig-1].Handler == sigIgn {
		k.mu.Unlock()
		if sig == unix.SIGTTIN {
			return unix.EIO
		}
		return nil
	}
	if k.orphanedPgrpLocked(p.pgid) {
		k.mu.Unlock()
		return unix.EIO
	}
	pgid := p.pgid
	k.mu.Unlock()
	k.SignalGroup(pgid, sig)
	return ERESTARTSYS
}

// OpenedTTY is told that t opened tty (flags are open's): a session leader with no
// controlling terminal acquires it if no session has it, it was opened for reading
// and without O_NOCTTY (tty_open_proc_set_tty).
func (t *Task) OpenedTTY(tty *devpts.Terminal, flags int) {
	if flags&unix.O_NOCTTY != 0 || flags&unix.O_ACCMODE == unix.O_WRONLY {
		return
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	if sid, _ := tty.Session(); p.sid == p.PID && p.ctty == nil && sid == 0 {
		p.ctty = tty
		tty.SetSession(p.sid, p.pgid)
	}
}

// SetControllingTTY makes tty t's session's controlling terminal, as TIOCSCTTY
// (tiocsctty): t must lead its session and have none (EPERM); a terminal another
// session has is taken only with steal and CAP_SYS_ADMIN (EPERM); the description
// must be readable unless the caller has CAP_SYS_ADMIN.
func (t *Task) SetControllingTTY(tty *devpts.Terminal, steal, readable bool) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	sid, _ := tty.Session()
	leader := p.sid == p.PID
	if leader && sid == p.sid {
		return nil
	}
	if !leader || p.ctty != nil {
		return unix.EPERM
	}
	admin := t.Creds.HasCap(capSysAdmin)
	if sid != 0 {
		if !steal || !admin {
			return unix.EPERM
		}
		k.sessionClearTTYLocked(sid)
	}
	if !readable && !admin {
		return unix.EPERM
	}
	p.ctty = tty
	tty.SetSession(p.sid, p.pgid)
	return nil
}

// DropControllingTTY gives up t's controlling terminal tty, as TIOCNOTTY: ENOTTY if
// tty is not it. A session leader's drop also ends the terminal's tie to the session
// (the foreground group gets SIGHUP and SIGCONT, every process of the session loses
// it: disassociate_ctty); another process only forgets it.
func (t *Task) DropControllingTTY(tty *devpts.Terminal) error {
	k := t.k
	k.mu.Lock()
	p := t.Proc
	if p.ctty != tty {
		k.mu.Unlock()
		return unix.ENOTTY
	}
	if p.sid != p.PID {
		p.ctty = nil
		k.mu.Unlock()
		return nil
	}
	_, fg := tty.Session()
	k.mu.Unlock()
	if fg != 0 {
		k.SignalGroup(fg, unix.SIGHUP)
		k.SignalGroup(fg, unix.SIGCONT)
	}
	k.mu.Lock()
	tty.SetSession(0, 0)
	k.sessionClearTTYLocked(p.sid)
	k.mu.Unlock()
	return nil
}

// leaderExitedLocked is what a session leader's exit does to its controlling
// terminal (disassociate_ctty on exit): the foreground group gets SIGHUP, and the
// session loses the terminal. It returns the group to signal. k.mu is held.
func (p *Process) leaderExitedLocked(k *Kernel) int32 {
	tty := p.ctty
	if tty == nil || p.sid != p.PID {
		return 0
	}
	_, fg := tty.Session()
	tty.SetSession(0, 0)
	k.sessionClearTTYLocked(p.sid)
	return fg
}

// ForegroundGroup returns tty's foreground process group, as TIOCGPGRP: through the
// slave (master false) only for the terminal that controls the caller (ENOTTY).
func (t *Task) ForegroundGroup(tty *devpts.Terminal, master bool) (int32, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if !master && t.Proc.ctty != tty {
		return 0, unix.ENOTTY
	}
	_, fg := tty.Session()
	return t.Proc.ns.rootIDInLocked(fg), nil
}

// TTYSession returns the session tty controls, as TIOCGSID: ENOTTY through the slave
// of a terminal that doesn't control the caller, or if it controls no session.
func (t *Task) TTYSession(tty *devpts.Terminal, master bool) (int32, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if !master && t.Proc.ctty != tty {
		return 0, unix.ENOTTY
	}
	sid, _ := tty.Session()
	if sid == 0 {
		return 0, unix.ENOTTY
	}
	return t.Proc.ns.rootIDInLocked(sid), nil
}

// SetForegroundGroup makes pgrp tty's foreground group, as TIOCSPGRP after its
// job-control check: tty must be the caller's controlling terminal, of its session
// (ENOTTY); pgrp must exist (ESRCH) in the caller's session (EPERM).
func (t *Task) SetForegroundGroup(tty *devpts.Terminal, pgrp int32) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := t.Proc
	sid, _ := tty.Session()
	if p.ctty != tty || sid != p.sid {
		return unix.ENOTTY
	}
	// session_of_pgrp: a member of the group, else the process with that ID (in the
	// caller's PID namespace).
	ns := p.ns
	var of *Process
	root := int32(0)
	for _, q := range ns.procs {
		if q.pgrp.in(ns) == pgrp && q.exit == nil {
			of, root = q, q.pgid
			break
		}
	}
	if of == nil {
		if q := ns.procs[pgrp]; q != nil && q.exit == nil {
			of, root = q, q.PID
		}
	}
	if of == nil {
		return unix.ESRCH
	}
	if of.sid != p.sid {
		return unix.EPERM
	}
	tty.SetForeground(root)
	return nil
}
