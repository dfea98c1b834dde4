// POSIX shared memory (shm_overview(7)): shm_open makes a file in /dev/shm, a tmpfs;
// ftruncate sizes it, mmap(MAP_SHARED) maps its pages, and processes that open it by
// name share them. shm_unlink removes the name; mappings keep the memory.
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int waitchild(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	long pg = sysconf(_SC_PAGESIZE);
	char name[64];
	snprintf(name, sizeof name, "/moat-posixshm-%d", getpid());

	CHECK("shm_open missing", shm_open(name, O_RDWR, 0600));
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECKOK("shm_open create", fd);
	CHECK("shm_open excl", shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600));
	int flags = fcntl(fd, F_GETFD);
	printf("close-on-exec: %d\n", !!(flags & FD_CLOEXEC));
	struct stat st;
	fstat(fd, &st);
	printf("new size %lld mode %o\n", (long long)st.st_size, st.st_mode & 07777);
	CHECK("ftruncate", ftruncate(fd, 3 * pg));
	fstat(fd, &st);
	printf("size %lld\n", (long long)st.st_size);

	volatile long *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
	p[0] = 41;

	// A child opens the object by name and maps it at its own address.
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = shm_open(name, O_RDWR, 0);
		volatile long *q = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (q == MAP_FAILED)
			_exit(99);
		q[0]++;
		q[2 * pg / sizeof(long)] = 1000;
		_exit(0);
	}
	printf("child: %d\n", waitchild(pid));
	printf("parent sees: %ld %ld\n", p[0], p[2 * pg / sizeof(long)]);

	// The inherited mapping is shared too.
	pid = fork();
	if (pid == 0) {
		p[1] = 7;
		_exit(0);
	}
	waitchild(pid);
	printf("inherited mapping: %ld\n", p[1]);

	// Removal: the name goes, the mapping stays.
	CHECK("shm_unlink", shm_unlink(name));
	CHECK("shm_unlink again", shm_unlink(name));
	CHECK("shm_open removed", shm_open(name, O_RDWR, 0));
	p[0] = 5;
	long v;
	pread(fd, &v, sizeof v, 0);
	printf("after unlink, fd reads the mapping's write: %ld\n", v);
	close(fd);
	printf("after close, mapping keeps: %ld\n", p[0]);
	munmap((void *)p, 3 * pg);

	// A read-only open can't map writable.
	fd = shm_open(name, O_RDWR | O_CREAT, 0600);
	ftruncate(fd, pg);
	int ro = shm_open(name, O_RDONLY, 0);
	void *r = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	printf("writable mapping of read-only object: %s\n", r == MAP_FAILED ? strerrorname_np(errno) : "ok");
	close(ro);
	close(fd);
	shm_unlink(name);
	return 0;
}
