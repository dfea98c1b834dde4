// ptrace_sysemu_regs: like ptrace_sysemu (a forked child loops on raw
// getpid, the parent waitpid()s each PTRACE_SYSEMU stop and resumes it), but
// at every stop the tracer also does what a real syscall emulator must:
// PTRACE_GETREGS to read the syscall, then PTRACE_SETREGS to write the
// result (the child's pid) into rax. One round trip = stop + GETREGS +
// SETREGS + resume.
//
// Usage: ptrace_sysemu_regs [ITERATIONS [samecpu]]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif
#ifndef PTRACE_O_EXITKILL
#define PTRACE_O_EXITKILL (1 << 20)
#endif

#define NAME "ptrace_sysemu_regs"

#ifndef __x86_64__
int main(void) {
	printf(NAME " skip register handling is only written for x86_64\n");
	return 0;
}
#else
#define RUNS 5

static pid_t child;

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// pin_if_asked handles the optional second argument "samecpu": pin this
// process (and so the child it forks) to the CPU it is running on, so that
// both sides of the round trip share one CPU. Unpinned, the scheduler may
// place them on one CPU or two, and the figure changes several-fold.
static const char *pin_if_asked(int argc, char **argv) {
	if (argc < 3 || strcmp(argv[2], "samecpu") != 0)
		return "";
	cpu_set_t set;
	CPU_ZERO(&set);
	int cpu = sched_getcpu();
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		perror("sched_setaffinity");
		exit(1);
	}
	return "_samecpu";
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what) {
	int e = errno;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	fprintf(stderr, NAME ": %s: %s\n", what, strerror(e));
	exit(1);
}

static long other_syscalls; // stops that were not getpid (start-up only)

static void loop(long n) {
	int st;
	struct user_regs_struct regs;
	for (long i = 0; i < n; i++) {
		if (waitpid(child, &st, 0) != child)
			die("waitpid");
		if (!WIFSTOPPED(st)) {
			errno = 0;
			die("tracee did not stop");
		}
		if (ptrace(PTRACE_GETREGS, child, 0, &regs) != 0)
			die("PTRACE_GETREGS");
		if (regs.orig_rax == SYS_getpid)
			regs.rax = (unsigned long long)child;
		else
			other_syscalls++, regs.rax = (unsigned long long)-ENOSYS;
		if (ptrace(PTRACE_SETREGS, child, 0, &regs) != 0)
			die("PTRACE_SETREGS");
		if (ptrace(PTRACE_SYSEMU, child, 0, 0) != 0)
			die("PTRACE_SYSEMU");
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10000;
	if (n <= 0)
		n = 10000;
	const char *suffix = pin_if_asked(argc, argv);
	alarm(60); // watchdog; the tracee dies with us (EXITKILL, PDEATHSIG)
	pid_t parent = getpid();

	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(3);
		raise(SIGSTOP);
		// Under SYSEMU no syscall is executed, not even exit: loop until killed.
		for (;;)
			syscall(SYS_getpid);
	}

	int st;
	if (waitpid(child, &st, 0) != child)
		die("waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		printf(NAME "%s skip PTRACE_TRACEME not permitted\n", suffix);
		return 0;
	}
	if (!WIFSTOPPED(st)) {
		errno = 0;
		die("child did not stop");
	}
	if (ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) != 0)
		die("PTRACE_SETOPTIONS");
	if (ptrace(PTRACE_SYSEMU, child, 0, 0) != 0) {
		if (errno == EIO || errno == EINVAL) {
			printf(NAME "%s skip PTRACE_SYSEMU unsupported: %s\n", suffix, strerror(errno));
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return 0;
		}
		die("PTRACE_SYSEMU");
	}

	loop(n / 10 + 1); // warm-up
	long warm_other = other_syscalls;
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		loop(n);
		res[r] = (now_ns() - t0) / (double)n;
	}

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (other_syscalls != warm_other) {
		fprintf(stderr, NAME ": %ld timed stops were not getpid\n", other_syscalls - warm_other);
		return 1;
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf(NAME "%s %.1f\n", suffix, res[RUNS / 2]);
	return 0;
}
#endif // __x86_64__
