// chroot: paths resolve from the new root, ".." and absolute symlinks stay inside it,
// the working directory stays where it was (getcwd shows it unreachable), a child
// inherits the root; and the errors: ENOENT, ENOTDIR, EFAULT, EPERM without
// CAP_SYS_CHROOT.
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void show_cwd(const char *name) {
	char buf[256];
	long r = syscall(SYS_getcwd, buf, sizeof buf);
	if (r < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %s\n", name, strncmp(buf, "(unreachable)", 13) == 0 ? "(unreachable)..." : buf);
}

static void list(const char *path) {
	DIR *d = opendir(path);
	if (!d) {
		printf("ls %s: %s\n", path, strerrorname_np(errno));
		return;
	}
	int n = 0, jail = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			n++;
			jail += strcmp(e->d_name, "inside") == 0;
		}
	closedir(d);
	printf("ls %s: %d entries, inside %d\n", path, n, jail);
}

static void jail(const char *dir);

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char dir[64];
	snprintf(dir, sizeof dir, "chroot-%d", getpid());
	mkdir(dir, 0755);
	char path[128];
	snprintf(path, sizeof path, "%s/inside", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/file", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	write(fd, "jailed\n", 7);
	close(fd);
	snprintf(path, sizeof path, "%s/inside/up", dir);
	symlink("/../../..", path);

	CHECK("chroot of nothing", chroot("/nonexistent"));
	CHECK("chroot of a file", chroot("/proc/self/status"));
	CHECK("chroot bad path", syscall(SYS_chroot, (void *)8));
	pid_t c = fork();
	if (c == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2] = {0};
		syscall(SYS_capset, &h, d);
		CHECK("chroot without CAP_SYS_CHROOT", chroot(dir));
		_exit(0);
	}
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		jail(dir);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	// The parent cleans up, outside the jail.
	snprintf(path, sizeof path, "%s/inside/up", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/inside", dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/file", dir);
	unlink(path);
	CHECK("rmdir the jail", rmdir(dir));
	return 0;
}

// jail runs in a child: chroot to dir and look around.
static void jail(const char *dir) {
	int fd;
	pid_t c;
	CHECK("chroot", chroot(dir));
	show_cwd("getcwd, the old directory");
	list("/");
	list("/..");
	list("/inside/up");
	fd = open("/file", O_RDONLY);
	char buf[16] = {0};
	CHECK("read /file", read(fd, buf, sizeof buf - 1));
	printf("  %s", buf);
	close(fd);
	CHECK("open /proc/self/status", open("/proc/self/status", O_RDONLY));
	CHECK("chdir /", chdir("/"));
	show_cwd("getcwd");
	CHECK("chdir inside", chdir("inside"));
	show_cwd("getcwd");
	CHECK("chdir ../..", chdir("../.."));
	show_cwd("getcwd");
	c = fork();
	if (c == 0) {
		list("/");
		_exit(0);
	}
	waitpid(c, NULL, 0);
	CHECK("chroot again, to inside", chroot("inside"));
	list("/");
	CHECK("unlink the old root's file", unlink("/file"));
}
