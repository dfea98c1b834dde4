// pipe: pipe and pipe2, EOF, EPIPE and SIGPIPE, O_NONBLOCK, FIONREAD, a large transfer.
#include "common.h"
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

int main(void) {
	int p[2], st;
	char buf[65536];
	CHECK("pipe", pipe(p));
	struct stat s;
	fstat(p[0], &s);
	printf("fifo %d\n", S_ISFIFO(s.st_mode));
	CHECK("write", write(p[1], "hello", 5));
	int n = -1;
	CHECK("FIONREAD", ioctl(p[0], FIONREAD, &n));
	printf("bytes waiting %d\n", n);
	CHECK("read", read(p[0], buf, sizeof buf));
	CHECK("lseek on a pipe", lseek(p[0], 0, SEEK_SET));
	CHECK("pread on a pipe", pread(p[0], buf, 1, 0));
	CHECK("write to the read end", write(p[0], "x", 1));
	CHECK("read from the write end", read(p[1], buf, 1));
	close(p[1]);
	CHECK("read at EOF", read(p[0], buf, sizeof buf));
	close(p[0]);

	CHECK("pipe2 bad flags", pipe2(p, O_APPEND));
	CHECK("pipe2 bad pointer", syscall(SYS_pipe2, (void *)16, 0));
	CHECK("pipe2 O_NONBLOCK|O_CLOEXEC", pipe2(p, O_NONBLOCK | O_CLOEXEC));
	CHECK("F_GETFD", fcntl(p[0], F_GETFD));
	CHECK("F_GETFL", fcntl(p[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	CHECK("read empty nonblocking", read(p[0], buf, 1));
	memset(buf, 'x', sizeof buf);
	CHECK("fill nonblocking", write(p[1], buf, sizeof buf));
	CHECK("write full nonblocking", write(p[1], "y", 1));
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK("write with no reader (SIGPIPE ignored)", write(p[1], "y", 1));
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);

	// SIGPIPE's default action ends a writer with no reader.
	pipe(p);
	close(p[0]);
	pid_t c = fork();
	if (c == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("writer killed by SIGPIPE: %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	close(p[1]);

	// 1 MiB from a child through a pipe, counted by the parent.
	pipe(p);
	c = fork();
	if (c == 0) {
		close(p[0]);
		memset(buf, 'z', sizeof buf);
		for (int i = 0; i < 16; i++)
			write(p[1], buf, sizeof buf);
		_exit(0);
	}
	close(p[1]);
	long total = 0, r;
	while ((r = read(p[0], buf, sizeof buf)) > 0)
		total += r;
	waitpid(c, &st, 0);
	printf("received %ld, child status %d\n", total, WEXITSTATUS(st));

	// poll's normal-data bits: a pipe with data, a pipe with room, a regular file.
	int q[2];
	CHECKOK("pipe", pipe(q));
	CHECK("write", write(q[1], "x", 1));
	struct pollfd pf[3] = {{q[0], POLLIN | POLLRDNORM | POLLRDBAND, 0},
			       {q[1], POLLOUT | POLLWRNORM | POLLWRBAND, 0},
			       {open("/proc/self/exe", O_RDONLY), POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM, 0}};
	int ready = poll(pf, 3, 0);
	printf("poll: %d; revents %#x %#x %#x\n", ready, pf[0].revents, pf[1].revents, pf[2].revents);
	return 0;
}
