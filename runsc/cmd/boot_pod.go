package cmd

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/container"
	"github.com/moat-sandbox/moat/sentry/kernel"
)

// The sandbox's side of the other containers of its pod (runsc/boot/pod.go has what
// they are in the Sentry; runsc create of such a container sends "add-container").
// Each request names its container (Request.Container):
//
//   - "add-container": its arguments (boot.Args) come as Exec, and its descriptors
//     are the Gofer's socket, then its stdio (3) or its console (1);
//   - "start" runs its init; "kill" signals it (one not started yet ends, as the
//     sandbox's own init does, if the signal's default action ends a process);
//   - "ps", "stats": its processes; "pause", "resume" freeze and thaw them;
//   - "remove-container" kills its processes and closes its Gofer's connection.
//
// When its init has exited (and the rest of its processes with it), the sandbox
// records the exit status in its own directory (container.PodExitName), where runsc
// state and wait look for it; the sandbox goes on. pause and resume of it freeze and
// thaw its processes only (kernel's FreezeContainer), the pod's others go on.

// podContainer is the sandbox's record of a container of its pod.
type podContainer struct {
	// proc is its init once started (or ended before it ran); recorded is closed
	// when init's exit status is on disk.
	proc     *boot.Process
	recorded chan struct{}
}

// addContainer serves "add-container"; it closes conn.
func (sb *sandbox) addContainer(conn *net.UnixConn, req container.Request, fds []int) {
	defer conn.Close()
	fail := func(format string, args ...any) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		container.WriteResponse(conn, container.Response{Err: fmt.Sprintf(format, args...)})
	}
	var a boot.Args
	if err := json.Unmarshal(req.Exec, &a); err != nil {
		fail("bad add-container request: %v", err)
		return
	}
	a.Console, a.Stdio = 0, [3]int{}
	switch {
	case req.Container == "":
		fail("add-container: no container ID")
		return
	case len(fds) == 2:
		a.GoferFD, a.Console = fds[0], fds[1]
	case len(fds) == 4:
		a.GoferFD, a.Stdio = fds[0], [3]int{fds[1], fds[2], fds[3]}
	default:
		fail("add-container %q: %d descriptors (want the Gofer's and the stdio or a console)", req.Container, len(fds))
		return
	}
	sb.answering.RLock() // the sandbox does not end before the answer is out (finish)
	defer sb.answering.RUnlock()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if _, ok := sb.pod[req.Container]; ok {
		fail("container %q is already in this sandbox", req.Container)
		return
	}
	if err := sb.s.AddContainer(req.Container, a); err != nil { // it owns the FDs
		container.WriteResponse(conn, container.Response{Err: err.Error()})
		return
	}
	sb.pod[req.Container] = &podContainer{}
	container.WriteResponse(conn, container.Response{PID: sb.s.Init(req.Container)})
}

// podRequestLocked answers a request for a container of the pod; sb.mu is held.
func (sb *sandbox) podRequestLocked(req container.Request) container.Response {
	var resp container.Response
	id := req.Container
	pc := sb.pod[id]
	if pc == nil {
		resp.Err = fmt.Sprintf("container %q is not in this sandbox", id)
		return resp
	}
	switch req.Cmd {
	case "start":
		if pc.proc != nil {
			resp.Err = "cannot start an already running container"
			break
		}
		if err := sb.startPodLocked(id, pc, 0); err != nil {
			resp.Err = err.Error()
		}
	case "kill":
		sig := unix.Signal(req.Signal)
		if pc.proc == nil {
			// init has not run an instruction: as for the sandbox's own init.
			if defaultKills(sig) {
				if err := sb.startPodLocked(id, pc, sig); err != nil {
					resp.Err = err.Error()
				}
			}
			break
		}
		if err := sb.s.Kill(id, sig, req.All); err != nil {
			resp.Err = "container not running"
		}
	case "ps", "stats":
		resp = sb.control(req) // boot_control.go
	case "pause":
		if err := sb.s.Kernel.FreezeContainer(id); err != nil {
			resp.Err = fmt.Sprintf("pausing: %v", err)
		}
	case "resume":
		sb.s.Kernel.ThawContainer(id)
	case "remove-container":
		if pc.proc == nil {
			sb.startPodLocked(id, pc, unix.SIGKILL)
		}
		sb.s.RemoveContainer(id)
		if pc.recorded != nil {
			<-pc.recorded
		}
		delete(sb.pod, id)
	default:
		resp.Err = fmt.Sprintf("unknown request %q", req.Cmd)
	}
	return resp
}

// startPodLocked runs the init of container id (or ends it with killWith before it
// runs), and records its exit status when it and the container's other processes are
// gone. sb.mu is held.
func (sb *sandbox) startPodLocked(id string, pc *podContainer, killWith unix.Signal) error {
	p, err := sb.s.StartContainer(id, killWith)
	if err != nil {
		return err
	}
	pc.proc, pc.recorded = p, make(chan struct{})
	go func() {
		sb.recordPodExit(id, p.Wait())
		close(pc.recorded)
	}()
	return nil
}

// recordPodExit records the exit status of container id's init in the sandbox's
// directory (the sandbox's root now).
func (sb *sandbox) recordPodExit(id string, st kernel.ExitStatus) {
	path := filepath.Join(filepath.Dir(sb.exitPath), container.PodExitName(id))
	if err := container.WriteFileAtomic(path, []byte(strconv.Itoa(st.Shell())+"\n")); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: container %q: recording the exit status: %v\n", id, err)
	}
}
