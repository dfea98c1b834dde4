// mmap_touch_munmap_1m: mmap 1 MiB of private anonymous memory, write one
// byte to every page (a page fault each), munmap it. One op = 1 mmap +
// 256 faults (4 KiB pages) + 1 munmap.
//
// Usage: mmap_touch_munmap_1m [ITERATIONS [sandbox]]   (per timed run; 5 runs, median reported)
// ITERATIONS 0 means the default; "sandbox" picks a smaller default.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NAME "mmap_touch_munmap_1m"
#define RUNS 5
#define SIZE (1L << 20)

static long page;

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what) {
	int e = errno;
	fprintf(stderr, NAME ": %s: %s\n", what, strerror(e));
	exit(1);
}

static void loop(long n) {
	for (long i = 0; i < n; i++) {
		volatile char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (long off = 0; off < SIZE; off += page)
			p[off] = 1;
		if (munmap((void *)p, SIZE) != 0)
			die("munmap");
	}
}

int main(int argc, char **argv) {
	int sandbox = argc > 2 && strcmp(argv[2], "sandbox") == 0;
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = sandbox ? 100 : 500;
	alarm(60); // watchdog: never hang (ENOSYS in the sandbox; moatbench times out instead)
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;

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
