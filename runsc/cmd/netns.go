package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The sandbox's network namespace is the spec's, as runc gives one to a container: a
// "network" entry without a path asks for a new one, which the sandbox process is
// cloned into; one with a path (a namespace made by the caller, as containerd's CRI
// plugin makes a pod's) is joined; no entry leaves it in runsc's own. The Sentry has no
// network stack yet (--network=none), so the namespace only keeps the sandbox's host
// processes away from the host's interfaces; when it gets one, this is the namespace
// whose interfaces it will take over.

// netnsOf returns the spec's network namespace entry, if it has one.
func netnsOf(spec *specs.Spec) (ns specs.LinuxNamespace, ok bool) {
	if spec.Linux == nil {
		return ns, false
	}
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			return n, true
		}
	}
	return ns, false
}

// checkNetns checks that a network namespace path of the spec names a network
// namespace, before anything is made.
func checkNetns(spec *specs.Spec) error {
	n, ok := netnsOf(spec)
	if !ok || n.Path == "" {
		return nil
	}
	f, err := os.Open(n.Path)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer f.Close()
	t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || t != unix.CLONE_NEWNET {
		return fmt.Errorf("network namespace: %s is not a network namespace", n.Path)
	}
	return nil
}

// startInNetns starts cmd in the spec's network namespace: cloned into a new one, or,
// for a path, forked from a thread that joined it (a new process inherits the
// namespaces of the thread that forks it). That thread is never given back to the Go
// runtime: it ends with its goroutine.
func startInNetns(cmd *exec.Cmd, spec *specs.Spec) error {
	n, ok := netnsOf(spec)
	if !ok {
		return cmd.Start()
	}
	if n.Path == "" {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // and never unlocked: the thread goes with the goroutine
		f, err := os.Open(n.Path)
		if err != nil {
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("joining the network namespace %s: %w", n.Path, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
