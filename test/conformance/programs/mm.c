// mm: mmap, munmap, mprotect and brk, with their error paths.
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdlib.h>

#define PG 4096

static long mm(void *a, size_t l, int p, int f, int fd, off_t o) {
	return syscall(SYS_mmap, a, l, p, f, fd, o);
}

int main(void) {
	// Error paths, in the order Linux checks.
	CHECK("mmap len 0", mm(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK("mmap bad offset", mm(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1));
	CHECK("mmap bad fd", mm(NULL, PG, PROT_READ, MAP_PRIVATE, 99, 0));
	CHECK("mmap bad fd len 0", mm(NULL, 0, PROT_READ, MAP_PRIVATE, 99, 0));
	CHECK("mmap no type", mm(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0));
	CHECKOK("mmap unknown prot bits (ignored)", mm(NULL, PG, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK("mmap huge", mm(NULL, (size_t)-PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK("mmap fixed unaligned", mm((void *)0x10000001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	CHECK("mmap write-only stdout", mm(NULL, PG, PROT_READ, MAP_PRIVATE, 1, 0));

	// A mapping works and is zeroed; pieces of it can be unmapped and protected.
	char *p = (char *)mm(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int zero = 1;
	for (int i = 0; i < 8 * PG; i++)
		zero &= p[i] == 0;
	printf("fresh memory zeroed: %d\n", zero);
	for (int i = 0; i < 8; i++)
		p[i * PG] = 'a' + i;
	CHECK("munmap middle", syscall(SYS_munmap, p + 2 * PG, 2 * PG));
	printf("after munmap: %c %c %c\n", p[0], p[PG], p[4 * PG]);
	CHECK("mprotect read-only", syscall(SYS_mprotect, p, PG, PROT_READ));
	printf("read after mprotect: %c\n", p[0]);
	CHECK("mprotect over hole", syscall(SYS_mprotect, p, 8 * PG, PROT_READ));
	CHECK("mprotect unaligned", syscall(SYS_mprotect, p + 1, PG, PROT_READ));
	CHECK("mprotect bad prot", syscall(SYS_mprotect, p, PG, 0x100));
	CHECK("mprotect len 0", syscall(SYS_mprotect, p, 0, PROT_READ));
	CHECK("munmap unaligned", syscall(SYS_munmap, p + 1, PG));
	CHECK("munmap len 0", syscall(SYS_munmap, p, 0));
	CHECK("munmap unmapped", syscall(SYS_munmap, p + 2 * PG, PG));

	// MAP_FIXED replaces; MAP_FIXED_NOREPLACE refuses.
	char *q = (char *)mm(p + 4 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("fixed at requested address: %d, replaced page zeroed: %d\n", q == p + 4 * PG, q[0] == 0);
	CHECK("mmap noreplace over mapping", mm(p + 4 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));

	// brk grows and shrinks the heap.
	uintptr_t b0 = syscall(SYS_brk, 0);
	uintptr_t b1 = syscall(SYS_brk, b0 + 3 * PG);
	printf("brk grew by: %lu\n", (unsigned long)(b1 - b0));
	((char *)b0)[3 * PG - 1] = 1;
	uintptr_t b2 = syscall(SYS_brk, b0);
	printf("brk shrank back: %d\n", b2 == b0);
	printf("brk below start unchanged: %d\n", (uintptr_t)syscall(SYS_brk, 4096) == b0);

	// Large malloc goes to mmap, small to brk.
	char *big = malloc(4 << 20);
	memset(big, 7, 4 << 20);
	long sum = 0;
	for (int i = 0; i < (4 << 20); i += PG)
		sum += big[i];
	printf("big malloc sum: %ld\n", sum);
	free(big);

	// munmap gives back what it unmapped, a run at a time: memory unmapped and mapped
	// again, over and over, reads as zeroes every time, and a piece unmapped across
	// the runs a fault populated leaves the rest with its data.
	int zeroed = 1;
	for (int round = 0; round < 20; round++) {
		char *r = (char *)mm(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (int i = 0; i < (1 << 20); i += PG) {
			zeroed &= r[i] == 0 && r[i + PG - 1] == 0;
			r[i] = (char)(round + 1);
			r[i + PG - 1] = (char)(round + 1);
		}
		syscall(SYS_munmap, r, 1 << 20);
	}
	printf("memory mapped again reads as zeroes: %d\n", zeroed);
	char *w = (char *)mm(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < (2 << 20) / PG; i++)
		w[i * PG] = (char)(i % 100 + 1);
	CHECK("munmap across runs", syscall(SYS_munmap, w + 200 * PG, 200 * PG));
	char *again = (char *)mm(w + 200 * PG, 200 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	int kept = 1, fresh = 1;
	for (int i = 0; i < (2 << 20) / PG; i++) {
		if (i >= 200 && i < 400)
			fresh &= again[(i - 200) * PG] == 0;
		else
			kept &= w[i * PG] == (char)(i % 100 + 1);
	}
	printf("around the hole data kept: %d, remapped hole zeroed: %d\n", kept, fresh);

	// A 1 MiB mapping that straddles a 1 MiB boundary: touching its first and last
	// pages makes those two resident and no other (the Sentry populates the whole
	// mapping at the first fault, but pages never touched stay holes).
	char *res = (char *)mm(NULL, 3 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *u = (char *)((((uintptr_t)res + (1 << 20)) & ~(uintptr_t)((1 << 20) - 1)) + 5 * PG);
	u = (char *)mm(u, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	u[0] = 1;
	u[(1 << 20) - 1] = 1;
	unsigned char vec[256];
	int resident = -1;
	if (mincore(u, 1 << 20, vec) == 0) {
		resident = 0;
		for (int i = 0; i < 256; i++)
			resident += vec[i] & 1;
	}
	printf("unaligned 1 MiB mapping, 2 pages touched, resident: %d first %d last %d\n", resident, vec[0] & 1, vec[255] & 1);
	syscall(SYS_munmap, res, 3 << 20);

	// A fork's child keeps the pages its parent unmaps (both held them): only the
	// parent's references go with the munmap.
	char *s = (char *)mm(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 64; i++)
		s[i * PG] = (char)(i + 1);
	int pfd[2];
	if (pipe(pfd) != 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char go;
		if (read(pfd[0], &go, 1) != 1)
			_exit(2);
		int ok = 1;
		for (int i = 0; i < 64; i++)
			ok &= s[i * PG] == (char)(i + 1);
		s[5 * PG] = 'x'; // a write after the parent let go copies nothing it needs
		_exit(ok && s[5 * PG] == 'x' ? 0 : 1);
	}
	s[3 * PG] = 'p'; // the parent's own copy of one page first
	CHECK("munmap shared copy-on-write", syscall(SYS_munmap, s, 64 * PG));
	if (write(pfd[1], "g", 1) != 1)
		return 1;
	int st;
	waitpid(c, &st, 0);
	printf("child's pages intact after the parent's munmap: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}
