// mm2: mremap, madvise, msync and mincore.
#include "common.h"
#include <sys/mman.h>

#define PG 4096

static void residency(const char *what, char *p, int pages) {
	unsigned char vec[16];
	CHECK(what, mincore(p, pages * PG, vec));
	printf("  ");
	for (int i = 0; i < pages; i++)
		printf("%d", vec[i] & 1);
	printf("\n");
}

int main(void) {
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	residency("mincore fresh", p, 4);
	p[0] = 'a';
	p[2 * PG] = 'c';
	// Touched pages are resident, untouched ones not, even where the Sentry populated
	// them together (fault-around).
	residency("touched pages", p, 4);
	volatile char r1 = p[3 * PG]; // a read makes a page resident too
	(void)r1;
	residency("after a read", p, 4);

	// mremap: shrink in place, grow (in place or moved), data kept.
	char *q = mremap(p, 4 * PG, 2 * PG, 0);
	printf("shrink in place: %d data %c\n", q == p, q[0]);
	CHECK("access past the shrunk end (mincore)", mincore(p + 2 * PG, PG, (unsigned char[1]){0}));
	q = mremap(p, 2 * PG, 64 * PG, MREMAP_MAYMOVE);
	printf("grow: ok %d data %c\n", q != MAP_FAILED, q[0]);
	q[63 * PG] = 'z';
	char *fixed = mmap(NULL, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *r = mremap(q, 64 * PG, 64 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, fixed);
	printf("fixed move: at target %d data %c %c\n", r == fixed, r[0], r[63 * PG]);
	CHECK("old range unmapped after move", mincore(q, PG, (unsigned char[1]){0}));
	CHECK("mremap bad flags", (long)mremap(r, PG, PG, 0x100));
	CHECK("mremap unaligned", (long)mremap(r + 1, PG, PG, 0));
	CHECK("mremap new size 0", (long)mremap(r, PG, 0, MREMAP_MAYMOVE));
	CHECK("mremap fixed without maymove", syscall(SYS_mremap, r, PG, PG, MREMAP_FIXED, fixed));
	CHECK("mremap unmapped", (long)mremap(q, PG, 2 * PG, MREMAP_MAYMOVE));
	CHECK("mremap dontunmap size change", syscall(SYS_mremap, r, PG, 2 * PG, MREMAP_MAYMOVE | 4, 0));

	// madvise: DONTNEED zeroes anonymous memory.
	r[5] = 'x';
	CHECK("madvise DONTNEED", madvise(r, PG, MADV_DONTNEED));
	printf("after DONTNEED: %d\n", r[5]);
	CHECK("madvise WILLNEED", madvise(r, PG, MADV_WILLNEED));
	CHECK("madvise bad advice", madvise(r, PG, 999));
	CHECK("madvise unaligned", madvise(r + 1, PG, MADV_DONTNEED));
	CHECK("madvise unmapped", madvise(q, PG, MADV_DONTNEED));
	CHECK("madvise length 0", madvise(r, 0, MADV_DONTNEED));

	// msync.
	CHECK("msync", msync(r, PG, MS_SYNC));
	CHECK("msync both sync and async", msync(r, PG, MS_SYNC | MS_ASYNC));
	CHECK("msync bad flags", msync(r, PG, 0x100));
	CHECK("msync unaligned", msync(r + 1, PG, MS_SYNC));
	CHECK("msync unmapped", msync(q, PG, MS_SYNC));

	CHECK("mincore unaligned", mincore(r + 1, PG, (unsigned char[1]){0}));
	CHECK("mincore bad vector", mincore(r, PG, (unsigned char *)16));
	return 0;
}
