// mknod: device nodes made by mknod(2) open as the device of their number does (a
// null and a zero device under other names), one with no driver opens with ENXIO;
// stat shows their type and number; the errors: EEXIST, EINVAL for a bad type, EPERM
// for a directory and without CAP_MKNOD, ENOENT for a missing parent.
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static void show(const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("%s: stat %s\n", path, strerrorname_np(errno));
		return;
	}
	printf("%s: chr %d blk %d fifo %d major %d minor %d mode %o\n", path, S_ISCHR(st.st_mode),
	       S_ISBLK(st.st_mode), S_ISFIFO(st.st_mode), major(st.st_rdev), minor(st.st_rdev),
	       st.st_mode & 07777);
}

int main(void) {
	char buf[16];
	umask(022);
	CHECK("mknod null", mknod("mynull", S_IFCHR | 0666, makedev(1, 3)));
	CHECK("mknod zero", mknod("myzero", S_IFCHR | 0640, makedev(1, 5)));
	CHECK("mknod none", mknod("nodriver", S_IFCHR | 0600, makedev(0, 77)));
	CHECK("mknod fifo", mknod("fifo", S_IFIFO | 0600, 0));
	CHECK("mknod reg", mknod("regular", 0644, 0));
	show("mynull");
	show("myzero");
	show("nodriver");
	show("fifo");
	show("regular");
	int fd = open("mynull", O_RDWR);
	CHECKOK("open mynull", fd);
	CHECK("write mynull", write(fd, "abc", 3));
	CHECK("read mynull", read(fd, buf, sizeof buf));
	close(fd);
	fd = open("myzero", O_RDONLY);
	memset(buf, 1, sizeof buf);
	CHECK("read myzero", read(fd, buf, sizeof buf));
	printf("zeroes: %d\n", buf[0] == 0 && buf[15] == 0);
	close(fd);
	CHECK("open nodriver", open("nodriver", O_RDONLY));
	CHECK("mknod again", mknod("mynull", S_IFCHR | 0666, makedev(1, 3)));
	CHECK("mknod bad type", mknod("bad", 0170000 | 0644, 0));
	CHECK("mknod dir", mknod("dir", S_IFDIR | 0755, 0));
	CHECK("mknod no parent", mknod("missing/x", S_IFCHR | 0666, makedev(1, 3)));
	CHECK("mknodat", mknodat(AT_FDCWD, "atnull", S_IFCHR | 0600, makedev(1, 3)));
	show("atnull");
	// Without CAP_MKNOD (a child that drops it from its bounding and effective sets):
	// devices EPERM, a FIFO still fine.
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0);
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		syscall(SYS_capget, &h, d);
		d[0].effective &= ~(1u << CAP_MKNOD);
		syscall(SYS_capset, &h, d);
		CHECK("mknod without CAP_MKNOD", mknod("nocap", S_IFCHR | 0666, makedev(1, 3)));
		CHECK("mknod fifo without CAP_MKNOD", mknod("nocapfifo", S_IFIFO | 0666, 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
	return 0;
}
