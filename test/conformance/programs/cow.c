// cow: fork's copy-on-write. After fork, a write by the parent or the child is seen only
// by the writer: in anonymous memory (one page, the first and last page of a mapping,
// large runs), after mprotect and mremap, in private file mappings, the brk heap and the
// stack; while another thread of the parent keeps writing; through vfork and a fork of
// a fork; and where the kernel writes (read(2) into a shared page). MAP_SHARED memory
// stays shared. MADV_DONTFORK, MADV_WIPEONFORK and their undoing, with madvise's errors.
// Successive children of one parent see none of each other's changes.
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#define PG 4096

// Two pipes: the child tells the parent it wrote (c2p), the parent tells the child it
// wrote (p2c). Each side checks that the other's writes did not reach it.
static int c2p[2], p2c[2];

static void say(int fd) {
	char c = 1;
	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static void hear(int fd) {
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(91);
}

static void pipes(void) {
	if (pipe(c2p) || pipe(p2c)) {
		perror("pipe");
		exit(1);
	}
}

static void closepipes(void) {
	close(c2p[0]);
	close(c2p[1]);
	close(p2c[0]);
	close(p2c[1]);
}

// A child's result: its exit status, or the signal that ended it.
static void report(const char *what, pid_t c) {
	int st;
	if (waitpid(c, &st, 0) != c) {
		printf("%s: waitpid failed\n", what);
		return;
	}
	if (WIFEXITED(st))
		printf("%s: child exit %d\n", what, WEXITSTATUS(st));
	else
		printf("%s: child signal %s\n", what, sigabbrev_np(WTERMSIG(st)));
}

// exchange runs the usual dance on the bytes at the offsets offs of p: both sides see
// the parent's value v; the child writes v+1 and the parent v+2 at each; each still
// sees its own afterwards. The child exits 0 if all was well.
static void exchange(const char *what, volatile unsigned char *p, const size_t *offs, int n, unsigned char v) {
	pipes();
	for (int i = 0; i < n; i++)
		p[offs[i]] = v;
	pid_t c = fork();
	if (c == 0) {
		int bad = 0;
		for (int i = 0; i < n; i++)
			bad |= p[offs[i]] != v;
		for (int i = 0; i < n; i++)
			p[offs[i]] = v + 1;
		say(c2p[1]);
		hear(p2c[0]);
		for (int i = 0; i < n; i++)
			bad |= (p[offs[i]] != (unsigned char)(v + 1)) << 1;
		_exit(bad);
	}
	hear(c2p[0]);
	int seen = 0;
	for (int i = 0; i < n; i++)
		seen += p[offs[i]] != v;
	for (int i = 0; i < n; i++)
		p[offs[i]] = v + 2;
	say(p2c[1]);
	report(what, c);
	int kept = 0;
	for (int i = 0; i < n; i++)
		kept += p[offs[i]] == (unsigned char)(v + 2);
	printf("%s: parent saw %d of the child's writes, kept %d of %d\n", what, seen, kept, n);
	closepipes();
}

static unsigned char *anon(size_t len) {
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void shapes(void) {
	unsigned char *p = anon(PG);
	exchange("one page", p, (size_t[]){0, PG - 1}, 2, 10);

	p = anon(64 * PG);
	exchange("first and last page of 64", p, (size_t[]){0, 63 * PG + 100}, 2, 20);
	// Pages never touched before the fork.
	unsigned char *q = anon(64 * PG);
	q[5 * PG] = 1;
	exchange("pages untouched before fork", q, (size_t[]){7 * PG, 40 * PG}, 2, 30);

	// A large run, every page written before and after.
	size_t big = 16 << 20;
	unsigned char *b = anon(big);
	size_t offs[big / PG];
	for (size_t i = 0; i < big / PG; i++)
		offs[i] = i * PG + i % PG;
	exchange("16 MiB, every page", b, offs, big / PG, 40);
	munmap(b, big);

	// Read-only at fork, made writable again on each side.
	unsigned char *r = anon(8 * PG);
	memset(r, 50, 8 * PG);
	mprotect(r, 8 * PG, PROT_READ);
	pipes();
	pid_t c = fork();
	if (c == 0) {
		int bad = r[3 * PG] != 50;
		mprotect(r, 8 * PG, PROT_READ | PROT_WRITE);
		r[3 * PG] = 51;
		r[7 * PG] = 51;
		say(c2p[1]);
		hear(p2c[0]);
		_exit(bad | (r[3 * PG] != 51) << 1 | (r[7 * PG] != 51) << 2);
	}
	hear(c2p[0]);
	int saw = r[3 * PG] != 50 || r[7 * PG] != 50;
	CHECK("mprotect back to read-write", mprotect(r, 8 * PG, PROT_READ | PROT_WRITE));
	r[3 * PG] = 52;
	say(p2c[1]);
	report("after mprotect", c);
	printf("after mprotect: parent saw the child's %d, has %d %d\n", saw, r[3 * PG], r[7 * PG]);
	closepipes();

	// mprotect of part of a mapping, forking in between.
	unsigned char *m = anon(4 * PG);
	memset(m, 60, 4 * PG);
	mprotect(m + PG, PG, PROT_READ);
	exchange("split by mprotect", m, (size_t[]){0, 2 * PG, 3 * PG + 5}, 3, 61);

	// Moved by mremap before the fork, grown after it.
	unsigned char *mv = anon(4 * PG);
	memset(mv, 70, 4 * PG);
	unsigned char *to = anon(8 * PG);
	mv = mremap(mv, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	exchange("after mremap", mv, (size_t[]){0, 3 * PG}, 2, 71);
	pipes();
	c = fork();
	if (c == 0) {
		unsigned char *g = mremap(mv, 4 * PG, 32 * PG, MREMAP_MAYMOVE);
		g[PG] = 72;
		g[31 * PG] = 72;
		say(c2p[1]);
		_exit((g[0] != 73) | (g[2 * PG] != 70) << 1);
	}
	hear(c2p[0]);
	printf("mremap in the child: parent has %d %d\n", mv[PG], mv[0]);
	report("mremap in the child", c);
	closepipes();
}

static void files(void) {
	char path[] = "/tmp/cow-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	unsigned char data[4 * PG];
	memset(data, 'f', sizeof data);
	if (write(fd, data, sizeof data) != sizeof data)
		exit(1);
	unsigned char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	p[PG] = 'p'; // a private copy already before the fork
	(void)*(volatile unsigned char *)(p + 3 * PG); // read only: the file's page
	exchange("private file mapping", p, (size_t[]){0, PG, 3 * PG}, 3, 'a');
	unsigned char back[4];
	pread(fd, back, 1, 0);
	pread(fd, back + 1, 1, PG);
	pread(fd, back + 2, 1, 3 * PG);
	printf("file untouched: %c%c%c\n", back[0], back[1], back[2]);

	// MAP_SHARED stays shared.
	unsigned char *s = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *sa = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[0] = 'x';
	sa[PG] = 1;
	pipes();
	pid_t c = fork();
	if (c == 0) {
		s[0] = 'y';
		s[2 * PG] = 'y';
		sa[PG] = 2;
		say(c2p[1]);
		hear(p2c[0]);
		_exit((s[1] != 'z') | (sa[0] != 3) << 1);
	}
	hear(c2p[0]);
	printf("shared: parent sees the child's %c %c %d\n", s[0], s[2 * PG], sa[PG]);
	s[1] = 'z';
	sa[0] = 3;
	say(p2c[1]);
	report("shared", c);
	pread(fd, back, 1, 2 * PG);
	printf("shared: file has %c\n", back[0]);
	closepipes();

	// SysV shared memory stays shared too.
	int id = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
	unsigned char *sv = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	sv[0] = 1;
	c = fork();
	if (c == 0) {
		sv[0] = 2;
		_exit(0);
	}
	report("sysv", c);
	printf("sysv: parent sees %d\n", sv[0]);
	shmdt(sv);
	close(fd);
}

static void heap_and_stack(void) {
	unsigned char *h = sbrk(0);
	if (sbrk(3 * PG) == (void *)-1)
		exit(1);
	exchange("brk heap", h, (size_t[]){0, 2 * PG + 7}, 2, 80);
	sbrk(-3 * PG);

	volatile unsigned char st[3 * PG];
	st[0] = 0;
	exchange("stack", (unsigned char *)st, (size_t[]){0, PG, 3 * PG - 1}, 3, 90);
}

// syscalls: the kernel writes into pages shared copy-on-write (read, pipe, clock),
// and reads from them (write).
static void syscalls(void) {
	unsigned char *p = anon(8 * PG);
	memset(p, 5, 8 * PG);
	int d[2];
	pipes();
	pipe(d);
	pid_t c = fork();
	if (c == 0) {
		// read(2) across three pages, starting mid-page.
		unsigned char buf[2 * PG + 100];
		memset(buf, 6, sizeof buf);
		if (write(d[1], buf, sizeof buf) != sizeof buf)
			_exit(10);
		ssize_t n = read(d[0], p + PG + 50, sizeof buf);
		struct timespec *ts = (struct timespec *)(p + 6 * PG);
		clock_gettime(CLOCK_MONOTONIC, ts);
		say(c2p[1]);
		hear(p2c[0]);
		_exit((n != sizeof buf) | (p[PG + 50] != 6) << 1 | (p[3 * PG + 149] != 6) << 2 |
		      (p[3 * PG + 150] != 5) << 3 | (p[7 * PG] != 5) << 4);
	}
	hear(c2p[0]);
	int changed = 0;
	for (int i = 0; i < 8 * PG; i++)
		changed += p[i] != 5;
	printf("read(2) in the child: parent's bytes changed %d\n", changed);
	// And the parent reads into the pages the child still shares.
	unsigned char buf[PG];
	memset(buf, 7, sizeof buf);
	write(d[1], buf, sizeof buf);
	printf("read(2) in the parent: %zd\n", read(d[0], p + 7 * PG, PG));
	// write(2) from a shared page.
	printf("write(2) from a shared page: %zd\n", write(d[1], p, PG));
	read(d[0], buf, PG);
	printf("  read back %d\n", buf[0]);
	say(p2c[1]);
	report("syscalls into shared pages", c);
	printf("read(2) in the parent kept: %d %d\n", p[7 * PG], p[PG + 50]);
	closepipes();
	close(d[0]);
	close(d[1]);
}

static volatile unsigned long *counter;
static volatile int stop;

static void *writer(void *arg) {
	(void)arg;
	while (!stop)
		(*counter)++;
	return NULL;
}

// A thread of the parent writes a page without pause while the main thread forks: the
// child gets the value at some moment, and it never changes after; the parent's
// thread goes on writing its own.
static void threads(void) {
	counter = (unsigned long *)anon(PG);
	pthread_t th;
	pthread_create(&th, NULL, writer, NULL);
	while (*counter < 1000)
		;
	int bad = 0;
	for (int i = 0; i < 20; i++) {
		pid_t c = fork();
		if (c == 0) {
			unsigned long v = *counter;
			for (int j = 0; j < 100000; j++)
				if (*counter != v)
					_exit(1);
			usleep(2000);
			if (*counter != v)
				_exit(2);
			*counter = 0;
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	// The writer runs on (give it up to 5 s on a busy machine).
	unsigned long before = *counter;
	for (int i = 0; i < 5000 && *counter == before; i++)
		usleep(1000);
	printf("threads: bad children %d, parent's thread still writing %d\n", bad, *counter != before);
	stop = 1;
	pthread_join(th, NULL);
}

// vfork: the child may only exec or _exit; the parent's memory is as it left it.
// posix_spawn (CLONE_VM|CLONE_VFORK) reports a failed exec through shared memory.
// A fork of a fork: three address spaces share the pages, each write is its own.
static void generations(int argc, char **argv) {
	(void)argc;
	unsigned char *p = anon(4 * PG);
	memset(p, 1, 4 * PG);
	pid_t c = vfork();
	if (c == 0)
		_exit(7);
	report("vfork", c);
	c = vfork();
	if (c == 0) {
		execl(argv[0], argv[0], "child", (char *)NULL);
		_exit(127);
	}
	report("vfork and exec", c);
	printf("vfork: parent's memory %d %d\n", p[0], p[3 * PG]);
	// The vfork child runs in the parent's memory: posix_spawn learns of a failed exec
	// through it.
	char *sargv[] = {"nope", NULL};
	pid_t sp;
	int r = posix_spawn(&sp, "/nonexistent/nope", NULL, NULL, sargv, NULL);
	printf("posix_spawn of a missing program: %s\n", strerrorname_np(r));
	char *cargv[] = {argv[0], "child", NULL};
	r = posix_spawn(&sp, argv[0], NULL, NULL, cargv, NULL);
	printf("posix_spawn: %d\n", r);
	if (r == 0)
		report("posix_spawn", sp);

	pipes();
	c = fork();
	if (c == 0) {
		p[0] = 2;
		pid_t g = fork();
		if (g == 0) {
			int bad = p[0] != 2 || p[PG] != 1;
			p[0] = 3;
			p[PG] = 3;
			_exit(bad);
		}
		int st;
		waitpid(g, &st, 0);
		_exit(WEXITSTATUS(st) * 10 + (p[0] != 2) + (p[PG] != 1) * 2);
	}
	report("fork of a fork", c);
	printf("fork of a fork: parent has %d %d\n", p[0], p[PG]);
	closepipes();

	// The middle generation exits first: the grandchild's pages survive it.
	pipes();
	c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			usleep(20000);
			unsigned char v = p[2 * PG] + p[0];
			write(c2p[1], &v, 1);
			_exit(0);
		}
		_exit(0);
	}
	report("middle generation exits first", c);
	unsigned char v = 0;
	read(c2p[0], &v, 1);
	printf("grandchild read %d\n", v);
	closepipes();
}

static void fork_advice(void) {
	unsigned char *w = anon(4 * PG);
	memset(w, 9, 4 * PG);
	unsigned char *d = anon(2 * PG);
	memset(d, 8, 2 * PG);
	CHECK("madvise WIPEONFORK", madvise(w + PG, 2 * PG, MADV_WIPEONFORK));
	CHECK("madvise DONTFORK", madvise(d, 2 * PG, MADV_DONTFORK));
	pid_t c = fork();
	if (c == 0) {
		int s = w[0] + w[PG] + w[2 * PG + 1] + w[3 * PG];
		unsigned char vec[2];
		int gone = mincore(d, 2 * PG, vec) == -1 && errno == ENOMEM;
		_exit(s == 18 ? gone ? 0 : 2 : 1);
	}
	report("WIPEONFORK and DONTFORK", c);
	printf("parent keeps %d %d %d\n", w[PG], w[2 * PG], d[PG]);
	// The advice is inherited (wipe) and undone.
	c = fork();
	if (c == 0) {
		w[PG] = 33;
		pid_t g = fork();
		if (g == 0)
			_exit(w[PG]);
		int st;
		waitpid(g, &st, 0);
		_exit(WEXITSTATUS(st));
	}
	report("WIPEONFORK in a grandchild (0)", c);
	CHECK("madvise KEEPONFORK", madvise(w, 4 * PG, MADV_KEEPONFORK));
	CHECK("madvise DOFORK", madvise(d, 2 * PG, MADV_DOFORK));
	c = fork();
	if (c == 0)
		_exit(w[PG] + d[PG]);
	report("after KEEPONFORK and DOFORK (17)", c);
	// A DONTFORK stack of a thread-like region: the child faults on it.
	CHECK("madvise DONTFORK one page", madvise(d + PG, PG, MADV_DONTFORK));
	c = fork();
	if (c == 0)
		_exit(d[PG]);
	report("touching a DONTFORK page", c);

	// Errors, as mm/madvise.c.
	unsigned char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK("WIPEONFORK on shared memory", madvise(sh, PG, MADV_WIPEONFORK));
	char path[] = "/tmp/cow-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	ftruncate(fd, PG);
	unsigned char *fp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK("WIPEONFORK on a private file mapping", madvise(fp, PG, MADV_WIPEONFORK));
	CHECK("KEEPONFORK on a file mapping", madvise(fp, PG, MADV_KEEPONFORK));
	CHECK("DONTFORK on a file mapping", madvise(fp, PG, MADV_DONTFORK));
	CHECK("DONTFORK unaligned", madvise(w + 1, PG, MADV_DONTFORK));
	CHECK("DONTFORK length 0", madvise(w, 0, MADV_DONTFORK));
	CHECK("DONTFORK wrapping", madvise(w, -PG, MADV_DONTFORK));
	munmap(w + 3 * PG, PG);
	CHECK("WIPEONFORK partly unmapped", madvise(w + 2 * PG, 2 * PG, MADV_WIPEONFORK));
	CHECK("DONTFORK unmapped", madvise(w + 3 * PG, PG, MADV_DONTFORK));
	CHECK("bad advice", madvise(w, PG, 12345));
	close(fd);
}

// Many forks and exits: each child's pages go away with it (the sandbox's memory file
// must not grow; here, that nothing breaks after many).
static void loops(void) {
	unsigned char *p = anon(256 * PG);
	memset(p, 3, 256 * PG);
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		pid_t c = fork();
		if (c == 0) {
			for (int j = 0; j < 256; j += 16)
				p[j * PG] = 4;
			_exit(p[PG] != 3);
		}
		int st;
		waitpid(c, &st, 0);
		bad += WEXITSTATUS(st);
		p[(i % 256) * PG + 1] = 5;
	}
	int fours = 0;
	for (int j = 0; j < 256; j++)
		fours += p[j * PG] == 4;
	printf("200 forks: bad %d, parent saw %d child writes\n", bad, fours);
}

// Successive children of one parent, each changing its own address space: writes to
// memory shared copy-on-write and to a small variable, a new mapping, mprotect to
// PROT_NONE, munmap. Each next child sees only the parent's memory, none of that (the
// sandbox may hand a child the address space its sibling left).
static volatile int small = 11;

static void successive(void) {
	unsigned char *a = anon(64 * PG);
	memset(a, 7, 64 * PG);
	unsigned char *b = anon(PG); // an address free for a child's own mapping
	munmap(b, PG);
	int bad = 0;
	for (int i = 0; i < 6; i++) {
		pid_t c = fork();
		if (c == 0) {
			int e = 0;
			for (int k = 0; k < 64; k++)
				e |= (a[k * PG] != 7) << 0;
			e |= (small != 11) << 1;
			errno = 0;
			e |= (msync(b, PG, MS_ASYNC) != -1 || errno != ENOMEM) << 2; // b not mapped
			e |= (a[5 * PG] != 7 || a[9 * PG] != 7) << 3; // readable, mapped
			for (int k = 0; k < 64; k += 3)
				a[k * PG] = 100 + i;
			small = 100 + i;
			unsigned char *m = mmap(b, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (m != b)
				e |= 1 << 4;
			else
				m[0] = 9;
			e |= (mprotect(a + 5 * PG, PG, PROT_NONE) != 0) << 5;
			e |= (munmap(a + 9 * PG, PG) != 0) << 6;
			_exit(e);
		}
		int st;
		waitpid(c, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("successive child %d: status %#x\n", i, st);
			bad++;
		}
	}
	printf("successive children: %d saw another's changes; parent still sees %d %d\n", bad, a[0], small);
}

int main(int argc, char **argv) {
	if (argc > 1)
		return 0; // the exec'd vfork child
	setvbuf(stdout, NULL, _IONBF, 0);
	shapes();
	files();
	heap_and_stack();
	syscalls();
	threads();
	generations(argc, argv);
	fork_advice();
	loops();
	successive();
	return 0;
}
