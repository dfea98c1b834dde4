// unix_scm: control messages on AF_UNIX sockets: SCM_RIGHTS (files installed in the
// receiver, MSG_CMSG_CLOEXEC, MSG_CTRUNC when the buffer is short, across fork),
// SCM_CREDENTIALS with SO_PASSCRED, SO_PEERCRED, and the malformed cases. Only
// relations are printed (a PID equals getpid(), never the PID).
#include "common.h"
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static int sendfds(int s, int *fds, int n, const char *data, int flags) {
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, flags);
}

// recvfds receives into a control buffer of clen bytes and reports what came.
static void recvfds(int s, size_t clen, int flags, int passcred) {
	char data[64], cbuf[256];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {data, sizeof data};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = clen ? cbuf : NULL;
	m.msg_controllen = clen;
	ssize_t n = recvmsg(s, &m, flags);
	if (n < 0) {
		printf("  recvmsg: -1 %s\n", strerrorname_np(errno));
		return;
	}
	printf("  recvmsg: %zd \"%.*s\" flags%s%s%s controllen %zu\n", n, (int)n, data,
	       m.msg_flags & MSG_CTRUNC ? " CTRUNC" : "", m.msg_flags & MSG_TRUNC ? " TRUNC" : "",
	       m.msg_flags & MSG_CMSG_CLOEXEC ? " CMSG_CLOEXEC" : "", (size_t)m.msg_controllen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			printf("  SCM_RIGHTS len %zu: %d files\n", (size_t)c->cmsg_len, k);
			for (int i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				char b[16] = {0};
				lseek(fd, 0, SEEK_SET);
				ssize_t r = read(fd, b, sizeof b - 1);
				printf("    file %d: cloexec %d reads \"%s\"\n", i, fcntl(fd, F_GETFD) & FD_CLOEXEC, r > 0 ? b : "");
				close(fd);
			}
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof u);
			printf("  SCM_CREDENTIALS len %zu: pid==getpid %d uid==getuid %d gid==getgid %d\n",
			       (size_t)c->cmsg_len, u.pid == getpid(), u.uid == getuid(), u.gid == getgid());
		} else {
			printf("  cmsg level %d type %d len %zu\n", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
		}
	}
	(void)passcred;
}

static int tmpfile_with(const char *s) {
	char path[64];
	snprintf(path, sizeof path, "/tmp/moat-unix-scm-%d-%s", getpid(), s);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path);
	write(fd, s, strlen(s));
	return fd;
}

int main(void) {
	int sv[2], st;
	int f1 = tmpfile_with("first"), f2 = tmpfile_with("second"), f3 = tmpfile_with("third");

	for (int type = 0; type < 2; type++) {
		int t = type ? SOCK_DGRAM : SOCK_STREAM;
		printf("== %s\n", type ? "datagram" : "stream");
		socketpair(AF_UNIX, t, 0, sv);
		int fds[3] = {f1, f2, f3};
		CHECK("send 1 file", sendfds(sv[0], fds, 1, "one", 0));
		recvfds(sv[1], 256, 0, 0);
		CHECK("send 3 files", sendfds(sv[0], fds, 3, "three", 0));
		recvfds(sv[1], 256, MSG_CMSG_CLOEXEC, 0);
		CHECK("send 3 files", sendfds(sv[0], fds, 3, "short", 0));
		printf(" room for two:\n");
		recvfds(sv[1], CMSG_LEN(2 * sizeof(int)), 0, 0);
		CHECK("send 2 files", sendfds(sv[0], fds, 2, "none", 0));
		printf(" no control buffer:\n");
		recvfds(sv[1], 0, 0, 0);
		CHECK("send 1 file", sendfds(sv[0], fds, 1, "tiny", 0));
		printf(" a buffer smaller than a header:\n");
		recvfds(sv[1], 8, 0, 0);
		CHECK("send 1 file", sendfds(sv[0], fds, 1, "peek", 0));
		printf(" MSG_PEEK, then the real receive:\n");
		recvfds(sv[1], 256, MSG_PEEK, 0);
		recvfds(sv[1], 256, 0, 0);
		int bad[1] = {999};
		CHECK("send a bad descriptor", sendfds(sv[0], bad, 1, "bad", 0));
		// A socket passed over itself, then closed: the message holds it.
		int inner[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, inner);
		write(inner[0], "inner", 5);
		CHECK("send a socket", sendfds(sv[0], &inner[1], 1, "sock", 0));
		close(inner[1]);
		close(inner[0]);
		recvfds(sv[1], 256, 0, 0);
		// Files left unreceived are closed with the socket.
		sendfds(sv[0], fds, 2, "left", 0);
		close(sv[0]);
		close(sv[1]);
	}

	// Stream: data before a message with files is read separately from it.
	printf("== stream boundaries\n");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[0], "plain", 5);
	sendfds(sv[0], &f1, 1, "withfd", 0);
	write(sv[0], "after", 5);
	recvfds(sv[1], 256, 0, 0);
	recvfds(sv[1], 256, 0, 0);
	close(sv[0]);
	close(sv[1]);

	// Malformed control messages.
	printf("== malformed\n");
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	struct {
		struct cmsghdr h;
		int fds[2];
	} cm;
	struct iovec iov = {"x", 1};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = &cm;
	m.msg_controllen = sizeof cm;
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = 8;
	CHECK("cmsg_len below a header", sendmsg(sv[0], &m, 0));
	cm.h.cmsg_len = sizeof cm + 8;
	CHECK("cmsg_len beyond the buffer", sendmsg(sv[0], &m, 0));
	cm.h.cmsg_len = CMSG_LEN(4);
	cm.h.cmsg_type = 99;
	cm.fds[0] = f1;
	CHECK("unknown SOL_SOCKET type", sendmsg(sv[0], &m, 0));
	cm.h.cmsg_level = 6;
	CHECK("another level is skipped", sendmsg(sv[0], &m, 0));
	recvfds(sv[1], 256, 0, 0);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_CREDENTIALS;
	CHECK("SCM_CREDENTIALS bad length", sendmsg(sv[0], &m, 0));
	m.msg_control = (void *)16;
	CHECK("bad control pointer", sendmsg(sv[0], &m, 0));
	m.msg_control = &cm;
	m.msg_controllen = 8;
	CHECK("control shorter than a header", sendmsg(sv[0], &m, 0));
	recvfds(sv[1], 256, 0, 0);
	close(sv[0]);
	close(sv[1]);

	// Credentials.
	printf("== credentials\n");
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	struct ucred u;
	socklen_t len = sizeof u;
	CHECK("SO_PEERCRED of a pair", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &u, &len));
	printf("peer pid==getpid %d uid==getuid %d gid==getgid %d len %d\n", u.pid == getpid(), u.uid == getuid(), u.gid == getgid(), (int)len);
	int on = 1;
	CHECK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	send(sv[0], "c", 1, 0);
	recvfds(sv[1], 256, 0, 1);
	send(sv[0], "c", 1, 0);
	printf(" room for the header only:\n");
	recvfds(sv[1], sizeof(struct cmsghdr) + 4, 0, 1);
	sendfds(sv[0], &f1, 1, "both", 0);
	recvfds(sv[1], 256, 0, 1);
	struct {
		struct cmsghdr h;
		struct ucred u;
	} cc;
	m.msg_control = &cc;
	m.msg_controllen = sizeof cc;
	cc.h.cmsg_level = SOL_SOCKET;
	cc.h.cmsg_type = SCM_CREDENTIALS;
	cc.h.cmsg_len = CMSG_LEN(sizeof(struct ucred));
	cc.u.pid = getpid();
	cc.u.uid = getuid();
	cc.u.gid = getgid();
	CHECK("explicit SCM_CREDENTIALS", sendmsg(sv[0], &m, 0));
	recvfds(sv[1], 256, 0, 1);
	cc.u.uid = -1;
	CHECK("SCM_CREDENTIALS uid -1", sendmsg(sv[0], &m, 0));
	cc.u.uid = getuid();
	cc.u.pid = 0x3ffffff0;
	CHECK("SCM_CREDENTIALS no such pid", sendmsg(sv[0], &m, 0));
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	len = 8;
	CHECK("SO_PEERCRED short", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &u, &len));
	printf("len %d\n", (int)len);
	close(sv[0]);
	close(sv[1]);
	int lone = socket(AF_UNIX, SOCK_STREAM, 0);
	len = sizeof u;
	CHECK("SO_PEERCRED unconnected", getsockopt(lone, SOL_SOCKET, SO_PEERCRED, &u, &len));
	printf("pid %d uid %d gid %d\n", u.pid, (int)u.uid, (int)u.gid);
	close(lone);

	// A child connects to a listener: each side sees the other's process.
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	// Unique to this process: native runs share the host's abstract names.
	int an = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "moat-unix-scm-%d", getpid());
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + an;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&a, al);
	listen(l, 1);
	len = sizeof u;
	getsockopt(l, SOL_SOCKET, SO_PEERCRED, &u, &len);
	printf("listener's own SO_PEERCRED pid==getpid %d\n", u.pid == getpid());
	int parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		int k = socket(AF_UNIX, SOCK_STREAM, 0);
		connect(k, (struct sockaddr *)&a, al);
		struct ucred v;
		socklen_t vl = sizeof v;
		getsockopt(k, SOL_SOCKET, SO_PEERCRED, &v, &vl);
		char r = v.pid == parent ? 'y' : 'n';
		write(k, &r, 1);
		// Pass a file to the parent.
		sendfds(k, &f2, 1, "f", 0);
		read(k, &r, 1);
		_exit(0);
	}
	int c = accept(l, NULL, NULL);
	len = sizeof u;
	getsockopt(c, SOL_SOCKET, SO_PEERCRED, &u, &len);
	printf("accepted SO_PEERCRED pid==child %d\n", u.pid == child);
	char r;
	read(c, &r, 1);
	printf("child saw the parent as its peer: %c\n", r);
	recvfds(c, 256, 0, 0);
	write(c, "k", 1);
	waitpid(child, &st, 0);
	printf("child exited %d\n", WEXITSTATUS(st));
	close(c);
	close(l);
	return 0;
}
