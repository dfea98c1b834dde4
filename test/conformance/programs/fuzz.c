// fuzz: random system call numbers with random arguments, bad pointers included, for a
// fixed count and seed. Run sandboxed only: the Sentry must neither crash nor hang.
// Calls that would end or cripple the program itself (exit, unmapping its own memory,
// signals to itself) are skipped so it runs the whole count.
#include "common.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

static uint64_t state = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) { // xorshift64*
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dULL;
}

static char *page; // a valid page, then an unmapped one after it

static long arg(void) {
	switch (next() % 8) {
	case 0: return 0;
	case 1: return (long)(next() % 64);
	case 2: return (long)next();
	case 3: return (long)page + (long)(next() % 4096);
	case 4: return (long)page + 4096 - 1; // one byte before the unmapped page
	case 5: return (long)page + 4096;     // the unmapped page
	case 6: return -1;
	default: return (long)(next() & 0xffffffff);
	}
}

int main(int argc, char **argv) {
	long count = argc > 1 ? atol(argv[1]) : 10000;
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(page + 4096, 4096);
	long ok = 0, failed = 0;
	for (long i = 0; i < count; i++) {
		long nr = (long)(next() % 480);
		switch (nr) {
		case SYS_exit: case SYS_exit_group: case SYS_munmap: case SYS_mmap:
		case SYS_mprotect: case SYS_mremap: case SYS_brk: case SYS_rt_sigreturn:
		case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_execve: case SYS_execveat:
		case SYS_pause: case SYS_vfork: case SYS_fork: case SYS_clone: case SYS_clone3:
		case SYS_arch_prctl: case SYS_close: case SYS_close_range: case SYS_dup2: case SYS_dup3:
		case SYS_madvise: case SYS_seccomp: case SYS_prctl: case SYS_setrlimit: case SYS_prlimit64:
		case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv: case SYS_preadv2:
		case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
		case SYS_wait4: case SYS_waitid: case SYS_select: case SYS_pselect6: case SYS_poll: case SYS_ppoll:
		case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_futex:
		case SYS_set_tid_address: case SYS_set_robust_list: case SYS_rseq: case SYS_shmdt:
		// SysV IPC calls that may wait forever, as on Linux (a semaphore or a queue
		// that no one else touches), or map over the program (shmat's SHM_REMAP).
		case SYS_semop: case SYS_semtimedop: case SYS_msgsnd: case SYS_msgrcv: case SYS_shmat:
		// uretprobe (335) and uprobe (336) are executed by the host even under a seccomp
		// filter (Linux 6.11 and later let them through unfiltered), so on systrap they
		// do what they do natively: uretprobe outside a trampoline raises SIGILL.
		case 335: case 336:
			continue;
		}
		long r = syscall(nr, arg(), arg(), arg(), arg(), arg(), arg());
		if (r == -1)
			failed++;
		else
			ok++;
	}
	printf("fuzz done: %ld calls\n", ok + failed);
	return 0;
}
