// memfd_touch: cost of a first write to a page of a MAP_SHARED mapping of a memfd,
// per page, with the mapping made and unmapped around it and the pages given back
// to the host by a hole punch: how systrap and ptrace give an application fresh
// memory (the memory file is a memfd the stubs map; the Sentry punches freed pages),
// so the floor of mmap_touch_munmap_1m on those platforms. Rows:
//
//   memfd_touch   mmap 1 MiB MAP_SHARED of the memfd, write one byte per 4 KiB page,
//                 munmap, fallocate(PUNCH_HOLE) of the range: a shmem fault per page
//                 (allocate, zero, add to the page cache), freed by the punch
//   anon_touch    the same with MAP_PRIVATE|MAP_ANONYMOUS memory and no punch: what
//                 the workload does natively (an anonymous fault per page)
//
// Both print ns per page. Usage: memfd_touch [ITERATIONS]   (pages per timed run,
// rounded up to whole MiB; default 25600; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#define RUNS 5
#define PAGE 4096L
#define MIB (1L << 20)

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

// one maps, touches and unmaps 1 MiB (fd < 0: anonymous); it returns -1 on failure.
static int one(int fd) {
	char *p = fd < 0 ? mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			 : mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (long i = 0; i < MIB; i += PAGE)
		p[i] = 1;
	munmap(p, MIB);
	if (fd >= 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, MIB) != 0)
		return -1;
	return 0;
}

static int run(const char *name, int fd, long mibs) {
	for (long i = 0; i < mibs / 10 + 1; i++) // warm-up
		if (one(fd) != 0) {
			printf("%s skip %s\n", name, strerror(errno));
			return 0;
		}
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (long i = 0; i < mibs; i++)
			if (one(fd) != 0) {
				fprintf(stderr, "%s: %s\n", name, strerror(errno));
				return 1;
			}
		res[r] = (now_ns() - t0) / (double)(mibs * (MIB / PAGE));
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("%s %.1f\n", name, res[RUNS / 2]);
	return 0;
}

int main(int argc, char **argv) {
	long pages = argc > 1 ? atol(argv[1]) : 0;
	if (pages <= 0)
		pages = 25600;
	long mibs = (pages + MIB / PAGE - 1) / (MIB / PAGE);
	alarm(60); // watchdog
	int fd = memfd_create("memfd_touch", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MIB) != 0) {
		printf("memfd_touch skip memfd: %s\n", strerror(errno));
	} else if (run("memfd_touch", fd, mibs) != 0) {
		return 1;
	}
	return run("anon_touch", -1, mibs);
}
