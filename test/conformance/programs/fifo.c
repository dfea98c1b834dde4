// fifo: named pipes (mkfifo) opened as fifo_open does (a reader or writer waits for
// its partner, O_NONBLOCK readers don't and see no hang-up before a writer came,
// O_NONBLOCK writers without a reader get ENXIO, O_RDWR never waits, a wait is
// interrupted by a signal, what the last ends left is gone), and the magic links of
// /proc/self/fd and /proc/self/cwd: a pipe's end reopened through them, a removed
// file reopened, O_NOFOLLOW and RESOLVE_NO_MAGICLINKS refusing them.
#include "common.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void on_alarm(int sig) { (void)sig; }

static int revents(int fd) {
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	poll(&p, 1, 0);
	return p.revents;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[64];
	snprintf(path, sizeof path, "fifo-%d", getpid());
	CHECK("mkfifo", mkfifo(path, 0600));
	struct stat st;
	stat(path, &st);
	printf("  a FIFO: %d\n", S_ISFIFO(st.st_mode));

	// A writer waits for the reader.
	pid_t c = fork();
	if (c == 0) {
		int w = open(path, O_WRONLY);
		write(w, "hello", 5);
		_exit(0);
	}
	int r = open(path, O_RDONLY);
	char buf[32] = {0};
	CHECK("read what the child wrote", read(r, buf, sizeof buf));
	printf("  %s\n", buf);
	waitpid(c, NULL, 0);
	CHECK("then end of file", read(r, buf, sizeof buf));
	close(r);

	// Non-blocking opens.
	r = open(path, O_RDONLY | O_NONBLOCK);
	printf("O_NONBLOCK reader with no writer: %s, poll %#x\n", r >= 0 ? "opened" : strerrorname_np(errno), revents(r));
	CHECK("read with no writer yet", read(r, buf, sizeof buf));
	int w = open(path, O_WRONLY | O_NONBLOCK);
	printf("O_NONBLOCK writer with a reader: %s, poll %#x\n", w >= 0 ? "opened" : strerrorname_np(errno), revents(w));
	CHECK("write", write(w, "abc", 3));
	printf("  reader's poll %#x\n", revents(r));
	CHECK("read", read(r, buf, sizeof buf));
	close(w);
	printf("writer gone: reader's poll %#x\n", revents(r));
	close(r);
	CHECK("O_NONBLOCK writer with no reader", open(path, O_WRONLY | O_NONBLOCK));

	// O_RDWR never waits; what is left when the last end closes is gone.
	int rw = open(path, O_RDWR);
	printf("O_RDWR: %s, poll %#x\n", rw >= 0 ? "opened" : strerrorname_np(errno), revents(rw));
	CHECK("write to itself", write(rw, "xyz", 3));
	CHECK("read from itself", read(rw, buf, 2));
	close(rw);
	rw = open(path, O_RDWR | O_NONBLOCK);
	CHECK("after the last close, the data is gone", read(rw, buf, sizeof buf));
	close(rw);

	// A blocking open interrupted by a signal.
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	CHECK("a reader waiting, interrupted", open(path, O_RDONLY));
	CHECK("unlink", unlink(path));

	// /proc/self/fd of a pipe's end, and of a removed file.
	int p[2];
	pipe(p);
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", p[1]);
	int w2 = open(link, O_WRONLY);
	printf("reopen the write end: %s\n", w2 >= 0 ? "opened" : strerrorname_np(errno));
	write(w2, "via link", 8);
	memset(buf, 0, sizeof buf);
	CHECK("read it at the read end", read(p[0], buf, sizeof buf));
	printf("  %s\n", buf);
	struct stat a, b;
	fstat(p[0], &a);
	fstat(w2, &b);
	printf("  the same pipe: %d\n", a.st_ino == b.st_ino);
	snprintf(link, sizeof link, "/proc/self/fd/%d", p[0]);
	int r2 = open(link, O_RDONLY | O_NONBLOCK);
	CHECK("a second read end, nothing there", read(r2, buf, sizeof buf));
	close(w2);
	close(p[1]);
	CHECK("every writer gone: end of file", read(r2, buf, sizeof buf));
	CHECK("O_NOFOLLOW on the link", open(link, O_RDONLY | O_NOFOLLOW));
	struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_NO_MAGICLINKS};
	CHECK("RESOLVE_NO_MAGICLINKS", syscall(SYS_openat2, AT_FDCWD, link, &how, sizeof how));

	snprintf(path, sizeof path, "gone-%d", getpid());
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(f, "still here", 10);
	unlink(path);
	snprintf(link, sizeof link, "/proc/self/fd/%d", f);
	int f2 = open(link, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("reopen a removed file, read", read(f2, buf, sizeof buf));
	printf("  %s\n", buf);
	int d = open("/proc/self/cwd", O_RDONLY | O_DIRECTORY);
	printf("open /proc/self/cwd: %s\n", d >= 0 ? "a directory" : strerrorname_np(errno));
	return 0;
}
