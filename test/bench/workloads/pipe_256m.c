// pipe_256m: 256 MiB through a pipe, from this process to a child that reads it, in
// 64 KiB writes and reads. Prints the cost of one MiB and the same figure as
// throughput:
//
//	pipe_256m_per_mib NS_PER_MIB
//	pipe_256m_mb_per_s MB_PER_S      (10^6 bytes per second)
//
// Usage: pipe_256m [PASSES [sandbox]]   (256 MiB passes per timed run; 5 runs, median reported)
// PASSES 0 means the default (1); "sandbox" changes nothing.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME "pipe_256m"
#define RUNS 5
#define MIB (1L << 20)
#define CHUNK (64L << 10)
#define TOTAL (256L * MIB)

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static char buf[CHUNK];

// pass sends n*256 MiB to a new child and waits for it to have read them all.
static void pass(long n) {
	int p[2];
	if (pipe(p) != 0) {
		perror(NAME ": pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror(NAME ": fork");
		exit(1);
	}
	if (pid == 0) {
		close(p[1]);
		long got = 0;
		for (;;) {
			ssize_t r = read(p[0], buf, sizeof buf);
			if (r <= 0)
				break;
			got += r;
		}
		_exit(got == n * TOTAL ? 0 : 1);
	}
	close(p[0]);
	for (long i = 0; i < n * TOTAL / CHUNK; i++) {
		for (long off = 0; off < CHUNK;) {
			ssize_t w = write(p[1], buf + off, CHUNK - off);
			if (w <= 0) {
				perror(NAME ": write");
				exit(1);
			}
			off += w;
		}
	}
	close(p[1]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, NAME ": the reader did not get every byte\n");
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = 1;
	alarm(300); // watchdog: never hang
	memset(buf, 'x', sizeof buf);
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		pass(n);
		res[r] = (now_ns() - t0) / (double)(n * TOTAL / MIB);
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	double ns = res[RUNS / 2];
	printf(NAME "_per_mib %.1f\n", ns);
	printf(NAME "_mb_per_s %.1f\n", ns > 0 ? (double)MIB / ns * 1e3 : 0);
	return 0;
}
