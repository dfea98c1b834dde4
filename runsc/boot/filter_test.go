package boot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/platform/systrap"
	sf "github.com/moat-sandbox/moat/seccompfilters"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
)

// probeEnv makes the test binary a filtered Sentry that runs one probe (filterProbe)
// instead of the tests: "PLATFORM:MODE:PROBE", MODE kill or debug.
const probeEnv = "MOAT_SENTRY_FILTER_PROBE"

func TestMain(m *testing.M) {
	if probe := os.Getenv(probeEnv); probe != "" {
		filterProbe(probe)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// filterProbe installs the Sentry's filter as runsc boot does (after making what it
// makes before: a memory file, a platform, a descriptor of a directory), then does
// what probe says and prints what it finds; a forbidden call never returns.
func filterProbe(probe string) {
	parts := strings.SplitN(probe, ":", 3)
	plat, mode, what := parts[0], parts[1], parts[2]
	mf, err := pgalloc.New("moat-test-memory", 1<<30)
	if err != nil {
		fmt.Println("memory file:", err)
		return
	}
	var p *ptrace.Platform
	if plat == "systrap" {
		p, err = systrap.New(mf.FD())
	} else {
		p, err = ptrace.New(mf.FD())
	}
	if err != nil {
		fmt.Println("platform:", err)
		return
	}
	dir, err := unix.Open(os.TempDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	state, parent := os.Getenv("MOAT_PROBE_DIR"), os.Getppid()
	if err := InstallFilter(FilterOptions{Platform: plat, Debug: mode == "debug", Sandbox: true}); err != nil {
		fmt.Println("InstallFilter:", err)
		return
	}
	// Forbidden: each kills the process.
	switch what {
	case "socket":
		unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	case "execve":
		syscall.Exec("/bin/true", []string{"true"}, nil)
	case "fork":
		unix.RawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0)
	case "open for reading":
		unix.Open("/etc/hostname", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	case "open from a directory descriptor":
		unix.Openat(dir, "moat-probe", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	case "executable mapping":
		unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	case "terminal change":
		var tio unix.Termios
		unix.IoctlSetTermios(1, unix.TCSETS, &tio)
	case "ptrace attach":
		unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(parent), 0, 0, 0, 0)
	case "signal to another process":
		unix.Kill(parent, 0)
	case "runtime":
		exerciseRuntime(state)
		fmt.Println("ok")
		return
	case "platform":
		if err := exercisePlatform(mf, p); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("ok")
		return
	}
	fmt.Println(what, "returned")
}

// exerciseRuntime makes the Go runtime do what it does in a long-running Sentry: new
// threads, heap growth and return, collections, timers, preemption, and the writes of
// the exit-status file into the state directory.
func exerciseRuntime(state string) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { // a thread of its own each, ended when the goroutine returns
			defer wg.Done()
			runtime.LockOSThread()
			deadline := time.Now().Add(30 * time.Millisecond)
			for n := 0; time.Now().Before(deadline); n++ { // preempted by signals
				_ = n * n
			}
		}()
	}
	var keep [][]byte
	for i := 0; i < 32; i++ {
		keep = append(keep, make([]byte, 8<<20))
	}
	runtime.GC()
	keep = nil
	runtime.GC()
	debug.FreeOSMemory()
	<-time.After(5 * time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	wg.Wait()
	path := filepath.Join(state, "exit")
	if err := os.WriteFile(path+".tmp", []byte("0\n"), 0o644); err != nil {
		fmt.Println(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		fmt.Println(err)
	}
}

// exercisePlatform makes, changes and releases address spaces on a filtered Sentry,
// and checks that a new platform (whose template would have to be forked) is refused.
func exercisePlatform(mf *pgalloc.MemoryFile, p *ptrace.Platform) error {
	fr, err := mf.Allocate(16 << 12)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		as, err := p.NewAddressSpace()
		if err != nil {
			return fmt.Errorf("NewAddressSpace: %w", err)
		}
		const addr = 0x400000
		if err := as.MapFile(addr, fr, platform.ReadWrite, i == 1); err != nil {
			return fmt.Errorf("MapFile: %w", err)
		}
		if err := as.Protect(addr, 4<<12, platform.Read); err != nil {
			return fmt.Errorf("Protect: %w", err)
		}
		if err := as.Unmap(addr, 8<<12); err != nil {
			return fmt.Errorf("Unmap: %w", err)
		}
		as.Release()
	}
	mf.Free(fr)
	if q, err := ptrace.New(mf.FD()); err == nil {
		q.Close()
		return errors.New("a platform made after the filter forked its template")
	}
	return p.Close()
}

// runProbe runs a probe in a child and returns its output and how it ended.
func runProbe(t *testing.T, probe string) (string, syscall.WaitStatus) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), probeEnv+"="+probe, "MOAT_PROBE_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the platforms need root (ptrace of stubs without CAP_SYS_PTRACE limits)")
	}
}

// TestFilterKills: a system call the Sentry's allow-list does not allow, or allows
// with other arguments, kills it with SIGSYS, on both platforms. Each probe runs again
// in debug mode, whose report shows the number of the call that trapped: the one the
// probe meant to make, not some other on the way.
func TestFilterKills(t *testing.T) {
	needRoot(t)
	probes := []struct {
		name string
		nr   uintptr
	}{
		{"socket", unix.SYS_SOCKET},
		{"execve", unix.SYS_EXECVE},
		{"fork", unix.SYS_CLONE},
		{"open for reading", unix.SYS_OPENAT},
		{"open from a directory descriptor", unix.SYS_OPENAT},
		{"executable mapping", unix.SYS_MMAP},
		{"terminal change", unix.SYS_IOCTL},
		{"ptrace attach", unix.SYS_PTRACE},
		{"signal to another process", unix.SYS_KILL},
	}
	for _, plat := range []string{"systrap", "ptrace"} {
		for _, p := range probes {
			out, ws := runProbe(t, plat+":kill:"+p.name)
			if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Errorf("%s, %s: the Sentry ended with %v, want killed by SIGSYS\n%s", plat, p.name, ws, out)
			}
			out, ws = runProbe(t, plat+":debug:"+p.name)
			want := fmt.Sprintf("rax    %#x\n", p.nr)
			if !ws.Exited() || ws.ExitStatus() != 2 || !strings.Contains(out, "SIGSYS: bad system call") || !strings.Contains(out, want) {
				t.Errorf("%s, %s, debug: the Sentry ended with %v, want exit status 2 and a report with %q\n%s", plat, p.name, ws, want, out)
			}
		}
	}
}

// TestFilterDebugReports: with --debug a forbidden call still ends the Sentry, with the
// Go runtime's report of the SIGSYS, which names the call: socket is 41 (0x29) in rax.
func TestFilterDebugReports(t *testing.T) {
	needRoot(t)
	out, ws := runProbe(t, "systrap:debug:socket")
	if !ws.Exited() || ws.ExitStatus() != 2 {
		t.Errorf("the Sentry ended with %v, want exit status 2 (a fatal signal in the Go runtime)", ws)
	}
	for _, want := range []string{"SIGSYS: bad system call", "unix.Socket", "rax    0x29"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestFilterAllowsTheSentry: under the filter, the Go runtime and the platforms keep
// working: threads, memory, timers, the exit-status file; address spaces made, mapped,
// protected and released on both platforms, and a second platform refused rather than
// forked.
func TestFilterAllowsTheSentry(t *testing.T) {
	needRoot(t)
	for _, probe := range []string{"systrap:kill:runtime", "systrap:kill:platform", "ptrace:kill:platform"} {
		out, ws := runProbe(t, probe)
		if !ws.Exited() || ws.ExitStatus() != 0 || strings.TrimSpace(out) != "ok" {
			t.Errorf("%s: ended with %v, output %q; want ok", probe, ws, out)
		}
	}
}

// TestFilterPins checks what the built list says about calls whose arguments it pins,
// without installing it.
func TestFilterPins(t *testing.T) {
	const pid = 4242
	atFDCWD := uint64(0xffffffff_ffffff9c)
	allow, kill := sf.ActionAllow, sf.ActionKillProcess
	tests := []struct {
		name     string
		platform string
		sandbox  bool
		nr       uintptr
		args     [6]uint64
		want     sf.Action
	}{
		{"a runtime thread", "systrap", true, unix.SYS_CLONE, [6]uint64{runtimeCloneFlags | unix.CLONE_SETTLS}, allow},
		{"a fork", "systrap", true, unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD)}, kill},
		{"a thread in a new namespace", "ptrace", true, unix.SYS_CLONE, [6]uint64{runtimeCloneFlags | unix.CLONE_SETTLS | unix.CLONE_NEWNS}, kill},
		{"clone3", "systrap", true, unix.SYS_CLONE3, [6]uint64{}, kill},
		{"heap memory", "systrap", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS}, allow},
		{"getrandom's droppable state", "systrap", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE, mapDroppable | unix.MAP_ANONYMOUS}, allow},
		{"executable heap", "systrap", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS}, kill},
		{"a shared file mapping", "systrap", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ, unix.MAP_SHARED, 5}, kill},
		{"kvm_run", "kvm", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED, 5}, allow},
		{"executable kvm_run", "kvm", true, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_SHARED, 5}, kill},
		{"KVM_RUN", "kvm", true, unix.SYS_IOCTL, [6]uint64{7, 0xae80}, allow},
		{"KVM_RUN elsewhere", "systrap", true, unix.SYS_IOCTL, [6]uint64{7, 0xae80}, kill},
		{"a KVM request with high bits", "kvm", true, unix.SYS_IOCTL, [6]uint64{7, 1<<32 | 0xae80}, kill},
		{"TCGETS", "ptrace", true, unix.SYS_IOCTL, [6]uint64{0, unix.TCGETS}, allow},
		{"TIOCSTI", "ptrace", true, unix.SYS_IOCTL, [6]uint64{0, unix.TIOCSTI}, kill},
		{"naming a heap mapping", "systrap", true, unix.SYS_PRCTL, [6]uint64{prSetVMA, prSetVMAAnonName}, allow},
		{"PR_SET_DUMPABLE", "systrap", true, unix.SYS_PRCTL, [6]uint64{unix.PR_SET_DUMPABLE, 1}, kill},
		{"signal to the Sentry's own thread", "systrap", true, unix.SYS_TGKILL, [6]uint64{pid, 7, uint64(unix.SIGURG)}, allow},
		{"SIGUSR2 to a systrap thread", "systrap", true, unix.SYS_TGKILL, [6]uint64{99, 99, uint64(unix.SIGUSR2)}, allow},
		{"SIGSTOP to a ptrace stub", "ptrace", true, unix.SYS_TGKILL, [6]uint64{99, 99, uint64(unix.SIGSTOP)}, allow},
		{"SIGSTOP to a stub on systrap", "systrap", true, unix.SYS_TGKILL, [6]uint64{99, 99, uint64(unix.SIGSTOP)}, kill},
		{"SIGTERM to another process", "ptrace", true, unix.SYS_KILL, [6]uint64{99, uint64(unix.SIGTERM)}, kill},
		{"SIGKILL to a stub", "ptrace", true, unix.SYS_KILL, [6]uint64{99, uint64(unix.SIGKILL)}, allow},
		{"PTRACE_SYSEMU", "ptrace", true, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_SYSEMU, 99}, allow},
		{"PTRACE_SYSEMU on systrap", "systrap", true, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_SYSEMU, 99}, kill},
		{"PTRACE_SEIZE with the platform's options", "systrap", true, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_SEIZE, 99, 0, unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL}, allow},
		{"PTRACE_SEIZE with other options", "systrap", true, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_SEIZE, 99, 0, unix.PTRACE_O_TRACESYSGOOD}, kill},
		{"PTRACE_POKEDATA", "ptrace", true, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_POKEDATA, 99}, kill},
		{"process_vm_writev", "ptrace", true, unix.SYS_PROCESS_VM_WRITEV, [6]uint64{99}, kill},
		{"the exit-status file", "systrap", true, unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC}, allow},
		{"the exit-status file, zero-extended AT_FDCWD", "systrap", true, unix.SYS_OPENAT, [6]uint64{0xffffff9c, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC}, allow},
		{"the exit-status file under runsc do", "systrap", false, unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC}, kill},
		{"open for reading", "systrap", true, unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, kill},
		{"open from a donated directory", "systrap", true, unix.SYS_OPENAT, [6]uint64{5, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC}, kill},
		{"a control connection", "systrap", true, unix.SYS_ACCEPT4, [6]uint64{3, 0, 0, unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC}, allow},
		{"a control connection under runsc do", "systrap", false, unix.SYS_ACCEPT4, [6]uint64{3, 0, 0, unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC}, kill},
		{"a Gofer request", "systrap", false, unix.SYS_SENDMSG, [6]uint64{3, 0, unix.MSG_NOSIGNAL}, allow},
		{"a Gofer request that may raise SIGPIPE", "systrap", false, unix.SYS_SENDMSG, [6]uint64{3, 0, 0}, kill},
		{"lseek SEEK_DATA", "systrap", false, unix.SYS_LSEEK, [6]uint64{3, 0, unix.SEEK_DATA}, allow},
		{"lseek SEEK_SET", "systrap", false, unix.SYS_LSEEK, [6]uint64{3, 0, unix.SEEK_SET}, kill},
		{"shared futex on systrap", "systrap", false, unix.SYS_FUTEX, [6]uint64{0, 0}, allow},
		{"shared futex on ptrace", "ptrace", false, unix.SYS_FUTEX, [6]uint64{0, 0}, kill},
		{"FUTEX_WAKE_PRIVATE", "ptrace", false, unix.SYS_FUTEX, [6]uint64{0, futexWakePrivate}, allow},
		{"FUTEX_REQUEUE", "systrap", false, unix.SYS_FUTEX, [6]uint64{0, 3}, kill},
		{"restart_syscall", "ptrace", false, unix.SYS_RESTART_SYSCALL, [6]uint64{}, allow},
		{"chroot", "systrap", true, unix.SYS_CHROOT, [6]uint64{}, kill},
		{"mount", "systrap", true, unix.SYS_MOUNT, [6]uint64{}, kill},
		{"setuid", "systrap", true, unix.SYS_SETUID, [6]uint64{}, kill},
		{"capset", "systrap", true, unix.SYS_CAPSET, [6]uint64{}, kill},
		{"seccomp", "systrap", true, unix.SYS_SECCOMP, [6]uint64{}, kill},
	}
	for _, tc := range tests {
		f, err := filterFor(FilterOptions{Platform: tc.platform, Sandbox: tc.sandbox}, pid)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Evaluate(tc.nr, 0, tc.args); got != tc.want {
			t.Errorf("%s (%s): %v, want %v", tc.name, tc.platform, got, tc.want)
		}
	}
}

// TestFilterBuilds: every platform's list, with and without the sandbox's part, and in
// debug mode, builds into a program; an unknown platform has none.
func TestFilterBuilds(t *testing.T) {
	for plat := range platformSyscalls {
		for _, o := range []FilterOptions{{Platform: plat}, {Platform: plat, Sandbox: true}, {Platform: plat, Debug: true}} {
			f, err := Filter(o)
			if err != nil {
				t.Fatalf("%+v: %v", o, err)
			}
			prog, err := f.Build()
			if err != nil {
				t.Fatalf("%+v: %v", o, err)
			}
			t.Logf("%+v: %d syscalls, %d instructions", o, len(f.Syscalls), len(prog))
			want := sf.ActionKillProcess
			if o.Debug {
				want = sf.ActionTrap
			}
			if got := f.Evaluate(unix.SYS_SOCKET, 0, [6]uint64{unix.AF_INET}); got != want {
				t.Errorf("%+v: socket gets %v, want %v", o, got, want)
			}
		}
	}
	if _, err := Filter(FilterOptions{Platform: "nosuch"}); err == nil {
		t.Errorf("a filter for an unknown platform")
	}
}
