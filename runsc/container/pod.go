package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Pods. A container whose State.SandboxID names another container runs in that
// container's sandbox (a pod's: its first container, the pause container, started
// it): it has no sandbox process of its own, only a Gofer (GoferPID), and every
// request for it goes to the sandbox's control socket (ControlDir) with its ID in
// Request.Container. Its SandboxPID is the sandbox's, so it is stopped when the
// sandbox is gone, and its state's pid is the sandbox's (as gVisor's runsc reports).
// The sandbox records its init's exit status in the sandbox's directory (PodExitName),
// since the sandbox, chrooted into that directory, cannot reach the container's.
//
// Lock order: the sandbox's container, then a container of its pod (create of a
// container of a pod, and delete of the sandbox, take both).

// podExitPrefix starts the name of a pod container's exit file in the sandbox's
// directory.
const podExitPrefix = "exit-"

// PodExitName is the name, in its sandbox's directory, of the file where the sandbox
// records the exit status of container id of its pod.
func PodExitName(id string) string { return podExitPrefix + id }

// InPod reports whether the container runs in another container's sandbox.
func (c *Container) InPod() bool {
	return c.State.SandboxID != "" && c.State.SandboxID != c.State.ID
}

// podID is the container's ID in its pod's sandbox: "" for a sandbox's own container.
func (c *Container) podID() string {
	if c.InPod() {
		return c.State.ID
	}
	return ""
}

// sandboxDir is the directory of the container whose sandbox runs this one.
func (c *Container) sandboxDir() string {
	if c.InPod() {
		return filepath.Join(filepath.Dir(c.Dir), c.State.SandboxID)
	}
	return c.Dir
}

// ControlDir is the directory of the control socket of the container's sandbox.
func (c *Container) ControlDir() string { return c.sandboxDir() }

// exitPath is where the sandbox records the exit status of the container's init.
func (c *Container) exitPath() string {
	if c.InPod() {
		return filepath.Join(c.sandboxDir(), PodExitName(c.State.ID))
	}
	return filepath.Join(c.Dir, exitFile)
}

// SetGofer records the container's own Gofer process, at once on disk.
func (c *Container) SetGofer(pid int) error {
	start, _, err := procStat(pid)
	if err != nil {
		return err
	}
	c.State.GoferPID, c.State.GoferStart = pid, start
	return c.save()
}

// KillInPod ends a container of a pod: the sandbox kills its processes and closes
// its Gofer's connection (which ends the Gofer), and the Gofer is killed if it is
// still there.
func (c *Container) KillInPod() {
	if c.SandboxAlive() {
		c.Send(Request{Cmd: "remove-container"})
	}
	alive := func() bool {
		if c.State.GoferPID <= 0 {
			return false
		}
		start, state, err := procStat(c.State.GoferPID)
		return err == nil && start == c.State.GoferStart && state != 'Z' && state != 'X'
	}
	if alive() {
		unix.Kill(c.State.GoferPID, unix.SIGKILL)
		for i := 0; i < 500 && alive(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// destroyPod deletes the containers that ran in c's sandbox, which is gone: their
// Gofers, directories and exit files go, and their poststop hooks run.
func (c *Container) destroyPod() {
	root := filepath.Dir(c.Dir)
	ids, _ := List(root)
	for _, id := range ids {
		if id == c.State.ID || sandboxOf(root, id) != c.State.ID {
			continue
		}
		o, err := Load(root, id)
		if err != nil {
			continue
		}
		if o.State.SandboxID != c.State.ID {
			o.Close()
			continue
		}
		o.Delete()
	}
}

// sandboxOf reads the SandboxID of container id under root without its lock (to find
// the members of a pod without locking other pods' sandboxes).
func sandboxOf(root, id string) string {
	data, err := os.ReadFile(filepath.Join(root, id, stateFile))
	if err != nil {
		return ""
	}
	var st State
	if json.Unmarshal(data, &st) != nil {
		return ""
	}
	return st.SandboxID
}
