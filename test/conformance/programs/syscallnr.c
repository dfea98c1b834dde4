// syscallnr: system-call numbers that name no call. Linux takes the low 32 bits of rax
// as a signed number: -1, other negatives, numbers past the table and x32 numbers (on
// a kernel without x32) fail with ENOSYS, and the high 32 bits are ignored, so
// 1<<32|39 is getpid. No number kills the caller.
#include "common.h"
#include <stdint.h>

static void try(const char *name, long nr) {
	errno = 0;
	long r = syscall(nr);
	if (r == -1)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: is getpid %d\n", name, r == getpid());
}

int main(void) {
	try("-1", -1);
	try("-ENOSYS", -38);
	try("1000", 1000);
	try("0x7fffffff", 0x7fffffff);
	try("0xffffffff", 0xffffffffL);
	try("x32 bit | 1000", 0x40000000 | 1000);
	try("1<<32 | getpid", (1L << 32) | SYS_getpid);
	try("high bits | getpid", (long)0xffffffff00000000UL | SYS_getpid);
	try("1<<32 | 1000", (1L << 32) | 1000);
	// A call's arguments and return survive the odd number around it.
	CHECK("getpid after them is positive", syscall(SYS_getpid) > 0);
	return 0;
}
