// futex_pingpong: two threads of this process hand a turn back and forth through a
// futex word: each waits (FUTEX_WAIT) until the word is its turn, then gives the turn
// to the other and wakes it (FUTEX_WAKE). One round trip is two hand-overs: the cost of
// blocking and waking a thread, the base of every mutex and condition variable.
//
// Usage: futex_pingpong [ROUNDS [sandbox]]   (per timed run; 5 runs, median reported)
// ROUNDS 0 means the default; "sandbox" picks a smaller default.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NAME "futex_pingpong"
#define RUNS 5

static atomic_int turn; // 0: the main thread's, 1: the other's
static long rounds;

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void wait_for(int me) {
	int v;
	while ((v = atomic_load(&turn)) != me)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void give(int to) {
	atomic_store(&turn, to);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *other(void *arg) {
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		wait_for(1);
		give(0);
	}
	return NULL;
}

// run plays n rounds with a new thread.
static void run(long n) {
	rounds = n;
	atomic_store(&turn, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, other, NULL) != 0) {
		fprintf(stderr, NAME ": pthread_create failed\n");
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		give(1);
		wait_for(0);
	}
	pthread_join(th, NULL);
}

int main(int argc, char **argv) {
	int sandbox = argc > 2 && strcmp(argv[2], "sandbox") == 0;
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = sandbox ? 2000 : 100000;
	alarm(120); // watchdog: never hang
	run(n / 10 + 1); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		run(n);
		res[r] = (now_ns() - t0) / (double)n;
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf(NAME " %.1f\n", res[RUNS / 2]);
	return 0;
}
