package unix

import (
	"fmt"

	sys "golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Bound reports whether the socket has a name.
func (so *Socket) Bound() bool {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	return so.s.addr.Name != ""
}

// Bind gives the socket the name a: EINVAL if it has one, EADDRINUSE if an abstract
// name is taken (a path's inode was made fresh by the caller).
func (so *Socket) Bind(a Addr) error {
	s := so.s
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.addr.Name != "" {
		return sys.EINVAL
	}
	if a.Abstract() {
		k := abstractKey(s.typ, a.Name)
		if ns.abstract[k] != nil {
			return sys.EADDRINUSE
		}
		ns.abstract[k] = s
	} else {
		ns.paths[a.Key] = s
	}
	s.addr = a
	return nil
}

// Autobind gives an unnamed socket an abstract name of five hex digits, as
// unix_autobind; a named socket keeps its name.
func (so *Socket) Autobind() error {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	return so.s.autobindLocked()
}

func (s *sock) autobindLocked() error {
	ns := s.ns
	if s.addr.Name != "" {
		return nil
	}
	for range 0x100000 {
		name := fmt.Sprintf("\x00%05x", ns.autobind&0xfffff)
		ns.autobind++
		if k := abstractKey(s.typ, name); ns.abstract[k] == nil {
			ns.abstract[k] = s
			s.addr = Addr{Name: name}
			return nil
		}
	}
	return sys.ENOSPC
}

// Name is the socket's name (getsockname), and Peer its peer's (getpeername:
// ENOTCONN without one).
func (so *Socket) Name() Addr {
	so.s.ns.mu.Lock()
	defer so.s.ns.mu.Unlock()
	return so.s.addr
}

// Peer returns the name of the socket's peer.
func (so *Socket) Peer() (Addr, error) {
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if s.peer == nil || s.state != stateConnected {
		return Addr{}, sys.ENOTCONN
	}
	return s.peer.addr, nil
}

// Listen makes a named stream or seqpacket socket accept connections, as unix_listen;
// cred is the listener's, which connecting sockets see as SO_PEERCRED.
func (so *Socket) Listen(backlog int, cred Cred) error {
	s := so.s
	if s.typ == sys.SOCK_DGRAM {
		return sys.EOPNOTSUPP
	}
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if s.addr.Name == "" {
		return sys.EINVAL
	}
	if s.state != stateUnconnected && s.state != stateListening {
		return sys.EINVAL
	}
	if uint(backlog) > somaxconn {
		backlog = somaxconn
	}
	s.backlog = backlog
	s.state = stateListening
	c := cred
	s.peerCred = &c
	s.changedLocked()
	return nil
}

// abstractKey is where an abstract name is kept: each type has its own names, as
// Linux hashes the type with the name.
func abstractKey(typ int, name string) string { return string(rune('0'+typ)) + name }

// findLocked returns the socket named a, as unix_find_other: ECONNREFUSED if none
// (abstract names are per type), EPROTOTYPE if the socket at a path is of another
// type.
func (s *sock) findLocked(a Addr) (*sock, error) {
	var o *sock
	if a.Abstract() {
		o = s.ns.abstract[abstractKey(s.typ, a.Name)]
	} else {
		o = s.ns.paths[a.Key]
	}
	if o == nil || o.released {
		return nil, sys.ECONNREFUSED
	}
	if o.typ != s.typ {
		return nil, sys.EPROTOTYPE
	}
	return o, nil
}

// Connect connects the socket to the one named a: a stream or seqpacket socket to a
// listener (unix_stream_connect), a datagram socket to its default destination
// (unix_dgram_connect; an empty a with unspec disconnects). cred is the caller's.
func (so *Socket) Connect(ctx vfs.Context, a Addr, unspec, nonblock bool, cred Cred) error {
	s := so.s
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.typ == sys.SOCK_DGRAM {
		return s.connectDgramLocked(a, unspec)
	}
	if unspec {
		return sys.EINVAL
	}
	if s.passcred {
		if err := s.autobindLocked(); err != nil {
			return err
		}
	}
	dl := deadline(s.sndtimeo)
	for {
		l, err := s.findLocked(a)
		if err != nil {
			return err
		}
		if l.state != stateListening || l.shutdown&rcvShutdown != 0 {
			return sys.ECONNREFUSED
		}
		if len(l.pending) > l.backlog {
			if nonblock || ctx == nil {
				return sys.EAGAIN
			}
			if err := s.wait(ctx, l, dl); err != nil {
				return err
			}
			continue
		}
		switch s.state {
		case stateUnconnected:
		case stateConnected:
			return sys.EISCONN
		default:
			return sys.EINVAL
		}
		// The server's end, connected now, accepted later.
		n := newSock(s.v, ns, s.typ)
		n.state, n.peer, n.addr = stateConnected, s, l.addr
		n.passcred, n.sndbuf, n.rcvbuf = l.passcred, l.sndbuf, l.rcvbuf
		c := cred
		n.peerCred = &c
		lc := *l.peerCred
		s.peerCred = &lc
		s.state, s.peer = stateConnected, n
		l.pending = append(l.pending, n)
		l.changedLocked()
		s.changedLocked()
		return nil
	}
}

func (s *sock) connectDgramLocked(a Addr, unspec bool) error {
	if unspec {
		s.disconnectLocked()
		return nil
	}
	if s.passcred {
		if err := s.autobindLocked(); err != nil {
			return err
		}
	}
	o, err := s.findLocked(a)
	if err != nil {
		return err
	}
	if o.peer != nil && o.peer != s {
		return sys.EPERM // unix_may_send
	}
	if s.peer != nil && s.peer != o {
		s.disconnectLocked()
	}
	s.peer, s.state = o, stateConnected
	s.changedLocked()
	return nil
}

// disconnectLocked forgets a datagram socket's destination.
func (s *sock) disconnectLocked() {
	if p := s.peer; p != nil {
		p.changedLocked()
	}
	s.peer, s.state = nil, stateUnconnected
	s.changedLocked()
}

// Accept takes a connection off a listener, as unix_accept, and returns its
// description with flags (O_NONBLOCK).
func (so *Socket) Accept(ctx vfs.Context, nonblock bool, flags int) (*vfs.FileDescription, error) {
	s := so.s
	if s.typ == sys.SOCK_DGRAM {
		return nil, sys.EOPNOTSUPP
	}
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if s.state != stateListening {
		return nil, sys.EINVAL
	}
	dl := deadline(s.rcvtimeo)
	for len(s.pending) == 0 {
		if nonblock || ctx == nil {
			return nil, sys.EAGAIN
		}
		if err := s.wait(ctx, s, dl); err != nil {
			return nil, err
		}
		if s.state != stateListening {
			return nil, sys.EINVAL
		}
	}
	n := s.pending[0]
	s.pending = s.pending[1:]
	s.changedLocked()
	return n.file(flags), nil
}

// Shutdown shuts down reception (SHUT_RD), sending (SHUT_WR) or both, as
// unix_shutdown; a stream or seqpacket peer has the other direction shut.
func (so *Socket) Shutdown(how int) error {
	if how < sys.SHUT_RD || how > sys.SHUT_RDWR {
		return sys.EINVAL
	}
	mode := how + 1 // SHUT_RD → rcvShutdown, SHUT_WR → sendShutdown
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	s.shutdown |= mode
	if p := s.peer; p != nil && s.typ != sys.SOCK_DGRAM {
		peerMode := 0
		if mode&rcvShutdown != 0 {
			peerMode |= sendShutdown
		}
		if mode&sendShutdown != 0 {
			peerMode |= rcvShutdown
		}
		p.shutdown |= peerMode
	}
	s.wakeLocked()
	return nil
}
