// futex_pingpong: round trip between two processes that block in the kernel.
// Parent and child share a MAP_SHARED anonymous page (so the futex is a
// shared, not FUTEX_PRIVATE, futex). The parent stores 1 and FUTEX_WAKEs,
// then FUTEX_WAITs until the child has stored 0 and woken it back.
// One round trip = there and back (two wakes, two waits/switches).
//
// Usage: futex_pingpong [ITERATIONS [samecpu]]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5
enum { PONG = 0, PING = 1, QUIT = 2 };

static uint32_t *word;

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

static long futex(uint32_t *uaddr, int op, uint32_t val) {
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void set_and_wake(uint32_t v) {
	__atomic_store_n(word, v, __ATOMIC_RELEASE);
	futex(word, FUTEX_WAKE, 1);
}

// wait_while blocks until *word != v and returns the new value.
static uint32_t wait_while(uint32_t v) {
	uint32_t cur;
	while ((cur = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == v)
		futex(word, FUTEX_WAIT, v); // EAGAIN/EINTR: just re-check
	return cur;
}

static void loop(long n) {
	for (long i = 0; i < n; i++) {
		set_and_wake(PING);
		wait_while(PING);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10000;
	if (n <= 0)
		n = 10000;
	const char *suffix = pin_if_asked(argc, argv);
	alarm(60); // watchdog; the child dies with us (PDEATHSIG)

	word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (word == MAP_FAILED) {
		perror("futex_pingpong: mmap");
		return 1;
	}
	*word = PONG;
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("futex_pingpong: fork");
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;) {
			if (wait_while(PONG) == QUIT)
				_exit(0);
			set_and_wake(PONG);
		}
	}

	loop(n / 10 + 1); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		loop(n);
		res[r] = (now_ns() - t0) / (double)n;
	}

	set_and_wake(QUIT);
	int st;
	waitpid(child, &st, 0);
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("futex_pingpong%s %.1f\n", suffix, res[RUNS / 2]);
	return 0;
}
