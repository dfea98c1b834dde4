// mlock: memory locks as mlock, mlock2, munlock, mlockall, munlockall and MAP_LOCKED
// keep them (VmLck), RLIMIT_MEMLOCK and CAP_IPC_LOCK, fork dropping them, and the
// errors.
#include "common.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <sys/wait.h>
// vmlck is /proc/self/status's VmLck, in kB.
static long vmlck(void) {
	FILE *f = fopen("/proc/self/status", "r");
	char l[256];
	long v = -1;
	while (fgets(l, sizeof l, f))
		if (!strncmp(l, "VmLck:", 6))
			v = atol(l + 6);
	fclose(f);
	return v;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char *p = mmap(NULL, 16 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mlock 4 pages", mlock(p, 4 << 12));
	printf("  VmLck %ld kB\n", vmlck());
	CHECK("mlock unaligned, the same pages", mlock(p + 100, (4 << 12) - 100));
	printf("  VmLck %ld kB\n", vmlck());
	CHECK("munlock 2", munlock(p, 2 << 12));
	printf("  VmLck %ld kB\n", vmlck());
	CHECK("mlock2 ONFAULT", syscall(SYS_mlock2, p + (8 << 12), 4 << 12, 1));
	CHECK("mlock2 bad flag", syscall(SYS_mlock2, p, 4096, 2));
	printf("  VmLck %ld kB\n", vmlck());
	munmap(p + (12 << 12), 4096);
	CHECK("mlock across a hole", mlock(p + (11 << 12), 3 << 12));
	CHECK("munlock across a hole", munlock(p + (11 << 12), 3 << 12));
	CHECK("mlock wrapping", mlock((void *)-4096UL, 8192));
	CHECK("mlock 0 bytes", mlock(p, 0));
	char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mlock PROT_NONE", mlock(none, 4096));
	CHECK("munlockall", munlockall());
	printf("  VmLck %ld kB\n", vmlck());
	CHECK("mlockall 0", mlockall(0));
	CHECK("mlockall ONFAULT alone", mlockall(MCL_ONFAULT));
	CHECK("mlockall 8", mlockall(8));
	CHECK("mlockall FUTURE", mlockall(MCL_FUTURE));
	char *q = mmap(NULL, 3 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("  a new mapping is locked: VmLck %ld kB\n", vmlck());
	munmap(q, 3 << 12);
	printf("  unmapped: VmLck %ld kB\n", vmlck());
	CHECK("munlockall", munlockall());
	q = mmap(NULL, 2 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	printf("MAP_LOCKED: VmLck %ld kB\n", vmlck());
	pid_t c = fork();
	if (c == 0) {
		printf("child: VmLck %ld kB\n", vmlck());
		_exit(0);
	}
	waitpid(c, NULL, 0);
	munmap(q, 2 << 12);
	// The limit.
	struct rlimit rl = {8192, 8192};
	setrlimit(RLIMIT_MEMLOCK, &rl);
	c = fork();
	if (c == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2] = {0};
		syscall(SYS_capset, &h, d);
		CHECK("mlock 2 pages, limit 2", mlock(p, 2 << 12));
		CHECK("mlock 3 pages, limit 2", mlock(p, 3 << 12));
		CHECK("mlock the same 2 again", mlock(p, 2 << 12));
		CHECK("mlockall CURRENT over the limit", mlockall(MCL_CURRENT));
		void *m = mmap(NULL, 2 << 12, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
		CHECK("MAP_LOCKED over the limit", m == MAP_FAILED ? -1 : 0);
		struct rlimit z = {0, 0};
		setrlimit(RLIMIT_MEMLOCK, &z);
		CHECK("mlock with a zero limit", mlock(p, 4096));
		CHECK("mlockall with a zero limit", mlockall(MCL_CURRENT));
		CHECK("munlock with a zero limit", munlock(p, 4096));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return 0;
}
