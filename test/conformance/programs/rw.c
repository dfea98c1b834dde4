// rw: read, write, readv, writev, close, fstat and ioctl on stdio, with error paths.
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <termios.h>

int main(void) {
	char buf[16];
	CHECK("write", syscall(SYS_write, 1, "abc\n", 4));
	CHECK("write 0 bytes", syscall(SYS_write, 1, "", 0));
	CHECK("write bad fd", syscall(SYS_write, 99, "x", 1));
	CHECK("write fd -1", syscall(SYS_write, -1, "x", 1));
	CHECK("write bad buffer", syscall(SYS_write, 1, (void *)16, 4));
	CHECK("read bad fd", syscall(SYS_read, 99, buf, 1));
	CHECK("read stdin (/dev/null)", syscall(SYS_read, 0, buf, sizeof buf));

	struct iovec iov[3] = {{"ve", 2}, {"ct", 2}, {"or\n", 3}};
	CHECK("writev", syscall(SYS_writev, 1, iov, 3));
	CHECK("writev too many", syscall(SYS_writev, 1, iov, 1025));
	CHECK("writev bad iov", syscall(SYS_writev, 1, (void *)16, 1));
	struct iovec neg = {"x", (size_t)-1};
	CHECK("writev negative len", syscall(SYS_writev, 1, &neg, 1));
	CHECK("writev 0 vectors", syscall(SYS_writev, 1, iov, 0));
	CHECK("readv bad fd", syscall(SYS_readv, 99, iov, 1));

	struct stat st;
	CHECK("fstat stdout", syscall(SYS_fstat, 1, &st));
	printf("stdout is a fifo: %d\n", S_ISFIFO(st.st_mode));
	CHECK("fstat bad fd", syscall(SYS_fstat, 99, &st));
	CHECK("fstat bad buffer", syscall(SYS_fstat, 1, (void *)16));
	CHECK("newfstatat empty path", syscall(SYS_newfstatat, 1, "", &st, AT_EMPTY_PATH));
	CHECK("newfstatat empty path no flag", syscall(SYS_newfstatat, 1, "", &st, 0));
	CHECK("newfstatat bad flags", syscall(SYS_newfstatat, 1, "", &st, 0x80000));

	struct termios tio;
	CHECK("ioctl TCGETS on a pipe", syscall(SYS_ioctl, 1, TCGETS, &tio));
	CHECK("ioctl bad fd", syscall(SYS_ioctl, 99, TCGETS, &tio));

	CHECK("close bad fd", syscall(SYS_close, 99));
	CHECK("close stdin", syscall(SYS_close, 0));
	CHECK("close stdin again", syscall(SYS_close, 0));
	CHECK("read closed stdin", syscall(SYS_read, 0, buf, 1));
	return 0;
}
