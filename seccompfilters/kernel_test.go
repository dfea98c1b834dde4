package seccompfilters

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel tests re-execute the test binary running only TestKernelChild,
// with childEnv naming what the child should do. The child installs a
// filter, makes syscalls, and prints "child: ..." lines that the parent
// checks along with the exit status.
//
// A Go child cannot live with a strict allow-list (the runtime makes many
// syscalls), so every child filter defaults to ActionAllow and only
// constrains syscalls the runtime does not use.
const childEnv = "SECCOMPFILTERS_TEST_CHILD"

const (
	allowArg = 0x1_0000_0042 // getppid(allowArg) is allowed
	killArg  = 0x2_0000_0007 // getpgid(killArg) gets the tested action
)

// childFilter: getppid is allowed only with allowArg and fails with EPERM
// otherwise; getpgid(killArg) gets act; everything else is allowed.
func childFilter(act Action) *Filter {
	return &Filter{
		Default: ActionAllow,
		Syscalls: map[uintptr][]Rule{
			unix.SYS_GETPPID: {
				{Args: [6]Match{Eq(allowArg)}},
				{Action: ActionErrno(unix.EPERM)},
			},
			unix.SYS_GETPGID: {
				{Args: [6]Match{Eq(killArg)}, Action: act},
			},
		},
	}
}

// syscallResult formats a raw syscall outcome as "ok" or the errno name.
func syscallResult(nr uintptr, args ...uintptr) string {
	var a [3]uintptr
	copy(a[:], args)
	_, _, errno := unix.RawSyscall(nr, a[0], a[1], a[2])
	if errno != 0 {
		return unix.ErrnoName(errno)
	}
	return "ok"
}

func childInstall(f *Filter, flags uint) {
	prog, err := f.Build()
	if err == nil {
		err = Install(prog, flags)
	}
	if err != nil {
		fmt.Println("child: install failed:", err)
		os.Exit(1)
	}
	fmt.Println("child: installed")
}

var childCases = map[string]func(){
	"errno": func() {
		runtime.LockOSThread()
		childInstall(childFilter(ActionKillProcess), 0)
		fmt.Println("child: getppid(allowArg)", syscallResult(unix.SYS_GETPPID, allowArg))
		fmt.Println("child: getppid(0)", syscallResult(unix.SYS_GETPPID, 0))
		fmt.Println("child: getppid(low half only)", syscallResult(unix.SYS_GETPPID, allowArg&0xffffffff))
		fmt.Println("child: getppid(high half differs)", syscallResult(unix.SYS_GETPPID, allowArg+1<<32))
		fmt.Println("child: getpgid(0)", syscallResult(unix.SYS_GETPGID, 0))
	},
	"kill process": func() {
		runtime.LockOSThread()
		childInstall(childFilter(ActionKillProcess), 0)
		fmt.Println("child: getpgid(0)", syscallResult(unix.SYS_GETPGID, 0))
		fmt.Println("child: getpgid(killArg)", syscallResult(unix.SYS_GETPGID, killArg))
	},
	"x32 syscall": func() {
		childInstall(childFilter(ActionKillProcess), unix.SECCOMP_FILTER_FLAG_TSYNC)
		fmt.Println("child: x32 getppid", syscallResult(x32Bit|unix.SYS_GETPPID, allowArg))
	},
	"trap": func() {
		runtime.LockOSThread()
		childInstall(childFilter(ActionTrap), 0)
		fmt.Println("child: getpgid(killArg)", syscallResult(unix.SYS_GETPGID, killArg))
	},
	"kill thread": func() {
		childInstall(childFilter(ActionKillThread), unix.SECCOMP_FILTER_FLAG_TSYNC)
		tids := make(chan int)
		go func() {
			runtime.LockOSThread()
			tids <- unix.Gettid()
			fmt.Println("child: thread getpgid(killArg)", syscallResult(unix.SYS_GETPGID, killArg))
		}()
		tid := <-tids
		// A dead thread disappears from /proc/self/task, except the
		// thread group leader, which stays a zombie while others run.
		stat := fmt.Sprintf("/proc/self/task/%d/stat", tid)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			b, err := os.ReadFile(stat)
			if _, after, _ := bytes.Cut(b, []byte(") ")); errors.Is(err, os.ErrNotExist) || bytes.HasPrefix(after, []byte("Z")) {
				fmt.Println("child: thread gone, process alive")
				return
			}
		}
		fmt.Println("child: thread still exists")
	},
	"tsync":    func() { childThreads(unix.SECCOMP_FILTER_FLAG_TSYNC) },
	"no tsync": func() { childThreads(0) },
	"large": func() {
		// Numbers 1000+ are not syscalls; each gets its own errno when
		// args[0] matches, deep inside a program that needs far jumps.
		f := childFilter(ActionKillProcess)
		for i := range uintptr(300) {
			f.Syscalls[1000+i] = []Rule{
				{Args: [6]Match{Eq(uint64(i) + hi)}, Action: ActionErrno(unix.Errno(i + 1))},
				{Args: [6]Match{Any(), MaskedEq(0xf, uint64(i%16))}, Action: ActionErrno(unix.Errno(i + 1001))},
			}
		}
		prog, _ := f.Build()
		fmt.Println("child: instructions", len(prog) > 1000)
		childInstall(f, unix.SECCOMP_FILTER_FLAG_TSYNC)
		var bad []string
		for i := range uintptr(300) {
			nr := 1000 + i
			for _, c := range []struct {
				args []uintptr
				want unix.Errno
			}{
				{[]uintptr{i + 1<<32}, unix.Errno(i + 1)},
				{[]uintptr{i, 16 + i%16}, unix.Errno(i + 1001)},
				{[]uintptr{i, i%16 + 1}, unix.ENOSYS},
			} {
				var a [3]uintptr
				copy(a[:], c.args)
				if _, _, errno := unix.RawSyscall(nr, a[0], a[1], a[2]); errno != c.want {
					bad = append(bad, fmt.Sprintf("syscall %d%v = %d, want %d", nr, c.args, errno, c.want))
				}
			}
		}
		fmt.Println("child: mismatches", len(bad), strings.Join(bad, "; "))
		fmt.Println("child: getppid(0)", syscallResult(unix.SYS_GETPPID, 0))
	},
}

// childThreads starts a second OS thread, then installs the filter from the
// main thread with flags and reports whether each thread is filtered.
func childThreads(flags uint) {
	runtime.LockOSThread()
	ready, start, done := make(chan int), make(chan struct{}), make(chan string)
	go func() {
		runtime.LockOSThread()
		ready <- unix.Gettid()
		<-start
		done <- syscallResult(unix.SYS_GETPPID, 0)
	}()
	other := <-ready // the other thread exists before Install
	if other == unix.Gettid() {
		fmt.Println("child: threads are not distinct")
		return
	}
	childInstall(childFilter(ActionKillProcess), flags)
	fmt.Println("child: this thread getppid(0)", syscallResult(unix.SYS_GETPPID, 0))
	close(start)
	fmt.Println("child: other thread getppid(0)", <-done)
}

// TestKernelChild is the body of the re-executed child; it does nothing in
// a normal test run.
func TestKernelChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		t.Skip("only runs as a child of the kernel tests")
	}
	var lim unix.Rlimit // no core dumps from SIGSYS
	unix.Setrlimit(unix.RLIMIT_CORE, &lim)
	childCases[name]()
	os.Exit(0)
}

func TestKernel(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("filters are for x86-64")
	}
	if status, err := os.ReadFile("/proc/self/status"); err != nil || !bytes.Contains(status, []byte("\nSeccomp:")) {
		t.Skip("kernel has no seccomp support")
	}
	tests := []struct {
		child      string
		wantSignal syscall.Signal // 0: exit status 0
		wantExit   int            // if wantSignal == 0
		wantOut    []string
		wantErr    string // substring of stderr
	}{
		{child: "errno", wantOut: []string{
			"installed",
			"getppid(allowArg) ok",
			"getppid(0) EPERM",
			"getppid(low half only) EPERM",
			"getppid(high half differs) EPERM",
			"getpgid(0) ok",
		}},
		{child: "kill process", wantSignal: unix.SIGSYS, wantOut: []string{"installed", "getpgid(0) ok"}},
		{child: "x32 syscall", wantSignal: unix.SIGSYS, wantOut: []string{"installed"}},
		{child: "trap", wantExit: 2, wantOut: []string{"installed"}, wantErr: "SIGSYS: bad system call"},
		{child: "kill thread", wantOut: []string{"installed", "thread gone, process alive"}},
		{child: "tsync", wantOut: []string{"installed", "this thread getppid(0) EPERM", "other thread getppid(0) EPERM"}},
		{child: "no tsync", wantOut: []string{"installed", "this thread getppid(0) EPERM", "other thread getppid(0) ok"}},
		{child: "large", wantOut: []string{"instructions true", "installed", "mismatches 0 ", "getppid(0) EPERM"}},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.child, " ", "_"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKernelChild$")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.child)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatalf("running child: %v", err)
			}
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			var got []string
			for line := range strings.Lines(stdout.String()) {
				if rest, ok := strings.CutPrefix(line, "child: "); ok {
					got = append(got, strings.TrimSuffix(rest, "\n"))
				}
			}
			t.Logf("child %s: %v\n%s", tc.child, ws, strings.Join(got, "\n"))
			switch {
			case tc.wantSignal != 0:
				if !ws.Signaled() || ws.Signal() != tc.wantSignal {
					t.Errorf("child status %v, want killed by %v", cmd.ProcessState, tc.wantSignal)
				}
			case ws.ExitStatus() != tc.wantExit:
				t.Errorf("child status %v, want exit %d\nstderr:\n%s", cmd.ProcessState, tc.wantExit, stderr.String())
			}
			ok := len(got) == len(tc.wantOut)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.wantOut[i])
			}
			if !ok {
				t.Errorf("child output %q, want lines starting with %q", got, tc.wantOut)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("child stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
		})
	}
}
