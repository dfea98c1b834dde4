// usage: CPU-time accounting — getrusage (self, children, thread), times, wait4's
// rusage, the CPU-time clocks and clock_getres; and their errors; ru_maxrss, the
// largest resident set, of the process (kept after munmap), of a waited-for child and
// of the children; system time, which a thread's work in system calls adds to and its
// waits do not. Times and sizes vary, so it prints only whether each one moved the
// way Linux's does.
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static volatile unsigned long sink;

// touch maps and touches mb MiB and returns the mapping.
static char *touch(int mb) {
	char *p = mmap(NULL, (size_t)mb << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < (size_t)mb << 20; i += 4096)
		p[i] = 1;
	return p;
}

static void maxrss(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long before = ru.ru_maxrss;
	char *p = touch(32);
	getrusage(RUSAGE_SELF, &ru);
	printf("maxrss grew by over half of 32 MiB (Linux counts lazily): %d\n", ru.ru_maxrss - before >= 16 * 1024);
	munmap(p, 32 << 20);
	long peak = ru.ru_maxrss;
	getrusage(RUSAGE_SELF, &ru);
	printf("maxrss kept after munmap: %d\n", ru.ru_maxrss >= peak);
	getrusage(RUSAGE_THREAD, &ru);
	printf("thread maxrss at least the peak: %d\n", ru.ru_maxrss >= peak);
	pid_t c = fork();
	if (c == 0) {
		touch(64);
		_exit(0);
	}
	int st;
	wait4(c, &st, 0, &ru);
	printf("wait4: the child's maxrss is over half of 64 MiB: %d\n", ru.ru_maxrss >= 32 * 1024);
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("children's maxrss is over half of 64 MiB: %d\n", ru.ru_maxrss >= 32 * 1024);
}

// burn spends CPU time in user mode without a system call.
static void burn(void) {
	for (unsigned long i = 0; i < 300000000UL; i++)
		sink += i ^ (sink >> 3);
}

static long long us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

static long long ns(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Waiting and working threads. The waiter blocks in read(2) on a pipe 20 times; each
// time, the main thread first spends 10 ms of its CPU time in read(2)s of /dev/zero
// (system time: the kernel zeroes the buffer), then wakes it. The main thread's system
// time grows by most of that; the waiter's stays small, since a thread that waits is
// not running: none of the main thread's work is the waiter's, on whichever host
// thread the Sentry serves either. (Only system time: a sandboxed thread's user time
// is the wall time its application code had, which a loaded host stretches.)
enum { wakes = 20 };
static int wake[2];
static long long waited; // the waiter's system time over its waits, in us

static void *waiter(void *arg) {
	char c;
	struct rusage a, b;
	getrusage(RUSAGE_THREAD, &a);
	for (int i = 0; i < wakes; i++)
		if (read(wake[0], &c, 1) != 1)
			break;
	getrusage(RUSAGE_THREAD, &b);
	waited = us(b.ru_stime) - us(a.ru_stime);
	return arg;
}

static void waiting(void) {
	static char buf[1 << 20];
	int zero = open("/dev/zero", O_RDONLY);
	pipe(wake);
	pthread_t th;
	pthread_create(&th, NULL, waiter, NULL);
	struct rusage a, b;
	getrusage(RUSAGE_THREAD, &a);
	for (int i = 0; i < wakes; i++) {
		long long until = ns(CLOCK_THREAD_CPUTIME_ID) + 10000000;
		while (ns(CLOCK_THREAD_CPUTIME_ID) < until)
			read(zero, buf, sizeof buf);
		write(wake[1], "x", 1);
	}
	getrusage(RUSAGE_THREAD, &b);
	pthread_join(th, NULL);
	printf("working thread's system time grew by over 50 ms: %d\n",
	       us(b.ru_stime) - us(a.ru_stime) > 50000);
	printf("waiting thread's system time grew by under 50 ms: %d\n", waited < 50000);
	close(zero);
	close(wake[0]);
	close(wake[1]);
}

int main(void) {
	struct rusage before, after, ch;
	getrusage(RUSAGE_SELF, &before);
	long long p0 = ns(CLOCK_PROCESS_CPUTIME_ID), t0 = ns(CLOCK_THREAD_CPUTIME_ID);
	struct tms tm0;
	clock_t c0 = times(&tm0);
	burn();
	getrusage(RUSAGE_SELF, &after);
	long long t1 = ns(CLOCK_THREAD_CPUTIME_ID);
	long long p1 = ns(CLOCK_PROCESS_CPUTIME_ID);
	struct tms tm1;
	clock_t c1 = times(&tm1);
	printf("user time grew by over 50 ms %d\n", us(after.ru_utime) - us(before.ru_utime) > 50000);
	printf("process clock grew by over 50 ms %d, thread clock %d, thread <= process %d\n",
	       p1 - p0 > 50000000, t1 - t0 > 50000000, t1 <= p1);
	printf("times: elapsed advanced %d, utime advanced %d\n", c1 > c0, tm1.tms_utime > tm0.tms_utime);
	struct rusage th, self;
	getrusage(RUSAGE_THREAD, &th);
	getrusage(RUSAGE_SELF, &self);
	// User and system time are each a share of the run time, scaled separately for
	// the thread and the process (cputime_adjust), so only their sums compare.
	printf("thread usage within process usage %d\n",
	       us(th.ru_utime) + us(th.ru_stime) <= us(self.ru_utime) + us(self.ru_stime));

	getrusage(RUSAGE_CHILDREN, &ch);
	printf("children before any: %lld %lld, cutime %ld\n", us(ch.ru_utime), us(ch.ru_stime),
	       (long)tm1.tms_cutime);
	pid_t c = fork();
	if (c == 0) {
		burn();
		_exit(0);
	}
	struct rusage ru;
	int st;
	int waited = wait4(c, &st, 0, &ru) == c;
	printf("wait4: %d, child's user time over 50 ms %d\n", waited, us(ru.ru_utime) > 50000);
	getrusage(RUSAGE_CHILDREN, &ch);
	struct tms tm2;
	times(&tm2);
	printf("children after: user time over 50 ms %d, cutime advanced %d\n", us(ch.ru_utime) > 50000,
	       tm2.tms_cutime > 0);

	struct timespec res;
	clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
			      CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
			      CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
	for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		int r = clock_getres(clocks[i], &res);
		printf("clock_getres %d: %d %ld.%09ld\n", clocks[i], r, (long)res.tv_sec, res.tv_nsec);
	}
	CHECK("clock_getres NULL", clock_getres(CLOCK_REALTIME, NULL));
	CHECK("clock_getres bad clock", clock_getres(100, &res));
	CHECK("clock_gettime CPU clock, bad address", syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, 8));
	CHECK("getrusage bad who", getrusage(5, &ru));
	CHECK("getrusage bad address", getrusage(RUSAGE_SELF, (struct rusage *)8));
	CHECK("times NULL", times(NULL) > 0 ? 0 : -1);
	CHECK("times bad address", syscall(SYS_times, 8));
	maxrss();
	waiting();
	return 0;
}
