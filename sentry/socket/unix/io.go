package unix

import (
	sys "golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Control is what a send carries besides its bytes.
type Control struct {
	// Files are SCM_RIGHTS's; the message takes these references when it is queued
	// (Send drops them when it fails).
	Files []*vfs.FileDescription
	// Cred is SCM_CREDENTIALS's, checked by the caller; nil: the sender's own.
	Cred *Cred
}

// Credentialed is implemented by a vfs.Context that is a task: who sends, as
// SCM_CREDENTIALS shows it when the sender gave none.
type Credentialed interface {
	UnixCred() (pid int32, uid, gid uint32)
}

func credOf(ctx vfs.Context) Cred {
	if c, ok := ctx.(Credentialed); ok {
		pid, uid, gid := c.UnixCred()
		return Cred{PID: pid, UID: uid, GID: gid}
	}
	return nobody
}

// Send flags the sockets look at (include/linux/socket.h).
const (
	msgOOB      = 0x1
	msgPeek     = 0x2
	msgTrunc    = 0x20
	msgDontwait = 0x40
	msgWaitall  = 0x100
)

// Send sends data (to the socket named to, for a datagram socket that gives one),
// with ctl, as unix_stream_sendmsg, unix_dgram_sendmsg and unix_seqpacket_sendmsg.
// It returns the bytes sent; EPIPE is for the caller to turn into SIGPIPE (streams,
// without MSG_NOSIGNAL).
func (so *Socket) Send(ctx vfs.Context, data []byte, to *Addr, ctl Control, flags int, nonblock bool) (int, error) {
	cred := credOf(ctx)
	if ctl.Cred != nil {
		cred = *ctl.Cred
	}
	s := so.s
	files := ctl.Files
	s.ns.mu.Lock()
	n, err := s.sendLocked(ctx, data, to, &files, cred, flags, nonblock || flags&msgDontwait != 0)
	s.ns.mu.Unlock()
	releaseFiles(files) // those no message took
	return n, err
}

func (s *sock) sendLocked(ctx vfs.Context, data []byte, to *Addr, files *[]*vfs.FileDescription, cred Cred, flags int, nonblock bool) (int, error) {
	if flags&msgOOB != 0 && (s.typ != sys.SOCK_STREAM || len(data) == 0) {
		return 0, sys.EOPNOTSUPP
	}
	switch s.typ {
	case sys.SOCK_STREAM:
		if to != nil {
			if s.state == stateConnected {
				return 0, sys.EISCONN
			}
			return 0, sys.EOPNOTSUPP
		}
		if flags&msgOOB != 0 {
			// unix_stream_sendmsg: all but the last byte as usual, then that byte
			// out of band (queue_oob).
			last := len(data) - 1
			n, err := s.sendStreamLocked(ctx, data[:last], files, cred, nonblock)
			if err != nil || n < last {
				return n, err
			}
			if err := s.queueOOBLocked(data[last:], files, cred); err != nil {
				return sentOr(n, err)
			}
			return n + 1, nil
		}
		return s.sendStreamLocked(ctx, data, files, cred, nonblock)
	case sys.SOCK_SEQPACKET:
		if err := s.takeErrLocked(); err != nil {
			return 0, err
		}
		if s.state != stateConnected {
			return 0, sys.ENOTCONN
		}
		to = nil
	}
	return s.sendDgramLocked(ctx, data, to, files, cred, nonblock)
}

// CheckSend makes the checks a send of n bytes (to a name, if hasTo) makes before
// any byte is copied from the sender, as the sendmsg functions of af_unix.c do: a
// stream's or seqpacket's connection, a datagram's size. A datagram socket's peer
// and destination are looked at only after its bytes are copied (so a bad buffer is
// EFAULT before ENOTCONN or ECONNREFUSED), by Send.
func (so *Socket) CheckSend(hasTo bool, n, flags int) error {
	s := so.s
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	// MSG_OOB: a stream's last byte goes out of band, so it needs one
	// (unix_stream_sendmsg); other types have no OOB data.
	if flags&msgOOB != 0 && (s.typ != sys.SOCK_STREAM || n == 0) {
		return sys.EOPNOTSUPP
	}
	switch s.typ {
	case sys.SOCK_STREAM:
		switch {
		case hasTo && s.state == stateConnected:
			return sys.EISCONN
		case hasTo:
			return sys.EOPNOTSUPP
		case s.peer == nil:
			return sys.ENOTCONN
		case s.shutdown&sendShutdown != 0:
			return sys.EPIPE
		}
		return nil
	case sys.SOCK_SEQPACKET:
		if err := s.takeErrLocked(); err != nil {
			return err
		}
		if s.state != stateConnected {
			return sys.ENOTCONN
		}
	}
	if n > s.sndbuf-32 {
		return sys.EMSGSIZE
	}
	return nil
}

// takeErrLocked returns and clears the pending error (sock_error).
func (s *sock) takeErrLocked() error {
	if s.err == 0 {
		return nil
	}
	err := s.err
	s.err = 0
	return err
}

// enqueueLocked puts a message on r's queue, charged to s.
func (s *sock) enqueueLocked(r *sock, data []byte, files []*vfs.FileDescription, cred Cred) {
	m := &message{data: append([]byte(nil), data...), from: s.addr, cred: cred, files: files,
		sender: s, size: len(data) + overhead}
	for _, f := range files {
		if Of(f) != nil {
			s.ns.inflight++
		}
	}
	s.wmem += m.size
	r.queue = append(r.queue, m)
	r.queued += len(data)
	r.changedLocked()
	s.changedLocked()
}

func (s *sock) sendStreamLocked(ctx vfs.Context, data []byte, files *[]*vfs.FileDescription, cred Cred, nonblock bool) (int, error) {
	if s.peer == nil {
		return 0, sys.ENOTCONN
	}
	if s.shutdown&sendShutdown != 0 {
		return 0, sys.EPIPE
	}
	sent := 0
	dl := deadline(s.sndtimeo)
	// Files go with the first piece; a send of nothing sends nothing, as Linux.
	for sent < len(data) {
		// Keep two messages in the pipe, as Linux does.
		size := min(len(data)-sent, s.sndbuf/2-64)
		for s.wmem >= s.sndbuf {
			if nonblock || ctx == nil {
				return sentOr(sent, sys.EAGAIN)
			}
			if err := s.wait(ctx, s, dl); err != nil {
				return sentOr(sent, err)
			}
			if s.shutdown&sendShutdown != 0 {
				return sentOr(sent, sys.EPIPE)
			}
		}
		p := s.peer
		if p == nil || p.released || p.shutdown&rcvShutdown != 0 {
			return sentOr(sent, sys.EPIPE)
		}
		s.enqueueLocked(p, data[sent:sent+size], *files, cred)
		*files = nil
		sent += size
	}
	return sent, nil
}

// queueOOBLocked queues b, one byte, as the peer's out-of-band byte (queue_oob): it
// becomes the mark, and an older OOB byte not yet taken becomes ordinary data. The
// SIGURG Linux sends the peer's owner is not sent: descriptions have no owner
// (F_SETOWN) here.
func (s *sock) queueOOBLocked(b []byte, files *[]*vfs.FileDescription, cred Cred) error {
	p := s.peer
	if p == nil || p.released || p.shutdown&rcvShutdown != 0 {
		return sys.EPIPE
	}
	s.enqueueLocked(p, b, *files, cred)
	*files = nil
	p.oob = p.queue[len(p.queue)-1]
	return nil
}

// sentOr is what a transfer interrupted by err returns: the count, if any.
func sentOr(n int, err error) (int, error) {
	if n > 0 {
		return n, nil
	}
	return 0, err
}

func (s *sock) sendDgramLocked(ctx vfs.Context, data []byte, to *Addr, files *[]*vfs.FileDescription, cred Cred, nonblock bool) (int, error) {
	var r *sock
	if to == nil {
		if s.peer == nil {
			return 0, sys.ENOTCONN
		}
		r = s.peer
	}
	if s.passcred {
		if err := s.autobindLocked(); err != nil {
			return 0, err
		}
	}
	if len(data) > s.sndbuf-32 {
		return 0, sys.EMSGSIZE
	}
	dl := deadline(s.sndtimeo)
	for {
		if s.wmem >= s.sndbuf {
			if nonblock || ctx == nil {
				return 0, sys.EAGAIN
			}
			if err := s.wait(ctx, s, dl); err != nil {
				return 0, err
			}
			continue
		}
		if to != nil {
			var err error
			if r, err = s.findLocked(*to); err != nil {
				return 0, err
			}
		}
		if r.released {
			if s.typ == sys.SOCK_SEQPACKET {
				return 0, sys.EPIPE
			}
			if r == s.peer {
				s.peer, s.state = nil, stateUnconnected
				s.changedLocked()
			}
			return 0, sys.ECONNREFUSED
		}
		if r.peer != nil && r.peer != s {
			return 0, sys.EPERM // unix_may_send
		}
		if r.shutdown&rcvShutdown != 0 {
			return 0, sys.EPIPE
		}
		if r.peer != s && len(r.queue) > maxDgramQlen {
			if nonblock || ctx == nil {
				return 0, sys.EAGAIN
			}
			if err := s.wait(ctx, r, dl); err != nil {
				return 0, err
			}
			continue
		}
		s.enqueueLocked(r, data, *files, cred)
		*files = nil
		return len(data), nil
	}
}

// Received is what a receive got.
type Received struct {
	// Data is the bytes received (at most what was asked for); Len is the datagram's
	// whole length (MSG_TRUNC).
	Data []byte
	Len  int
	// Trunc is set when a datagram was longer than asked for.
	Trunc bool
	// OOB is set for the out-of-band byte (MSG_OOB in msg_flags).
	OOB bool
	// From is the sender's name (datagrams).
	From Addr
	// Cred is the sender's credentials, given when the receiver has SO_PASSCRED.
	Cred *Cred
	// Files are SCM_RIGHTS's; the caller owns these references.
	Files []*vfs.FileDescription
}

// Recv receives at most max bytes, as unix_stream_recvmsg and unix_dgram_recvmsg, with
// flags MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT.
func (so *Socket) Recv(ctx vfs.Context, max, flags int, nonblock bool) (Received, error) {
	s := so.s
	nonblock = nonblock || flags&msgDontwait != 0
	s.ns.mu.Lock()
	defer func() {
		dropped := s.dropped
		s.dropped = nil
		s.ns.mu.Unlock()
		releaseFiles(dropped)
	}()
	if flags&msgOOB != 0 {
		if s.typ != sys.SOCK_STREAM {
			return Received{}, sys.EOPNOTSUPP
		}
		if s.state != stateConnected {
			return Received{}, sys.EINVAL
		}
		return s.recvOOBLocked(flags&msgPeek != 0)
	}
	var r Received
	var err error
	if s.typ == sys.SOCK_STREAM {
		r, err = s.recvStreamLocked(ctx, max, flags, nonblock)
	} else {
		r, err = s.recvDgramLocked(ctx, max, flags, nonblock)
	}
	if r.Cred != nil && !s.passcred {
		r.Cred = nil
	}
	return r, err
}

// take returns m's files for the receiver: the message's own references, or new ones
// when it stays queued (MSG_PEEK).
func (s *sock) take(m *message, peek bool) []*vfs.FileDescription {
	if !peek {
		return s.ns.detachLocked(m)
	}
	for _, f := range m.files {
		f.IncRef()
	}
	return m.files
}

func (s *sock) recvDgramLocked(ctx vfs.Context, max, flags int, nonblock bool) (Received, error) {
	if s.typ == sys.SOCK_SEQPACKET && s.state != stateConnected {
		return Received{}, sys.ENOTCONN
	}
	dl := deadline(s.rcvtimeo)
	for {
		// A pending error comes before the queue (__skb_try_recv_datagram).
		if err := s.takeErrLocked(); err != nil {
			return Received{}, err
		}
		if len(s.queue) > 0 {
			break
		}
		if nonblock || ctx == nil {
			if s.typ == sys.SOCK_SEQPACKET && s.shutdown&rcvShutdown != 0 {
				return Received{}, nil
			}
			return Received{}, sys.EAGAIN
		}
		if s.shutdown&rcvShutdown != 0 {
			return Received{}, nil
		}
		if err := s.wait(ctx, s, dl); err != nil {
			return Received{}, err
		}
	}
	peek := flags&msgPeek != 0
	m := s.queue[0]
	if !peek {
		s.dequeueLocked()
		s.changedLocked()
	}
	n := min(max, len(m.data))
	c := m.cred
	return Received{Data: m.data[:n], Len: len(m.data), Trunc: n < len(m.data), From: m.from,
		Cred: &c, Files: s.take(m, peek)}, nil
}

// recvOOBLocked takes (or with peek, reads) the out-of-band byte, as
// unix_stream_recv_urg: EINVAL if none is pending or SO_OOBINLINE is on. Its message
// stays in the queue, empty, as the mark; an empty one before it goes.
func (s *sock) recvOOBLocked(peek bool) (Received, error) {
	m := s.oob
	if s.oobInline || m == nil {
		return Received{}, sys.EINVAL
	}
	data := append([]byte(nil), m.data...)
	if !peek {
		s.oob = nil
		s.queued -= len(m.data)
		m.data = m.data[:0]
		for i, q := range s.queue {
			if q == m {
				if i > 0 && len(s.queue[i-1].data) == 0 {
					s.dropLocked(i - 1)
				}
				break
			}
		}
		s.changedLocked()
	}
	c := m.cred
	return Received{Data: data, Len: len(data), OOB: true, Cred: &c}, nil
}

// dropLocked takes message i off the queue unread: its files are released once
// ns.mu is unlocked.
func (s *sock) dropLocked(i int) {
	m := s.dequeueAtLocked(i)
	s.dropped = append(s.dropped, s.ns.detachLocked(m)...)
}

// manageOOBLocked is manage_oob: where a stream receive that has copied bytes so far
// goes on from message i. An empty message (a taken OOB byte) is passed over, unless
// bytes were copied and it is the mark; the pending OOB byte ends a receive that has
// copied bytes (the mark), and otherwise is passed over (with MSG_PEEK) or dropped,
// unless SO_OOBINLINE makes it ordinary data. It returns stop, or again with the
// message to look at next (possibly past the queue's end: none) when it moved on or
// changed the queue, or i itself, to be read.
func (s *sock) manageOOBLocked(i int, peek bool, copied int) (next int, stop, again bool) {
	m := s.queue[i]
	switch {
	case len(m.data) != 0 && m != s.oob:
		return i, false, false
	case len(m.data) == 0 && copied > 0 && (s.oob == nil || m == s.oob):
		return 0, true, false
	case len(m.data) == 0 && peek:
		return i + 1, false, true
	case len(m.data) == 0:
		s.dropLocked(i)
		return i, false, true
	case copied > 0:
		return 0, true, false // the mark
	case !peek:
		s.oob = nil
		if !s.oobInline {
			s.dropLocked(i)
		}
		return i, false, true
	case !s.oobInline:
		return i + 1, false, true
	}
	return i, false, false
}

func (s *sock) recvStreamLocked(ctx vfs.Context, max, flags int, nonblock bool) (Received, error) {
	if s.state != stateConnected {
		return Received{}, sys.EINVAL
	}
	target := 1
	if flags&msgWaitall != 0 && max > 0 {
		target = max
	}
	peek := flags&msgPeek != 0
	dl := deadline(s.rcvtimeo)
	var r Received
	var data []byte
	i, skip := 0, 0 // with MSG_PEEK: the message and offset reached
	for {
		if i >= len(s.queue) {
			if len(data) >= target {
				break
			}
			if err := s.takeErrLocked(); err != nil {
				if len(data) > 0 {
					s.err = err.(sys.Errno)
					break
				}
				return r, err
			}
			if s.shutdown&rcvShutdown != 0 {
				break
			}
			if nonblock || ctx == nil {
				if len(data) > 0 {
					break
				}
				return r, sys.EAGAIN
			}
			if err := s.wait(ctx, s, dl); err != nil {
				if len(data) > 0 {
					break
				}
				return r, err
			}
			continue
		}
		j, stop, again := s.manageOOBLocked(i, peek, len(data))
		if stop {
			break
		}
		if again {
			if j != i {
				i, skip = j, 0
			}
			if i >= len(s.queue) && len(data) > 0 {
				break
			}
			continue
		}
		m := s.queue[i]
		// Never glue messages from different writers.
		if r.Cred != nil && *r.Cred != m.cred {
			break
		}
		c := m.cred
		r.Cred = &c
		chunk := min(max-len(data), len(m.data)-skip)
		data = append(data, m.data[skip:skip+chunk]...)
		hadFiles := m.files != nil
		if hadFiles {
			r.Files = append(r.Files, s.take(m, peek)...)
		}
		if peek {
			skip += chunk
			if skip == len(m.data) || hadFiles {
				i, skip = i+1, 0
			}
			if hadFiles || len(data) == max {
				break
			}
			continue
		}
		m.data = m.data[chunk:]
		s.queued -= chunk
		if len(m.data) == 0 {
			s.dequeueLocked()
		}
		s.changedLocked()
		if hadFiles || len(data) == max {
			break
		}
	}
	if s.peer != nil {
		s.peer.changedLocked()
	}
	r.Data, r.Len = data, len(data)
	return r, nil
}
