package protocol

import (
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeServer is the server end of a socketpair whose client end is a
// Client; tests script its replies.
type fakeServer struct {
	t         *testing.T
	fd        int
	closeOnce sync.Once
}

func newPair(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(fds[0])
	s := &fakeServer{t: t, fd: fds[1]}
	t.Cleanup(func() {
		c.Close()
		s.close()
	})
	return c, s
}

func (s *fakeServer) close() {
	s.closeOnce.Do(func() { unix.Close(s.fd) })
}

// recv returns the next request.
func (s *fakeServer) recv() (uint32, Message) {
	buf := make([]byte, MaxMessageSize)
	n, fds, err := RecvPacket(s.fd, buf, make([]byte, OOBSize))
	if err != nil || len(fds) != 0 {
		s.t.Errorf("fake server: receiving: %v, %d FDs", err, len(fds))
		return 0, nil
	}
	tag, m, err := Decode(buf[:n])
	if err != nil {
		s.t.Errorf("fake server: %v", err)
	}
	return tag, m
}

func (s *fakeServer) send(tag uint32, m Message, fds ...int) {
	b, err := Encode(tag, m)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := SendPacket(s.fd, b, fds); err != nil {
		s.t.Errorf("fake server: sending: %v", err)
	}
}

// pipeFD returns the write end of a new pipe, and a function reporting
// whether every copy of it has been closed.
func pipeFD(t *testing.T) (int, func() bool) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]) })
	return p[1], func() bool {
		n, err := unix.Read(p[0], make([]byte, 1))
		return n == 0 && err == nil // EOF: no writer left
	}
}

func TestClientMatchesOutOfOrderReplies(t *testing.T) {
	c, s := newPair(t)
	const calls = 8
	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Stat(FID(i))
			if err == nil && st.Ino != uint64(i) {
				err = errors.New("answer of another call")
			}
			errs[i] = err
		}()
	}
	type req struct {
		tag uint32
		fid FID
	}
	var reqs []req
	for range calls {
		tag, m := s.recv()
		reqs = append(reqs, req{tag, m.(*Tstat).FID})
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		s.send(reqs[i].tag, &Rstat{Stat: Stat{Ino: uint64(reqs[i].fid)}})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

func TestClientReturnsRerrorAsErrno(t *testing.T) {
	c, s := newPair(t)
	go func() {
		tag, _ := s.recv()
		s.send(tag, &Rerror{Errno: uint32(unix.ENOENT)})
	}()
	_, _, err := c.Attach(0)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("err = %v, want ENOENT", err)
	}
}

func TestClientWalkReturnsPrefixAndErrno(t *testing.T) {
	c, s := newPair(t)
	go func() {
		tag, _ := s.recv()
		s.send(tag, &Rwalk{Nodes: []Node{{FID: 5}}, Errno: uint32(unix.ENOTDIR)})
	}()
	nodes, err := c.Walk(1, []string{"a", "b"})
	if !errors.Is(err, unix.ENOTDIR) || len(nodes) != 1 || nodes[0].FID != 5 {
		t.Errorf("Walk = %v, %v; want one node and ENOTDIR", nodes, err)
	}
}

func TestClientFailsPendingCallsWhenConnectionCloses(t *testing.T) {
	c, s := newPair(t)
	const calls = 4
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := c.Stat(1)
			errs <- err
		}()
	}
	for range calls {
		s.recv()
	}
	s.close()
	for range calls {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnClosed) {
				t.Errorf("pending call: err = %v, want ErrConnClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending call still waiting after the server closed")
		}
	}
	if _, err := c.Stat(1); !errors.Is(err, ErrConnClosed) {
		t.Errorf("later call: err = %v, want ErrConnClosed", err)
	}
}

func TestClientCloseFailsPendingCalls(t *testing.T) {
	c, s := newPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Stat(1)
		errc <- err
	}()
	s.recv()
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnClosed) {
			t.Errorf("err = %v, want ErrConnClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending call still waiting after Close")
	}
}

func TestClientClosesFDsOfBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(s *fakeServer, tag uint32, fd int)
		call  func(c *Client) error
	}{
		{"FD on a reply that carries none", func(s *fakeServer, tag uint32, fd int) {
			s.send(tag, &Rstat{}, fd)
		}, func(c *Client) error { _, err := c.Stat(1); return err }},
		{"FD on an Rerror", func(s *fakeServer, tag uint32, fd int) {
			s.send(tag, &Rerror{Errno: uint32(unix.EACCES)}, fd)
		}, func(c *Client) error { _, err := c.Open(1, 0); return err }},
		{"two FDs on an Ropen", func(s *fakeServer, tag uint32, fd int) {
			s.send(tag, &Ropen{}, fd, fd)
		}, func(c *Client) error { _, err := c.Open(1, 0); return err }},
		{"wrong reply type", func(s *fakeServer, tag uint32, fd int) {
			s.send(tag, &Rcreate{}, fd)
		}, func(c *Client) error { _, err := c.Open(1, 0); return err }},
		{"malformed body", func(s *fakeServer, tag uint32, fd int) {
			b := packet(MsgRopen, tag, 1, 2, 3)
			if err := SendPacket(s.fd, b, []int{fd}); err != nil {
				s.t.Error(err)
			}
		}, func(c *Client) error { _, err := c.Open(1, 0); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newPair(t)
			fd, allClosed := pipeFD(t)
			served := make(chan struct{})
			go func() {
				defer close(served)
				tag, _ := s.recv()
				tt.reply(s, tag, fd)
				unix.Close(fd)
			}()
			if err := tt.call(c); err == nil {
				t.Fatal("call succeeded")
			}
			// The server's own copy is closed after the reply is sent, which may be
			// after the call has returned: only then must no writer be left.
			<-served
			if !allClosed() {
				t.Error("the client kept a received FD open")
			}
			// A bad body with a sound header fails only its own call.
			go func() {
				tag, _ := s.recv()
				s.send(tag, &Rstat{})
			}()
			if _, err := c.Stat(1); err != nil {
				t.Errorf("next call: %v", err)
			}
		})
	}
}

func TestClientGivesUpOnAnUnframedReply(t *testing.T) {
	c, s := newPair(t)
	go func() {
		s.recv()
		SendPacket(s.fd, []byte{1, 2, 3}, nil)
	}()
	if _, err := c.Stat(1); !errors.Is(err, ErrConnClosed) {
		t.Errorf("err = %v, want ErrConnClosed", err)
	}
}

func TestClientOpenReturnsTheFD(t *testing.T) {
	c, s := newPair(t)
	fd, _ := pipeFD(t)
	go func() {
		tag, m := s.recv()
		if o, ok := m.(*Topen); !ok || o.Flags != unix.O_WRONLY {
			t.Errorf("request %+v", m)
		}
		s.send(tag, &Ropen{}, fd)
		unix.Close(fd)
	}()
	got, err := c.Open(3, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(got)
	if _, err := unix.Write(got, []byte("x")); err != nil {
		t.Errorf("writing the received pipe FD: %v", err)
	}
}
