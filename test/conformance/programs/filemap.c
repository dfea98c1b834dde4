// filemap: MAP_SHARED mappings of a file in the working directory (under runsc with
// --overlay=none, a file of the Gofer's): writes through the mapping reach read(2) and
// the file after munmap, write(2) reaches the mapping, a forked child's stores reach
// the parent, msync and fsync, truncation and SIGBUS past the end. A file mapped first
// through a description open only for reading: read(2) and pread work after its pages
// are touched, and a later writable mapping through another description reaches the
// file.
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf jb;
static void on_bus(int sig) { (void)sig; siglongjmp(jb, 1); }

int main(void) {
	char path[64], buf[64] = {0};
	snprintf(path, sizeof path, "filemap-%d.txt", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK("write", write(fd, "hello, world", 12));
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap: %d\n", p != MAP_FAILED);
	printf("mapping reads the file: %.12s\n", p);
	memcpy(p, "HELLO", 5);
	CHECK("pread sees the store", pread(fd, buf, 12, 0));
	printf("  %.12s\n", buf);
	CHECK("pwrite", pwrite(fd, "WORLD", 5, 7));
	printf("mapping sees the write: %.12s\n", p);
	pid_t c = fork();
	if (c == 0) {
		memcpy(p + 6, "+", 1);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("parent sees the child's store: %.12s\n", p);
	CHECKOK("msync", msync(p, 4096, MS_SYNC));
	CHECKOK("fsync", fsync(fd));
	// Past the file's end (the rest of the last page reads zeroes; the next page SIGBUS).
	printf("past the end in the last page: %d\n", p[100]);
	signal(SIGBUS, on_bus);
	if (sigsetjmp(jb, 1) == 0) {
		volatile char x = p[4096];
		(void)x;
		printf("no SIGBUS\n");
	} else {
		printf("SIGBUS past the last page\n");
	}
	CHECKOK("ftruncate 5", ftruncate(fd, 5));
	printf("after truncation, the page's tail: %d %d\n", p[4], p[6]);
	CHECKOK("munmap", munmap(p, 8192));
	close(fd);
	fd = open(path, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("read after munmap", read(fd, buf, sizeof buf));
	printf("  %s\n", buf);
	close(fd);
	fd = open(path, O_RDONLY);
	errno = 0;
	void *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared writable on a read-only fd: %d %s\n", q != MAP_FAILED, strerrorname_np(errno));
	close(fd);
	unlink(path);

	// A file whose first shared mapping comes through a read-only description.
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK("write a new file", write(fd, "hello, again", 12));
	close(fd);
	fd = open(path, O_RDONLY);
	q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	printf("shared read-only mapping: %.5s\n", (char *)q);
	memset(buf, 0, sizeof buf);
	CHECK("pread after touching it", pread(fd, buf, 5, 0));
	printf("  %s\n", buf);
	int rw = open(path, O_RDWR);
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	memcpy(w, "jello", 5);
	printf("the read-only mapping sees the store: %.5s\n", (char *)q);
	memset(buf, 0, sizeof buf);
	CHECK("read of the read-only fd", pread(fd, buf, 5, 0));
	printf("  %s\n", buf);
	CHECKOK("munmap both", munmap(w, 4096) | munmap(q, 4096));
	close(rw);
	close(fd);
	fd = open(path, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("read after both are gone", read(fd, buf, sizeof buf));
	printf("  %s\n", buf);
	close(fd);
	unlink(path);
	return 0;
}
