// seccomp_trap: cost of one system call handled in-process via seccomp
// SECCOMP_RET_TRAP (the mechanism of gVisor's systrap platform). The thread
// installs a filter that traps getppid, plus a SA_SIGINFO SIGSYS handler that
// writes the result into the saved rax of the ucontext and returns.
// One round trip = syscall -> seccomp filter -> SIGSYS delivery -> handler ->
// rt_sigreturn back to the caller. (The filter also slightly slows every
// other syscall of this process; nothing else is timed here.)
//
// Usage: seccomp_trap [ITERATIONS]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define RUNS 5
#define MAGIC 4242

#ifndef __x86_64__
int main(void) {
	printf("seccomp_trap skip ucontext handling is only written for x86_64\n");
	return 0;
}
#else

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
	(void)sig;
	ucontext_t *uc = ctx;
	if (si->si_syscall == SYS_getppid)
		uc->uc_mcontext.gregs[REG_RAX] = MAGIC;
	else
		uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

static void loop(long n) {
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0)
		n = 100000;
	alarm(60); // watchdog

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		perror("seccomp_trap: sigaction");
		return 1;
	}

	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		printf("seccomp_trap skip PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
		return 0;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		printf("seccomp_trap skip seccomp filter: %s\n", strerror(errno));
		return 0;
	}
	long got = syscall(SYS_getppid);
	if (got != MAGIC) {
		fprintf(stderr, "seccomp_trap: trapped getppid returned %ld, want %d\n", got, MAGIC);
		return 1;
	}

	loop(n / 10 + 1); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		loop(n);
		res[r] = (now_ns() - t0) / (double)n;
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("seccomp_trap %.1f\n", res[RUNS / 2]);
	return 0;
}
#endif // __x86_64__
