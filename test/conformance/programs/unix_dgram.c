// unix_dgram: AF_UNIX datagram and sequenced-packet sockets: message boundaries,
// MSG_TRUNC, MSG_PEEK, sendto/recvfrom with names, connect and disconnect, the queue
// limit, EMSGSIZE, shutdown, EOF and EPIPE on seqpacket, sendmmsg/recvmmsg, poll.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

static volatile int sigpipes;
static void onpipe(int s) { (void)s; sigpipes++; }

// mkabstract makes an abstract name unique to this process: the native runs of the
// static and dynamic builds share the host's abstract names.
static socklen_t mkabstract(struct sockaddr_un *a, const char *name) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s-%d", name, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static socklen_t mkaddr(struct sockaddr_un *a, const char *path) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void showpoll(const char *what, int fd) {
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
	int n = poll(&p, 1, 0);
	printf("%s: poll %d revents%s%s%s%s%s\n", what, n, p.revents & POLLIN ? " IN" : "",
	       p.revents & POLLOUT ? " OUT" : "", p.revents & POLLHUP ? " HUP" : "",
	       p.revents & POLLRDHUP ? " RDHUP" : "", p.revents & POLLERR ? " ERR" : "");
}

static void pairtests(int type, const char *name) {
	int sv[2];
	char buf[256];
	printf("== %s pair\n", name);
	CHECK("socketpair", socketpair(AF_UNIX, type, 0, sv));
	showpoll("idle", sv[0]);
	CHECK("send 5", send(sv[0], "hello", 5, 0));
	CHECK("send 3", send(sv[0], "abc", 3, 0));
	CHECK("send 0", send(sv[0], "", 0, 0));
	int n = -1;
	CHECK("FIONREAD", ioctl(sv[1], FIONREAD, &n));
	printf("waiting %d\n", n);
	showpoll("data waiting", sv[1]);
	CHECK("recv MSG_PEEK", recv(sv[1], buf, sizeof buf, MSG_PEEK));
	CHECK("recv 2 of 5", recv(sv[1], buf, 2, 0));
	printf("got %.2s\n", buf);
	CHECK("recv MSG_TRUNC", recv(sv[1], buf, 1, MSG_TRUNC));
	CHECK("recv empty message", recv(sv[1], buf, sizeof buf, 0));
	CHECK("recv nothing left", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	struct msghdr m = {0};
	struct iovec iov = {buf, 2};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	send(sv[0], "xyz", 3, 0);
	CHECK("recvmsg truncated", recvmsg(sv[1], &m, 0));
	printf("msg_flags MSG_TRUNC %d\n", (m.msg_flags & MSG_TRUNC) != 0);
	struct iovec wv[2] = {{"one", 3}, {"two", 3}};
	CHECK("writev is one message", writev(sv[0], wv, 2));
	CHECK("read it", read(sv[1], buf, sizeof buf));
	CHECK("write", write(sv[0], "w", 1));
	char r1[1], r2[4];
	struct iovec rv[2] = {{r1, 1}, {r2, 4}};
	CHECK("readv", readv(sv[1], rv, 2));
	int big = 10000;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	static char huge[30000];
	CHECK("send more than SO_SNDBUF", send(sv[0], huge, sizeof huge, 0));
	CHECK("send bad buffer", send(sv[0], (void *)16, 10, 0));
	struct msghdr nm = {0};
	struct iovec niov = {"n", 1};
	nm.msg_iov = &niov;
	nm.msg_iovlen = 1;
	nm.msg_namelen = 77;
	send(sv[0], "n", 1, 0);
	CHECK("recvmsg without a name buffer", recvmsg(sv[1], &nm, 0));
	printf("msg_namelen %d\n", (int)nm.msg_namelen);
	CHECK("shutdown SHUT_RD", shutdown(sv[1], SHUT_RD));
	showpoll("reader shut", sv[1]);
	showpoll("writer to a shut reader", sv[0]);
	sigpipes = 0;
	CHECK("send to a shut reader", send(sv[0], "x", 1, 0));
	printf("SIGPIPE %d\n", sigpipes);
	CHECK("recv after SHUT_RD", recv(sv[1], buf, sizeof buf, 0));
	CHECK("recv after SHUT_RD nonblocking", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	close(sv[1]);
	showpoll("peer closed", sv[0]);
	sigpipes = 0;
	CHECK("send to a closed peer", send(sv[0], "x", 1, 0));
	printf("SIGPIPE %d\n", sigpipes);
	CHECK("send again", send(sv[0], "x", 1, 0));
	CHECK("recv from a closed peer", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
	close(sv[0]);
}

int main(void) {
	int fd, sv[2], st;
	char buf[256];
	struct sockaddr_un a, b, c;
	socklen_t len;
	signal(SIGPIPE, onpipe);
	pairtests(SOCK_DGRAM, "datagram");
	pairtests(SOCK_SEQPACKET, "seqpacket");

	// Datagrams by name.
	printf("== named datagrams\n");
	int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t al = mkabstract(&a, "moat-unix-dgram-srv");
	CHECK("bind", bind(srv, (struct sockaddr *)&a, al));
	CHECK("listen on a datagram socket", listen(srv, 1));
	CHECK("accept on a datagram socket", accept(srv, NULL, NULL));
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK("send unconnected", send(fd, "x", 1, 0));
	CHECK("write unconnected", write(fd, "x", 1));
	CHECK("send a bad buffer unconnected", send(fd, (void *)16, 10, 0));
	CHECK("send MSG_OOB", send(fd, "x", 1, MSG_OOB));
	// The order of the checks: size, then the bytes, then the destination.
	static char big[300000];
	CHECK("send too big unconnected", send(fd, big, sizeof big, 0));
	CHECK("send too big, bad buffer", send(fd, (void *)16, sizeof big, 0));
	CHECK("sendto a missing path, bad buffer", sendto(fd, (void *)16, 10, 0, (struct sockaddr *)&b, mkaddr(&b, "/tmp/moat-no-such")));
	b.sun_family = 99;
	CHECK("sendto a bad family, bad buffer", sendto(fd, (void *)16, 10, 0, (struct sockaddr *)&b, sizeof b));
	int sq = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK("seqpacket send unconnected, bad buffer", send(sq, (void *)16, 10, 0));
	close(sq);
	CHECK("sendto unbound sender", sendto(fd, "anon", 4, 0, (struct sockaddr *)&a, al));
	len = sizeof b;
	memset(&b, 0x55, sizeof b);
	CHECK("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&b, &len));
	printf("from length %d\n", (int)len);
	socklen_t cl = mkabstract(&c, "moat-unix-dgram-cli");
	CHECK("bind client", bind(fd, (struct sockaddr *)&c, cl));
	CHECK("sendto bound sender", sendto(fd, "named", 5, 0, (struct sockaddr *)&a, al));
	len = sizeof b;
	CHECK("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&b, &len));
	printf("from the client: %d\n", len == cl && memcmp(b.sun_path, c.sun_path, cl - 2) == 0);
	CHECK("sendto nobody", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, mkabstract(&b, "moat-nobody")));
	CHECK("sendto bad length", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, 1));
	CHECK("sendto bad address pointer", sendto(fd, "x", 1, 0, (struct sockaddr *)16, al));
	CHECK("sendto missing path", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, mkaddr(&b, "/tmp/moat-no-such")));
	CHECK("sendto a stream socket's path", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, mkaddr(&b, "/proc/self/status")));
	CHECK("connect AF_UNSPEC unconnected", connect(fd, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_UNSPEC}, sizeof(struct sockaddr)));
	CHECK("connect", connect(fd, (struct sockaddr *)&a, al));
	len = sizeof b;
	CHECK("getpeername", getpeername(fd, (struct sockaddr *)&b, &len));
	CHECK("send connected", send(fd, "conn", 4, 0));
	CHECK("recv", recv(srv, buf, sizeof buf, 0));
	// The server connects elsewhere: the client may no longer send to it.
	int other = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t ol = mkabstract(&b, "moat-unix-dgram-other");
	bind(other, (struct sockaddr *)&b, ol);
	CHECK("server connects elsewhere", connect(srv, (struct sockaddr *)&b, ol));
	CHECK("send to a socket connected elsewhere", send(fd, "x", 1, 0));
	CHECK("connect to a socket connected elsewhere", connect(other, (struct sockaddr *)&a, al));
	CHECK("server disconnects", connect(srv, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_UNSPEC}, sizeof(struct sockaddr)));
	CHECK("send again", send(fd, "again", 5, 0));
	CHECK("recv", recv(srv, buf, sizeof buf, 0));
	CHECK("connect short length", connect(fd, (struct sockaddr *)&a, 1));
	CHECK("client disconnects", connect(fd, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_UNSPEC}, sizeof(struct sockaddr)));
	CHECK("getpeername disconnected", getpeername(fd, (struct sockaddr *)&b, &len));
	CHECK("send disconnected", send(fd, "x", 1, 0));

	// The receiver's queue holds max_dgram_qlen+1 messages from strangers.
	int i;
	for (i = 0; i < 100; i++)
		if (sendto(fd, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&a, al) < 0)
			break;
	printf("queued %d then %s\n", i, strerrorname_np(errno));
	connect(fd, (struct sockaddr *)&a, al);
	showpoll("connected sender to a full queue", fd);
	// A blocked sender wakes when the receiver reads.
	if (fork() == 0) {
		usleep(30000);
		recv(srv, buf, sizeof buf, 0);
		_exit(0);
	}
	CHECK("blocking send waits for room", send(fd, "late", 4, 0));
	wait(&st);
	close(fd);
	close(other);
	close(srv);

	// A closed connected peer: ECONNREFUSED, then ENOTCONN.
	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind(srv, (struct sockaddr *)&a, al);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	connect(fd, (struct sockaddr *)&a, al);
	close(srv);
	CHECK("send to a closed peer", send(fd, "x", 1, 0));
	CHECK("send after that", send(fd, "x", 1, 0));
	close(fd);

	// sendmmsg and recvmmsg.
	printf("== mmsg\n");
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	struct mmsghdr mm[3];
	struct iovec iv[3] = {{"m1", 2}, {"msg2", 4}, {"m3!", 3}};
	memset(mm, 0, sizeof mm);
	for (i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &iv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK("sendmmsg", sendmmsg(sv[0], mm, 3, 0));
	printf("lens %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	char rb[3][8];
	struct iovec rv[3] = {{rb[0], 8}, {rb[1], 8}, {rb[2], 8}};
	memset(mm, 0, sizeof mm);
	for (i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &rv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK("recvmmsg", recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL));
	printf("lens %u %u %u: %.2s %.4s %.3s\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len, rb[0], rb[1], rb[2]);
	CHECK("recvmmsg none", recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL));
	send(sv[0], "w1", 2, 0);
	CHECK("recvmmsg MSG_WAITFORONE", recvmmsg(sv[1], mm, 3, MSG_WAITFORONE, NULL));
	CHECK("sendmmsg bad vector", sendmmsg(sv[0], (void *)16, 2, 0));
	CHECK("recvmsg bad header", recvmsg(sv[1], (void *)16, 0));
	CHECK("sendmsg bad header", sendmsg(sv[0], (void *)16, 0));
	struct msghdr m = {0};
	m.msg_iov = &iv[0];
	m.msg_iovlen = 2000;
	CHECK("sendmsg too many iovecs", sendmsg(sv[0], &m, 0));
	close(sv[0]);
	close(sv[1]);

	// Seqpacket connections.
	printf("== seqpacket\n");
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	socklen_t sl = mkabstract(&a, "moat-unix-seqpacket");
	bind(l, (struct sockaddr *)&a, sl);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK("send unconnected", send(fd, "x", 1, 0));
	CHECK("recv unconnected", recv(fd, buf, 1, 0));
	CHECK("connect before listen", connect(fd, (struct sockaddr *)&a, sl));
	CHECK("listen", listen(l, 4));
	CHECK("connect", connect(fd, (struct sockaddr *)&a, sl));
	int s2 = accept(l, NULL, NULL);
	CHECKOK("accept", s2);
	CHECK("send", send(fd, "packet one", 10, 0));
	CHECK("send", send(fd, "two", 3, 0));
	CHECK("recv 6 of 10", recv(s2, buf, 6, 0));
	CHECK("recv next", recv(s2, buf, sizeof buf, 0));
	CHECK("sendto ignores the address", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, mkabstract(&b, "nothing")));
	recv(s2, buf, sizeof buf, 0);
	CHECK("shutdown SHUT_WR", shutdown(fd, SHUT_WR));
	showpoll("peer shut writing", s2);
	CHECK("recv EOF", recv(s2, buf, sizeof buf, 0));
	CHECK("recv EOF nonblocking", recv(s2, buf, sizeof buf, MSG_DONTWAIT));
	sigpipes = 0;
	CHECK("send after SHUT_WR", send(fd, "x", 1, 0));
	printf("SIGPIPE %d\n", sigpipes);
	close(s2);
	sigpipes = 0;
	CHECK("send to a closed peer", send(fd, "x", 1, MSG_NOSIGNAL));
	printf("SIGPIPE %d\n", sigpipes);
	close(fd);
	close(l);
	return 0;
}
