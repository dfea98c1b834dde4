// membarrier: the commands and their errors (registration before a private expedited
// barrier, unknown commands and flags), registrations across fork, and barriers
// while other threads spin in application code (each must return).
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

static long mb(int cmd, unsigned flags) { return syscall(SYS_membarrier, cmd, flags, 0); }

static atomic_int stop;
static atomic_long count;

static void *spin(void *arg) {
	(void)arg;
	while (!atomic_load(&stop))
		atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	return NULL;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	long q = mb(0, 0);
	// The rseq commands (bits 7 and 8) need rseq, which the sandbox does not have.
	printf("query: %#lx\n", q < 0 ? q : q & ~0x180L);
	CHECK("registrations", mb(1 << 9, 0));
	CHECK("private expedited, not registered", mb(1 << 3, 0));
	CHECK("private expedited sync core, not registered", mb(1 << 5, 0));
	CHECK("register private expedited", mb(1 << 4, 0));
	CHECK("private expedited", mb(1 << 3, 0));
	CHECK("registrations", mb(1 << 9, 0));
	CHECK("register sync core", mb(1 << 6, 0));
	CHECK("private expedited sync core", mb(1 << 5, 0));
	CHECK("global expedited", mb(1 << 1, 0));
	CHECK("register global expedited", mb(1 << 2, 0));
	CHECK("global expedited", mb(1 << 1, 0));
	CHECK("registrations", mb(1 << 9, 0));
	CHECK("two commands at once", mb(3, 0));
	CHECK("command 1024", mb(1 << 10, 0));
	CHECK("command -1", mb(-1, 0));
	CHECK("flags", mb(1 << 3, 1));
	CHECK("query with flags", mb(0, 1));
	pid_t c = fork();
	if (c == 0) {
		CHECK("child: registrations", mb(1 << 9, 0));
		CHECK("child: private expedited", mb(1 << 3, 0));
		_exit(0);
	}
	waitpid(c, NULL, 0);

	// Barriers while two threads spin.
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, spin, NULL);
	while (atomic_load(&count) < 1000000)
		;
	int ok = 0;
	for (int i = 0; i < 200; i++)
		ok += mb(1 << 3, 0) == 0;
	printf("200 private expedited barriers with threads spinning: %d succeeded\n", ok);
	CHECK("global", mb(1 << 0, 0));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return 0;
}
