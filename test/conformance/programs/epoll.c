// epoll: level- and edge-triggered readiness, EPOLLONESHOT and re-arming, EPOLLEXCLUSIVE's
// rules, nested epoll files, and epoll_create/epoll_ctl/epoll_wait's errors.
#include "common.h"
#include <fcntl.h>
#include <sys/epoll.h>

static int wait_one(int ep, const char *what) {
	struct epoll_event ev = {0};
	int n = epoll_wait(ep, &ev, 1, 0);
	printf("%s: %d", what, n);
	if (n > 0)
		printf(" events %#x data %lu", ev.events, (unsigned long)ev.data.u64);
	printf("\n");
	return n;
}

static void ctl(int ep, int op, int fd, unsigned events, const char *what) {
	struct epoll_event ev = {.events = events, .data.u64 = (unsigned)fd};
	if (epoll_ctl(ep, op, fd, &ev) == 0)
		printf("%s: ok\n", what);
	else
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
}

int main(void) {
	int p[2];
	CHECKOK("pipe", pipe2(p, O_NONBLOCK));
	char buf[16];

	// Level-triggered: reported while data is there.
	int ep = epoll_create1(EPOLL_CLOEXEC);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, "add LT");
	wait_one(ep, "LT empty");
	CHECK("write", write(p[1], "ab", 2));
	wait_one(ep, "LT data");
	wait_one(ep, "LT data again");
	CHECK("read", read(p[0], buf, sizeof buf));
	wait_one(ep, "LT drained");

	// Edge-triggered: once per new arrival.
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, "mod ET");
	CHECK("write", write(p[1], "c", 1));
	wait_one(ep, "ET new data");
	wait_one(ep, "ET nothing new");
	CHECK("write", write(p[1], "d", 1));
	wait_one(ep, "ET more data");
	CHECK("read", read(p[0], buf, sizeof buf));

	// One-shot: disabled after one report until re-armed with MOD.
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, "mod ONESHOT");
	CHECK("write", write(p[1], "e", 1));
	wait_one(ep, "oneshot first");
	wait_one(ep, "oneshot disabled");
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, "re-arm");
	wait_one(ep, "oneshot re-armed");
	CHECK("read", read(p[0], buf, sizeof buf));
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, "del");
	wait_one(ep, "after del");

	// The write end: writable, and EPOLLERR once the reader is gone.
	int q[2];
	CHECKOK("pipe", pipe2(q, O_NONBLOCK));
	ctl(ep, EPOLL_CTL_ADD, q[1], EPOLLOUT, "add write end");
	wait_one(ep, "writable");
	close(q[0]);
	wait_one(ep, "reader gone");
	ctl(ep, EPOLL_CTL_DEL, q[1], 0, "del");
	close(q[1]);

	// EPOLLEXCLUSIVE: at ADD only, with few flags, not on an epoll file.
	int ep2 = epoll_create1(0);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE, "add exclusive");
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, "mod an exclusive entry");
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, "mod to exclusive");
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, "del");
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, "exclusive with oneshot");
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI, "exclusive with pri");
	ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN | EPOLLEXCLUSIVE, "exclusive on an epoll file");

	// Nested: an epoll file is readable when its own entries are ready.
	ctl(ep2, EPOLL_CTL_ADD, p[0], EPOLLIN, "inner add");
	ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN, "outer add of inner");
	wait_one(ep, "outer, inner idle");
	CHECK("write", write(p[1], "f", 1));
	wait_one(ep, "outer, inner ready");

	// A cycle, and a chain nested too deep.
	ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN, "cycle");
	int chain[7];
	for (int i = 0; i < 7; i++) {
		chain[i] = epoll_create1(0);
		if (i > 0) {
			char what[32];
			snprintf(what, sizeof what, "nest level %d", i);
			ctl(chain[i], EPOLL_CTL_ADD, chain[i - 1], EPOLLIN, what);
		}
	}

	// Errors.
	ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN, "add twice");
	ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLIN, "mod absent");
	ctl(ep, EPOLL_CTL_DEL, p[1], 0, "del absent");
	ctl(ep, EPOLL_CTL_ADD, 999, EPOLLIN, "add bad fd");
	ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, "add itself");
	ctl(p[0], EPOLL_CTL_ADD, p[1], EPOLLIN, "ctl on a pipe");
	ctl(ep, 99, p[1], EPOLLIN, "bad op");
	int f = open("/proc/self/exe", O_RDONLY);
	ctl(ep, EPOLL_CTL_ADD, f, EPOLLIN, "add a regular file");
	struct epoll_event evs[2];
	errno = 0;
	printf("wait max 0: %d %s\n", epoll_wait(ep, evs, 0, 0), strerrorname_np(errno));
	errno = 0;
	int r = epoll_wait(p[0], evs, 2, 0);
	printf("wait on a pipe: %d %s\n", r, strerrorname_np(errno));
	errno = 0;
	r = epoll_create(0);
	printf("create(0): %d %s\n", r, strerrorname_np(errno));
	errno = 0;
	r = epoll_create1(1);
	printf("create1(1): %d %s\n", r, strerrorname_np(errno));
	return 0;
}
