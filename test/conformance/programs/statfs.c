// statfs: the magic numbers and figures statfs and fstatfs give for the kernel's own
// filesystems: proc, sysfs, devpts, a tmpfs (blocks and inodes, some free), and the
// internal mounts of pipes, sockets and anonymous files (f_flags ST_VALID alone);
// ST_RELATIME on a mounted filesystem; and the errors.
#include "common.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/vfs.h>

static void by_fd(const char *name, int fd) {
	struct statfs s;
	int r = fstatfs(fd, &s);
	if (r < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: type %#lx bsize %ld namelen %ld flags %#lx blocks %ld\n", name, (long)s.f_type,
		       (long)s.f_bsize, (long)s.f_namelen, (long)s.f_flags, (long)s.f_blocks);
}

static void by_path(const char *path) {
	struct statfs s;
	int r = statfs(path, &s);
	if (r < 0)
		printf("%s: -1 %s\n", path, strerrorname_np(errno));
	else
		printf("%s: type %#lx bsize %ld namelen %ld relatime %d blocks %d free %d files %d ffree %d\n", path,
		       (long)s.f_type, (long)s.f_bsize, (long)s.f_namelen, (s.f_flags & 0x1000) != 0, s.f_blocks > 0,
		       s.f_bfree > 0 && s.f_bfree <= s.f_blocks && s.f_bavail <= s.f_bfree, s.f_files > 0,
		       s.f_ffree > 0 && s.f_ffree <= s.f_files);
}

int main(void) {
	int p[2];
	pipe(p);
	by_fd("pipe", p[0]);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	by_fd("socket", sv[0]);
	by_fd("eventfd", eventfd(0, 0));
	by_fd("epoll", epoll_create1(0));
	by_path("/proc");
	by_path("/proc/self/status");
	by_path("/sys");
	by_path("/dev/pts");
	by_path("/dev/shm");
	CHECK("statfs of nothing", statfs("/nonexistent", &(struct statfs){0}));
	CHECK("statfs bad buffer", statfs("/proc", (void *)8));
	CHECK("fstatfs bad fd", fstatfs(-1, &(struct statfs){0}));
	return 0;
}
