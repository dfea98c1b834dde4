package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// leakCheck records what the host has before a test, to check that runsc left
// nothing behind: processes naming the state root, mounts, cgroups and files.
type leakCheck struct {
	r       runtime
	tmp     string          // runsc's TMPDIR: must stay empty
	out     string          // the commands' stderr files
	mounts  map[string]bool // /proc/self/mountinfo lines before
	cgroups []string        // cgroup paths the containers were given
}

func newLeakCheck(t *testing.T, r runtime) *leakCheck {
	return &leakCheck{r: r, tmp: t.TempDir(), out: t.TempDir(), mounts: mountLines()}
}

func mountLines() map[string]bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	lines := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		lines[l] = true
	}
	return lines
}

// run runs runsc with TMPDIR set, stdin and stdout on /dev/null and stderr on a
// file (a sandbox keeps its stdio, so a pipe would never see EOF). It may run on
// any goroutine.
func (c *leakCheck) run(args ...string) error {
	errf, err := os.CreateTemp(c.out, "stderr")
	if err != nil {
		return err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := exec.Command(c.r.bin, append([]string{"--root", c.r.root}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+c.tmp)
	cmd.Stderr = errf
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(errf.Name())
		return fmt.Errorf("runsc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
	}
	return nil
}

// verify checks that no process, mount, cgroup or file is left.
func (c *leakCheck) verify(t *testing.T) {
	t.Helper()
	noTrace(t, c.r) // the --root dir is empty, no live process names it
	for l := range mountLines() {
		if !c.mounts[l] && (strings.Contains(l, c.r.root) || strings.Contains(l, "runsc") || strings.Contains(l, workDir)) {
			t.Errorf("mount left: %s", l)
		}
	}
	for _, p := range c.cgroups {
		for _, d := range cgroupDirs(p) {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left behind", d)
			}
		}
	}
	ents, _ := os.ReadDir(c.tmp)
	for _, e := range ents {
		t.Errorf("file left in TMPDIR: %s", e.Name())
	}
}

// TestCycles: 200 run/delete cycles, four at a time, leave no process, mount or
// file behind. Even cycles are `run` (which waits and deletes), odd ones
// create/start/delete --force.
func TestCycles(t *testing.T) {
	const cycles, workers = 200, 4
	r := newRuntime(t, runsc)
	c := newLeakCheck(t, r)
	b := bundle(t, "true")
	var wg sync.WaitGroup
	errs := make(chan error, cycles)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := fmt.Sprintf("cycle-%d", i)
				if i%2 == 0 {
					if err := c.run("run", "--bundle", b, id); err != nil {
						errs <- fmt.Errorf("cycle %d: %v", i, err)
					}
					continue
				}
				for _, args := range [][]string{{"create", "--bundle", b, id}, {"start", id}, {"delete", "--force", id}} {
					if err := c.run(args...); err != nil {
						errs <- fmt.Errorf("cycle %d: %v", i, err)
						c.run("delete", "--force", id)
						break
					}
				}
			}
		}()
	}
	for i := 0; i < cycles; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 5 {
		t.Errorf("... %d failed cycles in all", n)
	}
	c.verify(t)
}

// TestConcurrentContainers: 20 containers, each in its own cgroup, running at once
// (one Sentry and Gofer each), then deleted at once, leave no process, mount,
// cgroup or file behind.
func TestConcurrentContainers(t *testing.T) {
	const n = 20
	r := newRuntime(t, runsc)
	c := newLeakCheck(t, r)
	b := bundle(t, "sleep", "100")
	withCgroups := false
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		withCgroups = true
	} else if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		withCgroups = true
	}
	parent := fmt.Sprintf("/moat-concurrent-%d", os.Getpid())
	bundles := make([]string, n)
	for i := range bundles {
		bundles[i] = b
		if withCgroups {
			// One bundle per container: each its own cgroupsPath.
			bundles[i] = filepath.Join(t.TempDir(), "bundle")
			os.MkdirAll(bundles[i], 0o755)
			data, _ := os.ReadFile(filepath.Join(b, "config.json"))
			os.WriteFile(filepath.Join(bundles[i], "config.json"), data, 0o644)
			path := fmt.Sprintf("%s/c%d", parent, i)
			editSpec(t, bundles[i], func(spec map[string]any) {
				linuxOf(spec)["cgroupsPath"] = path
				linuxOf(spec)["resources"] = map[string]any{"pids": map[string]any{"limit": 100}}
			})
			c.cgroups = append(c.cgroups, path)
		}
	}
	if withCgroups {
		// The parent is the caller's, as kubelet's pod cgroups are: runsc, like runc,
		// removes the cgroups it was given and any parent it made while empty, and here
		// whichever container made a shared parent is not the last to leave it.
		for _, d := range cgroupDirs(parent) {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			for _, d := range cgroupDirs(parent) {
				if err := os.Remove(d); err != nil {
					t.Errorf("removing the parent cgroup: %v", err)
				}
			}
		}()
	} else {
		t.Log("no cgroup filesystem: cgroups not checked")
	}

	all := func(do func(i int, id string) error) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := do(i, fmt.Sprintf("conc-%d", i)); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
	}
	all(func(i int, id string) error {
		return c.run("run", "--detach", "--bundle", bundles[i], id)
	})
	// All 20 run at once, each in its cgroup.
	all(func(i int, id string) error {
		out, err := exec.Command(runsc, "--root", r.root, "state", id).Output()
		if err != nil || !strings.Contains(string(out), `"status": "running"`) && !strings.Contains(string(out), `"status":"running"`) {
			return fmt.Errorf("state %s: %v %s", id, err, out)
		}
		if withCgroups {
			for _, d := range cgroupDirs(c.cgroups[i]) {
				if procs := strings.Fields(readFile(d, "cgroup.procs")); len(procs) < 2 {
					return fmt.Errorf("%s/cgroup.procs: %v, want the sandbox and its Gofer", d, procs)
				}
			}
		}
		return nil
	})
	all(func(i int, id string) error {
		return c.run("delete", "--force", id)
	})
	c.verify(t)
}
