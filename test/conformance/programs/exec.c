// exec: execve's error paths (a successful exec is compared once the container's own
// files are served).
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>

static void file(const char *path, const char *content, int mode) {
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	write(fd, content, strlen(content));
	close(fd);
	chmod(path, mode);
}

int main(void) {
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	mkdir("ex", 0755);
	chdir("ex");
	file("noexec", "#!/bin/sh\n", 0644);
	file("garbage", "this is not a program", 0755);
	file("elfstub", "\x7f" "ELF\x02\x01\x01", 0755);
	file("nointerp", "#!/nonexistent/interpreter\n", 0755);
	file("selfloop", "#!./selfloop\n", 0755);
	file("empty", "", 0755);
	mkdir("dir", 0755);
	symlink("garbage", "link");
	CHECK("execve missing", execve("missing", argv, envp));
	CHECK("execve a directory", execve("dir", argv, envp));
	CHECK("execve without x", execve("noexec", argv, envp));
	CHECK("execve not a program", execve("garbage", argv, envp));
	CHECK("execve a truncated ELF", execve("elfstub", argv, envp));
	CHECK("execve an empty file", execve("empty", argv, envp));
	CHECK("execve missing interpreter", execve("nointerp", argv, envp));
	CHECK("execve script loop", execve("selfloop", argv, envp));
	CHECK("execve bad path pointer", syscall(SYS_execve, (void *)16, argv, envp));
	CHECK("execve bad argv pointer", syscall(SYS_execve, "garbage", (void *)16, envp));
	char *badargv[] = {"x", (char *)16, NULL};
	CHECK("execve bad argv string", execve("garbage", badargv, envp));
	CHECK("execve empty path", execve("", argv, envp));
	CHECK("execveat bad flags", syscall(SYS_execveat, AT_FDCWD, "garbage", argv, envp, 0x4));
	CHECK("execveat nofollow on link", syscall(SYS_execveat, AT_FDCWD, "link", argv, envp, AT_SYMLINK_NOFOLLOW));
	int fd = open("garbage", O_RDONLY);
	CHECK("execveat empty path on fd", syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
	CHECK("execveat bad dirfd", syscall(SYS_execveat, 99, "garbage", argv, envp, 0));
	return 0;
}
