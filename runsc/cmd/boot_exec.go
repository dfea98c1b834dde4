package cmd

import (
	"encoding/json"
	"net"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/runsc/boot"
	"github.com/moat-sandbox/moat/runsc/container"
)

// The sandbox's side of runsc exec (container/exec.go has the protocol): "exec" starts
// a process with the descriptors that came with the request as its stdio, answers with
// its PID, and answers again on the same connection when it has exited;
// "exec-signal" passes on a signal runsc exec received to the process. If the runsc
// exec waiting for the process goes away, the process is killed.

// exec serves an "exec" request; conn is closed once the process has exited (or at
// once if it could not start).
func (sb *sandbox) exec(conn *net.UnixConn, req container.Request, fds []int) {
	var a boot.ExecArgs
	if err := json.Unmarshal(req.Exec, &a); err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		container.WriteResponse(conn, container.Response{Err: "bad exec request: " + err.Error()})
		conn.Close()
		return
	}
	a.Stdio = fds
	a.Container = req.Container
	sb.mu.Lock()
	p, err := sb.s.Exec(a)
	if err == nil {
		sb.execs[p.PID] = p
	}
	sb.mu.Unlock()
	if err != nil {
		container.WriteResponse(conn, container.Response{Err: err.Error()})
		conn.Close()
		return
	}
	sb.answer(conn, container.Response{PID: p.PID})
	// The runsc exec waiting for the process stands for it: if it dies (SIGKILL,
	// which it cannot pass on), its end of the connection closes, and the process
	// is killed.
	go func() {
		var b [1]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				break
			}
		}
		select {
		case <-p.Done():
		default:
			sb.s.Kernel.SignalProcess(p.PID, unix.SIGKILL)
		}
	}()
	go func() {
		st := p.Wait().Shell()
		sb.mu.Lock()
		delete(sb.execs, p.PID)
		sb.mu.Unlock()
		sb.answer(conn, container.Response{Exit: &st})
		conn.Close()
	}()
}

// answer sends resp and holds off finish meanwhile: the status of an exec'd process
// that ended as init did is sent whole, not cut short by the sandbox's exit (if finish
// came first, the answer waits for the exit, and runsc exec reports 128+SIGKILL).
func (sb *sandbox) answer(conn *net.UnixConn, resp container.Response) {
	sb.answering.RLock()
	defer sb.answering.RUnlock()
	container.WriteResponse(conn, resp)
}

// execSignalLocked sends sig to the exec'd process pid. A SIGWINCH to a process with a
// console is the host telling its runsc exec that the window changed: the console's
// size is copied from the host, which signals the terminal's foreground group if it
// changed; the process gets the signal itself only if it did not. sb.mu is held.
func (sb *sandbox) execSignalLocked(pid int32, sig unix.Signal) string {
	p := sb.execs[pid]
	if p == nil {
		return "no such process"
	}
	if c := p.Console(); sig == unix.SIGWINCH && c != nil && c.Resize() {
		return ""
	}
	if err := sb.s.Kernel.SignalProcess(pid, sig); err != nil {
		return "no such process"
	}
	return ""
}

// watchConsole follows init's console: the sandbox process has its host side as
// controlling terminal, so the host sends it SIGWINCH when the window size changes
// (copied to the Sentry's terminal), and SIGHUP when the host master is closed (the
// console's pump hangs the Sentry's terminal up; the sandbox goes on).
func watchConsole(c *boot.Console) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGWINCH, unix.SIGHUP)
	go func() {
		for s := range ch {
			if s == unix.SIGWINCH {
				c.Resize()
			}
		}
	}()
}
