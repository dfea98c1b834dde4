package mqueue

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

type ctx struct{ intr chan struct{} }

func (c ctx) Interrupted() <-chan struct{} { return c.intr }

func newCtx() ctx { return ctx{make(chan struct{})} }

// newQueue makes queue name with attr (nil: the defaults) and opens it.
func newQueue(t *testing.T, fs *FS, name string, attr *Attr) (*Queue, *File) {
	t.Helper()
	in, err := fs.root.CreateArg(name, unix.S_IFREG|0o600, vfs.Owner{}, &Creator{Attr: attr, Limit: ^uint64(0)})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	impl, err := in.Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	return in.(*Queue), impl.(*File)
}

func TestReceiveTakesHighestPriorityOldestFirst(t *testing.T) {
	q, _ := newQueue(t, New(vfs.New()), "q", &Attr{MaxMsg: 8, MsgSize: 16})
	for _, m := range []struct {
		text string
		prio uint32
	}{{"a", 1}, {"b", 5}, {"c", 1}, {"d", 3}} {
		if err := q.Send(newCtx(), []byte(m.text), m.prio, true, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var got string
	for range 4 {
		text, _, err := q.Receive(newCtx(), true, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got += string(text)
	}
	if got != "bdac" {
		t.Errorf("received %q, want \"bdac\"", got)
	}
	if _, _, err := q.Receive(newCtx(), true, time.Time{}); err != unix.EAGAIN {
		t.Errorf("empty queue, non-blocking: %v, want EAGAIN", err)
	}
}

func TestWaitingReceiverTakesTheMessageAndNoNotificationIsSent(t *testing.T) {
	q, _ := newQueue(t, New(vfs.New()), "q", nil)
	notified := 0
	if err := q.SetNotification(&Notification{Notify: sigevSignal, Signo: 10, Deliver: func(any) { notified++ }}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		text, _, err := q.Receive(newCtx(), false, time.Time{})
		if err != nil {
			got <- err.Error()
		}
		got <- string(text)
	}()
	for {
		q.mu.Lock()
		n := len(q.receivers)
		q.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := q.Send(newCtx(), []byte("direct"), 0, false, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "direct" {
		t.Errorf("receiver got %q", s)
	}
	if a := q.Attr(); a.CurMsgs != 0 || notified != 0 || q.notify == nil {
		t.Errorf("after a handover: %d messages queued, %d notifications, registered %v; want 0, 0, true",
			a.CurMsgs, notified, q.notify != nil)
	}
	// With no receiver waiting, the first message notifies, once.
	q.Send(newCtx(), []byte("x"), 0, false, time.Time{}, nil)
	q.Send(newCtx(), []byte("y"), 0, false, time.Time{}, nil)
	if notified != 1 || q.notify != nil {
		t.Errorf("notifications %d, registered %v; want 1, false", notified, q.notify != nil)
	}
}

func TestBlockedSenderIsHandedThePlaceAndTimeoutsAndSignalsEndWaits(t *testing.T) {
	q, _ := newQueue(t, New(vfs.New()), "q", &Attr{MaxMsg: 1, MsgSize: 4})
	q.Send(newCtx(), []byte("1"), 0, true, time.Time{}, nil)
	if err := q.Send(newCtx(), []byte("2"), 0, false, time.Now().Add(10*time.Millisecond), nil); err != unix.ETIMEDOUT {
		t.Errorf("full queue, deadline: %v, want ETIMEDOUT", err)
	}
	c := newCtx()
	done := make(chan error)
	go func() { done <- q.Send(c, []byte("2"), 0, false, time.Time{}, nil) }()
	close(c.intr)
	if err := <-done; err != erestartsys {
		t.Errorf("interrupted send: %v, want ERESTARTSYS", err)
	}
	go func() { done <- q.Send(newCtx(), []byte("3"), 7, false, time.Time{}, nil) }()
	for {
		q.mu.Lock()
		n := len(q.senders)
		q.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if text, _, _ := q.Receive(newCtx(), true, time.Time{}); string(text) != "1" {
		t.Errorf("first message %q", text)
	}
	if err := <-done; err != nil {
		t.Errorf("blocked send: %v", err)
	}
	if text, prio, _ := q.Receive(newCtx(), true, time.Time{}); string(text) != "3" || prio != 7 {
		t.Errorf("handed-over message %q prio %d, want \"3\" prio 7", text, prio)
	}
}

func TestChargeIsReleasedWhenTheQueueIsUnlinkedAndClosed(t *testing.T) {
	fs := New(vfs.New())
	_, f := newQueue(t, fs, "q", nil)
	want := uint64(DefaultMsg*DefaultMsgSize + DefaultMsg*(msgOverhead+treeNodeOverhead))
	if fs.bytes[0] != want || fs.queues != 1 {
		t.Fatalf("charged %d for %d queues, want %d for 1", fs.bytes[0], fs.queues, want)
	}
	if err := fs.root.Unlink("q"); err != nil {
		t.Fatal(err)
	}
	if fs.queues != 1 {
		t.Errorf("an unlinked queue still open counts: %d queues, want 1", fs.queues)
	}
	f.Release()
	if fs.bytes[0] != 0 || fs.queues != 0 {
		t.Errorf("after the last close: %d bytes, %d queues; want 0, 0", fs.bytes[0], fs.queues)
	}
	_, err := fs.root.CreateArg("r", unix.S_IFREG|0o600, vfs.Owner{}, &Creator{Limit: want - 1})
	if err != unix.EMFILE {
		t.Errorf("over RLIMIT_MSGQUEUE: %v, want EMFILE", err)
	}
}
