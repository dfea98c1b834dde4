// Package container keeps the OCI runtime's containers: one directory per container
// under the runtime's root (--root), holding its state and the sandbox's control
// socket, and the lifecycle's status machine.
//
// A container is made by runsc create, which writes its state as creating, starts the
// sandbox process (runsc boot) and waits for it to report that init exists; the state
// is then created. runsc start asks the sandbox, over the control socket, to run init
// (running). When init exits the sandbox writes the exit file and exits (stopped). A
// container whose sandbox process is gone is stopped whatever its state file says, so
// a sandbox killed with SIGKILL is seen as stopped.
//
// runsc pause asks the sandbox to freeze the application's tasks (paused), and resume
// to thaw them (back to running, or created for a container paused before start);
// PausedFrom remembers which. A paused container whose sandbox is gone is stopped too.
//
// The spec's hooks are kept in the state and run by the commands at their points of
// the lifecycle (hooks.go); the sandbox's cgroup, if the spec names one, is kept there
// too and removed by Destroy (package cgroup).
//
// runsc exec asks the sandbox for a new process over the same control socket, with the
// process's stdio as SCM_RIGHTS, and keeps the connection until the process exits
// (exec.go).
//
// The containers of a pod (pod.go) have no sandbox process of their own: they run in
// their pod's sandbox, the sandbox container's, and their requests go to its control
// socket.
//
// Every command on a container holds an exclusive flock on its directory for its
// whole run, so concurrent commands on one container serialize. The state file is
// written to a temporary file and renamed over the old one.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/cgroup"
)

// Status is a container's OCI status.
type Status string

// The OCI statuses.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// transitions are the legal status changes. As runc's, a created container can be
// paused too, and resuming it makes it created again (State.PausedFrom).
var transitions = map[Status][]Status{
	Creating: {Created, Stopped},
	Created:  {Running, Paused, Stopped},
	Running:  {Paused, Stopped},
	Paused:   {Running, Created, Stopped},
}

// ErrNotExist is the error for an unknown container.
var ErrNotExist = errors.New("container does not exist")

// State is what the state file holds.
type State struct {
	ID          string            `json:"id"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// SandboxPID is the sandbox process (runsc boot), and SandboxStart its start time
	// in clock ticks (/proc/PID/stat field 22), so that a reused PID is not taken for it.
	SandboxPID   int    `json:"sandboxPid"`
	SandboxStart uint64 `json:"sandboxStart"`
	// PausedFrom is the status a paused container had: resume goes back to it.
	PausedFrom Status `json:"pausedFrom,omitempty"`
	// Cgroup is the sandbox's cgroup (package cgroup), if the spec names one.
	Cgroup *cgroup.Cgroup `json:"cgroup,omitempty"`
	// Hooks are the spec's hooks (hooks.go), kept for start and delete.
	Hooks *specs.Hooks `json:"hooks,omitempty"`
	// SandboxID, for a container of a pod that runs in another container's
	// sandbox (pod.go), is that container's ID; SandboxPID and SandboxStart are
	// then that sandbox's. GoferPID and GoferStart are the container's own Gofer.
	SandboxID  string `json:"sandboxId,omitempty"`
	GoferPID   int    `json:"goferPid,omitempty"`
	GoferStart uint64 `json:"goferStart,omitempty"`
}

// OCIState is the runtime state of the OCI runtime specification, as runsc state prints it.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	PID         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// Container is one container, locked by the command that opened it until Close.
type Container struct {
	Dir   string // the container's state directory
	State State
	lock  *os.File
}

// Files in a container's directory.
const (
	stateFile   = "state.json"
	exitFile    = "exit"
	controlFile = "control.sock"
)

// lockDir opens and flocks dir.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// New makes the directory of container id under root, locked, with its state
// creating; it fails if the container exists.
func New(root, id string, st State) (*Container, error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("making the state root: %w", err)
	}
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if os.IsExist(err) {
			return nil, errors.New("container with given ID already exists")
		}
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	st.ID, st.Status = id, Creating
	c := &Container{Dir: dir, State: st, lock: lock}
	if err := c.save(); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// Load opens and locks container id under root and reads its state, with the status
// brought up to date (a gone sandbox means stopped).
func Load(root, id string) (*Container, error) {
	dir := filepath.Join(root, id)
	lock, err := lockDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, ErrNotExist
		}
		return nil, err
	}
	c := &Container{Dir: dir, lock: lock}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		lock.Close()
		if os.IsNotExist(err) {
			// Deleted while we waited for the lock, or a create that failed.
			return nil, ErrNotExist
		}
		return nil, err
	}
	if err := json.Unmarshal(data, &c.State); err != nil {
		lock.Close()
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, stateFile), err)
	}
	c.refresh()
	return c, nil
}

// List returns the IDs of the containers under root, sorted.
func List(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// refresh marks the container stopped if its sandbox is gone or init has exited. A
// container still creating when we hold its lock was left by a create that died (a
// create holds the lock until the container is created): it is stopped too, so that
// delete cleans it up.
func (c *Container) refresh() {
	switch c.State.Status {
	case Stopped:
	case Creating:
		c.State.Status = Stopped
	default:
		if c.Ended() {
			c.State.Status = Stopped
		}
	}
}

// Ended reports whether the container's init has ended, now: its exit is recorded or
// its sandbox is gone. A command whose request the sandbox did not answer (it read
// EOF) checks it: init ended meanwhile, and the sandbox exited.
func (c *Container) Ended() bool {
	_, err := os.Stat(c.exitPath())
	return err == nil || !c.SandboxAlive()
}

// SandboxAlive reports whether the sandbox process still runs (a zombie does not).
func (c *Container) SandboxAlive() bool {
	if c.State.SandboxPID <= 0 {
		return false
	}
	start, state, err := procStat(c.State.SandboxPID)
	return err == nil && start == c.State.SandboxStart && state != 'Z' && state != 'X'
}

// procStat returns the start time and state of process pid.
func procStat(pid int) (uint64, byte, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22
	return start, f[0][0], err
}

// SetSandbox records the sandbox process, at once on disk: if the create that
// started it dies, delete finds the sandbox to kill.
func (c *Container) SetSandbox(pid int) error {
	start, _, err := procStat(pid)
	if err != nil {
		return err
	}
	c.State.SandboxPID, c.State.SandboxStart = pid, start
	return c.save()
}

// Transition moves the container to status to and saves its state; an illegal change
// is an error.
func (c *Container) Transition(to Status) error {
	for _, s := range transitions[c.State.Status] {
		if s == to {
			c.State.Status = to
			return c.save()
		}
	}
	return fmt.Errorf("container %q cannot go from %s to %s", c.State.ID, c.State.Status, to)
}

// Save writes the state as it is now (the cgroup's directories, once made, so that a
// delete after a create that died removes them).
func (c *Container) Save() error { return c.save() }

// save writes the state file atomically.
func (c *Container) save() error {
	data, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(c.Dir, stateFile), data)
}

// WriteFileAtomic writes data to path through a temporary file renamed over it.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// OCI returns the OCI state.
func (c *Container) OCI() OCIState {
	pid := c.State.SandboxPID
	if c.State.Status == Stopped {
		pid = 0
	}
	return OCIState{
		OCIVersion: specs.Version, ID: c.State.ID, PID: pid, Status: c.State.Status,
		Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Created: c.State.Created,
		Annotations: c.State.Annotations,
	}
}

// ExitStatus returns init's exit status as a shell reports it (128+N for signal N).
// recorded is false if the sandbox ended without recording one: it was killed, and
// init with it, so the status is 128+SIGKILL.
func (c *Container) ExitStatus() (status int, recorded bool) {
	data, err := os.ReadFile(c.exitPath())
	if err != nil {
		return 128 + int(unix.SIGKILL), false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 128 + int(unix.SIGKILL), false
	}
	return n, true
}

// ExitPath is where the sandbox of the container in dir records init's exit status.
func ExitPath(dir string) string { return filepath.Join(dir, exitFile) }

// ControlPath is the sandbox's control socket in dir.
func ControlPath(dir string) string { return filepath.Join(dir, controlFile) }

// KillSandbox kills the sandbox process with SIGKILL (its Gofer dies with it) and
// waits for it to be gone. For a container in a pod's sandbox, it is the container
// that ends (KillInPod), not the sandbox.
func (c *Container) KillSandbox() {
	if c.InPod() {
		c.KillInPod()
		return
	}
	if !c.SandboxAlive() {
		return
	}
	unix.Kill(c.State.SandboxPID, unix.SIGKILL)
	for i := 0; i < 500 && c.SandboxAlive(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Destroy kills the sandbox, removes its cgroup and the container's directory; the
// lock goes with it. The sandbox's other containers, if it is a pod's, are destroyed
// with it; a container in a pod's sandbox is removed from it (the sandbox goes on).
func (c *Container) Destroy() error {
	c.KillSandbox()
	if c.InPod() {
		os.Remove(c.exitPath())
	} else {
		c.destroyPod()
	}
	var err error
	if c.State.Cgroup != nil {
		err = c.State.Cgroup.Destroy()
	}
	if rmErr := removeDir(c.Dir); err == nil {
		err = rmErr
	}
	c.Close()
	return err
}

// removeDir removes dir and what it holds. A file may still appear there as the
// sandbox dies: its leader shows as a zombie (SandboxAlive false) while another of its
// threads finishes the system call it was in, such as the exit file's creation
// (WriteFileAtomic) when the container ended as it was deleted. Then RemoveAll's
// rmdir finds the directory not empty: look again, a few times.
func removeDir(dir string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.RemoveAll(dir); !errors.Is(err, unix.ENOTEMPTY) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// Delete destroys the container and then runs its poststop hooks; their failures are
// returned as warnings, the destruction's as err.
func (c *Container) Delete() (warnings []error, err error) {
	st := c.StateFor(Stopped)
	if err := c.Destroy(); err != nil {
		return nil, err
	}
	return runAll(HooksOf(c.State.Hooks, Poststop), Poststop, st), nil
}

// Close releases the lock.
func (c *Container) Close() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}
