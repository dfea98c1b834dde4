// exit: exit statuses and deaths by signal.
#include "common.h"
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "segv") == 0) {
		char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("read %d\n", p[0]);
		fflush(stdout);
		p[0] = 1; // write to a read-only page: SIGSEGV
		return 0;
	}
	if (strcmp(argv[1], "ud2") == 0) {
		fflush(stdout);
		__asm__ volatile("ud2"); // SIGILL
	}
	syscall(SYS_exit_group, atoi(argv[1]));
	return 99;
}
