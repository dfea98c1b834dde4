package unix

import (
	"time"

	sys "golang.org/x/sys/unix"
)

// GetOpt returns the value of the SOL_SOCKET option name, as sk_getsockopt; ok is
// false for an option AF_UNIX sockets don't support here.
func (so *Socket) GetOpt(name int) (v int32, ok bool) {
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	switch name {
	case sys.SO_TYPE:
		return int32(s.typ), true
	case sys.SO_DOMAIN:
		return sys.AF_UNIX, true
	case sys.SO_PROTOCOL:
		return 0, true
	case sys.SO_ERROR:
		err := s.err
		s.err = 0
		return int32(err), true
	case sys.SO_ACCEPTCONN:
		return boolInt(s.state == stateListening), true
	case sys.SO_SNDBUF:
		return int32(s.sndbuf), true
	case sys.SO_RCVBUF:
		return int32(s.rcvbuf), true
	case sys.SO_PASSCRED:
		return boolInt(s.passcred), true
	case sys.SO_OOBINLINE:
		return boolInt(s.oobInline), true
	}
	return 0, false
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// SetOpt sets the SOL_SOCKET option name to v, as sk_setsockopt: buffer sizes are
// capped at the maximum and doubled (the kernel's bookkeeping overhead); ok is false
// for an option not supported here.
func (so *Socket) SetOpt(name int, v int32) (ok bool) {
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	switch name {
	case sys.SO_SNDBUF:
		s.sndbuf = max(int(min(uint32(v), maxBuf))*2, minSndBuf)
	case sys.SO_RCVBUF:
		s.rcvbuf = max(int(min(uint32(v), maxBuf))*2, minRcvBuf)
	case sys.SO_PASSCRED:
		s.passcred = v != 0
	case sys.SO_OOBINLINE:
		s.oobInline = v != 0
	default:
		return false
	}
	s.changedLocked()
	return true
}

// PeerCred is SO_PEERCRED: the credentials of the peer when it connected (or of the
// listener, for the connecting side; of the creator, for a pair); pid 0 and IDs -1
// without a peer.
func (so *Socket) PeerCred() Cred {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	if c := so.s.peerCred; c != nil {
		return *c
	}
	return Cred{PID: 0, UID: ^uint32(0), GID: ^uint32(0)}
}

// Timeout is SO_RCVTIMEO (send false) or SO_SNDTIMEO (send true): zero for none.
func (so *Socket) Timeout(send bool) time.Duration {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	d := so.s.rcvtimeo
	if send {
		d = so.s.sndtimeo
	}
	return max(d, 0)
}

// SetTimeout sets SO_RCVTIMEO or SO_SNDTIMEO: zero for none, negative for no wait
// at all (sock_set_timeout).
func (so *Socket) SetTimeout(send bool, d time.Duration) {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	if send {
		so.s.sndtimeo = d
	} else {
		so.s.rcvtimeo = d
	}
}
