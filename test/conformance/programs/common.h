// Helpers for conformance programs: every line printed must be the same natively and
// sandboxed, so print results and errno names, never addresses, PIDs or times.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// CHECK prints "name: ret" or "name: -1 ERRNO".
#define CHECK(name, expr)                                                      \
	do {                                                                   \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		if (_r == -1)                                                  \
			printf("%s: -1 %s\n", name, strerrorname_np(errno));   \
		else                                                           \
			printf("%s: %ld\n", name, _r);                         \
	} while (0)

// CHECKOK prints only whether the call succeeded (for results that vary).
#define CHECKOK(name, expr)                                                    \
	do {                                                                   \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		if (_r == -1)                                                  \
			printf("%s: -1 %s\n", name, strerrorname_np(errno));   \
		else                                                           \
			printf("%s: ok\n", name);                              \
	} while (0)
