package boot

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// The containers of a pod. The sandbox of a pod is the sandbox of its first container
// (the pause container, the sandbox's main container); every other container of the
// pod runs in the same Sentry (AddContainer), with:
//
//   - its own root and mounts, over its own Gofer, whose connection runsc create
//     passes to the sandbox: a root of its own is what the Sentry has of a mount
//     namespace, and a container's processes cannot name another's files;
//   - its own init, a process with no parent in the Sentry, and the processes it
//     makes (kernel: they carry the container's ID, which fork passes on), which the
//     runtime's kill, ps, stats, pause and resume of the container reach; when its
//     init exits, the rest of them are killed;
//   - its own PID namespace, a child of the kernel's root one (the sandbox
//     container's): its init is PID 1 there, its /proc and its processes see only
//     the container's processes, and runsc exec runs in it; unless its spec joins
//     the pod's (Args.SharePIDNamespace, from a pid namespace path naming the
//     sandbox's, Kubernetes' shareProcessNamespace), where it sees the whole pod and
//     its init is not PID 1;
//   - the pod's IPC (System V objects, POSIX message queues), network, hostname and
//     memory, which are the Sentry's.
//
// The runtime names processes by their IDs in the root namespace (ps, exec's PID),
// as gVisor's runsc does.

// ctrFor returns the container id of the pod ("" for the sandbox's own).
func (s *Sandbox) ctrFor(id string) (*ctr, error) {
	if id == "" {
		return s.main, nil
	}
	s.podMu.Lock()
	defer s.podMu.Unlock()
	c := s.pod[id]
	if c == nil {
		return nil, fmt.Errorf("container %q is not in this sandbox", id)
	}
	return c, nil
}

// AddContainer creates container id of the pod in the sandbox: its root over the
// Gofer on a.GoferFD, its mounts, and its init, ready for StartContainer. The host
// FDs in a (the Gofer's, the stdio or the console) are the sandbox's from now on,
// closed with the container or at once on error; with a console (a.Console not 0),
// a.Stdio is not used. a's hostname is not used: the pod
// has one.
func (s *Sandbox) AddContainer(id string, a Args) error {
	closeFDs := func() {
		unix.Close(a.GoferFD)
		if a.Console != 0 {
			unix.Close(a.Console)
			return
		}
		for _, fd := range a.Stdio {
			unix.Close(fd)
		}
	}
	if id == "" {
		closeFDs()
		return fmt.Errorf("a container of a pod needs an ID")
	}
	s.podMu.Lock()
	if _, ok := s.pod[id]; ok {
		s.podMu.Unlock()
		closeFDs()
		return fmt.Errorf("container %q is already in this sandbox", id)
	}
	s.podMu.Unlock()
	c, err := s.newCtr(id, a, true)
	if err != nil {
		s.Kernel.ForgetCgroups(id)
		return err
	}
	s.podMu.Lock()
	if s.pod == nil {
		s.pod = map[string]*ctr{}
	}
	s.pod[id] = c
	s.podMu.Unlock()
	return nil
}

// StartContainer runs the init of container id of the pod, or, with a signal, ends it
// with that signal before its first instruction (the runtime's kill of a container
// not yet started). It returns at once; the Process's Wait gives init's status, once
// init and every other process of the container are gone.
func (s *Sandbox) StartContainer(id string, killWith unix.Signal) (*Process, error) {
	c, err := s.ctrFor(id)
	if err != nil || c == s.main {
		return nil, fmt.Errorf("container %q is not a container of the pod", id)
	}
	t := c.init
	p := &Process{PID: t.TID, console: c.console, done: make(chan struct{})}
	if killWith != 0 {
		t.KillWith(killWith)
	}
	go func() {
		p.status = t.Run()
		// As when a PID namespace's init exits: the rest of the container goes.
		s.killContainer(id)
		if p.console != nil {
			p.console.Drain(drainTimeout)
		}
		close(p.done)
	}()
	return p, nil
}

// Init returns the PID of the init of container id of the pod ("" for the sandbox's
// own, whose init is 1).
func (s *Sandbox) Init(id string) int32 {
	c, err := s.ctrFor(id)
	if err != nil {
		return 0
	}
	return c.init.TID
}

// killContainer kills every process of container id of the pod and waits a little
// for them to be gone.
func (s *Sandbox) killContainer(id string) {
	k := s.Kernel
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if k.SignalFromRuntime(id, 0, unix.SIGKILL, true) == unix.ESRCH {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RemoveContainer ends container id of the pod: its processes are killed (an init
// that never ran included, which the caller must have started with StartContainer
// if it is to be waited for), and its Gofer connection and console are closed, which
// ends its Gofer.
func (s *Sandbox) RemoveContainer(id string) error {
	c, err := s.ctrFor(id)
	if err != nil || c == s.main {
		return fmt.Errorf("container %q is not a container of the pod", id)
	}
	s.killContainer(id)
	s.Kernel.ThawContainer(id) // a frozen one's tasks are gone: its mark goes too
	s.podMu.Lock()
	delete(s.pod, id)
	s.podMu.Unlock()
	s.Kernel.ForgetCgroups(id)
	c.close()
	return nil
}

// Kill sends sig to the init (all false) or every process (all true) of container id
// of the pod ("" for the sandbox's own), as the runtime's kill does (kernel's
// SignalFromRuntime).
func (s *Sandbox) Kill(id string, sig unix.Signal, all bool) error {
	return s.Kernel.SignalFromRuntime(id, s.Init(id), sig, all)
}
