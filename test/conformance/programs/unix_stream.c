// unix_stream: AF_UNIX stream sockets: socket and socketpair arguments, named and
// abstract bind/listen/connect/accept, read and write, shutdown, EOF, EPIPE and
// SIGPIPE, non-blocking I/O, MSG_PEEK and MSG_WAITALL, poll readiness, socket
// options, and the error paths.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

static volatile int sigpipes;
static void onpipe(int s) { (void)s; sigpipes++; }

static socklen_t mkaddr(struct sockaddr_un *a, const char *path) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

// mkabstract makes an abstract name unique to this process: the native runs of the
// static and dynamic builds share the host's abstract names.
static socklen_t mkabstract(struct sockaddr_un *a, const char *name) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s-%d", name, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void showpoll(const char *what, int fd) {
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP | POLLPRI, 0};
	int n = poll(&p, 1, 0);
	printf("%s: poll %d revents%s%s%s%s%s\n", what, n, p.revents & POLLIN ? " IN" : "",
	       p.revents & POLLOUT ? " OUT" : "", p.revents & POLLHUP ? " HUP" : "",
	       p.revents & POLLRDHUP ? " RDHUP" : "", p.revents & POLLERR ? " ERR" : "");
}

int main(void) {
	int sv[2], fd, st;
	char buf[4096];
	struct sockaddr_un a, b;
	socklen_t len;
	char path[64], path2[64];
	snprintf(path, sizeof path, "/tmp/moat-unix-stream-%d", getpid());
	snprintf(path2, sizeof path2, "/tmp/moat-unix-stream-%d.link", getpid());
	unlink(path);
	unlink(path2);
	signal(SIGPIPE, onpipe);

	// socket(2) and socketpair(2) arguments.
	CHECK("socket bad family", socket(12345, SOCK_STREAM, 0));
	CHECK("socket family AF_MAX", socket(46, SOCK_STREAM, 0));
	CHECK("socket bad type", socket(AF_UNIX, 12, 0));
	CHECK("socket type 0", socket(AF_UNIX, 0, 0));
	CHECK("socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
	CHECK("socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 2));
	CHECK("socket SOCK_RDM", socket(AF_UNIX, SOCK_RDM, 0));
	CHECKOK("socket protocol PF_UNIX", fd = socket(AF_UNIX, SOCK_STREAM, PF_UNIX));
	close(fd);
	CHECK("socketpair bad pointer", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, (int *)16));
	CHECK("socketpair bad family", socketpair(12345, SOCK_STREAM, 0, sv));

	// A pair: data both ways, stat, FIONREAD, PEEK, shutdown, EOF.
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	struct stat s;
	CHECK("fstat", fstat(sv[0], &s));
	printf("S_ISSOCK %d mode %o nlink %ld\n", S_ISSOCK(s.st_mode), s.st_mode & 0777, (long)s.st_nlink);
	char link[64], want[64];
	snprintf(want, sizeof want, "/proc/self/fd/%d", sv[0]);
	ssize_t ll = readlink(want, link, sizeof link - 1);
	link[ll > 0 ? ll : 0] = 0;
	snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)s.st_ino);
	printf("/proc/self/fd link is socket:[ino]: %s\n", strcmp(link, want) == 0 ? "yes" : "no");
	CHECK("lseek", lseek(sv[0], 0, SEEK_SET));
	showpoll("pair, idle", sv[0]);
	CHECK("write", write(sv[0], "hello", 5));
	CHECK("send", send(sv[0], " world", 6, 0));
	showpoll("pair, data waiting", sv[1]);
	int n = -1;
	CHECK("FIONREAD", ioctl(sv[1], FIONREAD, &n));
	printf("waiting %d\n", n);
	CHECK("recv MSG_PEEK", recv(sv[1], buf, 3, MSG_PEEK));
	printf("peeked %.3s\n", buf);
	CHECK("read", read(sv[1], buf, sizeof buf));
	printf("got %.11s\n", buf);
	CHECK("recv nonblocking empty", recv(sv[1], buf, 1, MSG_DONTWAIT));
	CHECK("read zero bytes", read(sv[1], buf, 0));
	struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
	CHECK("writev", writev(sv[1], iov, 3));
	char r1[4], r2[8];
	struct iovec riov[2] = {{r1, 4}, {r2, 8}};
	CHECK("readv", readv(sv[0], riov, 2));
	printf("readv got %.4s %.2s\n", r1, r2);
	CHECK("sendto with an address", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("shutdown bad how", shutdown(sv[0], 3));
	CHECK("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
	showpoll("after SHUT_WR, writer", sv[0]);
	showpoll("after SHUT_WR, reader", sv[1]);
	CHECK("read at EOF", read(sv[1], buf, sizeof buf));
	sigpipes = 0;
	CHECK("write after SHUT_WR", write(sv[0], "x", 1));
	printf("SIGPIPE %d\n", sigpipes);
	CHECK("send MSG_NOSIGNAL after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
	printf("SIGPIPE %d\n", sigpipes);
	CHECK("write the other way", write(sv[1], "back", 4));
	CHECK("read the other way", read(sv[0], buf, sizeof buf));
	close(sv[1]);
	showpoll("peer closed", sv[0]);
	CHECK("read after peer closed", read(sv[0], buf, sizeof buf));
	close(sv[0]);

	// Peer closes with unread data: ECONNRESET, then EOF.
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[0], "unread", 6);
	close(sv[1]);
	sigpipes = 0;
	CHECK("write to a closed peer", write(sv[0], "x", 1));
	printf("SIGPIPE %d\n", sigpipes);
	close(sv[0]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[1], "unread", 6);
	close(sv[0]);
	showpoll("peer closed with data unread", sv[1]);
	CHECK("read after reset", read(sv[1], buf, sizeof buf));
	CHECK("read again", read(sv[1], buf, sizeof buf));
	close(sv[1]);

	// Non-blocking: fill the buffer to EAGAIN, then drain.
	CHECK("socketpair SOCK_NONBLOCK|SOCK_CLOEXEC", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	CHECK("F_GETFL nonblock", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
	int off = 0;
	CHECK("FIONBIO off", ioctl(sv[0], FIONBIO, &off));
	CHECK("F_GETFL after FIONBIO off", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
	off = 1;
	CHECK("FIONBIO on", ioctl(sv[0], FIONBIO, &off));
	CHECK("F_GETFL after FIONBIO on", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
	CHECK("FIONBIO bad pointer", ioctl(sv[0], FIONBIO, (void *)16));
	CHECK("F_GETFD", fcntl(sv[0], F_GETFD));
	int sz = 10000;
	CHECK("SO_SNDBUF set", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz));
	len = sizeof sz;
	CHECK("SO_SNDBUF get", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, &len));
	printf("SO_SNDBUF %d len %d\n", sz, (int)len);
	sz = 1;
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, &len);
	printf("SO_RCVBUF min %d\n", sz);
	long total = 0;
	for (;;) {
		ssize_t w = write(sv[0], buf, sizeof buf);
		if (w < 0) {
			printf("filled: %s, wrote something %d\n", strerrorname_np(errno), total > 0);
			break;
		}
		total += w;
	}
	showpoll("full, writer", sv[0]);
	n = 0;
	CHECK("SIOCOUTQ", ioctl(sv[0], SIOCOUTQ, &n));
	printf("SIOCOUTQ at least what was written: %d\n", n >= total);
	CHECK("SIOCINQ", ioctl(sv[1], SIOCINQ, &n));
	printf("SIOCINQ is what was written: %d\n", n == total);
	long got = 0;
	for (;;) {
		ssize_t r = read(sv[1], buf, sizeof buf);
		if (r <= 0) {
			printf("drained: %s, all back %d\n", r < 0 ? strerrorname_np(errno) : "EOF", got == total);
			break;
		}
		got += r;
	}
	showpoll("drained, writer", sv[0]);
	close(sv[0]);
	close(sv[1]);

	// MSG_WAITALL across writes from a child.
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (fork() == 0) {
		close(sv[0]);
		for (int i = 0; i < 4; i++) {
			usleep(10000);
			write(sv[1], "abcd", 4);
		}
		_exit(0);
	}
	close(sv[1]);
	CHECK("recv MSG_WAITALL 16", recv(sv[0], buf, 16, MSG_WAITALL));
	CHECK("recv MSG_WAITALL at EOF", recv(sv[0], buf, 16, MSG_WAITALL));
	wait(&st);
	close(sv[0]);

	// A blocked receive is interrupted by a signal (EINTR without SA_RESTART) and
	// restarted with it.
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct sigaction sa = {0};
	sa.sa_handler = onpipe;
	sigaction(SIGALRM, &sa, NULL);
	// The timer repeats until recv returns: a first expiry that comes before recv
	// blocks (a slow run) only runs the handler.
	struct itimerval every = {{0, 20000}, {0, 20000}}, disarm = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &every, NULL);
	CHECK("recv interrupted", recv(sv[0], buf, 1, 0));
	setitimer(ITIMER_REAL, &disarm, NULL);
	struct itimerval it = {{0, 0}, {0, 20000}};
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	if (fork() == 0) {
		usleep(60000);
		write(sv[1], "z", 1);
		_exit(0);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("recv restarted", recv(sv[0], buf, 1, 0));
	wait(&st);
	CHECK("send a bad buffer", send(sv[0], (void *)16, 10, 0));
	close(sv[0]);
	close(sv[1]);

	// Named sockets: bind, listen, connect, accept.
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("listen unbound", listen(l, 5));
	CHECK("accept not listening", accept(l, NULL, NULL));
	CHECK("bind short length", bind(l, (struct sockaddr *)&a, 1));
	CHECK("bind long length", bind(l, (struct sockaddr *)&a, sizeof(struct sockaddr_storage) + 1));
	CHECK("bind 111", bind(l, (struct sockaddr *)&a, 111));
	CHECK("bind bad pointer", bind(l, (struct sockaddr *)16, sizeof a));
	a.sun_family = AF_INET;
	CHECK("bind wrong family", bind(l, (struct sockaddr *)&a, 8));
	CHECK("bind no directory", bind(l, (struct sockaddr *)&a, mkaddr(&a, "/nonexistent/dir/sock")));
	CHECK("bind", bind(l, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("stat the socket file", stat(path, &s));
	printf("S_ISSOCK %d\n", S_ISSOCK(s.st_mode));
	CHECK("open the socket file", open(path, O_RDWR));
	CHECK("bind again", bind(l, (struct sockaddr *)&b, mkaddr(&b, path2)));
	CHECK("the second name was not made", access(path2, F_OK));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("bind to an existing name", bind(fd, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("connect before listen", connect(fd, (struct sockaddr *)&a, mkaddr(&a, path)));
	showpoll("unconnected", fd);
	CHECK("getpeername unconnected", getpeername(fd, (struct sockaddr *)&b, &len));
	CHECK("read unconnected", read(fd, buf, 1));
	CHECK("write unconnected", write(fd, "x", 1));
	CHECK("send a bad buffer unconnected", send(fd, (void *)16, 10, 0));
	CHECK("listen", listen(l, 1));
	CHECK("listen again", listen(l, 2));
	showpoll("listening", l);
	len = sizeof n;
	getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &n, &len);
	printf("SO_ACCEPTCONN %d\n", n);
	CHECK("connect to a file that is not a socket", connect(fd, (struct sockaddr *)&a, mkaddr(&a, "/proc/self/status")));
	CHECK("connect to nothing", connect(fd, (struct sockaddr *)&a, mkaddr(&a, "/tmp/moat-no-such-socket")));
	CHECK("connect bad length", connect(fd, (struct sockaddr *)&a, 200));
	CHECK("connect bad pointer", connect(fd, (struct sockaddr *)16, sizeof a));
	CHECK("symlink", symlink(path, path2));
	CHECK("connect through a symlink", connect(fd, (struct sockaddr *)&a, mkaddr(&a, path2)));
	CHECK("connect again", connect(fd, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("write before accept", write(fd, "early", 5));
	showpoll("listener with a connection", l);
	len = sizeof b;
	memset(&b, 0, sizeof b);
	int c;
	CHECKOK("accept", c = accept(l, (struct sockaddr *)&b, &len));
	printf("peer address length %d family %d\n", (int)len, b.sun_family);
	CHECK("read what came before accept", read(c, buf, sizeof buf));
	len = sizeof b;
	CHECK("getsockname accepted", getsockname(c, (struct sockaddr *)&b, &len));
	printf("name is the path: %d len ok: %d\n", strcmp(b.sun_path, path) == 0, len == mkaddr(&a, path));
	len = sizeof b;
	CHECK("getpeername client", getpeername(fd, (struct sockaddr *)&b, &len));
	printf("peer is the path: %d\n", strcmp(b.sun_path, path) == 0);
	len = 3;
	CHECK("getsockname short", getsockname(l, (struct sockaddr *)&b, &len));
	printf("full length reported: %d\n", len == mkaddr(&a, path));
	CHECK("getsockname bad length pointer", getsockname(l, (struct sockaddr *)&b, (socklen_t *)16));
	len = -1;
	CHECK("getsockname negative length", getsockname(l, (struct sockaddr *)&b, &len));
	CHECK("listen on a connected socket", listen(c, 1));
	CHECK("connect a listener", connect(l, (struct sockaddr *)&a, mkaddr(&a, path)));
	close(c);
	close(fd);

	// Backlog: listen(0) takes one pending connection; then non-blocking EAGAIN.
	listen(l, 0);
	int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK("connect nonblocking, within backlog", connect(c1, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("connect nonblocking, backlog full", connect(c2, (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECKOK("accept4 SOCK_NONBLOCK", c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	CHECK("accepted is nonblocking", (fcntl(c, F_GETFL) & O_NONBLOCK) != 0);
	CHECK("accepted is cloexec", fcntl(c, F_GETFD));
	CHECK("accept4 bad flags", accept4(l, NULL, NULL, 0x1));
	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK("accept nonblocking, none pending", accept(l, NULL, NULL));
	fcntl(l, F_SETFL, 0);
	close(c);
	close(c1);
	close(c2);

	// accept blocks until a child connects.
	listen(l, 5);
	if (fork() == 0) {
		usleep(20000);
		int k = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un x;
		connect(k, (struct sockaddr *)&x, mkaddr(&x, path));
		write(k, "from child", 10);
		close(k);
		_exit(0);
	}
	CHECKOK("accept blocking", c = accept(l, NULL, NULL));
	CHECK("read from child", read(c, buf, sizeof buf));
	CHECK("read child EOF", read(c, buf, sizeof buf));
	wait(&st);
	close(c);
	close(l);
	CHECK("connect after the listener closed", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, mkaddr(&a, path)));
	CHECK("unlink", unlink(path));
	CHECK("connect after unlink", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, mkaddr(&a, path)));
	unlink(path2);

	// A listener closed with a connection pending resets it; a full backlog makes a
	// blocking connect wait for accept; a listener shut for reading refuses.
	{
		struct sockaddr_un e;
		socklen_t el = mkabstract(&e, "moat-unix-stream-edge");
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		bind(l, (struct sockaddr *)&e, el);
		listen(l, 0);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK("connect", connect(c, (struct sockaddr *)&e, el));
		write(c, "x", 1);
		close(l);
		showpoll("listener closed before accept", c);
		int v;
		socklen_t vl = sizeof v;
		getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl);
		printf("SO_ERROR %s\n", v ? strerrorname_np(v) : "0");
		CHECK("read after the listener closed", read(c, buf, 1));
		CHECK("write after the listener closed", send(c, "x", 1, MSG_NOSIGNAL));
		close(c);
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		bind(l, (struct sockaddr *)&e, el);
		listen(l, 0);
		c1 = socket(AF_UNIX, SOCK_STREAM, 0);
		connect(c1, (struct sockaddr *)&e, el);
		if (fork() == 0) {
			usleep(30000);
			accept(l, NULL, NULL);
			usleep(30000);
			_exit(0);
		}
		c2 = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK("blocking connect to a full backlog", connect(c2, (struct sockaddr *)&e, el));
		wait(&st);
		CHECK("shutdown a listener", shutdown(l, SHUT_RD));
		int c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		CHECK("connect to a shut listener", connect(c3, (struct sockaddr *)&e, el));
		close(c1);
		close(c2);
		close(c3);
		close(l);
	}

	// Abstract names and autobind.
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t al = mkabstract(&a, "moat-unix-stream-test");
	CHECK("bind abstract", bind(l, (struct sockaddr *)&a, al));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("bind abstract in use", bind(fd, (struct sockaddr *)&a, al));
	CHECK("connect abstract not listening", connect(fd, (struct sockaddr *)&a, al));
	listen(l, 5);
	CHECK("connect abstract", connect(fd, (struct sockaddr *)&a, al));
	len = sizeof b;
	getpeername(fd, (struct sockaddr *)&b, &len);
	printf("abstract peer length ok: %d, same name: %d\n", len == al, memcmp(b.sun_path, a.sun_path, al - 2) == 0);
	c = accept(l, NULL, NULL);
	len = sizeof b;
	CHECK("getpeername of unbound peer", getpeername(c, (struct sockaddr *)&b, &len));
	printf("length %d\n", (int)len);
	close(c);
	close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK("connect to another type", connect(fd, (struct sockaddr *)&a, al));
	close(fd);
	close(l);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("abstract name free after close", bind(fd, (struct sockaddr *)&a, al));
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	len = sizeof b;
	CHECK("getsockname unbound", getsockname(fd, (struct sockaddr *)&b, &len));
	printf("length %d\n", (int)len);
	CHECK("autobind", bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)));
	len = sizeof b;
	getsockname(fd, (struct sockaddr *)&b, &len);
	printf("autobound length %d abstract %d\n", (int)len, b.sun_path[0] == 0);
	close(fd);

	// SO_RCVTIMEO and SO_SNDTIMEO: EAGAIN when they run out, EINTR (not a restart)
	// when a signal comes first.
	{
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		struct timeval tv = {0, 40000}, g;
		len = sizeof g;
		CHECK("SO_RCVTIMEO default", getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &len));
		printf("%ld %ld len %d\n", (long)g.tv_sec, (long)g.tv_usec, (int)len);
		CHECK("SO_RCVTIMEO short", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
		tv.tv_usec = 1000000;
		CHECK("SO_RCVTIMEO usec out of range", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
		tv.tv_usec = 40000;
		CHECK("SO_RCVTIMEO", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
		getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &len);
		printf("reads back %ld %ld\n", (long)g.tv_sec, (long)g.tv_usec);
		struct timeval t0, t1;
		gettimeofday(&t0, 0);
		CHECK("recv times out", recv(sv[0], buf, 1, 0));
		gettimeofday(&t1, 0);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
		printf("waited the timeout: %d\n", ms >= 39);
		tv.tv_sec = 2;
		tv.tv_usec = 0;
		setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		struct sigaction ra = {0};
		ra.sa_handler = onpipe;
		ra.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &ra, NULL);
		struct itimerval it2 = {{0, 0}, {0, 20000}};
		setitimer(ITIMER_REAL, &it2, NULL);
		CHECK("recv with a timeout interrupted, SA_RESTART", recv(sv[0], buf, 1, 0));
		tv.tv_sec = -1;
		setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &len);
		printf("negative reads back %ld %ld\n", (long)g.tv_sec, (long)g.tv_usec);
		CHECK("recv with a negative timeout", recv(sv[0], buf, 1, 0));
		tv.tv_sec = 0;
		tv.tv_usec = 20000;
		CHECK("SO_SNDTIMEO", setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
		int small = 5000;
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
		static char big[100000];
		CHECK("send times out partway", send(sv[1], big, sizeof big, 0) > 0);
		CHECK("send times out", send(sv[1], big, sizeof big, 0));
		close(sv[0]);
		close(sv[1]);
	}

	// Options.
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	int v;
	len = sizeof v;
	CHECK("SO_TYPE", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
	printf("SO_TYPE %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len);
	printf("SO_DOMAIN %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len);
	printf("SO_PROTOCOL %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len);
	printf("SO_ERROR %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
	printf("SO_ACCEPTCONN %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &len);
	printf("SO_PASSCRED %d\n", v);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
	printf("SO_SNDBUF default %d\n", v);
	len = 2;
	v = 0;
	CHECK("SO_TYPE short", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
	printf("value %d len %d\n", v, (int)len);
	len = -1;
	CHECK("getsockopt negative length", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
	len = sizeof v;
	CHECK("getsockopt bad pointer", getsockopt(fd, SOL_SOCKET, SO_TYPE, (void *)16, &len));
	CHECK("getsockopt bad length pointer", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, (socklen_t *)16));
	CHECK("getsockopt SOL_TCP", getsockopt(fd, 6, 1, &v, &len));
	CHECK("setsockopt short", setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, 2));
	CHECK("setsockopt negative", setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, -1));
	CHECK("setsockopt bad pointer", setsockopt(fd, SOL_SOCKET, SO_PASSCRED, (void *)16, 4));
	CHECK("setsockopt SO_TYPE", setsockopt(fd, SOL_SOCKET, SO_TYPE, &v, 4));
	CHECK("setsockopt SOL_TCP", setsockopt(fd, 6, 1, &v, 4));

	// Not a socket, not a descriptor.
	int nf = open("/dev/null", O_RDONLY);
	CHECK("bind EBADF", bind(-1, (struct sockaddr *)&a, al));
	CHECK("bind ENOTSOCK", bind(nf, (struct sockaddr *)&a, al));
	CHECK("connect ENOTSOCK", connect(nf, (struct sockaddr *)&a, al));
	CHECK("connect ENOTSOCK bad address", connect(nf, (struct sockaddr *)16, al));
	CHECK("listen ENOTSOCK", listen(nf, 1));
	CHECK("accept EBADF", accept(99, NULL, NULL));
	CHECK("accept ENOTSOCK", accept(nf, NULL, NULL));
	CHECK("send ENOTSOCK", send(nf, "x", 1, 0));
	CHECK("recv ENOTSOCK", recv(nf, buf, 1, 0));
	CHECK("shutdown ENOTSOCK", shutdown(nf, SHUT_RD));
	CHECK("getsockopt ENOTSOCK", getsockopt(nf, SOL_SOCKET, SO_TYPE, &v, &len));
	CHECK("getsockname EBADF", getsockname(-1, (struct sockaddr *)&b, &len));
	close(nf);
	close(fd);
	return 0;
}
