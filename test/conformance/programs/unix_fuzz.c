// unix_fuzz: random AF_UNIX socket calls over live socket pairs, with arguments that
// are half plausible (message headers, control messages, addresses built in a page)
// and half random, bad pointers included. Run sandboxed only: the Sentry must neither
// crash nor hang. All sockets are non-blocking; standard streams are never closed.
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
static uint64_t state = 0x1234567;
static uint64_t next(void) { state ^= state >> 12; state ^= state << 25; state ^= state >> 27; return state * 0x2545f4914f6cdd1dULL; }
static char *page;
static int fds[16] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static long arg(void) {
	switch (next() % 10) {
	case 0: return 0;
	case 1: return (long)(3 + next() % 61);
	case 2: return (long)next();
	case 3: return (long)page + (long)(next() % 4096);
	case 4: return (long)page + 4096 - 1;
	case 5: return (long)page + 4096;
	case 6: return -1;
	case 7: return fds[next() % 16];
	case 8: return (long)page;
	default: return (long)(next() & 0xffffffff);
	}
}
static const long nrs[] = {SYS_socket, SYS_socketpair, SYS_bind, SYS_listen, SYS_accept4, SYS_connect, SYS_getsockname, SYS_getpeername, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg, SYS_sendmmsg, SYS_recvmmsg, SYS_shutdown, SYS_getsockopt, SYS_setsockopt, SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_ioctl, SYS_poll};
int main(int argc, char **argv) {
	long count = argc > 1 ? atol(argv[1]) : 20000;
	if (argc > 2) state = atol(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(page + 4096, 4096);
	for (long i = 0; i < count; i++) {
		if (i % 50 == 0) {
			int k = next() % 16;
			int sv[2];
			int t = (int[]){SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}[next() % 3];
			if (socketpair(AF_UNIX, t | SOCK_NONBLOCK, 0, sv) == 0) { fds[k] = sv[0]; fds[(k + 1) % 16] = sv[1]; }
			fds[(k + 2) % 16] = socket(AF_UNIX, t | SOCK_NONBLOCK, 0);
			// fill a page with a plausible msghdr pointing into the page
			struct msghdr *m = (struct msghdr *)page;
			struct iovec *iov = (struct iovec *)(page + 512);
			iov[0].iov_base = page + 1024; iov[0].iov_len = next() % 3000;
			m->msg_iov = iov; m->msg_iovlen = 1 + next() % 2;
			m->msg_control = page + 2048 + (next() % 2) * 1000; m->msg_controllen = next() % 200;
			struct cmsghdr *c = (struct cmsghdr *)(page + 2048);
			c->cmsg_len = CMSG_LEN(4 * (next() % 4)); c->cmsg_level = SOL_SOCKET; c->cmsg_type = 1 + next() % 2;
			*(int *)CMSG_DATA(c) = fds[next() % 16];
			m->msg_name = (next() % 2) ? page + 3000 : NULL; m->msg_namelen = next() % 120;
			struct sockaddr_un *a = (struct sockaddr_un *)(page + 3000);
			a->sun_family = AF_UNIX; a->sun_path[0] = 0; snprintf(a->sun_path + 1, 10, "f%d", (int)(next() % 4));
		}
		long nr = nrs[next() % (sizeof nrs / sizeof nrs[0])];
		long a0 = (next() % 3) ? fds[next() % 16] : arg();
		long a3 = arg();
		if (nr == SYS_sendto || nr == SYS_recvfrom || nr == SYS_sendmsg || nr == SYS_recvmsg || nr == SYS_recvmmsg || nr == SYS_sendmmsg)
			a3 |= MSG_DONTWAIT;
		if (nr == SYS_recvmsg || nr == SYS_sendmsg) a3 = (a3 & 0xffff) | MSG_DONTWAIT;
		long r;
		if ((nr == SYS_close || nr == SYS_shutdown) && a0 >= 0 && a0 < 3)
			continue;
		if (nr == SYS_close && a0 >= 0) {
			for (int j = 0; j < 16; j++)
				if (fds[j] == a0)
					fds[j] = -1;
		}
		if (nr == SYS_poll)
			r = syscall(nr, page, next() % 4, 0);
		else if (nr == SYS_accept4) r = syscall(nr, a0, arg(), arg(), SOCK_NONBLOCK);
		else if (nr == SYS_read || nr == SYS_readv) { int f = a0; if (f >= 0) fcntl(f, F_SETFL, O_NONBLOCK); r = syscall(nr, a0, arg(), next() % 5000); }
		else if (nr == SYS_recvmmsg) r = syscall(nr, a0, arg(), next() % 4, a3 | MSG_DONTWAIT, 0);
		else r = syscall(nr, a0, arg(), arg(), a3, arg(), arg());
		(void)r;
	}
	printf("unix_fuzz done\n");
	return 0;
}
