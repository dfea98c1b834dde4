#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv, char **envp) {
	printf("hello from %s, argc=%d\n", argv[0], argc);
	for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
	char *p = malloc(1 << 20); memset(p, 'x', 1 << 20); free(p);
	return 3;
}
