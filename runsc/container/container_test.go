package container

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTransitions: the statuses move only as the OCI lifecycle allows; anything else
// is an error and leaves the status as it was.
func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to Status
		ok       bool
	}{
		{Creating, Created, true},
		{Creating, Running, false},
		{Created, Running, true},
		{Created, Stopped, true},
		{Created, Creating, false},
		{Running, Stopped, true},
		{Running, Created, false},
		{Stopped, Running, false},
		{Stopped, Created, false},
	} {
		c := &Container{Dir: t.TempDir(), State: State{ID: "c", Status: tc.from}}
		err := c.Transition(tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("%s -> %s: error %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
		if !tc.ok && c.State.Status != tc.from {
			t.Errorf("%s -> %s: refused, but the status is now %s", tc.from, tc.to, c.State.Status)
		}
	}
}

// TestNewLoadDestroy: a new container is creating on disk; one whose creator died
// (no live sandbox, lock free) loads as stopped; a duplicate is refused; Destroy
// leaves nothing.
func TestNewLoadDestroy(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	c, err := New(root, "a", State{Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, "a", State{}); err == nil {
		t.Errorf("a second New of one ID succeeded")
	}
	c.Close()
	l, err := Load(root, "a")
	if err != nil {
		t.Fatal(err)
	}
	if l.State.Status != Stopped || l.State.Bundle != "/b" {
		t.Errorf("loaded %+v, want stopped with bundle /b", l.State)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Errorf("Destroy left the directory: %v", err)
	}
	if _, err := Load(root, "a"); err != ErrNotExist {
		t.Errorf("Load after Destroy: %v, want ErrNotExist", err)
	}
	if ids, _ := List(root); len(ids) != 0 {
		t.Errorf("List after Destroy: %v", ids)
	}
}

// TestDeadSandboxIsStopped: a running container whose sandbox PID is not a live
// process with the recorded start time is stopped.
func TestDeadSandboxIsStopped(t *testing.T) {
	root := t.TempDir()
	c, err := New(root, "r", State{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSandbox(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	c.Transition(Created)
	c.Transition(Running)
	c.State.SandboxStart++ // as if the PID had been reused
	c.save()
	c.Close()
	l, err := Load(root, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.State.Status != Stopped {
		t.Errorf("status %s, want stopped", l.State.Status)
	}
	if st, recorded := l.ExitStatus(); recorded || st != 137 {
		t.Errorf("exit status %d (recorded %v), want 137 unrecorded", st, recorded)
	}
}
