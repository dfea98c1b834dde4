package container

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Request is one command to the sandbox over its control socket; the sandbox answers
// each with a Response and closes the connection.
type Request struct {
	Cmd    string `json:"cmd"` // "start", "kill", "pause", "resume", "ps", "stats"
	Signal int    `json:"signal,omitempty"`
	All    bool   `json:"all,omitempty"`
}

// Response is the sandbox's answer: Err is empty on success.
type Response struct {
	Err string `json:"err,omitempty"`
	// Data is the answer to ps and stats.
	Data json.RawMessage `json:"data,omitempty"`
}

// unixAddr names the socket at path through an O_PATH descriptor of its directory, so
// that a long --root does not hit the 108-byte limit of sun_path. The caller closes
// the returned file after using the address.
func unixAddr(path string) (*net.UnixAddr, *os.File, error) {
	dir, err := os.OpenFile(filepath.Dir(path), os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	return &net.UnixAddr{Name: name, Net: "unix"}, dir, nil
}

// Listen makes the control socket in the container directory dir.
func Listen(dir string) (*net.UnixListener, error) {
	addr, d, err := unixAddr(ControlPath(dir))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	l, err := net.ListenUnix("unix", addr)
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	return l, nil
}

// Send sends req to the sandbox of the container and returns its error.
func (c *Container) Send(req Request) error { return c.SendFor(req, nil) }

// SendFor sends req to the sandbox of the container, decodes the answer's data into
// out (if not nil) and returns the sandbox's error.
func (c *Container) SendFor(req Request, out any) error {
	addr, d, err := unixAddr(ControlPath(c.Dir))
	if err != nil {
		return err
	}
	defer d.Close()
	conn, err := net.DialUnix("unix", nil, addr)
	if err != nil {
		return fmt.Errorf("connecting to the sandbox: %w", err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("talking to the sandbox: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return fmt.Errorf("reading the sandbox's answer: %w", err)
	}
	if resp.Err != "" {
		return fmt.Errorf("%s", resp.Err)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return fmt.Errorf("reading the sandbox's answer: %w", err)
		}
	}
	return nil
}
