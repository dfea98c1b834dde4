// Shared memory (MAP_SHARED): anonymous shared memory across fork, madvise and mremap
// on it, /proc/self/maps flags; a tmpfs file (/dev/shm) mapped shared by two processes
// that see each other's writes and read(2) seeing them, msync, munmap then read,
// truncation (SIGBUS past the end, zeroed tail), hole punching, private mappings of the
// file; and a process-shared pthread mutex and condition variable (shared futexes)
// between two processes.
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

static long pg;

// mapsflag prints the permission field /proc/self/maps shows for the mapping at addr.
static void mapsflag(const char *name, void *addr) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	char perm[5];
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && lo == (unsigned long)addr) {
			printf("%s: %s\n", name, perm);
			fclose(f);
			return;
		}
	}
	printf("%s: not found\n", name);
	if (f)
		fclose(f);
}

static int waitchild(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void anon_fork(void) {
	volatile int *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile int *q = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	q[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		p[0] = 2; // seen by the parent
		q[0] = 2; // not seen
		p[pg / sizeof(int)] = 3; // a page the parent never touched
		_exit(0);
	}
	printf("child: %d\n", waitchild(pid));
	printf("shared after child wrote: %d %d\n", p[0], p[pg / sizeof(int)]);
	printf("private after child wrote: %d\n", q[0]);

	// The parent writes, a second child reads, after the first child's pages are gone.
	p[2 * pg / sizeof(int)] = 4;
	pid = fork();
	if (pid == 0)
		_exit(p[0] + p[pg / sizeof(int)] + p[2 * pg / sizeof(int)]);
	printf("second child saw sum: %d\n", waitchild(pid));

	// MADV_DONTNEED on a shared mapping drops this process's view, not the data.
	CHECK("madvise DONTNEED shared", madvise((void *)p, 4 * pg, MADV_DONTNEED));
	printf("after DONTNEED: %d %d\n", p[0], p[pg / sizeof(int)]);
	CHECK("madvise DONTNEED private", madvise((void *)q, pg, MADV_DONTNEED));
	printf("private after DONTNEED: %d\n", q[0]);

	// mprotect a part (the VMA splits), then unmap the other part: the rest lives on.
	CHECK("mprotect half read-only", mprotect((void *)p, 2 * pg, PROT_READ));
	mapsflag("maps shared ro", (void *)p);
	mapsflag("maps shared rw", (void *)(p + 2 * pg / sizeof(int)));
	mapsflag("maps private", (void *)q);
	CHECK("munmap first half", munmap((void *)p, 2 * pg));
	printf("second half kept: %d\n", p[2 * pg / sizeof(int)]);

	// mremap moves the mapping with its object: a child forked before sees the writes.
	volatile int *r = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fds[2];
	pipe(fds);
	pid = fork();
	if (pid == 0) {
		char c;
		read(fds[0], &c, 1);
		_exit(r[0]);
	}
	r[0] = 5;
	volatile int *r2 = mremap((void *)r, pg, 2 * pg, MREMAP_MAYMOVE);
	printf("mremap: %s\n", r2 == MAP_FAILED ? strerrorname_np(errno) : "ok");
	r2[0] = 6;
	write(fds[1], "x", 1);
	printf("child saw after mremap: %d\n", waitchild(pid));
	close(fds[0]);
	close(fds[1]);

	// An old size of zero duplicates a shared mapping; a private one can't be.
	volatile int *d = mremap((void *)r2, 0, pg, MREMAP_MAYMOVE);
	printf("mremap duplicate: %s\n", d == MAP_FAILED ? strerrorname_np(errno) : "ok");
	if (d != MAP_FAILED) {
		d[1] = 8;
		printf("duplicate shares: %d %d\n", d[0], r2[1]);
		munmap((void *)d, pg);
	}
	void *e = mremap((void *)r2, 0, pg, 0);
	printf("mremap duplicate without MAYMOVE: %s\n", e == MAP_FAILED ? strerrorname_np(errno) : "ok");
	e = mremap((void *)q, 0, pg, MREMAP_MAYMOVE);
	printf("mremap duplicate private: %s\n", e == MAP_FAILED ? strerrorname_np(errno) : "ok");
	munmap((void *)q, pg);
}

// A shared anonymous mapping grown past its object gives SIGBUS there.
static sigjmp_buf jb;
static void onbus(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	printf("signal %s code %d\n", sigabbrev_np(sig), si->si_code);
	siglongjmp(jb, 1);
}

static void anon_bus(void) {
	struct sigaction sa = {.sa_sigaction = onbus, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	// A one-page object, with a free page after it so mremap can grow it in place.
	char *p = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mmap(p, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	munmap(p + pg, pg);
	char *g = mremap(p, pg, 2 * pg, 0);
	if (g == MAP_FAILED) {
		printf("mremap grow: %s\n", strerrorname_np(errno));
		return;
	}
	p[0] = 1;
	if (sigsetjmp(jb, 1) == 0) {
		p[pg] = 1;
		printf("no signal past the object\n");
	}
	munmap(p, 2 * pg);
	signal(SIGBUS, SIG_DFL);
}

// A process-shared mutex and condition variable: the shared futexes of two processes.
struct sync_area {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int turn;
	int count;
};

static void pshared(void) {
	struct sync_area *s = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->mu, &ma);
	pthread_cond_init(&s->cv, &ca);
	const int rounds = 200;
	pid_t pid = fork();
	int me = pid == 0;
	for (int i = 0; i < rounds; i++) {
		pthread_mutex_lock(&s->mu);
		while (s->turn != me)
			pthread_cond_wait(&s->cv, &s->mu);
		s->count++;
		s->turn = !me;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	if (pid == 0)
		_exit(0);
	printf("ping-pong child: %d\n", waitchild(pid));
	printf("ping-pong count: %d\n", s->count);
	munmap(s, pg);
}

// Touching p reports SIGBUS (and its code) or the byte read.
static void touch(const char *name, volatile char *p) {
	struct sigaction sa = {.sa_sigaction = onbus, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0) {
		char c = *p;
		printf("%s: read %d\n", name, c);
	} else {
		printf("%s: faulted\n", name);
	}
	signal(SIGBUS, SIG_DFL);
}

static void file_shared(void) {
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/moat-shmem-%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECKOK("open", fd);
	CHECK("ftruncate", ftruncate(fd, 2 * pg));
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap shared: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
	mapsflag("maps file shared", p);
	strcpy(p, "via mapping");
	char buf[32] = {0};
	CHECK("pread sees the mapping's write", pread(fd, buf, 11, 0));
	printf("read: %s\n", buf);
	CHECK("pwrite", pwrite(fd, "via write", 9, pg));
	printf("mapping sees write(2): %s\n", p + pg);

	// A second process maps the file on its own and writes; each sees the other.
	int fds[2], back[2];
	pipe(fds);
	pipe(back);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = open(path, O_RDWR);
		char *q = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		char c;
		read(fds[0], &c, 1);
		int ok = strcmp(q, "parent wrote") == 0;
		strcpy(q + 100, "child wrote");
		write(back[1], "x", 1);
		_exit(ok ? 0 : 1);
	}
	strcpy(p, "parent wrote");
	write(fds[1], "x", 1);
	char c;
	read(back[0], &c, 1);
	printf("child saw parent's write: %d\n", waitchild(pid));
	printf("parent sees child's write: %s\n", p + 100);
	memset(buf, 0, sizeof buf);
	pread(fd, buf, 11, 100);
	printf("read(2) sees it: %s\n", buf);
	close(fds[0]);
	close(fds[1]);
	close(back[0]);
	close(back[1]);

	// msync.
	CHECK("msync", msync(p, 2 * pg, MS_SYNC));
	CHECK("msync async", msync(p, pg, MS_ASYNC | MS_INVALIDATE));
	CHECK("msync both", msync(p, pg, MS_SYNC | MS_ASYNC));
	CHECK("msync unaligned", msync(p + 1, pg, MS_SYNC));

	// A private mapping reads the file and keeps its writes to itself.
	char *priv = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private reads: %s\n", priv);
	strcpy(priv, "private");
	printf("shared after private write: %s\n", p);
	munmap(priv, pg);

	// Truncation: past the end faults with SIGBUS, the last page's tail is zeroed.
	CHECK("ftruncate shrink", ftruncate(fd, 50));
	touch("past the end", p + pg);
	touch("tail of last page", p + 60);
	touch("in the file", p + 1);
	CHECK("ftruncate grow", ftruncate(fd, 2 * pg));
	touch("grown back", p + pg);
	p[pg] = 7;
	memset(buf, 0, sizeof buf);
	pread(fd, buf, 1, pg);
	printf("write after grow reaches the file: %d\n", buf[0]);

	// Punching a hole drops the pages from the mapping: they read zeroes.
	p[0] = 'h';
	CHECK("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, pg));
	touch("punched", p);

	// Unmapped, the data stays in the file.
	strcpy(p + 200, "kept");
	CHECK("munmap", munmap(p, 2 * pg));
	memset(buf, 0, sizeof buf);
	pread(fd, buf, 4, 200);
	printf("after munmap: %s\n", buf);

	// Access checks.
	int ro = open(path, O_RDONLY);
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	printf("mmap shared writable of O_RDONLY: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, ro, 0);
	printf("mmap shared read-only: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : p + 200);
	CHECK("mprotect writable", mprotect(p, pg, PROT_READ | PROT_WRITE));
	munmap(p, pg);
	close(ro);
	close(fd);
	CHECK("unlink", unlink(path));

	// A read-only shared mapping of a file from the root filesystem shows as shared.
	fd = open("/etc/passwd", O_RDONLY);
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	mapsflag("maps read-only shared file", p);
	CHECK("mprotect read-only shared file writable", mprotect(p, pg, PROT_READ | PROT_WRITE));
	munmap(p, pg);
	close(fd);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	anon_fork();
	anon_bus();
	file_shared();
	pshared();
	return 0;
}
