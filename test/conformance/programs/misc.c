// misc: identity, uname, limits, random, clocks, arch_prctl, robust lists, getcpu, and
// memory protection keys where the CPU has none.
#include "common.h"
#include <cpuid.h>
#include <sched.h>
#include <sys/mman.h>
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
	// getcpu: a CPU the thread may run on, node 0; NULL pointers are skipped.
	unsigned cpu = 1000, node = 1000;
	CHECK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
	cpu_set_t set;
	sched_getaffinity(0, sizeof set, &set);
	printf("  cpu allowed %d, node %u\n", cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set), node);
	CHECK("getcpu NULLs", syscall(SYS_getcpu, NULL, NULL, NULL));
	CHECK("getcpu bad cpu", syscall(SYS_getcpu, (void *)8, NULL, NULL));
	CHECK("getcpu bad node", syscall(SYS_getcpu, &cpu, (void *)8, NULL));

	// Protection keys, compared only where the CPU has none enabled (CPUID.7:ECX.OSPKE).
	unsigned a, b, c, d;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1 << 4))) {
		printf("pkeys: the CPU has them, not compared\n");
	} else {
		CHECK("pkey_alloc", syscall(SYS_pkey_alloc, 0, 0));
		CHECK("pkey_free", syscall(SYS_pkey_free, 1));
		char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK("pkey_mprotect -1", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ | PROT_WRITE, -1));
		m[0] = 1;
		CHECK("pkey_mprotect key 1", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, 1));
	}
	return 0;
}
