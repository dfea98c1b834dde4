// stack: the main stack grows on demand to RLIMIT_STACK; MAP_GROWSDOWN mappings grow.
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>

static long deep(int n) {
	volatile char pad[4096];
	pad[0] = (char)n;
	if (n == 0)
		return pad[0];
	return deep(n - 1) + pad[0];
}

int main(void) {
	printf("6 MiB of recursion: %ld\n", deep(1500));
	char *g = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	g[0] = 1;
	g[-1] = 2; // one byte below: the mapping grows
	g[-4096 * 4] = 3;
	printf("grew down: %d %d\n", g[-1], g[-4096 * 4]);
	return 0;
}
