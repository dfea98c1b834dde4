// files: the file system calls on a scratch directory, error paths included.
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

// list prints a directory's entries sorted, with their d_type, through getdents64.
static void list(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char buf[512], *names[64];
	int n = 0;
	long r;
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < r;) {
			struct { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
			char *s = malloc(300);
			snprintf(s, 300, "%s:%d", d->name, d->type);
			names[n++] = s;
			off += d->reclen;
		}
	}
	qsort(names, n, sizeof names[0], cmp);
	printf("%s:", dir);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
	close(fd);
}

int main(void) {
	char buf[256];
	struct stat st;
	umask(022);
	CHECK("mkdir work", mkdir("work", 0755));
	CHECK("chdir work", chdir("work"));
	printf("cwd ends in /work: %d\n", getcwd(buf, sizeof buf) && strlen(buf) >= 5 && strcmp(buf + strlen(buf) - 5, "/work") == 0);
	CHECK("getcwd tiny buffer", syscall(SYS_getcwd, buf, 2));

	// Create, write, read back, seek.
	int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0666);
	printf("open O_CREAT|O_EXCL: %d\n", fd >= 0);
	CHECK("write", write(fd, "hello world", 11));
	CHECK("lseek SEEK_SET 6", lseek(fd, 6, SEEK_SET));
	CHECK("read", read(fd, buf, 100));
	CHECK("lseek SEEK_END", lseek(fd, 0, SEEK_END));
	CHECK("lseek negative", lseek(fd, -100, SEEK_SET));
	CHECK("lseek bad whence", lseek(fd, 0, 7));
	CHECK("pwrite", pwrite(fd, "HELLO", 5, 0));
	memset(buf, 0, sizeof buf);
	CHECK("pread", pread(fd, buf, 100, 0));
	printf("content: %s\n", buf);
	CHECK("pread negative offset", pread(fd, buf, 1, -1));
	CHECK("pwrite past the end", pwrite(fd, "!", 1, 20));
	CHECK("fstat", fstat(fd, &st));
	printf("size %ld mode %o nlink %ld\n", (long)st.st_size, st.st_mode, (long)st.st_nlink);
	memset(buf, 'x', sizeof buf);
	CHECK("pread over the hole", pread(fd, buf, 100, 10));
	printf("hole bytes zero: %d %d\n", buf[1] == 0, buf[9] == 0);
	CHECK("ftruncate 4", ftruncate(fd, 4));
	CHECK("ftruncate negative", ftruncate(fd, -1));
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	CHECK("lseek 0", lseek(fd, 0, SEEK_SET));
	CHECK("writev", writev(fd, iov, 2));
	CHECK("close", close(fd));

	// Open flags.
	CHECK("open O_EXCL existing", open("f", O_CREAT | O_EXCL | O_RDONLY, 0644));
	CHECK("open missing", open("nope", O_RDONLY));
	CHECK("open O_DIRECTORY on a file", open("f", O_RDONLY | O_DIRECTORY));
	CHECK("open f/ (trailing slash)", open("f/", O_RDONLY));
	CHECK("open dir for writing", open(".", O_WRONLY));
	CHECK("open file as a dir component", open("f/x", O_RDONLY));
	CHECK("open empty path", open("", O_RDONLY));
	CHECK("open bad pointer", syscall(SYS_open, (void *)16, O_RDONLY));
	char longname[300];
	memset(longname, 'n', 299);
	longname[299] = 0;
	CHECK("open name too long", open(longname, O_RDONLY));
	fd = open("f", O_WRONLY | O_APPEND);
	CHECK("append", write(fd, "EF", 2));
	close(fd);
	fd = open("f", O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("read after append", read(fd, buf, 100));
	printf("content: %s\n", buf);
	CHECK("write to O_RDONLY", write(fd, "x", 1));
	close(fd);
	fd = open("f", O_WRONLY);
	CHECK("read from O_WRONLY", read(fd, buf, 1));
	CHECK("ftruncate O_RDONLY?", ftruncate(fd, 0));
	close(fd);
	fd = open("f", O_RDONLY | O_TRUNC);
	CHECK("O_TRUNC size", lseek(fd, 0, SEEK_END));
	close(fd);

	// Directories, links, renames.
	CHECK("mkdir d", mkdir("d", 0750));
	CHECK("mkdir d again", mkdir("d", 0750));
	CHECK("mkdir d/sub", mkdir("d/sub", 0700));
	CHECK("mkdir in missing", mkdir("missing/x", 0700));
	CHECK("stat d", stat("d", &st));
	printf("d mode %o\n", st.st_mode);
	CHECK("rmdir non-empty", rmdir("d"));
	CHECK("rmdir a file", rmdir("f"));
	CHECK("rmdir .", rmdir("d/."));
	CHECK("unlink a directory", unlink("d"));
	CHECK("symlink", symlink("f", "l"));
	CHECK("symlink to missing", symlink("missing", "dangling"));
	CHECK("symlink existing", symlink("x", "l"));
	CHECK("lstat l", lstat("l", &st));
	printf("l is a symlink: %d size %ld\n", S_ISLNK(st.st_mode), (long)st.st_size);
	CHECK("stat dangling", stat("dangling", &st));
	memset(buf, 0, sizeof buf);
	CHECK("readlink", readlink("l", buf, sizeof buf));
	printf("target: %s\n", buf);
	CHECK("readlink short buffer", readlink("l", buf, 0));
	CHECK("readlink a file", readlink("f", buf, sizeof buf));
	CHECK("open O_NOFOLLOW on link", open("l", O_RDONLY | O_NOFOLLOW));
	CHECK("symlink loop a", symlink("b", "loop_a"));
	CHECK("symlink loop b", symlink("loop_a", "b"));
	CHECK("open a loop", open("loop_a", O_RDONLY));
	CHECK("link", link("f", "f2"));
	CHECK("stat f", stat("f", &st));
	printf("nlink after link %ld\n", (long)st.st_nlink);
	CHECK("link to existing", link("f", "f2"));
	CHECK("link a directory", link("d", "d2"));
	CHECK("rename f2 to d/g", rename("f2", "d/g"));
	CHECK("rename missing", rename("nope", "x"));
	CHECK("rename dir into itself", rename("d", "d/sub/x"));
	CHECK("rename file over dir", rename("f", "d"));
	CHECK("rename dir over file", rename("d", "f"));
	CHECK("rename onto itself", rename("f", "f"));
	CHECK("unlink d/g", unlink("d/g"));
	CHECK("unlink it again", unlink("d/g"));
	list(".");
	list("d");

	// Attributes.
	CHECK("chmod", chmod("f", 0600));
	CHECK("stat", stat("f", &st));
	printf("mode after chmod %o\n", st.st_mode);
	CHECK("truncate", truncate("f", 100));
	CHECK("stat", stat("f", &st));
	printf("size after truncate %ld\n", (long)st.st_size);
	CHECK("truncate a directory", truncate("d", 0));
	CHECK("access F_OK", access("f", F_OK));
	CHECK("access missing", access("nope", F_OK));
	CHECK("access bad mode", access("f", 0x10));
	CHECK("umask", umask(077));
	CHECK("umask back", umask(022));

	// Descriptors.
	fd = open("f", O_RDONLY);
	int fd2 = dup(fd);
	printf("dup is the lowest free: %d\n", fd2 == fd + 1);
	CHECK("dup2 to 50", dup2(fd, 50));
	CHECK("dup2 same", dup2(fd, fd));
	CHECK("dup2 bad old", dup2(99, 50));
	CHECK("dup3 same", dup3(fd, fd, 0));
	CHECK("dup3 bad flags", dup3(fd, 51, 1));
	CHECK("fcntl F_GETFD", fcntl(fd, F_GETFD));
	CHECK("fcntl F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECK("fcntl F_GETFD after", fcntl(fd, F_GETFD));
	CHECK("fcntl F_DUPFD 60", fcntl(fd, F_DUPFD, 60));
	CHECK("fcntl F_GETFL", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	CHECK("fcntl F_SETFL", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
	CHECK("fcntl F_GETFL after", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	CHECK("fcntl bad cmd", fcntl(fd, 9999));
	CHECK("close_range", syscall(SYS_close_range, 50, 60, 0));
	CHECK("close 50 after close_range", close(50));
	CHECK("openat with a file as dirfd", openat(fd, "x", O_RDONLY));
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK("mkdirat", mkdirat(dfd, "viafd", 0700));
	CHECK("fchdir", fchdir(dfd));
	CHECK("stat relative after fchdir", stat("viafd", &st));
	CHECK("fchdir to a file", fchdir(fd));
	CHECK("chdir ..", chdir(".."));
	CHECK("unlinkat AT_REMOVEDIR", unlinkat(dfd, "viafd", AT_REMOVEDIR));
	CHECK("unlinkat bad flags", unlinkat(dfd, "sub", 0x1));
	CHECK("fstatat AT_EMPTY_PATH", fstatat(dfd, "", &st, AT_EMPTY_PATH));
	printf("is dir: %d\n", S_ISDIR(st.st_mode));
	CHECK("read a directory", read(dfd, buf, 10));
	CHECK("getdents on a file", syscall(SYS_getdents64, fd, buf, sizeof buf));
	CHECK("getdents tiny buffer", syscall(SYS_getdents64, dfd, buf, 8));
	CHECK("getdents bad fd", syscall(SYS_getdents64, 99, buf, sizeof buf));
	return 0;
}
