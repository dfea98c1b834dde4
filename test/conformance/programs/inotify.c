// inotify: inotify_init1's flags and file (anon_inode:inotify, O_NONBLOCK, FD_CLOEXEC),
// inotify_add_watch and inotify_rm_watch with their flags (IN_MASK_ADD, IN_MASK_CREATE,
// IN_ONESHOT, IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK) and errors, the events that
// creating, opening, reading, writing, closing, changing attributes of, linking,
// renaming and removing files in a temporary directory under the working directory
// produce (on the directory's watch with the child's name, and on the file's own), the
// read format and its errors, coalescing, the queue's overflow, FIONREAD, poll, epoll
// and select readiness, and blocking reads woken by an event or interrupted by a signal.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{IN_ACCESS, "ACCESS"},
	{IN_MODIFY, "MODIFY"},
	{IN_ATTRIB, "ATTRIB"},
	{IN_CLOSE_WRITE, "CLOSE_WRITE"},
	{IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
	{IN_OPEN, "OPEN"},
	{IN_MOVED_FROM, "MOVED_FROM"},
	{IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"},
	{IN_DELETE, "DELETE"},
	{IN_DELETE_SELF, "DELETE_SELF"},
	{IN_MOVE_SELF, "MOVE_SELF"},
	{IN_UNMOUNT, "UNMOUNT"},
	{IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"},
	{IN_ISDIR, "ISDIR"},
};

static void print_mask(uint32_t m) {
	const char *sep = "";
	for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
		if (m & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = "|";
			m &= ~bits[i].bit;
		}
	}
	if (m)
		printf("%s0x%x", sep, m);
}

static uint32_t last_from_cookie;

// print_events prints the events in buf[0:n].
static void print_events(const char *buf, long n) {
	for (long off = 0; off < n;) {
		const struct inotify_event *e = (const void *)(buf + off);
		printf("  wd=%d ", e->wd);
		print_mask(e->mask);
		if (e->len) {
			size_t nl = strnlen(e->name, e->len);
			int padded = nl < e->len;
			for (size_t i = nl; i < e->len; i++)
				padded &= e->name[i] == 0;
			printf(" name=%s len=%u nulpadded=%d", e->name, e->len, padded);
		}
		if (e->mask & IN_MOVED_FROM) {
			printf(" cookie=%s", e->cookie ? "set" : "zero");
			last_from_cookie = e->cookie;
		} else if (e->mask & IN_MOVED_TO) {
			printf(" cookie=%s", e->cookie == last_from_cookie ? "same" : "other");
		} else if (e->cookie) {
			printf(" cookie=%u", e->cookie);
		}
		printf("\n");
		off += sizeof *e + e->len;
	}
}

// drain prints every queued event of the non-blocking fd.
static void drain(int fd, const char *what) {
	static char buf[65536] __attribute__((aligned(8)));
	printf("%s:\n", what);
	for (;;) {
		long n = read(fd, buf, sizeof buf);
		if (n == -1) {
			if (errno != EAGAIN)
				printf("  read: -1 %s\n", strerrorname_np(errno));
			return;
		}
		print_events(buf, n);
	}
}

static void on_alarm(int sig) { (void)sig; }

static void touch(const char *p) {
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	close(fd);
}

static void setup(void) {
	char tmpl[] = "./inotify.XXXXXX";
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(1);
	}
	if (chdir(tmpl)) {
		perror("chdir");
		exit(1);
	}
}

static void cleanup(void) {
	// The program's directory: leave nothing behind.
	const char *names[] = {"sub/g", "sub/e", "sub/e2", "sub", "d", "e", "f", "g", "h", "k", "l", "link", "ln",
			       "ov", "x", "y", "z", "lnk", "fifo", "sym", "a", "b", "c", "nr", "t"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (unlink(names[i]))
			rmdir(names[i]);
	}
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd)) {
		chdir("..");
		rmdir(cwd);
	}
}

static void test_init(void) {
	printf("== init\n");
	CHECK("init1 bad flag", inotify_init1(1));
	CHECK("init1 O_RDWR", inotify_init1(O_RDWR));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	printf("init1 ok: %d\n", fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	printf("F_GETFL: accmode=%d nonblock=%d\n", fl & O_ACCMODE, !!(fl & O_NONBLOCK));
	printf("FD_CLOEXEC: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	char p[64], l[256] = {0};
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	CHECKOK("readlink", readlink(p, l, sizeof l - 1));
	printf("link: %s\n", l);
	struct stat st;
	CHECK("fstat", fstat(fd, &st));
	printf("mode: %o\n", st.st_mode);
	char b[64];
	CHECK("read empty nonblocking", read(fd, b, sizeof b));
	CHECK("read 0 bytes empty", read(fd, b, 0));
	CHECK("write", write(fd, "x", 1));
	CHECK("lseek", lseek(fd, 0, SEEK_SET));
	int n = -1;
	CHECK("FIONREAD empty", ioctl(fd, FIONREAD, &n));
	printf("FIONREAD: %d\n", n);
	CHECK("bad ioctl", ioctl(fd, TCGETS, b));
	close(fd);
	int fd2 = inotify_init();
	printf("init ok: %d\n", fd2 >= 0);
	fl = fcntl(fd2, F_GETFL);
	printf("F_GETFL: nonblock=%d cloexec=%d\n", !!(fl & O_NONBLOCK), fcntl(fd2, F_GETFD) & FD_CLOEXEC);
	close(fd2);
}

static void test_errors(void) {
	printf("== errors\n");
	int fd = inotify_init1(IN_NONBLOCK);
	int pfd[2];
	pipe(pfd);
	touch("f");
	symlink("f", "ln");
	CHECK("add bad fd", inotify_add_watch(-1, ".", IN_ALL_EVENTS));
	CHECK("add closed fd", inotify_add_watch(999, ".", IN_ALL_EVENTS));
	CHECK("add pipe fd", inotify_add_watch(pfd[0], ".", IN_ALL_EVENTS));
	CHECK("add mask 0", inotify_add_watch(fd, ".", 0));
	CHECK("add mask 0 bad fd", inotify_add_watch(-1, ".", 0));
	CHECK("add mask ONESHOT only", inotify_add_watch(fd, "f", IN_ONESHOT));
	CHECK("add mask DONT_FOLLOW only", inotify_add_watch(fd, "f", IN_DONT_FOLLOW));
	CHECK("add unknown bit only", inotify_add_watch(fd, "f", 0x00001000));
	CHECK("add MODIFY|unknown bit", inotify_add_watch(fd, "f", IN_MODIFY | 0x00001000));
	CHECK("rm it", inotify_rm_watch(fd, 1));
	CHECK("add ADD|CREATE", inotify_add_watch(fd, "f", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
	CHECK("add ADD|CREATE bad fd", inotify_add_watch(-1, "f", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
	CHECK("add ADD|CREATE pipe", inotify_add_watch(pfd[0], "f", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
	CHECK("add missing", inotify_add_watch(fd, "nonexistent", IN_MODIFY));
	CHECK("add empty path", inotify_add_watch(fd, "", IN_MODIFY));
	CHECK("add NULL path", inotify_add_watch(fd, NULL, IN_MODIFY));
	CHECK("add ONLYDIR file", inotify_add_watch(fd, "f", IN_MODIFY | IN_ONLYDIR));
	CHECK("add f/ (trailing slash)", inotify_add_watch(fd, "f/", IN_MODIFY));
	CHECK("add ONLYDIR dir", inotify_add_watch(fd, ".", IN_MODIFY | IN_ONLYDIR));
	CHECK("add ONLYDIR symlink to file", inotify_add_watch(fd, "ln", IN_MODIFY | IN_ONLYDIR));
	CHECK("add file", inotify_add_watch(fd, "f", IN_MODIFY));
	CHECK("add file again MASK_CREATE", inotify_add_watch(fd, "f", IN_ATTRIB | IN_MASK_CREATE));
	CHECK("add via symlink MASK_CREATE", inotify_add_watch(fd, "ln", IN_ATTRIB | IN_MASK_CREATE));
	CHECK("add symlink DONT_FOLLOW", inotify_add_watch(fd, "ln", IN_ATTRIB | IN_DONT_FOLLOW));
	CHECK("add via symlink", inotify_add_watch(fd, "ln", IN_ATTRIB));
	CHECK("rm bad fd", inotify_rm_watch(-1, 1));
	CHECK("rm pipe fd", inotify_rm_watch(pfd[0], 1));
	CHECK("rm unknown wd", inotify_rm_watch(fd, 99));
	CHECK("rm wd 0", inotify_rm_watch(fd, 0));
	CHECK("rm wd -1", inotify_rm_watch(fd, -1));
	CHECK("rm 3", inotify_rm_watch(fd, 3));
	CHECK("rm 3 again", inotify_rm_watch(fd, 3));
	drain(fd, "after rm");
	CHECK("add after rm (new wd)", inotify_add_watch(fd, "f", IN_MODIFY));
	// Read permission on the file is needed (checked as an unprivileged user).
	chmod("f", 0200);
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(9);
		int ifd = inotify_init1(0);
		CHECK("nobody: add unreadable", inotify_add_watch(ifd, "f", IN_MODIFY));
		CHECK("nobody: add readable dir", inotify_add_watch(ifd, ".", IN_MODIFY));
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child status: %d\n", WEXITSTATUS(status));
	chmod("f", 0644);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	unlink("ln");
	unlink("f");
}

static void test_events(void) {
	printf("== events\n");
	int fd = inotify_init1(IN_NONBLOCK);
	int dw = inotify_add_watch(fd, ".", IN_ALL_EVENTS);
	printf("dir wd: %d\n", dw);
	char buf[64];

	int f = open("f", O_CREAT | O_WRONLY, 0644);
	write(f, "hello", 5);
	close(f);
	drain(fd, "create, write, close");

	int fw = inotify_add_watch(fd, "f", IN_ALL_EVENTS);
	printf("file wd: %d\n", fw);
	f = open("f", O_RDONLY);
	read(f, buf, sizeof buf);
	read(f, buf, sizeof buf); // end of file: no event
	close(f);
	drain(fd, "open, read, read at EOF, close");

	f = open("f", O_RDWR);
	pwrite(f, "ab", 2, 0);
	pwrite(f, "cd", 2, 2); // coalesced
	pread(f, buf, 2, 0);
	pwrite(f, "ef", 2, 0);
	write(f, "", 0); // nothing written: no event
	close(f);
	drain(fd, "rdwr: write, write, read, write, empty write, close");

	f = open("f", O_WRONLY | O_TRUNC);
	close(f);
	drain(fd, "O_TRUNC");
	f = open("f", O_PATH);
	close(f);
	drain(fd, "O_PATH open and close");

	chmod("f", 0600);
	drain(fd, "chmod");
	chown("f", getuid(), getgid());
	drain(fd, "chown");
	truncate("f", 3);
	drain(fd, "truncate");
	f = open("f", O_WRONLY);
	ftruncate(f, 1);
	drain(fd, "ftruncate");
	close(f);
	drain(fd, "close");
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	utimensat(AT_FDCWD, "f", ts, 0);
	drain(fd, "utimensat both");
	ts[1].tv_nsec = UTIME_OMIT;
	utimensat(AT_FDCWD, "f", ts, 0);
	drain(fd, "utimensat atime");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, "f", ts, 0);
	drain(fd, "utimensat mtime");
	ts[1].tv_nsec = UTIME_OMIT;
	utimensat(AT_FDCWD, "f", ts, 0);
	drain(fd, "utimensat omit both");
	struct stat st;
	stat("f", &st);
	access("f", R_OK);
	drain(fd, "stat, access (no events)");

	mkdir("sub", 0755);
	drain(fd, "mkdir");
	int sw = inotify_add_watch(fd, "sub", IN_ALL_EVENTS);
	printf("sub wd: %d\n", sw);
	int d = open("sub", O_RDONLY | O_DIRECTORY);
	syscall(SYS_getdents64, d, buf, sizeof buf);
	close(d);
	drain(fd, "open, getdents, close a directory");
	chmod("sub", 0700);
	drain(fd, "chmod a directory");

	rename("f", "g");
	drain(fd, "rename f g");
	rename("g", "sub/g");
	drain(fd, "rename g sub/g");
	rename("sub/g", "g");
	drain(fd, "rename sub/g g");
	link("g", "h");
	drain(fd, "link g h");
	CHECK("add h", inotify_add_watch(fd, "h", IN_ALL_EVENTS));
	unlink("h");
	drain(fd, "unlink h");
	touch("k");
	drain(fd, "touch k");
	int kw = inotify_add_watch(fd, "k", IN_ALL_EVENTS);
	printf("k wd: %d\n", kw);
	rename("g", "k");
	drain(fd, "rename g over k");
	unlink("k");
	drain(fd, "unlink k (last link)");
	symlink("target", "sym");
	drain(fd, "symlink");
	mknod("fifo", S_IFIFO | 0644, 0);
	drain(fd, "mkfifo");
	unlink("sym");
	unlink("fifo");
	drain(fd, "unlink sym, fifo");
	mkdir("e", 0755);
	mkdir("sub/e2", 0755);
	int ew = inotify_add_watch(fd, "e", IN_ALL_EVENTS);
	int e2w = inotify_add_watch(fd, "sub/e2", IN_ALL_EVENTS);
	printf("e wd: %d, e2 wd: %d\n", ew, e2w);
	rename("e", "sub/e");
	drain(fd, "mkdir e, rename it into sub");
	rename("sub/e", "sub/e2");
	drain(fd, "rename sub/e over the empty directory sub/e2");
	rmdir("sub/e2");
	drain(fd, "rmdir sub/e2");
	rmdir("sub");
	drain(fd, "rmdir sub");
	CHECK("rm sub wd (gone)", inotify_rm_watch(fd, sw));
	// Failed operations make no events.
	CHECK("mkdir existing", mkdir(".", 0755));
	CHECK("open missing", open("nothere", O_RDONLY));
	CHECK("unlink missing", unlink("nothere"));
	drain(fd, "failed operations");
	close(fd);
}

static void test_flags(void) {
	printf("== flags\n");
	int fd = inotify_init1(IN_NONBLOCK);
	touch("a");
	int f = open("a", O_RDWR);
	CHECK("oneshot", inotify_add_watch(fd, "a", IN_MODIFY | IN_ONESHOT));
	pwrite(f, "x", 1, 0);
	pread(f, &(char){0}, 1, 0);
	pwrite(f, "x", 1, 0);
	drain(fd, "oneshot: write, read, write");
	CHECK("rm oneshot wd (gone)", inotify_rm_watch(fd, 1));

	CHECK("add MODIFY", inotify_add_watch(fd, "a", IN_MODIFY));
	CHECK("MASK_ADD ACCESS", inotify_add_watch(fd, "a", IN_ACCESS | IN_MASK_ADD));
	pwrite(f, "x", 1, 0);
	pread(f, &(char){0}, 1, 0);
	drain(fd, "MODIFY|ACCESS: write, read");
	CHECK("replace with ACCESS", inotify_add_watch(fd, "a", IN_ACCESS));
	pwrite(f, "x", 1, 0);
	pread(f, &(char){0}, 1, 0);
	drain(fd, "ACCESS: write, read");

	// Hard links share the file's watches.
	link("a", "b");
	CHECK("add b (link of a)", inotify_add_watch(fd, "b", IN_ATTRIB));
	chmod("a", 0600);
	drain(fd, "chmod a");

	// A second instance has watches and wds of its own.
	int fd2 = inotify_init1(IN_NONBLOCK);
	CHECK("second instance add", inotify_add_watch(fd2, "a", IN_ATTRIB));
	chmod("b", 0644);
	drain(fd, "first instance");
	drain(fd2, "second instance");
	close(fd2);
	close(f);

	// IN_DONT_FOLLOW watches the symlink itself.
	symlink("a", "lnk");
	CHECK("add lnk DONT_FOLLOW", inotify_add_watch(fd, "lnk", IN_ALL_EVENTS | IN_DONT_FOLLOW));
	chmod("lnk", 0640); // follows: a changes
	drain(fd, "chmod through symlink");
	unlink("lnk");
	drain(fd, "unlink symlink");

	// IN_EXCL_UNLINK: no events from an unlinked child on the directory's watch.
	int fd3 = inotify_init1(IN_NONBLOCK);
	int fd4 = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd3, ".", IN_MODIFY | IN_DELETE | IN_EXCL_UNLINK);
	inotify_add_watch(fd4, ".", IN_MODIFY | IN_DELETE);
	touch("c");
	f = open("c", O_WRONLY);
	write(f, "1", 1);
	unlink("c");
	write(f, "2", 1);
	close(f);
	drain(fd3, "EXCL_UNLINK: write, unlink, write");
	drain(fd4, "without: write, unlink, write");
	close(fd3);
	close(fd4);

	// IN_MASK_CREATE on a file not yet watched.
	touch("nr");
	CHECK("MASK_CREATE new", inotify_add_watch(fd, "nr", IN_ATTRIB | IN_MASK_CREATE));
	// A directory watch's events about its children only for the bits it asks.
	int fd5 = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd5, ".", IN_CREATE);
	chmod("nr", 0600);
	touch("t");
	drain(fd5, "dir watch CREATE only: chmod, create");
	close(fd5);
	drain(fd, "rest");
	close(fd);
	unlink("a");
	unlink("b");
	unlink("nr");
	unlink("t");
}

// A file open (or mapped) when its last name goes is deleted, for its watches, at its
// last close (or unmapping), as on Linux.
static void test_open_unlinked(void) {
	printf("== open when unlinked\n");
	int fd = inotify_init1(IN_NONBLOCK);
	touch("l");
	inotify_add_watch(fd, ".", IN_ALL_EVENTS);
	CHECK("add l", inotify_add_watch(fd, "l", IN_ALL_EVENTS));
	int f = open("l", O_RDWR);
	unlink("l");
	write(f, "x", 1);
	int g = dup(f);
	close(f);
	drain(fd, "open, unlink, write, close a dup");
	close(g);
	drain(fd, "last close");
	touch("l");
	CHECK("add l again", inotify_add_watch(fd, "l", IN_ALL_EVENTS));
	f = open("l", O_RDWR);
	ftruncate(f, 4096);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	close(f);
	drain(fd, "open, ftruncate, mmap, close");
	((char *)p)[0] = 1;
	unlink("l");
	drain(fd, "write through the mapping, unlink");
	munmap(p, 4096);
	drain(fd, "munmap");
	mkdir("d", 0755);
	CHECK("add d", inotify_add_watch(fd, "d", IN_ALL_EVENTS));
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	rmdir("d");
	drain(fd, "open d, rmdir");
	close(dfd);
	drain(fd, "close d");
	close(fd);
}

static void test_read(void) {
	printf("== read\n");
	int fd = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd, ".", IN_CREATE);
	touch("x");
	touch("a_name_of_16_chr");
	touch("a_name_of_15_ch");
	int n = -1;
	ioctl(fd, FIONREAD, &n);
	printf("FIONREAD: %d\n", n);
	char buf[256] __attribute__((aligned(8)));
	CHECK("read 0", read(fd, buf, 0));
	CHECK("read 16 (too small)", read(fd, buf, 16));
	CHECK("read 31 (too small)", read(fd, buf, 31));
	CHECK("read 40 (one fits)", read(fd, buf, 40));
	print_events(buf, 32);
	CHECK("read 79 (one of 48 fits)", read(fd, buf, 79));
	print_events(buf, 48);
	ioctl(fd, FIONREAD, &n);
	printf("FIONREAD: %d\n", n);
	long r = read(fd, buf, sizeof buf);
	printf("read rest: %ld\n", r);
	if (r > 0)
		print_events(buf, r);
	CHECK("read empty", read(fd, buf, sizeof buf));
	unlink("x");
	unlink("a_name_of_16_chr");
	unlink("a_name_of_15_ch");
	close(fd);
}

static void test_readiness(void) {
	printf("== readiness\n");
	int fd = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd, ".", IN_CREATE | IN_DELETE);
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	CHECK("poll empty", poll(&p, 1, 0));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 7}, out;
	CHECK("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK("epoll_wait empty", epoll_wait(ep, &out, 1, 0));
	touch("y");
	CHECK("poll", poll(&p, 1, 0));
	printf("revents: 0x%x\n", p.revents);
	CHECK("epoll_wait", epoll_wait(ep, &out, 1, 0));
	printf("events 0x%x data %u\n", out.events, out.data.u32);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	struct timeval tv = {0, 0};
	CHECK("select", select(fd + 1, &rs, NULL, NULL, &tv));
	// Edge-triggered: a new event is a new edge.
	unlink("y");
	CHECK("epoll_wait after another event", epoll_wait(ep, &out, 1, 0));
	drain(fd, "events");
	CHECK("poll drained", poll(&p, 1, 0));
	// A blocking poll woken by an event from another process.
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
		touch("z");
		_exit(0);
	}
	CHECK("poll wait", poll(&p, 1, 5000));
	waitpid(pid, NULL, 0);
	drain(fd, "woken by");
	close(ep);
	close(fd);

	// A blocking read waits for an event...
	fd = inotify_init1(0);
	inotify_add_watch(fd, ".", IN_DELETE);
	pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
		unlink("z");
		_exit(0);
	}
	char buf[256] __attribute__((aligned(8)));
	long r = read(fd, buf, sizeof buf);
	printf("blocking read: %ld\n", r);
	print_events(buf, r);
	waitpid(pid, NULL, 0);
	// ...and is interrupted by a signal.
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("blocking read, signal", read(fd, buf, sizeof buf));
	// With SA_RESTART the read goes on after the handler, and gets the next event.
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 150000000};
		nanosleep(&ts, NULL);
		touch("d");
		unlink("d");
		_exit(0);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	r = read(fd, buf, sizeof buf);
	printf("restarted read: %ld\n", r);
	print_events(buf, r);
	waitpid(pid, NULL, 0);
	close(fd);
}

static void test_overflow(void) {
	printf("== overflow\n");
	int fd = inotify_init1(IN_NONBLOCK);
	touch("ov");
	int f = open("ov", O_RDWR);
	inotify_add_watch(fd, "ov", IN_MODIFY | IN_ACCESS);
	char c = 'x';
	for (int i = 0; i < 8200; i++) {
		pwrite(f, &c, 1, 0);
		pread(f, &c, 1, 0);
	}
	int n = -1;
	ioctl(fd, FIONREAD, &n);
	printf("FIONREAD: %d\n", n);
	static char buf[16 * 17000] __attribute__((aligned(8)));
	long total = 0, events = 0;
	struct inotify_event last = {0};
	for (;;) {
		long r = read(fd, buf, sizeof buf);
		if (r <= 0)
			break;
		for (long off = 0; off < r;) {
			struct inotify_event *e = (void *)(buf + off);
			last = *e;
			events++;
			off += sizeof *e + e->len;
		}
		total += r;
	}
	printf("events: %ld bytes: %ld last: wd=%d ", events, total, last.wd);
	print_mask(last.mask);
	printf("\n");
	pwrite(f, &c, 1, 0);
	drain(fd, "after the overflow");
	close(f);
	close(fd);
	unlink("ov");
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	test_init();
	test_errors();
	test_events();
	test_flags();
	test_open_unlinked();
	test_read();
	test_readiness();
	test_overflow();
	cleanup();
	return 0;
}
