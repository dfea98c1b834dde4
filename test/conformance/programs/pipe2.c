// pipe2: pipe sizes (F_GETPIPE_SZ, F_SETPIPE_SZ: rounding, EINVAL, EBUSY, EBADF, what
// a smaller pipe holds) and packet mode (O_DIRECT from pipe2 or F_SETFL: one packet per
// read, the rest of a packet dropped, writes split in PIPE_BUF packets).
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/syscall.h>

static void sz(const char *what, int fd, int cmd, long arg) {
	long r = fcntl(fd, cmd, arg);
	if (r < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %ld\n", what, r);
}

int main(void) {
	int p[2];
	CHECKOK("pipe2", pipe2(p, O_NONBLOCK));
	sz("default size", p[0], F_GETPIPE_SZ, 0);
	sz("set 0", p[1], F_SETPIPE_SZ, 0);
	sz("size now", p[0], F_GETPIPE_SZ, 0);
	sz("set 5000", p[1], F_SETPIPE_SZ, 5000);
	// Past pipe-max-size (1 MiB) only with CAP_SYS_RESOURCE, which a host may not give.
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	int resource = (d[0].effective >> CAP_SYS_RESOURCE) & 1;
	long big = fcntl(p[1], F_SETPIPE_SZ, 2 << 20);
	int as_caps = big > 0 ? resource && big == 2 << 20 : !resource && errno == EPERM;
	printf("set 2 MiB: allowed with CAP_SYS_RESOURCE, EPERM without: %d\n", as_caps);
	if (big > 0)
		fcntl(p[1], F_SETPIPE_SZ, 8192);
	sz("set past 2 GiB", p[1], F_SETPIPE_SZ, (1UL << 31) + 1);
	sz("set 4096", p[1], F_SETPIPE_SZ, 4096);
	static char buf[16384];
	memset(buf, 'x', sizeof buf);
	printf("write 8192 into 4096: %zd\n", write(p[1], buf, 8192));
	ssize_t w = write(p[1], buf, 1);
	printf("write more: %zd %s\n", w, strerrorname_np(errno));
	sz("grow to 8192", p[1], F_SETPIPE_SZ, 8192);
	printf("write 4096 more: %zd\n", write(p[1], buf, 4096));
	sz("shrink below the data", p[1], F_SETPIPE_SZ, 4096);
	int f = open("/proc/self/exe", O_RDONLY);
	sz("on a file", f, F_GETPIPE_SZ, 0);
	sz("set on a file", f, F_SETPIPE_SZ, 4096);
	close(f);
	close(p[0]);
	close(p[1]);

	// Packet mode.
	CHECKOK("pipe2 O_DIRECT", pipe2(p, O_DIRECT | O_NONBLOCK));
	printf("O_DIRECT in F_GETFL: %d\n", (fcntl(p[1], F_GETFL) & O_DIRECT) != 0);
	CHECK("write abc", write(p[1], "abc", 3));
	CHECK("write defgh", write(p[1], "defgh", 5));
	char r[64];
	ssize_t n = read(p[0], r, sizeof r);
	printf("read 64: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	n = read(p[0], r, 2);
	printf("read 2: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	errno = 0;
	n = read(p[0], r, sizeof r);
	printf("the rest was dropped: %zd %s\n", n, strerrorname_np(errno));
	CHECK("write 5000", write(p[1], buf, 5000));
	printf("packets of a big write: %zd", read(p[0], buf, sizeof buf));
	printf(" %zd\n", read(p[0], buf, sizeof buf));
	close(p[0]);
	close(p[1]);

	// F_SETFL turns packet mode on for the writer.
	CHECKOK("pipe2", pipe2(p, O_NONBLOCK));
	CHECK("write plain", write(p[1], "12", 2));
	CHECKOK("F_SETFL O_DIRECT", fcntl(p[1], F_SETFL, O_DIRECT | O_NONBLOCK));
	CHECK("write packet", write(p[1], "345", 3));
	CHECK("write packet", write(p[1], "67", 2));
	n = read(p[0], r, sizeof r);
	printf("plain then a packet: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	n = read(p[0], r, sizeof r);
	printf("next packet: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	// Packets after a packet don't merge.
	CHECK("write packet", write(p[1], "89", 2));
	CHECK("write packet", write(p[1], "0", 1));
	n = read(p[0], r, sizeof r);
	printf("one packet: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	n = read(p[0], r, sizeof r);
	printf("the next: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r);
	return 0;
}
