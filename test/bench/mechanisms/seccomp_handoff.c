// seccomp_handoff: seccomp_trap with the answer from another process, as systrap
// does it: the trapped thread's SIGSYS handler runs on an alternate stack in a
// MAP_SHARED page, posts the frame to a second process busy-waiting on that page, and
// busy-waits for the go; the second process reads the general registers of the
// ucontext, writes them back with the result in rax, and says go; rt_sigreturn
// returns to the caller. One round trip = syscall -> seccomp -> SIGSYS on the
// alternate stack -> hand-over -> registers read and written -> hand-back ->
// rt_sigreturn. This is the floor of a systrap system call: what is left is the
// Sentry's own work. Needs 2 CPUs (both parties spin); each is pinned to its own.
//
// Usage: seccomp_handoff [ITERATIONS]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
	printf("seccomp_handoff skip ucontext handling is only written for x86_64\n");
	return 0;
}
#else

enum { APP = 1, EVENT = 2, DONE = 3 };

// The shared page: the hand-over word and the frame's address, then the alternate
// stack (the rest of the mapping).
struct shared {
	uint32_t state;
	uint64_t uc;
};

#define MAPSIZE (1 << 16)
static struct shared *sh;

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)si;
	__atomic_store_n(&sh->uc, (uint64_t)uc, __ATOMIC_RELAXED);
	__atomic_exchange_n(&sh->state, EVENT, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != APP)
		__builtin_ia32_pause();
}

static void pin(int cpu) {
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof s, &s);
}

static void loop(long n) {
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

// app is the trapped process: it times the loop and prints the result.
static int app(long n) {
	pin(0);
	stack_t ss = {.ss_sp = (char *)sh + 4096, .ss_size = MAPSIZE - 4096};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSYS, &sa, NULL) != 0) {
		perror("seccomp_handoff: sigaltstack/sigaction");
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
	struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		printf("seccomp_handoff skip seccomp filter: %s\n", strerror(errno));
		return 0;
	}
	long got = syscall(SYS_getppid);
	if (got != MAGIC) {
		fprintf(stderr, "seccomp_handoff: trapped getppid returned %ld, want %d\n", got, MAGIC);
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
	printf("seccomp_handoff %.1f\n", res[RUNS / 2]);
	return 0;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0)
		n = 100000;
	alarm(60); // watchdog (inherited by the app: neither can hang)
	setvbuf(stdout, NULL, _IONBF, 0);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("seccomp_handoff skip needs 2 CPUs (both parties busy-wait)\n");
		return 0;
	}
	sh = mmap(NULL, MAPSIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("seccomp_handoff: mmap");
		return 1;
	}
	sh->state = APP;
	pid_t pid = fork();
	if (pid < 0) {
		perror("seccomp_handoff: fork");
		return 1;
	}
	if (pid == 0) {
		int st = app(n);
		__atomic_store_n(&sh->state, DONE, __ATOMIC_RELEASE);
		_exit(st);
	}
	// The answering side: the frame is in the shared page, at the same address here.
	pin(1);
	uint64_t sink = 0;
	for (;;) {
		uint32_t s;
		while ((s = __atomic_load_n(&sh->state, __ATOMIC_ACQUIRE)) == APP)
			__builtin_ia32_pause();
		if (s != EVENT)
			break;
		ucontext_t *uc = (ucontext_t *)__atomic_load_n(&sh->uc, __ATOMIC_RELAXED);
		if ((char *)uc < (char *)sh + 4096 || (char *)uc >= (char *)sh + MAPSIZE - sizeof *uc)
			break; // not in the shared page: give up (the watchdog ends the app)
		greg_t regs[NGREG];
		memcpy(regs, uc->uc_mcontext.gregs, sizeof regs);
		sink += regs[REG_RIP];
		regs[REG_RAX] = regs[REG_RAX] == SYS_getppid ? MAGIC : -ENOSYS;
		memcpy(uc->uc_mcontext.gregs, regs, sizeof regs);
		__atomic_store_n(&sh->state, APP, __ATOMIC_RELEASE);
	}
	int status;
	waitpid(pid, &status, 0);
	if (sink == 1)
		printf("\n"); // keep the reads
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
#endif // __x86_64__
