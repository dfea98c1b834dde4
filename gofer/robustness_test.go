package gofer

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/gofer/protocol"
	"golang.org/x/sys/unix"
)

// rawConn is the client end of a served socketpair, spoken to packet by
// packet.
type rawConn struct {
	t    *testing.T
	fd   int
	done chan error
}

func newRawConn(t *testing.T) *rawConn {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(dir+"/file", []byte("x"), 0o644))
	fd, done := serveOnSocketpair(t, Config{Mounts: []Mount{{HostPath: dir}}})
	// No read may hang the test.
	must(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}))
	r := &rawConn{t: t, fd: fd, done: done}
	t.Cleanup(func() {
		unix.Close(fd)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after the client closed")
		}
	})
	return r
}

func (r *rawConn) send(b []byte, fds ...int) {
	if err := protocol.SendPacket(r.fd, b, fds); err != nil {
		r.t.Fatalf("sending: %v", err)
	}
}

func (r *rawConn) sendMsg(tag uint32, m protocol.Message) {
	b, err := protocol.Encode(tag, m)
	must(r.t, err)
	r.send(b)
}

// recv returns the next reply, or io.EOF once the server closed.
func (r *rawConn) recv() (uint32, protocol.Message, error) {
	buf := make([]byte, protocol.MaxMessageSize)
	n, fds, err := protocol.RecvPacket(r.fd, buf, make([]byte, protocol.OOBSize))
	protocol.CloseFDs(fds)
	if err != nil {
		return 0, nil, err
	}
	return protocol.Decode(buf[:n])
}

func header(size uint32, typ protocol.MsgType, tag uint32) []byte {
	b := make([]byte, protocol.HeaderSize)
	binary.LittleEndian.PutUint32(b[0:], size)
	binary.LittleEndian.PutUint16(b[4:], uint16(typ))
	binary.LittleEndian.PutUint32(b[8:], tag)
	return b
}

func TestServerAnswersMalformedRequestsAndCarriesOn(t *testing.T) {
	clunkAll := append(header(protocol.HeaderSize+4, protocol.MsgTclunk, 1), 0xff, 0xff, 0xff, 0xff)
	huge := make([]byte, protocol.MaxMessageSize+1000)
	copy(huge, header(uint32(len(huge)), protocol.MsgTwalk, 1))
	badPad := header(protocol.HeaderSize+4, protocol.MsgTattach, 1)
	badPad[6] = 1
	badPad = append(badPad, 0, 0, 0, 0)
	rattach, _ := protocol.Encode(1, &protocol.Rattach{})
	tests := []struct {
		name   string
		packet []byte
		errno  unix.Errno
	}{
		{"header only, size field huge", header(0xffffffff, protocol.MsgTwalk, 1), unix.EINVAL},
		{"size field smaller than the packet", append(header(protocol.HeaderSize, protocol.MsgTattach, 1), 0, 0, 0, 0), unix.EINVAL},
		{"nonzero padding", badPad, unix.EINVAL},
		{"packet over the maximum size", huge, unix.EINVAL},
		{"truncated body", append(header(protocol.HeaderSize+3, protocol.MsgTstat, 1), 1, 2, 3), unix.EINVAL},
		{"list count beyond the packet", clunkAll, unix.EINVAL},
		{"reply type sent as a request", rattach, unix.EINVAL},
		{"unknown type", header(protocol.HeaderSize, 999, 1), unix.ENOSYS},
		{"type zero", header(protocol.HeaderSize, 0, 1), unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRawConn(t)
			r.send(tt.packet)
			tag, m, err := r.recv()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if e, ok := m.(*protocol.Rerror); !ok || tag != 1 || unix.Errno(e.Errno) != tt.errno {
				t.Errorf("answer %v %+v, want Rerror %v for tag 1", tag, m, tt.errno)
			}
			r.sendMsg(2, &protocol.Tattach{})
			if tag, m, err := r.recv(); err != nil || tag != 2 || m.Type() != protocol.MsgRattach {
				t.Errorf("next request: %v %+v %v", tag, m, err)
			}
		})
	}
}

func TestServerClosesRequestFDsAndRefusesTheRequest(t *testing.T) {
	r := newRawConn(t)
	var p [2]int
	must(t, unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK))
	defer unix.Close(p[0])
	b, _ := protocol.Encode(1, &protocol.Tattach{})
	r.send(b, p[1])
	unix.Close(p[1])
	_, m, err := r.recv()
	if e, ok := m.(*protocol.Rerror); err != nil || !ok || unix.Errno(e.Errno) != unix.EINVAL {
		t.Errorf("answer %+v, %v; want EINVAL", m, err)
	}
	if n, err := unix.Read(p[0], make([]byte, 1)); n != 0 || err != nil {
		t.Errorf("the server kept the FD it was sent (read: %d, %v)", n, err)
	}
}

func TestServerClosesOnPacketsWithoutAHeader(t *testing.T) {
	for _, size := range []int{1, 5, protocol.HeaderSize - 1} {
		r := newRawConn(t)
		r.send(make([]byte, size))
		if _, _, err := r.recv(); err != io.EOF {
			t.Errorf("%d-byte packet: recv = %v, want EOF", size, err)
		}
		select {
		case err := <-r.done:
			if err == nil {
				t.Errorf("%d-byte packet: Serve returned nil, want an error", size)
			}
			r.done <- err // for the cleanup
		case <-time.After(5 * time.Second):
			t.Errorf("%d-byte packet: Serve still running", size)
		}
	}
}

func TestServerSurvivesRandomPackets(t *testing.T) {
	r := newRawConn(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const packets = 300
	for range packets {
		b := make([]byte, protocol.HeaderSize+rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if rng.IntN(2) == 0 {
			// A plausible header, so that bodies get decoded too.
			binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
			binary.LittleEndian.PutUint16(b[4:], uint16(rng.IntN(40)))
			b[6], b[7] = 0, 0
		}
		binary.LittleEndian.PutUint32(b[8:], 1)
		r.send(b)
	}
	r.sendMsg(2, &protocol.Tattach{})
	for answers := 0; ; answers++ {
		tag, m, err := r.recv()
		if err != nil {
			t.Fatalf("after %d answers: %v", answers, err)
		}
		if tag == 2 {
			if m.Type() != protocol.MsgRattach {
				t.Errorf("valid request answered with %+v", m)
			}
			break
		}
	}
}

func TestServerGoingAwayFailsPendingCalls(t *testing.T) {
	dir := t.TempDir()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- Serve(fds[0], Config{Mounts: []Mount{{HostPath: dir}}}) }()
	c := protocol.NewClient(fds[1])
	defer c.Close()
	root, _, err := c.Attach(0)
	must(t, err)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	failed := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := c.Stat(root); err != nil {
					failed <- err
					return
				}
				select {
				case <-stop:
					failed <- nil
					return
				default:
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	// The server's end goes away while calls are in flight.
	must(t, unix.Shutdown(fds[0], unix.SHUT_RDWR))
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		close(stop)
		t.Fatal("calls still pending 5s after the server went away")
	}
	close(failed)
	for err := range failed {
		if !errors.Is(err, protocol.ErrConnClosed) {
			t.Errorf("call ended with %v, want ErrConnClosed", err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("Serve did not return")
	}
}
