package unix

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	sys "golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

// ctx is a task's context: interrupt closes its channel.
type ctx struct{ intr chan struct{} }

func newCtx() *ctx                               { return &ctx{intr: make(chan struct{})} }
func (c *ctx) Interrupted() <-chan struct{}      { return c.intr }
func (c *ctx) UnixCred() (int32, uint32, uint32) { return 7, 1000, 1001 }

// counted is a file that counts its releases.
type counted struct{ released *atomic.Int32 }

func (counted) Read([]byte, int64) (int, error)                         { return 0, nil }
func (counted) Write([]byte, int64) (int, error)                        { return 0, nil }
func (counted) Ioctl(vfs.UserMemory, uintptr, uintptr) (uintptr, error) { return 0, sys.ENOTTY }
func (c counted) Release()                                              { c.released.Add(1) }

func pair(t *testing.T, typ int) (*vfs.FileDescription, *vfs.FileDescription, *Socket, *Socket) {
	t.Helper()
	a, b := Pair(vfs.New(), typ, 0, Cred{PID: 1})
	return a, b, Of(a), Of(b)
}

func TestStreamPairTransfersBytesInOrder(t *testing.T) {
	_, _, a, b := pair(t, sys.SOCK_STREAM)
	c := newCtx()
	want := bytes.Repeat([]byte("0123456789"), 100000) // more than the send buffer
	done := make(chan error, 1)
	go func() {
		n, err := a.Send(c, want, nil, Control{}, 0, false)
		if err == nil && n != len(want) {
			err = sys.EIO
		}
		done <- err
	}()
	var got []byte
	for len(got) < len(want) {
		r, err := b.Recv(c, 65536, 0, false)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got = append(got, r.Data...)
	}
	if err := <-done; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes received differ from those sent")
	}
}

func TestDatagramKeepsBoundariesAndTruncates(t *testing.T) {
	_, _, a, b := pair(t, sys.SOCK_DGRAM)
	c := newCtx()
	a.Send(c, []byte("hello"), nil, Control{}, 0, false)
	a.Send(c, []byte("xy"), nil, Control{}, 0, false)
	r, err := b.Recv(c, 3, 0, false)
	if err != nil || string(r.Data) != "hel" || !r.Trunc || r.Len != 5 {
		t.Fatalf("first: %q trunc %v len %d err %v", r.Data, r.Trunc, r.Len, err)
	}
	r, err = b.Recv(c, 10, 0, false)
	if err != nil || string(r.Data) != "xy" || r.Trunc {
		t.Fatalf("second: %q trunc %v err %v", r.Data, r.Trunc, err)
	}
}

func TestBlockedRecvIsInterrupted(t *testing.T) {
	_, _, _, b := pair(t, sys.SOCK_STREAM)
	c := newCtx()
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(c.intr)
	}()
	if _, err := b.Recv(c, 1, 0, false); err != erestartsys {
		t.Fatalf("Recv = %v, want ERESTARTSYS", err)
	}
}

func TestCredentialsAreTheSendersWithPasscred(t *testing.T) {
	_, _, a, b := pair(t, sys.SOCK_DGRAM)
	c := newCtx()
	a.Send(c, []byte("x"), nil, Control{}, 0, false)
	if r, _ := b.Recv(c, 1, 0, false); r.Cred != nil {
		t.Fatalf("credentials without SO_PASSCRED: %+v", r.Cred)
	}
	b.SetOpt(sys.SO_PASSCRED, 1)
	a.Send(c, []byte("x"), nil, Control{}, 0, false)
	r, _ := b.Recv(c, 1, 0, false)
	if r.Cred == nil || *r.Cred != (Cred{PID: 7, UID: 1000, GID: 1001}) {
		t.Fatalf("credentials = %+v", r.Cred)
	}
}

func TestFilesInFlightAreReleasedWithTheReceiver(t *testing.T) {
	fa, fb, a, _ := pair(t, sys.SOCK_DGRAM)
	var released atomic.Int32
	f := vfs.NewFileDescription(vfs.VirtualDentry{}, counted{&released}, sys.O_RDONLY)
	if _, err := a.Send(newCtx(), []byte("f"), nil, Control{Files: []*vfs.FileDescription{f}}, 0, false); err != nil {
		t.Fatal(err)
	}
	if released.Load() != 0 {
		t.Fatal("the file was released while in flight")
	}
	fb.DecRef()
	if released.Load() != 1 {
		t.Fatal("the file in flight was not released with its receiver")
	}
	fa.DecRef()
}

func TestFailedSendReleasesItsFiles(t *testing.T) {
	fa, fb, a, _ := pair(t, sys.SOCK_STREAM)
	fb.DecRef()
	var released atomic.Int32
	f := vfs.NewFileDescription(vfs.VirtualDentry{}, counted{&released}, sys.O_RDONLY)
	if _, err := a.Send(newCtx(), []byte("f"), nil, Control{Files: []*vfs.FileDescription{f}}, 0, false); err != sys.EPIPE {
		t.Fatalf("Send to a closed peer = %v, want EPIPE", err)
	}
	if released.Load() != 1 {
		t.Fatal("a send that failed kept its files")
	}
	fa.DecRef()
}

func TestListenConnectAccept(t *testing.T) {
	v := vfs.New()
	c := newCtx()
	l := Of(New(v, sys.SOCK_STREAM, 0))
	name := Addr{Name: "\x00test"}
	if err := l.Listen(1, Cred{}); err != sys.EINVAL {
		t.Fatalf("Listen unbound = %v, want EINVAL", err)
	}
	if err := l.Bind(name); err != nil {
		t.Fatal(err)
	}
	cl := Of(New(v, sys.SOCK_STREAM, 0))
	if err := cl.Connect(c, name, false, true, Cred{}); err != sys.ECONNREFUSED {
		t.Fatalf("Connect before listen = %v, want ECONNREFUSED", err)
	}
	l.Listen(0, Cred{PID: 3})
	if l.Readiness()&vfs.EventIn != 0 {
		t.Fatal("listener readable with nothing pending")
	}
	if err := cl.Connect(c, name, false, true, Cred{PID: 4}); err != nil {
		t.Fatal(err)
	}
	if l.Readiness()&vfs.EventIn == 0 {
		t.Fatal("listener not readable with a connection pending")
	}
	cl.Send(c, []byte("early"), nil, Control{}, 0, false)
	f, err := l.Accept(c, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := Of(f)
	if s.PeerCred().PID != 4 || cl.PeerCred().PID != 3 {
		t.Fatalf("peer credentials: server sees %d, client sees %d", s.PeerCred().PID, cl.PeerCred().PID)
	}
	r, err := s.Recv(c, 10, 0, true)
	if err != nil || string(r.Data) != "early" {
		t.Fatalf("Recv = %q, %v", r.Data, err)
	}
	if _, err := l.Accept(c, true, 0); err != sys.EAGAIN {
		t.Fatalf("Accept with none pending = %v, want EAGAIN", err)
	}
}

func released(s *Socket) bool {
	s.s.ns.mu.Lock()
	defer s.s.ns.mu.Unlock()
	return s.s.released
}

func TestSocketsOnlyInFlightAreCollected(t *testing.T) {
	fa, fb, a, b := pair(t, sys.SOCK_DGRAM)
	c := newCtx()
	// Each end is sent over itself into the other's queue: a cycle.
	fa.IncRef()
	fb.IncRef()
	a.Send(c, []byte("a"), nil, Control{Files: []*vfs.FileDescription{fa}}, 0, false)
	b.Send(c, []byte("b"), nil, Control{Files: []*vfs.FileDescription{fb}}, 0, false)
	fa.DecRef()
	if released(a) || released(b) {
		t.Fatal("a socket was collected while the application held the other")
	}
	fb.DecRef()
	// As Linux, the collector runs when a socket is released.
	New(a.s.v, sys.SOCK_STREAM, 0).DecRef()
	if !released(a) || !released(b) {
		t.Fatalf("the cycle was not collected: a released %v, b released %v", released(a), released(b))
	}
}

func TestSocketsReachableFromAnOpenSocketAreNotCollected(t *testing.T) {
	fa, fb, a, _ := pair(t, sys.SOCK_DGRAM)
	fx, fy, x, _ := pair(t, sys.SOCK_DGRAM)
	c := newCtx()
	// x's description sits in y's queue, and y is open: x must live after its
	// descriptor is closed and the collector runs.
	fx.IncRef()
	x.Send(c, []byte("self"), nil, Control{Files: []*vfs.FileDescription{fx}}, 0, false)
	fx.DecRef()
	New(x.s.v, sys.SOCK_STREAM, 0).DecRef()
	if released(x) {
		t.Fatal("a socket held by an open socket's queue was collected")
	}
	// Once y is closed, its queue goes, and x with it.
	fy.DecRef()
	if !released(x) {
		t.Fatal("a socket whose only holder was closed was not released")
	}
	fa.DecRef()
	fb.DecRef()
	if !released(a) {
		t.Fatal("a closed socket was not released")
	}
}
