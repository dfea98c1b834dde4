// getpid: one raw getpid system call (syscall(SYS_getpid), never glibc's
// cached getpid()). Run natively and under `runsc do`, it gives the bare cost
// of entering and leaving the Sentry: the floor of every other workload.
//
// Usage: getpid [ITERATIONS [sandbox]]   (per timed run; 5 runs, median reported)
// ITERATIONS 0 means the default; "sandbox" picks a smaller default.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NAME "getpid"
#define RUNS 5

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void loop(long n) {
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
}

int main(int argc, char **argv) {
	int sandbox = argc > 2 && strcmp(argv[2], "sandbox") == 0;
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = sandbox ? 10000 : 1000000;
	alarm(60); // watchdog: never hang (ENOSYS in the sandbox; moatbench times out instead)

	if (syscall(SYS_getpid) <= 0) {
		fprintf(stderr, NAME ": getpid failed\n");
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
	printf(NAME " %.1f\n", res[RUNS / 2]);
	return 0;
}
