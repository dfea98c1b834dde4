// locks: flock (shared, exclusive, LOCK_NB, per open file description, conversion,
// blocking and interrupted waits, release at last close) and fcntl record locks: POSIX
// (F_GETLK/F_SETLK/F_SETLKW: ranges merged and split, l_pid, released on any close by
// the process and at exit, EAGAIN, EDEADLK for a two-process cycle) and OFD locks
// (per description, l_pid -1), with forked processes, and the errors.
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static char path[64]; // per process: the static and dynamic runs go in parallel

static void on_alarm(int sig) { (void)sig; }

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int lk(int fd, int cmd, short type, short whence, long start, long len) {
	struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

// getlk prints what F_GETLK (or F_OFD_GETLK) finds over a range, relative to pid.
static void getlk(const char *what, int fd, int cmd, short type, long start, long len, pid_t pid) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &fl) == -1) {
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
		return;
	}
	if (fl.l_type == F_UNLCK) {
		printf("%s: unlocked\n", what);
		return;
	}
	printf("%s: %s start %ld len %ld pid %s\n", what, fl.l_type == F_RDLCK ? "read" : "write",
	       (long)fl.l_start, (long)fl.l_len,
	       fl.l_pid == pid ? "owner" : fl.l_pid == -1 ? "-1" : "other");
}

// child runs f in a child process and waits for it.
static void child(void (*f)(void)) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		f();
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

static pid_t parent;
static int fd1;

static void child_flock(void) {
	int fd = open(path, O_RDWR);
	CHECK("child: own fd EX|NB", flock(fd, LOCK_EX | LOCK_NB));
	CHECK("child: inherited fd EX|NB", flock(fd1, LOCK_EX | LOCK_NB));
}

static void child_getlk(void) {
	int fd = open(path, O_RDWR);
	getlk("child: F_GETLK all", fd, F_GETLK, F_WRLCK, 0, 0, parent);
	getlk("child: F_GETLK [5,9]", fd, F_GETLK, F_WRLCK, 5, 5, parent);
	getlk("child: F_GETLK [5,15]", fd, F_GETLK, F_WRLCK, 5, 11, parent);
	getlk("child: F_GETLK read [0,4]", fd, F_GETLK, F_RDLCK, 0, 5, parent);
	getlk("child: F_GETLK [100,]", fd, F_GETLK, F_WRLCK, 100, 0, parent);
	CHECK("child: F_SETLK write [0,4]", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 5));
	CHECK("child: F_SETLK read [0,4]", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 5));
	CHECK("child: F_SETLK write [20,29]", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 10));
	getlk("child: own lock is no conflict", fd, F_GETLK, F_WRLCK, 20, 10, parent);
}

static void child_after_close(void) {
	int fd = open(path, O_RDWR);
	getlk("child: after the parent's close", fd, F_GETLK, F_WRLCK, 0, 0, parent);
}

static void child_ofd(void) {
	int fd = open(path, O_RDWR);
	getlk("child: F_OFD_GETLK own fd", fd, F_OFD_GETLK, F_WRLCK, 0, 0, parent);
	getlk("child: F_GETLK own fd", fd, F_GETLK, F_WRLCK, 0, 0, parent);
	getlk("child: F_OFD_GETLK inherited fd", fd1, F_OFD_GETLK, F_WRLCK, 0, 0, parent);
	CHECK("child: F_OFD_SETLK inherited fd", lk(fd1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0); // children print while the parent waits
	parent = getpid();
	snprintf(path, sizeof path, "/tmp/moat-locks-%d", (int)parent);
	unlink(path);
	fd1 = open(path, O_RDWR | O_CREAT, 0600);
	write(fd1, "0123456789abcdefghij", 20);
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	// flock errors.
	CHECK("flock 0", flock(fd1, 0));
	CHECK("flock SH|EX", flock(fd1, LOCK_SH | LOCK_EX));
	CHECK("flock NB only", flock(fd1, LOCK_NB));
	CHECK("flock bad fd", flock(-1, LOCK_EX));
	CHECK("flock bad op, bad fd", flock(-1, 0));
	CHECK("flock LOCK_MAND", flock(fd1, 32 | LOCK_READ));
	int opath = open(path, O_PATH);
	CHECK("flock O_PATH", flock(opath, LOCK_EX));
	close(opath);

	// flock: per open file description.
	int fd2 = open(path, O_RDWR);
	int fd3 = dup(fd1);
	CHECK("flock EX", flock(fd1, LOCK_EX));
	CHECK("flock EX again", flock(fd1, LOCK_EX));
	CHECK("other description EX|NB", flock(fd2, LOCK_EX | LOCK_NB));
	CHECK("other description SH|NB", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK("dup EX|NB", flock(fd3, LOCK_EX | LOCK_NB));
	child(child_flock);
	CHECK("convert to SH", flock(fd1, LOCK_SH));
	CHECK("other description SH|NB", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK("other description EX|NB", flock(fd2, LOCK_EX | LOCK_NB));
	CHECK("unlock other", flock(fd2, LOCK_UN));
	CHECK("unlock twice", flock(fd2, LOCK_UN));
	CHECK("convert to EX", flock(fd1, LOCK_EX | LOCK_NB));
	close(fd1);
	CHECK("after closing one of two fds", flock(fd2, LOCK_EX | LOCK_NB));
	close(fd3);
	CHECK("after the last close", flock(fd2, LOCK_EX | LOCK_NB));
	// A blocking flock waits for the holder; a signal interrupts it.
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		int fd = open(path, O_RDWR);
		struct itimerval it = {{0, 0}, {0, 30000}};
		setitimer(ITIMER_REAL, &it, NULL);
		CHECK("child: blocking flock interrupted", flock(fd, LOCK_EX));
		CHECK("child: blocking flock", flock(fd, LOCK_EX));
		printf("child: got the lock\n");
		fflush(stdout);
		_exit(0);
	}
	sleep_ms(150);
	printf("parent: unlocking\n");
	fflush(stdout);
	flock(fd2, LOCK_UN);
	waitpid(c, NULL, 0);
	CHECK("lock released at the child's exit", flock(fd2, LOCK_EX | LOCK_NB));
	flock(fd2, LOCK_UN);
	close(fd2);

	// Record lock errors.
	fd1 = open(path, O_RDWR);
	int rd = open(path, O_RDONLY), wr = open(path, O_WRONLY);
	CHECK("F_SETLK bad whence", lk(fd1, F_SETLK, F_WRLCK, 7, 0, 0));
	CHECK("F_SETLK bad type", lk(fd1, F_SETLK, 7, SEEK_SET, 0, 0));
	CHECK("F_SETLK bad type and whence", lk(fd1, F_SETLK, 7, 7, 0, 0));
	CHECK("F_SETLK negative start", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, -1, 0));
	CHECK("F_SETLK negative length past 0", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 3, -4));
	lseek(fd1, 10, SEEK_SET);
	CHECK("F_SETLK start overflow", lk(fd1, F_SETLK, F_WRLCK, SEEK_CUR, LONG_MAX, 0));
	CHECK("F_SETLK length overflow", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 10, LONG_MAX));
	CHECK("F_SETLK write on read-only", lk(rd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	CHECK("F_SETLK read on write-only", lk(wr, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
	CHECK("F_SETLK unlock on read-only", lk(rd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	CHECK("F_GETLK unlock type", lk(fd1, F_GETLK, F_UNLCK, SEEK_SET, 0, 0));
	CHECK("F_GETLK bad whence", lk(fd1, F_GETLK, F_WRLCK, 9, 0, 0));
	struct flock bad = {.l_type = F_WRLCK, .l_pid = 5};
	CHECK("F_OFD_SETLK with l_pid", fcntl(fd1, F_OFD_SETLK, &bad));
	CHECK("F_OFD_GETLK with l_pid", fcntl(fd1, F_OFD_GETLK, &bad));
	CHECK("F_SETLK bad pointer", fcntl(fd1, F_SETLK, (void *)8));
	CHECK("F_GETLK bad pointer", fcntl(fd1, F_GETLK, (void *)8));
	CHECK("F_SETLK bad fd", lk(-1, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));

	// POSIX locks: merging, splitting, types, l_pid.
	CHECK("F_SETLK write [0,9]", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	CHECK("F_SETLK write [10,19] (merges)", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
	CHECK("F_SETLK unlock [5,9] (splits)", lk(fd1, F_SETLK, F_UNLCK, SEEK_SET, 5, 5));
	CHECK("F_SETLK read [0,4] (converts)", lk(fd1, F_SETLK, F_RDLCK, SEEK_SET, 0, 5));
	CHECK("F_SETLK write via SEEK_END -5, len -3", lk(fd1, F_SETLK, F_WRLCK, SEEK_END, -5, -3));
	getlk("own locks are no conflict", fd1, F_GETLK, F_WRLCK, 0, 0, parent);
	child(child_getlk);
	// Closing any descriptor of the file releases the process's POSIX locks.
	close(open(path, O_RDONLY));
	child(child_after_close);

	// OFD locks.
	CHECK("F_OFD_SETLK write [0,9]", lk(fd1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	CHECK("F_SETLK same process, conflicts", lk(rd, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	getlk("F_GETLK sees the OFD lock", rd, F_GETLK, F_RDLCK, 0, 1, parent);
	CHECK("F_OFD_SETLK other description", lk(wr, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	child(child_ofd);
	getlk("F_OFD_GETLK F_UNLCK: the description's own lock", fd1, F_OFD_GETLK, F_UNLCK, 0, 0, parent);
	getlk("F_OFD_GETLK F_UNLCK: another's", rd, F_OFD_GETLK, F_UNLCK, 0, 0, parent);
	getlk("F_OFD_GETLK F_UNLCK: outside it", fd1, F_OFD_GETLK, F_UNLCK, 50, 10, parent);
	close(rd);
	getlk("close of another fd keeps it", wr, F_OFD_GETLK, F_WRLCK, 0, 0, parent);
	fd3 = dup(fd1);
	close(fd1);
	getlk("close of a dup keeps it", wr, F_OFD_GETLK, F_WRLCK, 0, 0, parent);
	close(fd3);
	rd = open(path, O_RDONLY);
	getlk("last close releases it", rd, F_OFD_GETLK, F_RDLCK, 0, 0, parent);
	close(rd);

	// F_SETLKW waits; a signal interrupts it; EDEADLK for a two-process cycle.
	fd1 = open(path, O_RDWR);
	lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
	int p[2];
	pipe(p);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int fd = open(path, O_RDWR);
		struct itimerval it = {{0, 0}, {0, 30000}};
		setitimer(ITIMER_REAL, &it, NULL);
		CHECK("child: F_SETLKW interrupted", lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1));
		CHECK("child: F_SETLK [1,1]", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1));
		fflush(stdout);
		write(p[1], "x", 1);
		CHECK("child: F_SETLKW [0,0]", lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1));
		getlk("child: parent waits for", fd, F_GETLK, F_WRLCK, 1, 1, parent);
		fflush(stdout);
		_exit(0);
	}
	char x;
	read(p[0], &x, 1);
	sleep_ms(100);
	CHECK("F_SETLKW [1,1]: deadlock", lk(fd1, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1));
	fflush(stdout);
	lk(fd1, F_SETLK, F_UNLCK, SEEK_SET, 0, 1);
	waitpid(c, NULL, 0);
	getlk("released at the child's exit", fd1, F_GETLK, F_WRLCK, 0, 0, parent);
	unlink(path);
	return 0;
}
