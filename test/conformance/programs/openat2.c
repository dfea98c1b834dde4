// openat2: open_how checks and the RESOLVE_* restrictions.
#include "common.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>

static long o2(int dirfd, const char *path, unsigned long flags, unsigned long mode, unsigned long resolve) {
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// o2dots is o2 for a path with "..": under RESOLVE_BENEATH or RESOLVE_IN_ROOT Linux
// fails it with EAGAIN when any rename or mount anywhere raced the walk (as
// openat2(2) says, the caller may retry), which a loaded host makes likely.
static long o2dots(int dirfd, const char *path, unsigned long flags, unsigned long mode, unsigned long resolve) {
	long r;
	for (int i = 0; i < 100; i++)
		if ((r = o2(dirfd, path, flags, mode, resolve)) >= 0 || errno != EAGAIN)
			break;
	return r;
}

#define OK(name, expr)                                                         \
	do {                                                                   \
		long _fd = (expr);                                             \
		if (_fd >= 0) {                                                \
			printf("%s: ok\n", name);                              \
			close(_fd);                                            \
		} else                                                         \
			printf("%s: -1 %s\n", name, strerrorname_np(errno));   \
	} while (0)

int main(void) {
	mkdir("o2", 0755);
	chdir("o2");
	mkdir("sub", 0755);
	close(open("sub/f", O_CREAT | O_WRONLY, 0644));
	close(open("f", O_CREAT | O_WRONLY, 0644));
	symlink("/f", "sub/abs");
	symlink("../f", "sub/up");
	symlink("../../../..", "sub/far");
	symlink("f", "sub/rel");
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	int sub = open("sub", O_RDONLY | O_DIRECTORY);

	struct open_how how = {.flags = O_RDONLY};
	char big[64] = {0};
	memcpy(big, &how, sizeof how);
	CHECK("size 23", syscall(SYS_openat2, dir, "f", &how, 23));
	CHECK("size too big", syscall(SYS_openat2, dir, "f", big, 8192));
	OK("size 64, zero tail", syscall(SYS_openat2, dir, "f", big, 64));
	big[40] = 1;
	CHECK("size 64, non-zero tail", syscall(SYS_openat2, dir, "f", big, 64));
	CHECK("bad how pointer", syscall(SYS_openat2, dir, "f", (void *)16, sizeof how));
	CHECK("unknown flag", o2(dir, "f", 1UL << 40, 0, 0));
	CHECK("mode without O_CREAT", o2(dir, "f", O_RDONLY, 0644, 0));
	CHECK("bad mode", o2(dir, "g", O_CREAT | O_WRONLY, 010000, 0));
	CHECK("unknown resolve", o2(dir, "f", O_RDONLY, 0, 0x1000));
	CHECK("BENEATH|IN_ROOT", o2(dir, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
	CHECK("CACHED with O_CREAT", o2(dir, "g", O_CREAT | O_WRONLY, 0644, RESOLVE_CACHED));

	OK("BENEATH inside", o2(dir, "sub/f", O_RDONLY, 0, RESOLVE_BENEATH));
	OK("BENEATH relative link", o2(dir, "sub/rel", O_RDONLY, 0, RESOLVE_BENEATH));
	OK("BENEATH link up but inside", o2(dir, "sub/up", O_RDONLY, 0, RESOLVE_BENEATH));
	OK("BENEATH .. back inside", o2dots(dir, "sub/../f", O_RDONLY, 0, RESOLVE_BENEATH));
	OK("BENEATH from sub", o2(sub, "rel", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK("BENEATH .. out", o2(sub, "../f", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK("BENEATH link up and out", o2(sub, "up", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK("BENEATH absolute", o2(dir, "/etc", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK("BENEATH absolute link", o2(dir, "sub/abs", O_RDONLY, 0, RESOLVE_BENEATH));

	OK("IN_ROOT absolute", o2(dir, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT));
	OK("IN_ROOT absolute link", o2(dir, "sub/abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
	OK("IN_ROOT climbing link", o2dots(dir, "sub/far/f", O_RDONLY, 0, RESOLVE_IN_ROOT));
	CHECK("IN_ROOT outside name", o2(dir, "/etc", O_RDONLY, 0, RESOLVE_IN_ROOT));

	CHECK("NO_SYMLINKS through link", o2(dir, "sub/rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
	OK("NO_SYMLINKS plain", o2(dir, "sub/f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
	OK("NO_SYMLINKS O_PATH|O_NOFOLLOW on link", o2(dir, "sub/rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));

	int root = open("/", O_RDONLY | O_DIRECTORY);
	CHECK("NO_XDEV into /proc", o2(root, "proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OK("NO_XDEV same mount", o2(dir, "sub/f", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OK("plain openat2", o2(AT_FDCWD, "f", O_RDONLY, 0, 0));
	return 0;
}
