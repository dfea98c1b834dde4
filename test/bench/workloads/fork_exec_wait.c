// fork_exec_wait: fork a child that execs this program with "child" (which exits at
// once), and wait for it: fork_wait plus loading a static executable (a shell running a
// command does this).
//
// Usage: fork_exec_wait [ITERATIONS [sandbox]]   (per timed run; 5 runs, median reported)
// ITERATIONS 0 means the default; "sandbox" picks a smaller default.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME "fork_exec_wait"
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

static char self[4096];

static void loop(long n) {
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror(NAME ": fork");
			exit(1);
		}
		if (pid == 0) {
			execl(self, self, "child", (char *)NULL);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, NAME ": waitpid\n");
			exit(1);
		}
	}
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0) {
		perror(NAME ": readlink /proc/self/exe");
		return 1;
	}
	self[len] = 0;
	int sandbox = argc > 2 && strcmp(argv[2], "sandbox") == 0;
	long n = argc > 1 ? atol(argv[1]) : 0;
	if (n <= 0)
		n = sandbox ? 100 : 2000;
	alarm(120); // watchdog: never hang
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
