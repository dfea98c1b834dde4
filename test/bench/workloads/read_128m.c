// read_128m: sequential 1 MiB read()s of a whole 128 MiB file in the working
// directory, which the program writes first (not timed) and so is in the
// page cache. Before each pass the offset is reset with lseek (not timed).
// Prints the cost of reading one MiB and the same figure as throughput:
//
//	read_128m_per_mib NS_PER_MIB
//	read_128m_mb_per_s MB_PER_S      (10^6 bytes per second)
//
// Usage: read_128m [PASSES [sandbox]]   (128 MiB passes per timed run; 5 runs, median reported)
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

#define NAME "read_128m"
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

static char pattern(long mib) {
	return (char)(mib * 13 + 1);
}

// pass reads the whole file once and returns the time spent in read().
static double pass(void) {
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("lseek");
	double t0 = now_ns();
	for (long i = 0; i < FILE_MIB; i++) {
		ssize_t got = read(fd, buf, MIB);
		if (got != MIB) {
			if (got >= 0)
				errno = EIO; // short read: not expected for a regular file
			die("read");
		}
		if (buf[0] != pattern(i) || buf[MIB - 1] != pattern(i)) {
			errno = EIO;
			die("read: wrong data");
		}
	}
	return now_ns() - t0;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = 2; // a pass is 128 reads: tens of ms natively, a few times that in the sandbox
	alarm(60); // watchdog: never hang (ENOSYS in the sandbox; moatbench times out instead)

	buf = malloc(MIB);
	if (buf == NULL)
		die("malloc");
	snprintf(path, sizeof path, "moatbench_" NAME ".%ld", (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");
	for (long i = 0; i < FILE_MIB; i++) {
		memset(buf, pattern(i), MIB);
		if (write(fd, buf, MIB) != MIB)
			die("write");
	}

	pass(); // warm-up
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t = 0;
		for (long p = 0; p < n; p++)
			t += pass();
		res[r] = t / (double)(n * FILE_MIB);
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
