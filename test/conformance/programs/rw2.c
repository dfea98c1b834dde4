// preadv2, pwritev2, fchmodat2 and epoll_pwait2: offsets (-1 for the file's position),
// the RWF_ flags, AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH, timespec timeouts, and the
// errors.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int main(void) {
	char path[64];
	snprintf(path, sizeof path, "rw2-%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char a[] = "hello ", b[] = "world";
	struct iovec w[2] = {{a, 6}, {b, 5}};
	CHECK("pwritev2 at 0", syscall(SYS_pwritev2, fd, w, 2, 0L, 0L, 0));
	CHECK("pwritev2 at -1 (the position)", syscall(SYS_pwritev2, fd, w, 1, -1L, 0L, 0));
	CHECK("lseek", lseek(fd, 0, SEEK_CUR));
	CHECK("pwritev2 RWF_APPEND", syscall(SYS_pwritev2, fd, w + 1, 1, 0L, 0L, 0x10));
	CHECK("lseek after RWF_APPEND", lseek(fd, 0, SEEK_CUR));
	CHECK("pwritev2 RWF_DSYNC", syscall(SYS_pwritev2, fd, w, 1, 0L, 0L, 2));
	CHECK("pwritev2 RWF_SYNC", syscall(SYS_pwritev2, fd, w, 1, 0L, 0L, 4));
	CHECK("pwritev2 APPEND|NOAPPEND", syscall(SYS_pwritev2, fd, w, 1, 0L, 0L, 0x30));
	CHECK("pwritev2 flag 0x1000", syscall(SYS_pwritev2, fd, w, 1, 0L, 0L, 0x1000));
	CHECK("pwritev2 at -2", syscall(SYS_pwritev2, fd, w, 1, -2L, 0L, 0));
	char r1[8] = {0}, r2[32] = {0};
	struct iovec r[2] = {{r1, 3}, {r2, sizeof r2 - 1}};
	CHECK("preadv2 at 0", syscall(SYS_preadv2, fd, r, 2, 0L, 0L, 0));
	printf("  %s|%s\n", r1, r2);
	lseek(fd, 6, SEEK_SET);
	memset(r2, 0, sizeof r2);
	CHECK("preadv2 at -1", syscall(SYS_preadv2, fd, r + 1, 1, -1L, 0L, 0));
	printf("  %s\n", r2);
	CHECK("lseek after", lseek(fd, 0, SEEK_CUR));
	CHECK("preadv2 HIPRI", syscall(SYS_preadv2, fd, r, 1, 0L, 0L, 1));
	CHECK("preadv2 flag 0x1000", syscall(SYS_preadv2, fd, r, 1, 0L, 0L, 0x1000));
	CHECK("preadv2 at -2", syscall(SYS_preadv2, fd, r, 1, -2L, 0L, 0));
	CHECK("preadv2 bad fd", syscall(SYS_preadv2, -1, r, 1, 0L, 0L, 0));
	int p[2];
	pipe(p);
	CHECK("preadv2 NOWAIT on an empty pipe", syscall(SYS_preadv2, p[0], r, 1, -1L, 0L, 8));
	CHECK("preadv2 at 0 on a pipe", syscall(SYS_preadv2, p[0], r, 1, 0L, 0L, 0));
	write(p[1], "xy", 2);
	CHECK("preadv2 NOWAIT with data", syscall(SYS_preadv2, p[0], r, 1, -1L, 0L, 8));
	close(fd);

	// fchmodat2.
	CHECK("fchmodat2", syscall(SYS_fchmodat2, AT_FDCWD, path, 0600, 0));
	struct stat st;
	stat(path, &st);
	printf("  mode %o\n", st.st_mode & 0777);
	char link[80];
	snprintf(link, sizeof link, "%s.l", path);
	symlink(path, link);
	CHECK("fchmodat2 NOFOLLOW on a symlink", syscall(SYS_fchmodat2, AT_FDCWD, link, 0600, AT_SYMLINK_NOFOLLOW));
	CHECK("fchmodat2 NOFOLLOW on a file", syscall(SYS_fchmodat2, AT_FDCWD, path, 0640, AT_SYMLINK_NOFOLLOW));
	fd = open(path, O_RDONLY);
	CHECK("fchmodat2 AT_EMPTY_PATH", syscall(SYS_fchmodat2, fd, "", 0644, AT_EMPTY_PATH));
	CHECK("fchmodat2 empty path without it", syscall(SYS_fchmodat2, fd, "", 0644, 0));
	CHECK("fchmodat2 bad flag", syscall(SYS_fchmodat2, AT_FDCWD, path, 0644, 1));
	fstat(fd, &st);
	printf("  mode %o\n", st.st_mode & 0777);
	close(fd);
	unlink(link);
	unlink(path);

	// epoll_pwait2.
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	write(p[1], "q", 1);
	struct timespec zero = {0, 0}, ms = {0, 20000000}, bad = {0, 2000000000};
	CHECK("epoll_pwait2 ready", syscall(SYS_epoll_pwait2, ep, &out, 1, &zero, NULL, 8));
	char c;
	read(p[0], &c, 1);
	CHECK("epoll_pwait2 20 ms", syscall(SYS_epoll_pwait2, ep, &out, 1, &ms, NULL, 8));
	CHECK("epoll_pwait2 bad timeout", syscall(SYS_epoll_pwait2, ep, &out, 1, &bad, NULL, 8));
	CHECK("epoll_pwait2 bad sigset size", syscall(SYS_epoll_pwait2, ep, &out, 1, &zero, &zero, 4));
	write(p[1], "z", 1);
	CHECK("epoll_pwait2 forever, ready", syscall(SYS_epoll_pwait2, ep, &out, 1, NULL, NULL, 8));
	return 0;
}
