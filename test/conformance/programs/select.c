// select: readiness of pipe ends (empty, data, hang-up), the timeout and the time left,
// bits at or above n ignored, EBADF, EINVAL, EFAULT; pselect6's signal mask letting a
// signal in for the wait only, and its EINTR.
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/wait.h>

static volatile int got;
static void on_usr1(int sig) {
	(void)sig;
	got++;
}

static int sel(int n, fd_set *r, fd_set *w, long usec) {
	struct timeval tv = {0, usec};
	return select(n, r, w, NULL, &tv);
}

int main(void) {
	int p[2];
	pipe(p);
	fd_set r, w;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK("empty pipe, no wait", sel(p[0] + 1, &r, NULL, 0));
	printf("  read bit %d\n", FD_ISSET(p[0], &r));
	struct timeval tv = {0, 30000};
	FD_SET(p[0], &r);
	CHECK("empty pipe, 30 ms", select(p[0] + 1, &r, NULL, NULL, &tv));
	printf("  time left %ld %ld\n", (long)tv.tv_sec, (long)tv.tv_usec);

	write(p[1], "x", 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	FD_SET(p[1], &r); // a write end is never readable
	CHECK("data and a writable end", sel(p[1] + 1, &r, &w, 0));
	printf("  read %d %d write %d\n", FD_ISSET(p[0], &r), FD_ISSET(p[1], &r), FD_ISSET(p[1], &w));
	tv.tv_sec = 5, tv.tv_usec = 0;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK("ready at once keeps most of the time", select(p[0] + 1, &r, NULL, NULL, &tv));
	printf("  time left over 4 s %d\n", tv.tv_sec >= 4);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK("n much larger than the table", sel(5000, &r, NULL, 0));

	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(900, &r); // not open, but at or above n
	CHECK("bits above n ignored", sel(p[0] + 1, &r, NULL, 0));
	FD_SET(40, &r); // not open, and below the table's size
	CHECK("closed descriptor", sel(41, &r, NULL, 0));
	CHECK("n negative", sel(-1, &r, NULL, 0));
	tv.tv_sec = 0, tv.tv_usec = 1000000;
	// The raw system call: glibc rewrites the timeout before the kernel sees it.
	CHECK("timeout usec 1e6", syscall(SYS_select, 1, NULL, NULL, NULL, &tv));
	tv.tv_sec = -1, tv.tv_usec = 0;
	CHECK("timeout negative", syscall(SYS_select, 1, NULL, NULL, NULL, &tv));
	CHECK("bad set address", sel(1, (fd_set *)8, NULL, 0));
	CHECK("bad timeout address", syscall(SYS_select, 1, NULL, NULL, NULL, 8));
	CHECK("no sets, no wait", sel(0, NULL, NULL, 0));

	char c;
	read(p[0], &c, 1);
	close(p[1]);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK("hang-up is readable", sel(p[0] + 1, &r, NULL, 0));

	// pselect's mask lets SIGUSR1 in for the wait only.
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, empty, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	int q[2];
	pipe(q);
	pid_t parent = getpid();
	pid_t k = fork();
	if (k == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	CHECK("pselect interrupted", pselect(q[0] + 1, &r, NULL, NULL, NULL, &empty));
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("  handler ran %d, SIGUSR1 blocked again %d\n", got, sigismember(&now, SIGUSR1));
	waitpid(k, NULL, 0);
	struct {
		const sigset_t *ss;
		size_t len;
	} bad = {&empty, 4};
	struct timespec ts = {0, 0};
	CHECK("pselect6 bad sigset size", syscall(SYS_pselect6, 1, NULL, NULL, NULL, &ts, &bad));
	ts.tv_nsec = 1000000000;
	CHECK("pselect6 bad timeout", syscall(SYS_pselect6, 1, NULL, NULL, NULL, &ts, NULL));

	// select itself, interrupted by a handled signal.
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	k = fork();
	if (k == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	CHECK("select interrupted", select(q[0] + 1, &r, NULL, NULL, NULL));
	printf("  handler ran %d\n", got);
	waitpid(k, NULL, 0);
	return 0;
}
