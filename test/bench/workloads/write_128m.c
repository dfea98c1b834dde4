// write_128m: sequential 1 MiB write()s that fill a 128 MiB file in the
// working directory from empty, into the page cache (no fsync). Before each
// pass the file is truncated to 0 (not timed), so every write extends it.
// Prints the cost of writing one MiB and the same figure as throughput:
//
//	write_128m_per_mib NS_PER_MIB
//	write_128m_mb_per_s MB_PER_S      (10^6 bytes per second)
//
// Usage: write_128m [PASSES [sandbox]]   (128 MiB passes per timed run; 5 runs, median reported)
// PASSES 0 means the default (2); "sandbox" is accepted and changes nothing,
// as a pass costs the same order of time in the sandbox. The file is removed
// at the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NAME "write_128m"
#define RUNS 5
#define MIB (1L << 20)
#define FILE_MIB 128

static char path[64];
static int fd = -1;
static char *buf;

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

// pass writes the whole file once and returns the time spent in write().
static double pass(void) {
	if (ftruncate(fd, 0) != 0)
		die("ftruncate");
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("lseek");
	double t0 = now_ns();
	for (long i = 0; i < FILE_MIB; i++) {
		ssize_t w = write(fd, buf, MIB);
		if (w != MIB) {
			if (w >= 0)
				errno = EIO; // short write: not expected for a regular file
			die("write");
		}
	}
	return now_ns() - t0;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = 2; // a pass is 128 writes: tens of ms natively, a few times that in the sandbox
	alarm(60); // watchdog: never hang (ENOSYS in the sandbox; moatbench times out instead)

	buf = malloc(MIB);
	if (buf == NULL)
		die("malloc");
	for (long i = 0; i < MIB; i++)
		buf[i] = (char)(i * 7 + 1);
	snprintf(path, sizeof path, "moatbench_" NAME ".%ld", (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");

	pass(); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t = 0;
		for (long p = 0; p < n; p++)
			t += pass();
		res[r] = t / (double)(n * FILE_MIB);
	}
	if (lseek(fd, 0, SEEK_END) != FILE_MIB * MIB) {
		errno = EIO;
		die("file size after the last pass");
	}
	if (close(fd) != 0)
		die("close");
	if (unlink(path) != 0)
		die("unlink");
	qsort(res, RUNS, sizeof res[0], cmp_double);
	double ns = res[RUNS / 2];
	printf(NAME "_per_mib %.1f\n", ns);
	printf(NAME "_mb_per_s %.1f\n", ns > 0 ? (double)MIB / ns * 1e3 : 0); // bytes/ns * 1e9 / 1e6
	return 0;
}
