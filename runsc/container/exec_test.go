package container

import (
	"encoding/json"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadRequestWithFDs: a request and the descriptors sent with it arrive together,
// the descriptors open on the same files; a request without any has none.
func TestReadRequestWithFDs(t *testing.T) {
	dir := t.TempDir()
	l, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	go func() {
		addr, d, _ := unixAddr(ControlPath(dir))
		defer d.Close()
		conn, err := net.DialUnix("unix", nil, addr)
		if err != nil {
			return
		}
		defer conn.Close()
		data, _ := json.Marshal(Request{Cmd: "exec", Exec: json.RawMessage(`{"x":1}`)})
		conn.WriteMsgUnix(append(data, '\n'), unix.UnixRights(int(w.Fd()), int(w.Fd())), nil)
		var resp Response
		json.NewDecoder(conn).Decode(&resp)
	}()
	conn, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, fds, err := ReadRequest(conn)
	if err != nil {
		t.Fatal(err)
	}
	if req.Cmd != "exec" || string(req.Exec) != `{"x":1}` || len(fds) != 2 {
		t.Fatalf("got %+v with %d fds", req, len(fds))
	}
	unix.Write(fds[1], []byte("hi"))
	buf := make([]byte, 2)
	if n, _ := r.Read(buf); string(buf[:n]) != "hi" {
		t.Errorf("the descriptor sent is not the pipe: read %q", buf[:n])
	}
	closeFDs(fds)
	WriteResponse(conn, Response{})
}

// TestExecAnswersTogether: a process that exits at once has both answers sent before
// runsc exec reads the first; the second must still reach the exec-wait that runsc
// exec --detach hands the connection to (it was read ahead into runsc exec's buffer
// and lost: exec-wait reported 128+SIGKILL; seen under load on ptrace).
func TestExecAnswersTogether(t *testing.T) {
	dir := t.TempDir()
	l, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		_, fds, err := ReadRequest(conn)
		if err != nil {
			return
		}
		closeFDs(fds)
		st := 6
		var both []byte
		for _, r := range []Response{{PID: 7}, {Exit: &st}} {
			data, _ := json.Marshal(r)
			both = append(append(both, data...), '\n')
		}
		conn.Write(both) // in one write: one read gets both
	}()
	c := &Container{Dir: dir}
	ec, err := c.Exec(Request{Cmd: "exec"}, []*os.File{os.Stdin})
	if err != nil {
		t.Fatal(err)
	}
	if ec.PID != 7 {
		t.Fatalf("PID %d, want 7", ec.PID)
	}
	// As runsc exec --detach: the connection goes to another process, as a descriptor.
	f, err := ec.File()
	if err != nil {
		t.Fatal(err)
	}
	ec.Close()
	waiter, err := ExecConnFromFile(f, 7)
	if err != nil {
		t.Fatal(err)
	}
	if st, recorded := waiter.Wait(); st != 6 || !recorded {
		t.Errorf("status %d (recorded %v), want 6", st, recorded)
	}
}
