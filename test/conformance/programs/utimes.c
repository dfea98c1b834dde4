// utimes: utimensat, utimes, futimesat and utime set a file's times (UTIME_NOW and
// UTIME_OMIT, NULL for now, microseconds and seconds), and their errors.
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <utime.h>

static void show(const char *what, const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("%s: stat failed\n", what);
		return;
	}
	printf("%s: atime %ld.%09ld mtime %ld.%09ld\n", what, (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(void) {
	char path[64];
	snprintf(path, sizeof path, "/tmp/moat-utimes-%d", getpid());
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	struct timespec ts[2] = {{1000, 5}, {2000, 7}};
	CHECKOK("utimensat", utimensat(AT_FDCWD, path, ts, 0));
	show("utimensat", path);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {3000, 9}};
	CHECKOK("utimensat omit atime", utimensat(AT_FDCWD, path, omit, 0));
	show("omit", path);
	struct timeval tv[2] = {{4000, 11}, {5000, 13}};
	CHECKOK("utimes", utimes(path, tv));
	show("utimes", path);
	struct timeval bad[2] = {{1, 1000000}, {2, 0}};
	CHECK("utimes usec 1e6", utimes(path, bad));
	struct timeval neg[2] = {{1, -1}, {2, 0}};
	CHECK("utimes usec -1", utimes(path, neg));
	CHECKOK("futimesat", syscall(SYS_futimesat, AT_FDCWD, path, tv));
	struct utimbuf ub = {6000, 7000};
	CHECKOK("utime", utime(path, &ub));
	show("utime", path);
	struct timeval before;
	gettimeofday(&before, NULL);
	CHECKOK("utimes now", utimes(path, NULL));
	struct stat st;
	stat(path, &st);
	printf("now is now: %d\n", st.st_mtim.tv_sec >= before.tv_sec && st.st_mtim.tv_sec <= before.tv_sec + 5);
	CHECKOK("utime now", utime(path, NULL));
	CHECK("utimes missing", utimes("/tmp/moat-no-such-file", tv));
	// Raw calls: glibc's wrappers read the times themselves.
	CHECK("utimes bad times", syscall(SYS_utimes, path, 8));
	CHECK("utime bad buf", syscall(SYS_utime, path, 8));
	CHECK("utimes bad path", syscall(SYS_utimes, 8, tv));
	CHECKOK("raw utimes", syscall(SYS_utimes, path, tv));
	show("raw utimes", path);
	CHECKOK("raw utime", syscall(SYS_utime, path, &ub));
	show("raw utime", path);
	struct timespec badns[2] = {{1, 1000000000}, {2, 0}};
	CHECK("utimensat nsec 1e9", utimensat(AT_FDCWD, path, badns, 0));
	CHECK("utimensat bad flags", utimensat(AT_FDCWD, path, ts, 0x1000000));
	close(fd);
	unlink(path);
	return 0;
}
