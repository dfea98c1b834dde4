// devs: the devices of /dev.
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static void dev(const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("%s: stat %s\n", path, strerrorname_np(errno));
		return;
	}
	printf("%s: chr %d major %d minor %d\n", path, S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
}

int main(void) {
	char buf[64];
	dev("/dev/null");
	dev("/dev/zero");
	dev("/dev/full");
	dev("/dev/random");
	dev("/dev/urandom");
	int fd = open("/dev/null", O_RDWR);
	CHECK("read /dev/null", read(fd, buf, sizeof buf));
	CHECK("write /dev/null", write(fd, buf, sizeof buf));
	CHECK("lseek /dev/null", lseek(fd, 100, SEEK_SET));
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 1, sizeof buf);
	CHECK("read /dev/zero", read(fd, buf, sizeof buf));
	printf("zeroes: %d\n", buf[0] == 0 && buf[63] == 0);
	close(fd);
	fd = open("/dev/full", O_WRONLY);
	CHECK("write /dev/full", write(fd, "x", 1));
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	CHECK("read /dev/urandom", read(fd, buf, 16));
	close(fd);
	CHECK("open /dev/nonexistent", open("/dev/nonexistent", O_RDONLY));
	struct stat st;
	CHECK("lstat /dev/stdout", lstat("/dev/stdout", &st));
	printf("/dev/stdout is a symlink: %d\n", S_ISLNK(st.st_mode));
	CHECK("stat /dev/shm", stat("/dev/shm", &st));
	printf("/dev/shm is a sticky dir: %d\n", S_ISDIR(st.st_mode) && (st.st_mode & 01000));
	return 0;
}
