// cgroupfs: mount(2) of a cgroup v2 filesystem and umount2(2), with their errors.
// The cgroups themselves differ natively (the host's root cgroup) and sandboxed (the
// container's), so only what holds for both is printed: the filesystem's magic and
// flags, the files every cgroup has, their modes and formats, and the errnos.
#include "common.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#define CGROUP2_SUPER_MAGIC 0x63677270

static char dir[64];

static int read_file(const char *name, char *buf, size_t n) {
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return r;
}

// Files every cgroup v2 directory has (the root's included), and cpu.stat, which
// the root has with the cpu controller's accounting.
static const char *files[] = {"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs",
			      "cgroup.threads", "cgroup.max.depth", "cgroup.max.descendants",
			      "cgroup.stat", "cpu.stat"};

static void show_files(void) {
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[128];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (stat(path, &st) != 0) {
			printf("%s: -1 %s\n", files[i], strerrorname_np(errno));
			continue;
		}
		printf("%s: regular %d mode %o\n", files[i], S_ISREG(st.st_mode), st.st_mode & 07777);
	}
}

static void show_formats(void) {
	char buf[4096];
	// cgroup.controllers: space-separated names of known controllers, one line.
	if (read_file("cgroup.controllers", buf, sizeof buf) >= 0) {
		int ok = buf[strlen(buf) - 1] == '\n';
		for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n")) {
			const char *known[] = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
			int found = 0;
			for (size_t i = 0; i < sizeof known / sizeof *known; i++)
				found |= strcmp(w, known[i]) == 0;
			ok &= found;
		}
		printf("cgroup.controllers known names: %d\n", ok);
	}
	if (read_file("cgroup.max.depth", buf, sizeof buf) >= 0)
		printf("cgroup.max.depth: %s", buf);
	if (read_file("cgroup.max.descendants", buf, sizeof buf) >= 0)
		printf("cgroup.max.descendants: %s", buf);
	// cgroup.stat and cpu.stat: "key value" lines, starting with these keys.
	if (read_file("cgroup.stat", buf, sizeof buf) >= 0)
		printf("cgroup.stat starts with nr_descendants: %d\n", strncmp(buf, "nr_descendants ", 15) == 0);
	if (read_file("cpu.stat", buf, sizeof buf) >= 0) {
		unsigned long usage, user, sys;
		int n = sscanf(buf, "usage_usec %lu\nuser_usec %lu\nsystem_usec %lu\n", &usage, &user, &sys);
		printf("cpu.stat usage, user, system: %d\n", n);
	}
	// cgroup.procs: one decimal ID a line.
	if (read_file("cgroup.procs", buf, sizeof buf) >= 0) {
		int ok = 1;
		for (char *p = buf; *p; p++)
			ok &= (*p >= '0' && *p <= '9') || *p == '\n';
		printf("cgroup.procs decimal lines: %d\n", ok);
	}
}

// write_file writes s to dir/name: what write returns, or -1.
static long write_file(const char *name, const char *s) {
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	long r = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

// children makes, uses and removes child cgroups of the mount's root (writable),
// printing what Linux checks: names, values written to the core files, emptiness.
static void children(void) {
	char child[128], grand[160], name[160], buf[256];
	snprintf(child, sizeof child, "moat-conf-%d", getpid());
	snprintf(name, sizeof name, "%s/%s", dir, child);
	CHECK("mkdir child", mkdir(name, 0755));
	CHECK("mkdir child again", mkdir(name, 0755));
	snprintf(grand, sizeof grand, "%s/grand", name);
	CHECK("mkdir grandchild", mkdir(grand, 0755));
	snprintf(name, sizeof name, "%s/cgroup.procs", dir);
	CHECK("mkdir over a file", mkdir(name, 0755));
	CHECK("rmdir a file", rmdir(name));
	CHECK("unlink a file", unlink(name));
	struct statfs sf;
	CHECK("statfs a file", statfs(name, &sf));
	printf("f_type of a file cgroup2: %d\n", sf.f_type == CGROUP2_SUPER_MAGIC);
	snprintf(name, sizeof name, "%s/newfile", dir);
	CHECK("create a file", open(name, O_CREAT | O_WRONLY, 0644));
	CHECK("mkfifo", mknod(name, S_IFIFO | 0644, 0));
	CHECK("symlink", symlink("x", name));

	struct {
		const char *file, *value;
	} writes[] = {
		{"cgroup.procs", "abc"},
		{"cgroup.procs", "-5"},
		{"cgroup.procs", "99999999"},
		{"cgroup.max.depth", "-1"},
		{"cgroup.max.depth", "abc"},
		{"cgroup.max.depth", "5"},
		{"cgroup.max.descendants", "7\n"},
		{"cgroup.max.descendants", "max"},
		{"cgroup.subtree_control", "+bogus"},
		{"cgroup.subtree_control", "cpu"},
		{"cgroup.subtree_control", ""},
		{"cgroup.type", "domain"},
		{"cgroup.controllers", "cpu"},
	};
	for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
		char file[256], label[300];
		snprintf(file, sizeof file, "%s/%s", child, writes[i].file);
		snprintf(label, sizeof label, "write %s %s", writes[i].file, writes[i].value);
		CHECK(label, write_file(file, writes[i].value));
	}
	for (const char **f = (const char *[]){"cgroup.max.depth", "cgroup.max.descendants", "cgroup.procs", NULL}; *f; f++) {
		char file[256];
		snprintf(file, sizeof file, "%s/%s", child, *f);
		if (read_file(file, buf, sizeof buf) >= 0)
			printf("%s: [%s]\n", *f, buf);
	}
	snprintf(name, sizeof name, "%s/%s", dir, child);
	CHECK("rmdir child with a child", rmdir(name));
	CHECK("rmdir grandchild", rmdir(grand));
	CHECK("rmdir child", rmdir(name));
	CHECK("rmdir child again", rmdir(name));
}

int main(void) {
	strcpy(dir, "/tmp/cgroupfs-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char sub[96];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	mkdir(sub, 0755);

	// Errors before anything is mounted.
	CHECK("mount unknown type", mount("none", dir, "nosuchfs", 0, NULL));
	CHECK("mount no type", mount("none", dir, NULL, 0, NULL));
	CHECK("mount bad option", mount("none", dir, "cgroup2", 0, "bogus"));
	CHECK("mount missing target", mount("none", "/tmp/cgroupfs-missing/x", "cgroup2", 0, NULL));
	CHECK("umount2 bad flags", umount2(dir, 0x100));
	CHECK("umount2 missing", umount2("/tmp/cgroupfs-missing/x", 0));
	CHECK("umount2 not a mount", umount2(sub, 0));

	// Without CAP_SYS_ADMIN: EPERM.
	pid_t pid = fork();
	if (pid == 0) {
		if (setresuid(65534, 65534, 65534) != 0)
			_exit(1);
		CHECK("unprivileged mount", mount("none", dir, "cgroup2", 0, NULL));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	fflush(stdout);

	// A read-only mount: CGROUP2_SUPER_MAGIC, and writes are EROFS.
	CHECK("mount ro", mount("none", dir, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	struct statfs sf;
	CHECK("statfs", statfs(dir, &sf));
	printf("f_type cgroup2: %d\n", sf.f_type == CGROUP2_SUPER_MAGIC);
	printf("f_flags ro nosuid nodev noexec: %d %d %d %d\n", !!(sf.f_flags & ST_RDONLY),
	       !!(sf.f_flags & ST_NOSUID), !!(sf.f_flags & ST_NODEV), !!(sf.f_flags & ST_NOEXEC));
	show_files();
	show_formats();
	char path[128];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	CHECK("open cgroup.procs for write on ro", open(path, O_WRONLY));
	snprintf(path, sizeof path, "%s/child", dir);
	CHECK("mkdir on ro", mkdir(path, 0755));
	snprintf(path, sizeof path, "%s/newfile", dir);
	CHECK("create on ro", open(path, O_CREAT | O_WRONLY, 0644));

	// Unmounting it: the directory is the empty one below again.
	pid = fork();
	if (pid == 0) {
		if (setresuid(65534, 65534, 65534) != 0)
			_exit(1);
		CHECK("unprivileged umount2", umount2(dir, 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	fflush(stdout);
	CHECK("umount2", umount2(dir, 0));
	CHECK("statfs after", statfs(dir, &sf));
	printf("f_type cgroup2 after: %d\n", sf.f_type == CGROUP2_SUPER_MAGIC);
	CHECK("umount2 again", umount2(dir, 0));

	// A writable mount with delegation options; MNT_DETACH unmounts it.
	CHECK("mount nsdelegate", mount("cgroup2", dir, "cgroup2", 0, "nsdelegate,memory_recursiveprot"));
	CHECK("statfs rw", statfs(dir, &sf));
	printf("f_type cgroup2 rw: %d ro: %d\n", sf.f_type == CGROUP2_SUPER_MAGIC, !!(sf.f_flags & ST_RDONLY));
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY);
	CHECKOK("open cgroup.procs for write on rw", fd);
	close(fd);
	children();
	CHECK("umount2 detach", umount2(dir, MNT_DETACH));

	rmdir(sub);
	CHECK("rmdir", rmdir(dir));
	return 0;
}
