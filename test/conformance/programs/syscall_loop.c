// syscall_loop: N raw getpid system calls, then "done". TestConcurrentSandboxes runs many
// at once to see that none starves.
#include "common.h"
#include <stdlib.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10000;
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	printf("done %ld\n", n);
	return 0;
}
