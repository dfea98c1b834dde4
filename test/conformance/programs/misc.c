// misc: identity, uname, limits, random, clocks, arch_prctl, robust lists.
#include "common.h"
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <sys/time.h>
#include <asm/prctl.h>

int main(void) {
	struct utsname u;
	CHECK("uname", syscall(SYS_uname, &u));
	printf("sysname %s machine %s\n", u.sysname, u.machine);
	CHECK("uname bad buffer", syscall(SYS_uname, (void *)16));

	char r[64];
	CHECK("getrandom 16", syscall(SYS_getrandom, r, 16, 0));
	CHECK("getrandom 0", syscall(SYS_getrandom, r, 0, 0));
	CHECK("getrandom bad flags", syscall(SYS_getrandom, r, 16, 0x40));
	CHECK("getrandom random|insecure", syscall(SYS_getrandom, r, 16, 0x2 | 0x4));
	CHECK("getrandom bad buffer", syscall(SYS_getrandom, (void *)16, 16, 0));

	struct timespec ts;
	CHECK("clock_gettime realtime", syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts));
	printf("after 2020: %d\n", ts.tv_sec > 1577836800);
	struct timespec m1, m2;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &m1);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &m2);
	printf("monotonic does not go back: %d\n", m2.tv_sec > m1.tv_sec || (m2.tv_sec == m1.tv_sec && m2.tv_nsec >= m1.tv_nsec));
	CHECK("clock_gettime bad clock", syscall(SYS_clock_gettime, 99, &ts));
	CHECK("clock_gettime bad buffer", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)16));
	struct timeval tv;
	CHECK("gettimeofday", syscall(SYS_gettimeofday, &tv, NULL));
	CHECK("gettimeofday bad buffer", syscall(SYS_gettimeofday, (void *)16, NULL));
	printf("time agrees: %d\n", (long)syscall(SYS_time, NULL) - tv.tv_sec < 5);

	struct rlimit rl = {0, 0};
	CHECK("setrlimit core", syscall(SYS_setrlimit, RLIMIT_CORE, &rl));
	CHECK("prlimit64 get core", syscall(SYS_prlimit64, 0, RLIMIT_CORE, NULL, &rl));
	printf("core limit %lu %lu\n", rl.rlim_cur, rl.rlim_max);
	CHECK("prlimit64 bad resource", syscall(SYS_prlimit64, 0, 99, NULL, &rl));
	struct rlimit bad = {10, 5};
	CHECK("prlimit64 cur > max", syscall(SYS_prlimit64, 0, RLIMIT_CORE, &bad, NULL));
	CHECK("prlimit64 self", syscall(SYS_prlimit64, getpid(), RLIMIT_CORE, NULL, &rl));
	CHECK("getrlimit bad resource", syscall(SYS_getrlimit, 99, &rl));

	unsigned long fs;
	CHECK("arch_prctl get fs", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
	CHECK("arch_prctl get fs bad", syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)16));
	CHECK("arch_prctl set fs non-canonical", syscall(SYS_arch_prctl, ARCH_SET_FS, 0xffff800000000000UL));
	CHECK("arch_prctl bad code", syscall(SYS_arch_prctl, 0x9999, 0));

	CHECK("set_robust_list bad size", syscall(SYS_set_robust_list, NULL, 23));
	CHECK("getuid", syscall(SYS_getuid));
	return 0;
}
