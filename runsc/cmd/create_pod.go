package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/config"
	"github.com/moat-sandbox/moat/runsc/console"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/runsc/specutils"
)

// createInPod creates container id in the sandbox of container sandboxID, its pod's
// (the annotations said so: specutils.PodSandbox), as gVisor's runsc does for
// containerd's and CRI-O's pods: no sandbox process of its own, but a Gofer for its
// root and bind mounts, started here as the sandbox starts its own (its own mount and
// PID namespaces; it isolates and boxes itself), whose socket goes to the sandbox
// with the container's stdio (or console slave) over the control socket
// ("add-container"). The sandbox makes the container's root, mounts and init there.
// The container's state names its sandbox, whose PID is the container's.
//
// The sandbox's container is locked first, then the new one (container/pod.go's
// lock order). Nothing is left behind on error.
func createInPod(conf *config.Config, id, sandboxID string, b *specutils.Bundle, fl createFlags, master, slave *os.File) (_ *container.Container, err error) {
	closeMaster := func() {
		if master != nil {
			master.Close()
		}
	}
	defer func() {
		if err != nil {
			closeMaster()
		}
	}()
	if sandboxID == id {
		return nil, fmt.Errorf("the pod's sandbox %q is the container itself", sandboxID)
	}
	if err := specutils.ValidateID(sandboxID); err != nil {
		return nil, fmt.Errorf("the pod's sandbox: %w", err)
	}
	sb, err := container.Load(conf.Root, sandboxID)
	if errors.Is(err, container.ErrNotExist) {
		return nil, fmt.Errorf("the pod's sandbox %q does not exist", sandboxID)
	}
	if err != nil {
		return nil, fmt.Errorf("the pod's sandbox %q: %w", sandboxID, err)
	}
	defer sb.Close()
	if sb.InPod() {
		return nil, fmt.Errorf("container %q is not a pod's sandbox: it runs in %q's", sandboxID, sb.State.SandboxID)
	}
	if sb.State.Status == container.Stopped || !sb.SandboxAlive() {
		return nil, fmt.Errorf("the pod's sandbox %q is stopped", sandboxID)
	}
	args, goferMounts, err := containerArgs(conf, b, os.Stderr)
	if err != nil {
		return nil, err
	}
	if args.SharePIDNamespace, err = podPIDNamespace(b.Spec, sb.State.SandboxPID); err != nil {
		return nil, err
	}
	if l := b.Spec.Linux; l != nil && l.CgroupsPath != "" {
		Debugf("container %q: in pod %q: cgroupsPath %q not applied (the sandbox's cgroup holds its processes)", id, sandboxID, l.CgroupsPath)
	}
	c, err := container.New(conf.Root, id, container.State{
		Bundle: b.Dir, Rootfs: b.Rootfs, Created: time.Now().UTC(), Annotations: b.Spec.Annotations,
		Hooks: b.Spec.Hooks, SandboxID: sandboxID,
		SandboxPID: sb.State.SandboxPID, SandboxStart: sb.State.SandboxStart,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Destroy()
		}
	}()
	goferEnd, err := startPodGofer(c, goferMounts)
	if err != nil {
		return nil, fmt.Errorf("starting the gofer: %w", err)
	}
	files := []*os.File{goferEnd}
	if slave != nil {
		files = append(files, slave)
	} else {
		files = append(files, os.Stdin, os.Stdout, os.Stderr)
	}
	data, err := json.Marshal(args)
	if err == nil {
		var ec *container.ExecConn
		if ec, err = c.Exec(container.Request{Cmd: "add-container", Exec: data}, files); err == nil {
			ec.Close()
		}
	}
	goferEnd.Close()
	if err != nil {
		return nil, fmt.Errorf("in the pod's sandbox %q: %w", sandboxID, err)
	}
	st := c.StateFor(container.Creating)
	for _, kind := range []string{container.Prestart, container.CreateRuntime, container.CreateContainer} {
		if err := c.RunHooks(kind, st); err != nil {
			return nil, err
		}
	}
	if err := c.Transition(container.Created); err != nil {
		return nil, err
	}
	if fl.pidFile != "" {
		if err := container.WriteFileAtomic(fl.pidFile, []byte(strconv.Itoa(c.State.SandboxPID))); err != nil {
			return nil, err
		}
	}
	if master != nil && fl.consoleSocket != "" {
		err := console.SendMaster(fl.consoleSocket, master)
		master.Close()
		master = nil
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// podPIDNamespace reads the spec's PID namespace entry of a container of a pod whose
// sandbox process is sandboxPID, and reports whether the container joins the pod's
// PID namespace (the sandbox's container's): an entry with a path must name the
// sandbox's namespace (/proc/<sandbox PID>/ns/pid, as containerd's CRI plugin writes
// for a pod with shareProcessNamespace); an entry without one asks for a namespace of
// the container's own (Kubernetes' default); no entry at all (hostPID, which the
// sandbox cannot give) leaves the container in the pod's.
func podPIDNamespace(spec *specs.Spec, sandboxPID int) (bool, error) {
	if spec.Linux == nil {
		return true, nil
	}
	for _, n := range spec.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			continue
		}
		if n.Path == "" {
			return false, nil
		}
		want, err := os.Stat(fmt.Sprintf("/proc/%d/ns/pid", sandboxPID))
		if err != nil {
			return false, fmt.Errorf("the pod's sandbox's PID namespace: %w", err)
		}
		got, err := os.Stat(n.Path)
		if err != nil {
			return false, fmt.Errorf("pid namespace: %w", err)
		}
		if !os.SameFile(want, got) {
			return false, fmt.Errorf("pid namespace %s is not the pod's sandbox's (/proc/%d/ns/pid): a container of a pod can only join that one", n.Path, sandboxPID)
		}
		return true, nil
	}
	return true, nil
}

// startPodGofer starts the Gofer of container c of a pod, serving mounts, and returns
// the sandbox's end of its socket. It is started as a sandbox starts its own
// (startGofer): in mount and PID namespaces of its own, where it isolates and boxes
// itself; but it outlives runsc create, in a session of its own, and ends when the
// sandbox closes its end (or by SIGKILL from delete). Its PID is in c's state.
func startPodGofer(c *container.Container, mounts []string) (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sentryEnd, goferEnd := os.NewFile(uintptr(fds[0]), "gofer-sentry"), os.NewFile(uintptr(fds[1]), "gofer")
	defer goferEnd.Close()
	self, err := os.Executable()
	if err != nil {
		sentryEnd.Close()
		return nil, err
	}
	args := append(globalFlags(), "gofer", "--fd", "3")
	for _, m := range mounts {
		args = append(args, "--mount", m)
	}
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{goferEnd}
	cmd.Stderr = os.Stderr
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		sentryEnd.Close()
		return nil, err
	}
	if err := c.SetGofer(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		sentryEnd.Close()
		return nil, err
	}
	cmd.Process.Release() // it outlives runsc create
	return sentryEnd, nil
}
