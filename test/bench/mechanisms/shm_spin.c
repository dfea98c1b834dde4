// shm_spin: round trip between two processes that never enter the kernel.
// The parent writes a sequence number into a shared (MAP_SHARED) cache line;
// the child spins until it sees it and echoes it into a second cache line;
// the parent spins until the echo arrives. This is the floor for any
// shared-memory stub <-> sentry channel that busy-waits. Needs two CPUs to be
// meaningful; with one, spinners fall back to sched_yield so it still ends.
//
// Usage: shm_spin [ITERATIONS]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5
#define QUIT UINT64_MAX

struct shared {
	_Alignas(64) uint64_t ping;
	_Alignas(64) uint64_t pong;
};

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

static inline void relax(unsigned *spins) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
	if (++*spins % 4096 == 0)
		sched_yield(); // the peer may not be running (e.g. one CPU)
}

static uint64_t seq;

static void loop(long n) {
	for (long i = 0; i < n; i++) {
		unsigned spins = 0;
		seq++;
		__atomic_store_n(&sh->ping, seq, __ATOMIC_RELEASE);
		while (__atomic_load_n(&sh->pong, __ATOMIC_ACQUIRE) != seq)
			relax(&spins);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 200000;
	if (n <= 0)
		n = 200000;
	alarm(60); // watchdog; the child dies with us (PDEATHSIG)

	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("shm_spin: mmap");
		return 1;
	}
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("shm_spin: fork");
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		uint64_t last = 0, v;
		for (;;) {
			unsigned spins = 0;
			while ((v = __atomic_load_n(&sh->ping, __ATOMIC_ACQUIRE)) == last)
				relax(&spins);
			if (v == QUIT)
				_exit(0);
			last = v;
			__atomic_store_n(&sh->pong, v, __ATOMIC_RELEASE);
		}
	}

	loop(n / 10 + 1); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		loop(n);
		res[r] = (now_ns() - t0) / (double)n;
	}

	__atomic_store_n(&sh->ping, QUIT, __ATOMIC_RELEASE);
	waitpid(child, NULL, 0);
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("shm_spin %.1f\n", res[RUNS / 2]);
	return 0;
}
