package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks: the spec's hooks run on the host, by the runsc command that reaches each
// point of the lifecycle, as runc runs them: in order, each with the container's
// state (the OCI JSON) on its stdin, its path executed with its args (args[0] is its
// argv[0]) and exactly its env, killed after its timeout. Its output is kept for the
// error message.
//
//   - prestart, createRuntime, createContainer: by create, once the sandbox holds init
//     (status creating); a failure fails create, which removes everything.
//   - startContainer: by start, before init runs (status created); a failure stops the
//     container, as runc's init that fails before exec.
//   - poststart: by start, once init runs (running); a failure is a warning.
//   - poststop: by delete, once the sandbox and its cgroup are gone (stopped); a
//     failure is a warning.
//
// runc runs createContainer and startContainer in the container's namespaces (from
// its init, before pivot_root and exec). The application here runs on the Sentry,
// whose namespaces are its own model, not host ones a host program could enter; the
// sandbox process's namespaces hold no container filesystem (its root is an empty
// state directory) and it can't exec. So, as gVisor does, they run on the host like the
// others; a hook that looks at the container's root finds it at the state's bundle.

// Hook kinds, as the spec names them.
const (
	Prestart        = "prestart"
	CreateRuntime   = "createRuntime"
	CreateContainer = "createContainer"
	StartContainer  = "startContainer"
	Poststart       = "poststart"
	Poststop        = "poststop"
)

// HooksOf returns the hooks of kind in h.
func HooksOf(h *specs.Hooks, kind string) []specs.Hook {
	if h == nil {
		return nil
	}
	switch kind {
	case Prestart:
		return h.Prestart //nolint:staticcheck // deprecated by the spec, still run by runc
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	case Poststop:
		return h.Poststop
	}
	return nil
}

// RunHooks runs c's hooks of kind (from its state), with st on their stdin, and
// returns the first failure.
func (c *Container) RunHooks(kind string, st OCIState) error {
	for i, h := range HooksOf(c.State.Hooks, kind) {
		if err := runHook(h, st); err != nil {
			return fmt.Errorf("running %s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunHooksAll runs all of c's hooks of kind, with st on their stdin, and returns their
// failures: for poststart and poststop, whose failures are warnings that stop nothing.
func (c *Container) RunHooksAll(kind string, st OCIState) []error {
	return runAll(HooksOf(c.State.Hooks, kind), kind, st)
}

func runAll(hooks []specs.Hook, kind string, st OCIState) []error {
	var errs []error
	for i, h := range hooks {
		if err := runHook(h, st); err != nil {
			errs = append(errs, fmt.Errorf("running %s hook #%d (%s): %w", kind, i, h.Path, err))
		}
	}
	return errs
}

// runHook runs one hook.
func runHook(h specs.Hook, st OCIState) error {
	// The spec's State, which leaves out a zero PID (poststop's), as runc's.
	state, err := json.Marshal(specs.State{Version: st.OCIVersion, ID: st.ID, Status: specs.ContainerState(st.Status),
		Pid: st.PID, Bundle: st.Bundle, Annotations: st.Annotations})
	if err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := &exec.Cmd{Path: h.Path, Args: args, Env: h.Env, Stdin: bytes.NewReader(state),
		Stdout: &stdout, Stderr: &stderr}
	if cmd.Env == nil {
		cmd.Env = []string{} // exactly the hook's env: nothing of runsc's
	}
	// Its own process group, so that a timeout kills what it started too (which
	// would otherwise hold its output pipes open); and a bound on that wait anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout != nil && *h.Timeout > 0 {
		t := time.NewTimer(time.Duration(*h.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err = <-done:
	case <-timeout:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		return fmt.Errorf("%w, stdout: %q, stderr: %q", err, strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	return nil
}

// StateFor is c's OCI state with status s, as a hook of that moment sees it.
func (c *Container) StateFor(s Status) OCIState {
	st := c.OCI()
	st.Status = s
	if s == Stopped {
		st.PID = 0
	}
	return st
}
