package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/moat-sandbox/moat/runsc/container"
)

// control answers the control socket's pause, resume, ps and stats requests (the
// commands of the same names), for the sandbox's own container or, for ps and stats,
// one of its pod's (req.Container); sb.mu is held.
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
		data = k.Processes(req.Container)
	case "stats":
		data = k.Stats(req.Container)
	}
	if data != nil && resp.Err == "" {
		resp.Data, _ = json.Marshal(data)
	}
	return resp
}
