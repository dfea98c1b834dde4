// stat: stat() of an existing file in the working directory (a small file
// the program creates first and removes at the end). One op = path lookup of
// one component + filling a struct stat.
//
// Usage: stat [ITERATIONS [sandbox]]   (per timed run; 5 runs, median reported)
// ITERATIONS 0 means the default; "sandbox" picks a smaller default.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME "stat"
#define RUNS 5
#define SIZE 5

static char path[64];

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
	unlink(path);
	fprintf(stderr, NAME ": %s: %s\n", what, strerror(e));
	exit(1);
}

static void loop(long n) {
	struct stat st;
	for (long i = 0; i < n; i++) {
		if (stat(path, &st) != 0)
			die("stat");
	}
}

int main(int argc, char **argv) {
	int sandbox = argc > 2 && strcmp(argv[2], "sandbox") == 0;
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = sandbox ? 10000 : 200000;
	alarm(60); // watchdog: never hang (ENOSYS in the sandbox; moatbench times out instead)

	snprintf(path, sizeof path, "moatbench_" NAME ".%ld", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");
	if (write(fd, "moat\n", SIZE) != SIZE)
		die("write");
	if (close(fd) != 0)
		die("close");
	struct stat st;
	if (stat(path, &st) != 0)
		die("stat");
	if (!S_ISREG(st.st_mode) || st.st_size != SIZE) {
		errno = 0;
		die("stat: not the regular file just written");
	}

	loop(n / 10 + 1); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		loop(n);
		res[r] = (now_ns() - t0) / (double)n;
	}
	if (unlink(path) != 0)
		die("unlink");
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf(NAME " %.1f\n", res[RUNS / 2]);
	return 0;
}
