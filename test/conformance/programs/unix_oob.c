// MSG_OOB on AF_UNIX stream sockets (Linux 5.15 on): the last byte of a MSG_OOB send is
// the out-of-band byte, read with recv(MSG_OOB) (MSG_OOB in msg_flags, EINVAL when
// none is pending or with SO_OOBINLINE); an ordinary read stops at the mark and, once
// there, skips an unread OOB byte; a newer OOB byte makes the older one ordinary data;
// MSG_PEEK; SO_OOBINLINE; SIOCATMARK; POLLPRI in poll, select's exceptfds and epoll;
// the errors (a MSG_OOB send of nothing, datagram and seqpacket sockets, EPIPE).
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>

static int sv[2];

static void rcv(const char *name, int flags) {
	char buf[16] = "";
	struct iovec iov = {buf, 10};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	errno = 0;
	ssize_t n = recvmsg(sv[1], &m, flags | MSG_DONTWAIT);
	if (n < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %zd \"%.*s\"%s\n", name, n, (int)n, buf, m.msg_flags & MSG_OOB ? " MSG_OOB" : "");
}

static void mark(const char *name) {
	int at = -1;
	if (ioctl(sv[1], SIOCATMARK, &at) < 0)
		printf("%s: SIOCATMARK -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: SIOCATMARK %d\n", name, at);
}

static void inq(const char *name) {
	int n = -1;
	ioctl(sv[1], FIONREAD, &n);
	printf("%s: %d\n", name, n);
}

static void events(const char *name) {
	struct pollfd p = {sv[1], POLLIN | POLLPRI, 0};
	poll(&p, 1, 0);
	fd_set ex;
	FD_ZERO(&ex);
	FD_SET(sv[1], &ex);
	struct timeval tv = {0, 0};
	int n = select(sv[1] + 1, NULL, NULL, &ex, &tv);
	printf("%s: poll%s%s select except %d\n", name, p.revents & POLLIN ? " IN" : "", p.revents & POLLPRI ? " PRI" : "",
	       n == 1 && FD_ISSET(sv[1], &ex));
}

static void pair(void) {
	if (sv[0])
		close(sv[0]), close(sv[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);

	pair();
	events("empty");
	CHECK("send x MSG_OOB", send(sv[0], "x", 1, MSG_OOB));
	mark("oob pending");
	events("oob pending");
	rcv("recv MSG_OOB", MSG_OOB);
	rcv("recv MSG_OOB again", MSG_OOB);
	rcv("recv", 0);
	mark("after");
	events("after");

	pair();
	CHECK("send hello MSG_OOB", send(sv[0], "hello", 5, MSG_OOB));
	mark("before the mark");
	rcv("recv to the mark", 0);
	mark("at the mark");
	rcv("recv MSG_OOB", MSG_OOB);
	rcv("recv", 0);

	pair();
	CHECK("send ab MSG_OOB", send(sv[0], "ab", 2, MSG_OOB));
	CHECK("send cd", send(sv[0], "cd", 2, 0));
	rcv("recv to the mark", 0);
	rcv("recv skips the OOB byte", 0);
	rcv("recv MSG_OOB", MSG_OOB);

	pair();
	CHECK("send a MSG_OOB", send(sv[0], "a", 1, MSG_OOB));
	CHECK("send b MSG_OOB", send(sv[0], "b", 1, MSG_OOB));
	mark("two");
	rcv("recv MSG_OOB", MSG_OOB);
	rcv("recv", 0);
	rcv("recv again", 0);

	pair();
	CHECK("send a MSG_OOB", send(sv[0], "a", 1, MSG_OOB));
	CHECK("send b", send(sv[0], "b", 1, 0));
	rcv("peek", MSG_PEEK);
	rcv("peek MSG_OOB", MSG_OOB | MSG_PEEK);
	rcv("recv MSG_OOB", MSG_OOB);
	rcv("peek after", MSG_PEEK);
	rcv("recv", 0);

	pair();
	int one = 1, v = 0;
	socklen_t len = sizeof v;
	CHECK("SO_OOBINLINE", setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &one, sizeof one));
	getsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &v, &len);
	printf("SO_OOBINLINE is %d\n", v);
	CHECK("send ab MSG_OOB", send(sv[0], "ab", 2, MSG_OOB));
	mark("inline, before");
	events("inline");
	rcv("recv MSG_OOB inline", MSG_OOB);
	rcv("recv to the mark", 0);
	mark("inline, at");
	rcv("peek inline", MSG_PEEK);
	rcv("recv the OOB byte inline", 0);
	events("inline after");

	// The OOB byte taken first; later data after a taken mark.
	pair();
	CHECK("send abc MSG_OOB", send(sv[0], "abc", 3, MSG_OOB));
	inq("SIOCINQ");
	rcv("recv MSG_OOB", MSG_OOB);
	inq("SIOCINQ after");
	rcv("recv", 0);
	rcv("recv again", 0);
	pair();
	send(sv[0], "a", 1, MSG_OOB);
	rcv("recv MSG_OOB", MSG_OOB);
	send(sv[0], "b", 1, 0);
	send(sv[0], "c", 1, 0);
	rcv("recv past the taken mark", 0);
	pair();
	send(sv[0], "ab", 2, MSG_OOB);
	rcv("recv MSG_OOB", MSG_OOB);
	send(sv[0], "cd", 2, 0);
	mark("before");
	rcv("recv stops at the taken mark", 0);
	mark("at");
	rcv("recv the rest", 0);
	pair();
	send(sv[0], "ab", 2, MSG_OOB);
	send(sv[0], "cd", 2, 0);
	rcv("MSG_WAITALL stops at the mark", MSG_WAITALL);
	rcv("peek past the mark", MSG_PEEK);
	rcv("recv", 0);

	// epoll.
	pair();
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLPRI, {.u32 = 1}}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
	CHECK("epoll_wait none", epoll_wait(ep, &out, 1, 0));
	send(sv[0], "z", 1, MSG_OOB);
	int n = epoll_wait(ep, &out, 1, 0);
	printf("epoll_wait: %d%s\n", n, n == 1 && (out.events & EPOLLPRI) ? " PRI" : "");
	close(ep);

	// Errors.
	CHECK("send nothing MSG_OOB", send(sv[0], "", 0, MSG_OOB));
	shutdown(sv[1], SHUT_RD);
	CHECK("send MSG_OOB after the peer's SHUT_RD", send(sv[0], "q", 1, MSG_OOB | MSG_NOSIGNAL));
	int d[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
	CHECK("dgram send MSG_OOB", send(d[0], "x", 1, MSG_OOB));
	send(d[0], "x", 1, 0);
	CHECK("dgram recv MSG_OOB", recv(d[1], &v, 1, MSG_OOB | MSG_DONTWAIT));
	{
		int at = -1;
		CHECK("dgram SIOCATMARK", ioctl(d[1], SIOCATMARK, &at));
	}
	close(d[0]);
	close(d[1]);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, d);
	CHECK("seqpacket send MSG_OOB", send(d[0], "x", 1, MSG_OOB));
	CHECK("seqpacket recv MSG_OOB", recv(d[1], &v, 1, MSG_OOB | MSG_DONTWAIT));
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("unconnected recv MSG_OOB", recv(u, &v, 1, MSG_OOB | MSG_DONTWAIT));
	CHECK("unconnected send MSG_OOB", send(u, "x", 1, MSG_OOB));
	return 0;
}
