package lock

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type ctx struct{ ch chan struct{} }

func (c ctx) Interrupted() <-chan struct{} { return c.ch }

func never() ctx { return ctx{make(chan struct{})} }

// ranges returns owner's locks on file key as [type start end] triples.
func ranges(m *Manager, key, owner any) [][3]int64 {
	var out [][3]int64
	for _, l := range m.files[key].records {
		if l.owner == owner {
			out = append(out, [3]int64{int64(l.Type), l.Start, l.End})
		}
	}
	return out
}

func TestSetMergesAndSplits(t *testing.T) {
	var m Manager
	set := func(typ int16, s, e int64) {
		if err := m.Set(never(), "f", "a", Range{Type: typ, Start: s, End: e}, false, true); err != nil {
			t.Fatalf("Set(%d, %d, %d): %v", typ, s, e, err)
		}
	}
	set(Write, 0, 9)
	set(Write, 10, 19) // touches: merged
	if got := ranges(&m, "f", "a"); len(got) != 1 || got[0] != [3]int64{Write, 0, 19} {
		t.Fatalf("after merging: %v", got)
	}
	set(Unlock, 5, 9) // splits
	set(Read, 12, 14) // splits the other way, with another type
	want := [][3]int64{{Write, 0, 4}, {Write, 10, 11}, {Read, 12, 14}, {Write, 15, 19}}
	if got := ranges(&m, "f", "a"); len(got) != len(want) {
		t.Fatalf("after splitting: %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("after splitting: %v, want %v", got, want)
			}
		}
	}
	set(Unlock, 0, EOF)
	if _, ok := m.files["f"]; ok {
		t.Errorf("a file with no locks left is still kept")
	}
}

func TestConflicts(t *testing.T) {
	var m Manager
	if err := m.Set(never(), "f", "a", Range{Type: Read, Start: 0, End: EOF}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(never(), "f", "b", Range{Type: Read, Start: 5, End: 5}, false, true); err != nil {
		t.Errorf("two read locks conflict: %v", err)
	}
	if err := m.Set(never(), "f", "b", Range{Type: Write, Start: 5, End: 5}, false, true); err != unix.EAGAIN {
		t.Errorf("write over another's read lock: %v, want EAGAIN", err)
	}
	if l, ok := m.Test("f", "b", Range{Type: Write, Start: 100, End: 100}); !ok || l.Start != 0 || l.End != EOF {
		t.Errorf("Test: %v %v", l, ok)
	}
	if _, ok := m.Test("f", "a", Range{Type: Write, Start: 0, End: 0}); ok {
		t.Errorf("an owner's own lock is a conflict for it")
	}
}

func TestDeadlock(t *testing.T) {
	var m Manager
	m.Set(never(), "f", "a", Range{Type: Write, Start: 0, End: 0}, false, true)
	m.Set(never(), "f", "b", Range{Type: Write, Start: 1, End: 1}, false, true)
	waited := make(chan error)
	go func() { // a waits for b's lock
		waited <- m.Set(never(), "f", "a", Range{Type: Write, Start: 1, End: 1}, true, true)
	}()
	for {
		m.mu.Lock()
		_, ok := m.waiting["a"]
		m.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := m.Set(never(), "f", "b", Range{Type: Write, Start: 0, End: 0}, true, true); err != unix.EDEADLK {
		t.Fatalf("b waiting for a, which waits for b: %v, want EDEADLK", err)
	}
	m.ReleaseRecords("f", "b")
	if err := <-waited; err != nil {
		t.Fatalf("a's wait: %v", err)
	}
}

func TestInterruptedWait(t *testing.T) {
	var m Manager
	m.Flock(never(), "f", "a", Write, false)
	if err := m.Flock(never(), "f", "b", Read, false); err != unix.EWOULDBLOCK {
		t.Fatalf("flock over an exclusive lock: %v", err)
	}
	c := ctx{make(chan struct{})}
	close(c.ch)
	if err := m.Flock(c, "f", "b", Write, true); err != ERESTARTSYS {
		t.Fatalf("interrupted flock: %v, want ERESTARTSYS", err)
	}
	m.ReleaseDescription("f", "a")
	if err := m.Flock(never(), "f", "b", Write, false); err != nil {
		t.Fatalf("flock after the holder's last close: %v", err)
	}
}
