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

// nsTypes are the spec's namespace types and their CLONE_NEW* flags.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// checkNamespaces checks the spec's namespaces before anything is made, as runc does:
// each of a known type, once, and a path naming a namespace of that type. (Only the
// network namespace's path is joined by the sandbox; a pod container's pid namespace
// path names its pod's. The application's other namespaces are the Sentry's own.)
func checkNamespaces(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, n := range spec.Linux.Namespaces {
		flag, ok := nsTypes[n.Type]
		if !ok {
			return fmt.Errorf("namespace type %q is not supported", n.Type)
		}
		if seen[n.Type] {
			return fmt.Errorf("the %s namespace is given twice", n.Type)
		}
		seen[n.Type] = true
		if n.Path == "" {
			continue
		}
		f, err := os.Open(n.Path)
		if err != nil {
			return fmt.Errorf("%s namespace: %w", n.Type, err)
		}
		t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
		f.Close()
		if err != nil || t != flag {
			return fmt.Errorf("%s namespace: %s is not a %s namespace", n.Type, n.Path, n.Type)
		}
	}
	return nil
}

// newCgroupns reports whether the spec asks for a new cgroup namespace (an entry
// without a path; one with a path is checked, not joined).
func newCgroupns(spec *specs.Spec) bool {
	if spec.Linux == nil {
		return false
	}
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.CgroupNamespace && n.Path == "" {
			return true
		}
	}
	return false
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
