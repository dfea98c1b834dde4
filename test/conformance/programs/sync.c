// sync: fsync, fdatasync, sync, syncfs, fallocate and FIONREAD on files.
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int main(void) {
	int fd = open("syncfile", O_CREAT | O_RDWR | O_TRUNC, 0644);
	int ro = open("syncfile", O_RDONLY);
	int p[2];
	pipe(p);
	struct stat st;
	char buf[16];
	CHECK("fsync", fsync(fd));
	CHECK("fdatasync", fdatasync(fd));
	CHECK("fsync a pipe", fsync(p[0]));
	CHECK("fsync bad fd", fsync(99));
	sync();
	CHECK("syncfs", syncfs(fd));
	CHECK("syncfs bad fd", syncfs(99));

	CHECK("fallocate 8192", fallocate(fd, 0, 0, 8192));
	fstat(fd, &st);
	printf("size %ld\n", (long)st.st_size);
	CHECK("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 4096));
	fstat(fd, &st);
	printf("size %ld\n", (long)st.st_size);
	pwrite(fd, "abcdefgh", 8, 100);
	CHECK("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 102, 3));
	pread(fd, buf, 8, 100);
	printf("after punch: %c%c %d %d %d %c%c%c\n", buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]);
	CHECK("punch without keep size", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1));
	CHECK("fallocate len 0", fallocate(fd, 0, 0, 0));
	CHECK("fallocate negative offset", fallocate(fd, 0, -1, 10));
	CHECK("fallocate bad mode", fallocate(fd, 0x1000, 0, 10));
	CHECK("fallocate read-only fd", fallocate(ro, 0, 0, 10));
	CHECK("fallocate a pipe", fallocate(p[1], 0, 0, 10));
	CHECK("fallocate bad fd", fallocate(99, 0, 0, 10));

	int n = -1;
	lseek(fd, 8000, SEEK_SET);
	CHECK("FIONREAD on a file", ioctl(fd, FIONREAD, &n));
	printf("bytes after offset: %d\n", n);
	CHECK("FIONREAD bad pointer", ioctl(fd, FIONREAD, (void *)16));
	return 0;
}
