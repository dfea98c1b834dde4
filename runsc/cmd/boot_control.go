package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/moat-sandbox/moat/runsc/container"
)

// control answers the control socket's pause, resume, ps and stats requests (the
// commands of the same names); sb.mu is held.
func (sb *sandbox) control(req container.Request) container.Response {
	var resp container.Response
	k := sb.s.Kernel
	var data any
	switch req.Cmd {
	case "pause":
		if err := k.Freeze(); err != nil {
			resp.Err = fmt.Sprintf("pausing: %v", err)
		}
	case "resume":
		k.Thaw()
	case "ps":
		data = k.Processes()
	case "stats":
		data = k.Stats()
	}
	if data != nil && resp.Err == "" {
		resp.Data, _ = json.Marshal(data)
	}
	return resp
}
