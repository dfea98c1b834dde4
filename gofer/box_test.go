package gofer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// boxChildEnv makes the test binary a boxed Gofer that runs one probe (boxProbe)
// instead of the tests.
const boxChildEnv = "MOAT_GOFER_BOX_PROBE"

func TestMain(m *testing.M) {
	if probe := os.Getenv(boxChildEnv); probe != "" {
		if strings.HasPrefix(probe, "isolate") {
			isolateProbe(probe)
		} else {
			boxProbe(probe)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// boxProbe boxes this process (with a mount open, as a Gofer has) and then does what
// probe says, printing what it finds.
func boxProbe(probe string) {
	s, err := NewServer(Config{Mounts: []Mount{{HostPath: os.TempDir()}}})
	if err != nil {
		fmt.Println("NewServer:", err)
		return
	}
	defer s.Close()
	if err := Box(); err != nil {
		fmt.Println("Box:", err)
		return
	}
	switch probe {
	case "look":
		_, errEtc := os.Stat("/etc")
		entries, errRoot := os.ReadDir("/")
		var hdr unix.CapUserHeader
		hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
		var caps [2]unix.CapUserData
		unix.Capget(&hdr, &caps[0])
		nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
		// The root is a removed directory: nothing in it, not even readable.
		fmt.Printf("etc %v; root entries %d, removed %v; effective %#x; no_new_privs %d\n",
			errors.Is(errEtc, os.ErrNotExist), len(entries), errors.Is(errRoot, unix.ENOENT), caps[0].Effective, nnp)
	case "socket":
		unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) // not on the allow-list
		fmt.Println("socket returned")
	case "fork":
		_, _, e := unix.RawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0)
		fmt.Println("fork returned", e)
	}
}

func runProbe(t *testing.T, probe string) (string, *exec.ExitError) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("boxing needs root (chroot, capabilities)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), boxChildEnv+"="+probe)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), ee
}

// TestBoxConfines checks what a boxed Gofer is left with: an empty root, the file
// capabilities only, no_new_privs.
func TestBoxConfines(t *testing.T) {
	out, ee := runProbe(t, "look")
	if ee != nil {
		t.Fatalf("probe failed: %v\n%s", ee, out)
	}
	var keep uint64
	for _, c := range goferCaps {
		keep |= 1 << c
	}
	want := fmt.Sprintf("etc true; root entries 0, removed true; effective %#x; no_new_privs 1", keep)
	if strings.TrimSpace(out) != want {
		t.Errorf("boxed Gofer: %q, want %q", strings.TrimSpace(out), want)
	}
}

// TestBoxFilterKills checks that a system call off the allow-list, and a fork, kill the
// Gofer with SIGSYS.
func TestBoxFilterKills(t *testing.T) {
	for _, probe := range []string{"socket", "fork"} {
		out, ee := runProbe(t, probe)
		if ee == nil {
			t.Errorf("%s: the boxed Gofer survived:\n%s", probe, out)
			continue
		}
		if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
			t.Errorf("%s: the boxed Gofer ended with %v, want killed by SIGSYS\n%s", probe, ee, out)
		}
	}
}
