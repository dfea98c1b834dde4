// memfd: memfd_create's flags and name, the file it makes (/proc/self/fd name, mode,
// read, write, ftruncate, MAP_PRIVATE mappings, shared with a child), and seals:
// F_ADD_SEALS and F_GET_SEALS with F_SEAL_SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE, EXEC
// and the errors each gives.
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x8U
#define MFD_EXEC 0x10U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x10
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif

static void showlink(int fd) {
	char link[300], path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n < 0 ? 0 : n] = 0;
	printf("  /proc/self/fd: %s\n", link);
}

int main(void) {
	CHECK("bad flags", syscall(SYS_memfd_create, "x", 0x100));
	CHECK("EXEC and NOEXEC_SEAL", syscall(SYS_memfd_create, "x", MFD_EXEC | MFD_NOEXEC_SEAL));
	CHECK("bad name", syscall(SYS_memfd_create, (void *)8, 0));
	CHECK("bad name and flags", syscall(SYS_memfd_create, (void *)8, 0x100));
	char name[300];
	memset(name, 'n', sizeof name);
	name[249] = 0;
	int fd = syscall(SYS_memfd_create, name, MFD_EXEC);
	printf("249-byte name: %d\n", fd >= 0);
	showlink(fd);
	close(fd);
	name[249] = 'n';
	name[250] = 0;
	CHECK("250-byte name", syscall(SYS_memfd_create, name, MFD_EXEC));

	fd = syscall(SYS_memfd_create, "test", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	printf("created %d cloexec %d rdwr %d\n", fd >= 0, fcntl(fd, F_GETFD),
	       (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	showlink(fd);
	struct stat st;
	fstat(fd, &st);
	printf("  regular %d mode %o size %ld\n", S_ISREG(st.st_mode), st.st_mode & 07777, (long)st.st_size);
	CHECK("write", write(fd, "hello world", 11));
	CHECK("ftruncate 8192", ftruncate(fd, 8192));
	fstat(fd, &st);
	printf("  size %ld\n", (long)st.st_size);
	char buf[16] = {0};
	CHECK("pread", pread(fd, buf, 5, 6));
	printf("  %s\n", buf);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("mmap private: %d %.5s\n", m != MAP_FAILED, m);
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "r");
	int named = 0;
	while (maps && fgets(line, sizeof line, maps))
		if (strstr(line, " /memfd:test (deleted)"))
			named = 1;
	if (maps)
		fclose(maps);
	printf("  named in /proc/self/maps: %d\n", named);
	m[0] = 'J';
	pread(fd, buf, 5, 0);
	printf("  file unchanged: %.5s, mapping %.5s\n", buf, m);
	munmap(m, 8192);
	pid_t c = fork();
	if (c == 0) {
		pwrite(fd, "child", 5, 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	pread(fd, buf, 5, 0);
	printf("child's write seen: %.5s\n", buf);

	// Seals.
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("F_ADD_SEALS bad bits", fcntl(fd, F_ADD_SEALS, 0x100));
	CHECK("F_ADD_SEALS too big", syscall(SYS_fcntl, fd, F_ADD_SEALS, 1UL << 32 | F_SEAL_SHRINK));
	CHECK("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK("  shrink", ftruncate(fd, 100));
	CHECK("  grow", ftruncate(fd, 12288));
	CHECK("  same size", ftruncate(fd, 12288));
	CHECK("F_ADD_SEALS GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK("  grow", ftruncate(fd, 16384));
	CHECK("  write inside", pwrite(fd, "abc", 3, 100));
	CHECK("  write past the end", pwrite(fd, "abc", 3, 12288));
	CHECK("  write at the end", pwrite(fd, "abc", 3, 12287));
	CHECK("  fallocate inside", fallocate(fd, 0, 0, 4096));
	CHECK("  fallocate past the end", fallocate(fd, 0, 8192, 8192));
	CHECK("  fallocate keep size past the end", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	CHECK("  punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	CHECK("F_ADD_SEALS WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("  write", write(fd, "x", 1));
	CHECK("  pwrite", pwrite(fd, "x", 1, 0));
	CHECK("  punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("  mmap shared writable: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("  mmap private writable: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
	CHECK("  read", pread(fd, buf, 3, 100));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("F_ADD_SEALS SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK("F_ADD_SEALS after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	CHECK("F_ADD_SEALS nothing after SEAL", fcntl(fd, F_ADD_SEALS, 0));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	close(fd);

	// Without MFD_ALLOW_SEALING the file is sealed against seals.
	fd = syscall(SYS_memfd_create, "nosealing", MFD_EXEC);
	CHECK("no sealing: F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("no sealing: F_ADD_SEALS", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	close(fd);

	// FUTURE_WRITE stops writes; EXEC on an executable file implies the write seals.
	fd = syscall(SYS_memfd_create, "future", MFD_ALLOW_SEALING | MFD_EXEC);
	CHECK("F_ADD_SEALS FUTURE_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	CHECK("  write", write(fd, "x", 1));
	CHECK("  ftruncate", ftruncate(fd, 10));
	close(fd);
	fd = syscall(SYS_memfd_create, "exec", MFD_ALLOW_SEALING | MFD_EXEC);
	CHECK("F_ADD_SEALS EXEC", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("  fchmod 0644", fchmod(fd, 0644));
	CHECK("  fchmod 0776", fchmod(fd, 0776));
	close(fd);
	fd = syscall(SYS_memfd_create, "noexec", MFD_NOEXEC_SEAL);
	fstat(fd, &st);
	printf("NOEXEC_SEAL: mode %o\n", st.st_mode & 07777);
	CHECK("  F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("  fchmod 0755", fchmod(fd, 0755));
	CHECK("  fchmod 0600", fchmod(fd, 0600));
	CHECK("  write", write(fd, "x", 1));
	close(fd);

	// Files that take no seals.
	int p[2];
	pipe(p);
	CHECK("pipe read end: F_ADD_SEALS", fcntl(p[0], F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("pipe write end: F_ADD_SEALS", fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("pipe: F_GET_SEALS", fcntl(p[0], F_GET_SEALS));
	CHECK("bad fd: F_GET_SEALS", fcntl(-1, F_GET_SEALS));
	return 0;
}
