package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Exec over the control socket: runsc exec connects, sends an "exec" request with the
// process's stdio (or its console) as SCM_RIGHTS in the same message, and reads two
// answers on the connection: one when the process is started (its PID in the sandbox,
// or why it could not start), and one when it has exited (its status). The
// connection stays open in between; if the sandbox ends first, the connection is
// closed and the process is taken to have been killed.

// MaxRequestFDs bounds the descriptors one request may carry: SCM_MAX_FD
// (include/net/scm.h), what one message can.
const MaxRequestFDs = 253

// ExecConn is the connection of an exec'd process, until it exits.
type ExecConn struct {
	conn *net.UnixConn
	dec  *json.Decoder
	PID  int32
}

// Exec asks c's sandbox to run a process: req is an "exec" request and files its stdio.
// It returns once the process is started.
func (c *Container) Exec(req Request, files []*os.File) (*ExecConn, error) {
	req.Container = c.podID()
	addr, d, err := unixAddr(ControlPath(c.ControlDir()))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	conn, err := net.DialUnix("unix", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the sandbox: %w", err)
	}
	data, err := json.Marshal(req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	if _, _, err := conn.WriteMsgUnix(append(data, '\n'), unix.UnixRights(fds...), nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("talking to the sandbox: %w", err)
	}
	// The first answer is read up to its newline and no further: a process that
	// exits at once has its second answer sent right after, and bytes of it read
	// ahead here would be lost to an exec-wait that is handed the connection
	// (--detach), which would then take the process for killed (128+SIGKILL).
	line, err := readLine(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the sandbox's answer: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the sandbox's answer: %w", err)
	}
	if resp.Err != "" {
		conn.Close()
		return nil, errors.New(resp.Err)
	}
	return &ExecConn{conn: conn, dec: json.NewDecoder(conn), PID: resp.PID}, nil
}

// maxAnswer bounds the first answer to an exec (a PID or an error message).
const maxAnswer = 64 << 10

// readLine reads r a byte at a time up to and including the first newline (a
// Response as WriteResponse encodes it), so that nothing after it is consumed.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for len(line) < maxAnswer {
		n, err := r.Read(b[:])
		if n == 1 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return line, nil
			}
		}
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("answer too long")
}

// Wait waits for the process to exit and returns its status as a shell reports it.
// If the sandbox ended first, the status is 128+SIGKILL (the process died with it)
// and recorded is false.
func (e *ExecConn) Wait() (status int, recorded bool) {
	defer e.conn.Close()
	var resp Response
	if err := e.dec.Decode(&resp); err != nil || resp.Exit == nil {
		return 128 + int(unix.SIGKILL), false
	}
	return *resp.Exit, true
}

// ReadRequest reads a request from conn, with the descriptors that came with it
// (which the caller closes).
func ReadRequest(conn *net.UnixConn) (Request, []int, error) {
	var req Request
	var data []byte
	var fds []int
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(MaxRequestFDs*4))
	for !bytes.HasSuffix(data, []byte("\n")) {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
				for _, m := range msgs {
					if r, perr := unix.ParseUnixRights(&m); perr == nil {
						fds = append(fds, r...)
					}
				}
			}
		}
		data = append(data, buf[:n]...)
		if err != nil || n == 0 {
			if err == nil || err == io.EOF {
				break
			}
			closeFDs(fds)
			return req, nil, err
		}
	}
	if err := json.Unmarshal(data, &req); err != nil {
		closeFDs(fds)
		return req, nil, err
	}
	return req, fds, nil
}

// WriteResponse writes resp to conn.
func WriteResponse(conn *net.UnixConn, resp Response) error {
	return json.NewEncoder(conn).Encode(&resp)
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// File returns a duplicate of the connection's descriptor, to hand the wait for the
// process's exit to another process (runsc exec --detach).
func (e *ExecConn) File() (*os.File, error) { return e.conn.File() }

// Close closes the connection (the process goes on).
func (e *ExecConn) Close() { e.conn.Close() }

// ExecConnFromFile is the connection of the exec'd process pid, from the descriptor
// File returned (inherited by another process).
func ExecConnFromFile(f *os.File, pid int32) (*ExecConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("not a unix socket")
	}
	return &ExecConn{conn: uc, dec: json.NewDecoder(uc), PID: pid}, nil
}

// SendTo sends req to the sandbox whose control socket is in dir (a container's
// ControlDir), without the container's lock: for a runsc exec passing on a signal to
// its process while other commands run on the container.
func SendTo(dir string, req Request) error {
	return (&Container{Dir: dir}).Send(req)
}
