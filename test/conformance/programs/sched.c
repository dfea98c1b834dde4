// sched: scheduling attributes as the system calls keep and report them — nice
// (getpriority/setpriority for a thread, a process group and a user), policies and
// priorities (sched_setscheduler, sched_setparam, sched_getattr/setattr, the priority
// ranges, sched_rr_get_interval), I/O priorities (ioprio_get/set), CPU affinity of
// another process, and the NUMA memory policy of a one-node machine; inheritance by a
// child, SCHED_RESET_ON_FORK; and the errors, with and without CAP_SYS_NICE.
#include "common.h"
#include <sched.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
	uint64_t pad[2];
};

#define IOPRIO(class, data) (((class) << 13) | (data))

static void drop_caps(void) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {0};
	syscall(SYS_capset, &h, d);
}

static void show_attr(const char *name, long r, struct attr *a) {
	if (r < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: size %u policy %u flags %lu nice %d prio %u util %u %u pad %lx\n", name, a->size,
		       a->policy, (unsigned long)a->flags, a->nice, a->prio, a->util_min, a->util_max,
		       (unsigned long)a->pad[0]);
}

static void unprivileged(void) {
	drop_caps();
	CHECK("  setpriority 5 (raise nice)", setpriority(PRIO_PROCESS, 0, 5));
	CHECK("  setpriority 0 (lower it back)", setpriority(PRIO_PROCESS, 0, 0));
	CHECK("  setpriority 10", setpriority(PRIO_PROCESS, 0, 10));
	struct sched_param p = {.sched_priority = 5};
	CHECK("  SCHED_FIFO", sched_setscheduler(0, SCHED_FIFO, &p));
	p.sched_priority = 0;
	CHECK("  SCHED_IDLE", sched_setscheduler(0, SCHED_IDLE, &p));
	CHECK("  SCHED_OTHER from IDLE", sched_setscheduler(0, SCHED_OTHER, &p));
	CHECK("  ioprio RT", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 4)));
	CHECK("  ioprio BE 7", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 7)));
	CHECK("  ioprio of init", syscall(SYS_ioprio_set, 1, 1, IOPRIO(2, 7)));
	CHECK("  setpriority of init", setpriority(PRIO_PROCESS, 1, 10));
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK("  sched_setaffinity of init", sched_setaffinity(1, sizeof set, &set));
	CHECK("  sched_setaffinity of self", sched_setaffinity(0, sizeof set, &set));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	setpgid(0, 0); // a process group of this test's own
	// Nice.
	errno = 0;
	CHECK("getpriority", getpriority(PRIO_PROCESS, 0));
	CHECK("setpriority 7", setpriority(PRIO_PROCESS, 0, 7));
	CHECK("getpriority raw", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK("setpriority 100 (clamped)", setpriority(PRIO_PROCESS, 0, 100));
	CHECK("getpriority raw", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK("setpriority -100 (clamped)", setpriority(PRIO_PROCESS, 0, -100));
	CHECK("getpriority raw", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK("setpriority pgrp 3", setpriority(PRIO_PGRP, 0, 3));
	CHECK("getpriority pgrp raw", syscall(SYS_getpriority, PRIO_PGRP, 0));
	CHECK("getpriority bad which", syscall(SYS_getpriority, 3, 0));
	CHECK("setpriority bad which", setpriority(3, 0, 0));
	CHECK("getpriority no such process", syscall(SYS_getpriority, PRIO_PROCESS, 999999));
	CHECK("setpriority no such group", setpriority(PRIO_PGRP, 999999, 0));
	CHECK("getpriority no such user", syscall(SYS_getpriority, PRIO_USER, 54321));

	// A child inherits the nice value and the policy.
	struct sched_param p = {0};
	CHECK("SCHED_BATCH", sched_setscheduler(0, SCHED_BATCH, &p));
	pid_t c = fork();
	if (c == 0) {
		printf("child: nice %ld policy %d\n", syscall(SYS_getpriority, PRIO_PROCESS, 0), sched_getscheduler(0));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	CHECK("getpriority of a zombie-free child", syscall(SYS_getpriority, PRIO_PROCESS, c));

	// Policies.
	CHECK("sched_getscheduler", sched_getscheduler(0));
	CHECK("SCHED_IDLE", sched_setscheduler(0, SCHED_IDLE, &p));
	CHECK("sched_getscheduler", sched_getscheduler(0));
	CHECK("SCHED_OTHER with SCHED_RESET_ON_FORK", sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &p));
	CHECK("sched_getscheduler", sched_getscheduler(0));
	CHECK("setpriority -5", setpriority(PRIO_PROCESS, 0, -5));
	c = fork();
	if (c == 0) {
		printf("child of RESET_ON_FORK: nice %ld policy %d\n", syscall(SYS_getpriority, PRIO_PROCESS, 0),
		       sched_getscheduler(0));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	CHECK("SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &p));
	CHECK("setpriority 0", setpriority(PRIO_PROCESS, 0, 0));
	p.sched_priority = 1;
	CHECK("SCHED_OTHER priority 1", sched_setscheduler(0, SCHED_OTHER, &p));
	p.sched_priority = 0;
	CHECK("SCHED_FIFO priority 0", sched_setscheduler(0, SCHED_FIFO, &p));
	p.sched_priority = 100;
	CHECK("SCHED_RR priority 100", sched_setscheduler(0, SCHED_RR, &p));
	CHECK("policy 4", sched_setscheduler(0, 4, &p));
	CHECK("policy 42", sched_setscheduler(0, 42, &p));
	CHECK("NULL param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
	CHECK("bad param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8));
	CHECK("negative pid", syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &p));
	CHECK("no such pid", syscall(SYS_sched_setscheduler, 999999, SCHED_OTHER, &p));
	CHECK("sched_getscheduler -1", sched_getscheduler(-1));
	CHECK("sched_getscheduler no such pid", sched_getscheduler(999999));
	p.sched_priority = 42;
	CHECK("sched_getparam", sched_getparam(0, &p));
	printf("  priority %d\n", p.sched_priority);
	CHECK("sched_getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
	CHECK("sched_getparam bad", syscall(SYS_sched_getparam, 0, (void *)8));
	CHECK("sched_setparam 0", sched_setparam(0, &p));
	p.sched_priority = 3;
	CHECK("sched_setparam 3 under SCHED_OTHER", sched_setparam(0, &p));
	int pols[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, 6, 4, -1};
	for (unsigned i = 0; i < sizeof pols / sizeof *pols; i++) {
		errno = 0;
		int mx = sched_get_priority_max(pols[i]), mn = sched_get_priority_min(pols[i]);
		printf("policy %d: priorities %d..%d %s\n", pols[i], mn, mx, errno ? strerrorname_np(errno) : "");
	}
	struct timespec ts = {9, 9};
	CHECK("sched_rr_get_interval", sched_rr_get_interval(0, &ts));
	printf("  %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	CHECK("sched_rr_get_interval -1", sched_rr_get_interval(-1, &ts));
	CHECK("sched_rr_get_interval bad", syscall(SYS_sched_rr_get_interval, 0, (void *)8));

	// sched_getattr and sched_setattr.
	struct attr a;
	memset(&a, 0xff, sizeof a);
	long r = syscall(SYS_sched_getattr, 0, &a, sizeof a, 0);
	a.runtime = 0; // Linux 6.6 and later show a fair task's slice here
	show_attr("sched_getattr", r, &a);
	memset(&a, 0xff, sizeof a);
	show_attr("sched_getattr 48", syscall(SYS_sched_getattr, 0, &a, 48, 0), &a);
	CHECK("sched_getattr 40", syscall(SYS_sched_getattr, 0, &a, 40, 0));
	CHECK("sched_getattr flags", syscall(SYS_sched_getattr, 0, &a, 48, 1));
	CHECK("sched_getattr NULL", syscall(SYS_sched_getattr, 0, NULL, 48, 0));
	CHECK("sched_getattr no such pid", syscall(SYS_sched_getattr, 999999, &a, 48, 0));
	memset(&a, 0, sizeof a);
	a.size = 48;
	a.policy = SCHED_OTHER;
	a.nice = 4;
	CHECK("sched_setattr nice 4", syscall(SYS_sched_setattr, 0, &a, 0));
	CHECK("  getpriority raw", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	a.nice = 0;
	a.size = 0;
	CHECK("sched_setattr size 0", syscall(SYS_sched_setattr, 0, &a, 0));
	a.size = 40;
	CHECK("sched_setattr size 40", syscall(SYS_sched_setattr, 0, &a, 0));
	printf("  size now %u\n", a.size);
	a.size = sizeof a;
	a.pad[0] = 1;
	CHECK("sched_setattr junk past the end", syscall(SYS_sched_setattr, 0, &a, 0));
	printf("  size now %u\n", a.size);
	a.pad[0] = 0;
	a.size = sizeof a;
	CHECK("sched_setattr larger, zeroes past the end", syscall(SYS_sched_setattr, 0, &a, 0));
	a.flags = 0x1000;
	CHECK("sched_setattr unknown flag", syscall(SYS_sched_setattr, 0, &a, 0));
	a.flags = 0;
	CHECK("sched_setattr flags argument", syscall(SYS_sched_setattr, 0, &a, 1));
	a.policy = 42;
	CHECK("sched_setattr policy 42", syscall(SYS_sched_setattr, 0, &a, 0));

	// I/O priorities.
	CHECK("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	CHECK("ioprio_set BE 4", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 4)));
	CHECK("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
	CHECK("ioprio_set IDLE", syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
	CHECK("ioprio_get pgrp", syscall(SYS_ioprio_get, 2, 0));
	CHECK("ioprio_set NONE 1", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)));
	CHECK("ioprio_set class 4", syscall(SYS_ioprio_set, 1, 0, IOPRIO(4, 0)));
	CHECK("ioprio_set bad which", syscall(SYS_ioprio_set, 4, 0, IOPRIO(2, 4)));
	CHECK("ioprio_get bad which", syscall(SYS_ioprio_get, 0, 0));
	CHECK("ioprio_get no such pid", syscall(SYS_ioprio_get, 1, 999999));
	CHECK("ioprio_set NONE", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 0)));
	CHECK("ioprio_get: from the nice value", syscall(SYS_ioprio_get, 1, 0));
	CHECK("ioprio_set BE, a hint bit", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 8)));
	CHECK("ioprio_set NONE, a hint bit", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 8)));
	CHECK("ioprio_set class 7", syscall(SYS_ioprio_set, 1, 0, IOPRIO(7, 0)));

	// Affinity of another process.
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	cpu_set_t set;
	CHECK("sched_getaffinity of a child", sched_getaffinity(c, sizeof set, &set));
	printf("  CPU 0 in it: %d\n", CPU_ISSET(0, &set));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK("sched_setaffinity of a child", sched_setaffinity(c, sizeof set, &set));
	CPU_ZERO(&set);
	CHECK("sched_getaffinity of it again", sched_getaffinity(c, sizeof set, &set));
	printf("  CPUs: %d\n", CPU_COUNT(&set));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	CHECK("sched_getaffinity no such pid", sched_getaffinity(999999, sizeof set, &set));

	// NUMA memory policy, on a machine with one node.
	int mode = -1;
	unsigned long nodes = 99;
	CHECK("get_mempolicy", syscall(SYS_get_mempolicy, &mode, &nodes, 64, NULL, 0));
	printf("  mode %d nodes %#lx\n", mode, nodes);
	nodes = 1;
	CHECK("set_mempolicy BIND node 0", syscall(SYS_set_mempolicy, 2, &nodes, 64));
	nodes = 99;
	CHECK("get_mempolicy", syscall(SYS_get_mempolicy, &mode, &nodes, 64, NULL, 0));
	printf("  mode %d nodes %#lx\n", mode, nodes);
	nodes = 1;
	CHECK("set_mempolicy INTERLEAVE", syscall(SYS_set_mempolicy, 3, &nodes, 64));
	CHECK("get_mempolicy MPOL_F_NODE", syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 1));
	printf("  next node %d\n", mode);
	nodes = 2;
	CHECK("set_mempolicy BIND node 1 only", syscall(SYS_set_mempolicy, 2, &nodes, 64));
	CHECK("set_mempolicy BIND no nodes", syscall(SYS_set_mempolicy, 2, NULL, 0));
	nodes = 1;
	CHECK("set_mempolicy DEFAULT with nodes", syscall(SYS_set_mempolicy, 0, &nodes, 64));
	CHECK("set_mempolicy LOCAL with nodes", syscall(SYS_set_mempolicy, 4, &nodes, 64));
	CHECK("set_mempolicy mode 42", syscall(SYS_set_mempolicy, 42, NULL, 0));
	CHECK("set_mempolicy STATIC|RELATIVE", syscall(SYS_set_mempolicy, 2 | (3 << 14), &nodes, 64));
	CHECK("set_mempolicy bad mask", syscall(SYS_set_mempolicy, 2, (void *)8, 64));
	CHECK("set_mempolicy PREFERRED, no nodes", syscall(SYS_set_mempolicy, 1, NULL, 0));
	CHECK("get_mempolicy", syscall(SYS_get_mempolicy, &mode, &nodes, 64, NULL, 0));
	printf("  mode %d nodes %#lx\n", mode, nodes);
	CHECK("get_mempolicy MPOL_F_NODE, not interleaving", syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 1));
	CHECK("set_mempolicy DEFAULT", syscall(SYS_set_mempolicy, 0, NULL, 0));
	unsigned long big[4];
	memset(big, 0xff, sizeof big);
	CHECK("get_mempolicy MEMS_ALLOWED, 256 nodes", syscall(SYS_get_mempolicy, &mode, big, 256, NULL, 4));
	printf("  %#lx %#lx %#lx\n", big[0], big[1], big[3]);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m[0] = 1;
	CHECK("get_mempolicy MPOL_F_ADDR", syscall(SYS_get_mempolicy, &mode, &nodes, 64, m, 2));
	printf("  mode %d nodes %#lx\n", mode, nodes);
	CHECK("get_mempolicy MPOL_F_ADDR|NODE", syscall(SYS_get_mempolicy, &mode, NULL, 0, m, 3));
	printf("  node %d\n", mode);
	munmap(m, 4096);
	CHECK("get_mempolicy MPOL_F_ADDR unmapped", syscall(SYS_get_mempolicy, &mode, NULL, 0, m, 2));
	CHECK("get_mempolicy MEMS_ALLOWED|ADDR", syscall(SYS_get_mempolicy, &mode, NULL, 0, m, 6));
	CHECK("get_mempolicy flag 8", syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 8));
	CHECK("get_mempolicy mask of 0 nodes", syscall(SYS_get_mempolicy, &mode, &nodes, 0, NULL, 0));

	// Without CAP_SYS_NICE.
	c = fork();
	if (c == 0) {
		unprivileged();
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return 0;
}
