// mm: mmap, munmap, mprotect and brk, with their error paths.
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
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
	return 0;
}
