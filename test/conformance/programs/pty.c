// pty: pseudo-terminals. posix_openpt, grantpt, unlockpt, ptsname, TIOCGPTPEER;
// termios round trips; the line discipline (canonical editing, echo, ECHOCTL, ECHONL,
// ONLCR, ICRNL, raw mode with VMIN and VTIME); ISIG's SIGINT to the foreground group;
// window sizes and SIGWINCH; controlling terminals (setsid and open, TIOCSCTTY,
// /dev/tty, TIOCNOTTY, tcgetpgrp, tcsetpgrp, tcgetsid); job control on a background
// reader and writer; the hang-up when the master is closed; readiness; error paths.
// Everything that needs a session runs in a child that starts its own, and reports
// through its exit status or a pipe, so that the output is the same wherever the
// program runs.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

static void show(const char *what, const char *buf, long n) {
	if (n < 0) {
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: %ld \"", what, n);
	for (long i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == '\n')
			printf("\\n");
		else if (c == '\r')
			printf("\\r");
		else if (c == '\b')
			printf("\\b");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

static int master, slave;

// settle waits up to ms for fd to be readable: Linux hands a pty's data to the other
// side asynchronously.
static void settle(int fd, int ms) {
	struct pollfd p = {fd, POLLIN, 0};
	poll(&p, 1, ms);
}

// drain reads what the master has until it has been quiet for a while, and shows it.
static void drain(const char *what) {
	char buf[256];
	long n = 0;
	int fl = fcntl(master, F_GETFL);
	fcntl(master, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		settle(master, 40);
		long r = read(master, buf + n, sizeof buf - n);
		if (r <= 0)
			break;
		n += r;
	}
	fcntl(master, F_SETFL, fl);
	show(what, buf, n);
}

// input writes s to the master and shows what the slave reads (nonblocking).
static void input(const char *what, const char *s) {
	char buf[256];
	write(master, s, strlen(s));
	settle(slave, 300);
	int fl = fcntl(slave, F_GETFL);
	fcntl(slave, F_SETFL, fl | O_NONBLOCK);
	long n = read(slave, buf, sizeof buf);
	fcntl(slave, F_SETFL, fl);
	show(what, buf, n);
}

static void setflags(int iflag_on, int iflag_off, int oflag_on, int oflag_off, int lflag_on, int lflag_off) {
	struct termios t;
	tcgetattr(slave, &t);
	t.c_iflag = (t.c_iflag | iflag_on) & ~iflag_off;
	t.c_oflag = (t.c_oflag | oflag_on) & ~oflag_off;
	t.c_lflag = (t.c_lflag | lflag_on) & ~lflag_off;
	tcsetattr(slave, TCSANOW, &t);
}

static void openpair(void) {
	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECKOK("posix_openpt", master);
	CHECK("grantpt", grantpt(master));
	char *name = ptsname(master);
	printf("ptsname is under /dev/pts/: %d\n", name && strncmp(name, "/dev/pts/", 9) == 0);
	int lock = -1;
	CHECK("TIOCGPTLCK", ioctl(master, TIOCGPTLCK, &lock));
	printf("locked: %d\n", lock);
	CHECK("open the slave while locked", open(name, O_RDWR | O_NOCTTY));
	CHECK("TIOCGPTPEER while locked", ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	CHECK("unlockpt", unlockpt(master));
	CHECK("TIOCGPTLCK", ioctl(master, TIOCGPTLCK, &lock));
	printf("locked: %d\n", lock);
	slave = open(name, O_RDWR | O_NOCTTY);
	CHECKOK("open the slave", slave);
	printf("isatty master %d slave %d /dev/null %d\n", isatty(master), isatty(slave),
	       isatty(open("/dev/null", O_RDONLY)));
	char *tn = ttyname(slave);
	printf("ttyname of the slave is ptsname: %d\n", tn && strcmp(tn, name) == 0);
	struct stat a, b;
	fstat(slave, &a);
	stat(name, &b);
	printf("slave is a character device %d, same as its name %d\n", S_ISCHR(a.st_mode),
	       a.st_rdev == b.st_rdev && a.st_ino == b.st_ino);
	unsigned n1, n2;
	ioctl(master, TIOCGPTN, &n1);
	int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	CHECKOK("TIOCGPTPEER", peer);
	fstat(peer, &b);
	printf("the peer is the slave %d\n", a.st_rdev == b.st_rdev);
	CHECK("TIOCGPTN on the slave", ioctl(slave, TIOCGPTN, &n2));
	CHECK("TIOCGPTPEER on the slave", ioctl(slave, TIOCGPTPEER, O_RDWR));
	CHECK("TIOCGPTN bad address", ioctl(master, TIOCGPTN, (void *)8));
	close(peer);
}

static void termios(void) {
	struct termios t, m;
	memset(&t, 0, sizeof t);
	memset(&m, 0, sizeof m);
	CHECK("tcgetattr slave", tcgetattr(slave, &t));
	printf("slave iflag %#o oflag %#o cflag %#o lflag %#o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
	printf("cc intr %d quit %d erase %d kill %d eof %d time %d min %d susp %d eol %d\n",
	       t.c_cc[VINTR], t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF],
	       t.c_cc[VTIME], t.c_cc[VMIN], t.c_cc[VSUSP], t.c_cc[VEOL]);
	CHECK("tcgetattr master", tcgetattr(master, &m));
	printf("the master shows the slave's: %d\n", memcmp(&t, &m, sizeof t) == 0);
	t.c_lflag &= ~ECHO;
	t.c_cc[VERASE] = 8;
	CHECK("tcsetattr TCSANOW", tcsetattr(slave, TCSANOW, &t));
	tcgetattr(slave, &m);
	printf("round trip: lflag %#o erase %d\n", m.c_lflag, m.c_cc[VERASE]);
	t.c_lflag |= ECHO;
	t.c_cc[VERASE] = 0x7f;
	t.c_cflag = (t.c_cflag & ~CSIZE) | CS7;
	CHECK("tcsetattr TCSADRAIN through the master", tcsetattr(master, TCSADRAIN, &t));
	tcgetattr(slave, &m);
	printf("round trip: lflag %#o erase %d cs8 %d\n", m.c_lflag, m.c_cc[VERASE], (m.c_cflag & CSIZE) == CS8);
	CHECK("tcsetattr TCSAFLUSH", tcsetattr(slave, TCSAFLUSH, &t));
	CHECK("tcsetattr bad how", tcsetattr(slave, 9, &t));
	CHECK("TCGETS bad address", ioctl(slave, TCGETS, (void *)8));
	CHECK("TCSETS bad address", ioctl(slave, TCSETS, (void *)8));
	CHECK("tcgetattr /dev/null", tcgetattr(open("/dev/null", O_RDONLY), &t));
	CHECK("tcflush bad queue", tcflush(slave, 7));
	CHECK("TIOCOUTQ", ({ int n = -1; ioctl(slave, TIOCOUTQ, &n) ? -1 : n; }));
	CHECK("tcdrain", tcdrain(slave));
	CHECK("tcsendbreak", tcsendbreak(master, 0));
	CHECK("TIOCGETD", ({ int d = -1; ioctl(slave, TIOCGETD, &d) ? -1 : d; }));
}

static void canonical(void) {
	int n;
	input("erase", "abc\x7f" "d\n");
	drain("  echo");
	input("kill", "xyz\x15q\n");
	drain("  echo");
	input("eof after text", "hi\x04");
	input("eof alone", "\x04");
	drain("  echo");
	input("control characters", "\x01\t\n");
	drain("  echo");
	input("no line yet", "par");
	ioctl(slave, FIONREAD, &n);
	printf("  FIONREAD %d\n", n);
	input("the rest of the line", "tial\n");
	drain("  echo");
	write(master, "one\ntwo\n", 8);
	settle(slave, 300);
	usleep(20000);
	ioctl(slave, FIONREAD, &n);
	printf("two lines: FIONREAD %d\n", n);
	char buf[16];
	show("  first read", buf, read(slave, buf, sizeof buf));
	show("  short read", buf, read(slave, buf, 2));
	show("  the rest", buf, read(slave, buf, sizeof buf));
	drain("  echo");
	write(master, "ab\n", 3);
	settle(slave, 300);
	CHECK("tcflush TCIFLUSH", tcflush(slave, TCIFLUSH));
	ioctl(slave, FIONREAD, &n);
	printf("  FIONREAD after the flush %d\n", n);
	drain("  echo");

	setflags(0, 0, 0, 0, ECHONL, ECHO);
	input("ECHONL without ECHO", "ab\n");
	drain("  echo");
	setflags(0, 0, 0, 0, ECHO, ECHONL | ECHOE | ECHOKE);
	input("no ECHOE, no ECHOKE", "ab\x7f" "c\x15" "d\n");
	drain("  echo");
	setflags(0, 0, 0, 0, ECHOE | ECHOKE, ECHOCTL);
	input("no ECHOCTL", "\x01\n");
	drain("  echo");
	setflags(0, 0, 0, 0, ECHOCTL, 0);
	input("erase of a control character", "a\x01\x7f\n");
	drain("  echo");

	setflags(IGNCR, 0, 0, 0, 0, 0);
	input("IGNCR", "a\rb\n");
	setflags(0, IGNCR | ICRNL, 0, 0, 0, 0);
	input("no ICRNL", "a\rb\n");
	setflags(INLCR, 0, 0, 0, 0, ICANON);
	input("INLCR, raw", "a\n");
	setflags(ICRNL, INLCR, 0, 0, ICANON, 0);
	drain("  echo");
}

static void output(void) {
	write(slave, "a\nb", 3);
	drain("ONLCR");
	int n;
	write(slave, "xyz", 3);
	settle(master, 300);
	usleep(20000);
	ioctl(master, FIONREAD, &n);
	printf("master FIONREAD %d\n", n);
	drain("  then");
	setflags(0, 0, OCRNL, ONLCR, 0, 0);
	write(slave, "a\rb\n", 4);
	drain("OCRNL");
	setflags(0, 0, ONLCR, OPOST | OCRNL, 0, 0);
	write(slave, "a\nb", 3);
	drain("no OPOST");
	setflags(0, 0, OPOST, 0, 0, 0);
	write(slave, "keep", 4);
	settle(master, 300);
	CHECK("tcflush TCIFLUSH on the master", tcflush(master, TCIFLUSH));
	drain("after the flush");
}

static void setraw(int vmin, int vtime) {
	struct termios t;
	tcgetattr(slave, &t);
	cfmakeraw(&t);
	t.c_cc[VMIN] = vmin;
	t.c_cc[VTIME] = vtime;
	tcsetattr(slave, TCSANOW, &t);
}

static int readable(int fd) {
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	return p.revents;
}

static void raw(void) {
	struct termios saved;
	tcgetattr(slave, &saved);
	char buf[16];
	setraw(1, 0);
	write(master, "he\x7fllo\x03\n", 8);
	show("raw VMIN 1", buf, read(slave, buf, sizeof buf));
	drain("  no echo");
	setraw(0, 0);
	show("raw VMIN 0 VTIME 0, nothing there", buf, read(slave, buf, sizeof buf));
	setraw(0, 1);
	show("raw VMIN 0 VTIME 1, nothing there", buf, read(slave, buf, sizeof buf));
	setraw(3, 0);
	write(master, "ab", 2);
	usleep(50000);
	printf("VMIN 3 with 2 bytes: slave poll %#x\n", readable(slave));
	write(master, "cd", 2);
	settle(slave, 300);
	printf("VMIN 3 with 4 bytes: slave poll %#x\n", readable(slave));
	show("  read", buf, read(slave, buf, sizeof buf));
	setraw(5, 1);
	write(master, "xy", 2);
	show("VMIN 5 VTIME 1, 2 bytes then a pause", buf, read(slave, buf, sizeof buf));
	int fl = fcntl(slave, F_GETFL);
	fcntl(slave, F_SETFL, fl | O_NONBLOCK);
	setraw(1, 0);
	show("nonblocking, nothing there", buf, read(slave, buf, sizeof buf));
	fcntl(slave, F_SETFL, fl);
	tcsetattr(slave, TCSANOW, &saved);
	printf("readiness: master %#x slave %#x\n", readable(master), readable(slave));
	write(master, "q\n", 2);
	settle(slave, 300);
	usleep(30000); // the echo reaches the master asynchronously on Linux
	write(slave, "z", 1);
	usleep(30000);
	printf("with data: master %#x slave %#x\n", readable(master), readable(slave));
	read(slave, buf, sizeof buf);
	drain("  drained");

	// epoll on the master, select on the slave, each woken by the other side.
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, master, &ev);
	CHECK("epoll_wait on an empty master", epoll_wait(ep, &out, 1, 0));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		usleep(50000);
		write(slave, "e", 1);
		usleep(50000);
		write(master, "s\n", 2);
		_exit(0);
	}
	int n = epoll_wait(ep, &out, 1, 5000);
	printf("epoll_wait woken by the slave's write: %d events %#x data %u\n", n, out.events, out.data.u32);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(slave, &rd);
	n = select(slave + 1, &rd, NULL, NULL, &(struct timeval){5, 0});
	printf("select woken by the master's write: %d, slave set %d\n", n, FD_ISSET(slave, &rd));
	waitpid(c, NULL, 0);
	read(slave, buf, sizeof buf);
	drain("  drained");
	close(ep);
}

// bulk: 200000 bytes written to the master in raw mode by a child, read from the slave
// by the parent: every byte arrives, in order (a writer ahead of the reader waits).
static void bulk(void) {
	struct termios saved;
	tcgetattr(slave, &saved);
	setraw(1, 0);
	enum { total = 200000 };
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		static char data[total];
		for (int i = 0; i < total; i++)
			data[i] = 'a' + i % 23;
		long n = 0;
		while (n < total) {
			ssize_t w = write(master, data + n, total - n);
			if (w <= 0)
				_exit(1);
			n += w;
		}
		_exit(0);
	}
	long got = 0, bad = 0;
	char buf[8192];
	while (got < total) {
		struct pollfd p = {slave, POLLIN, 0};
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t r = read(slave, buf, sizeof buf);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			bad += buf[i] != 'a' + (got + i) % 23;
		got += r;
	}
	int st;
	waitpid(c, &st, 0);
	printf("bulk input: %ld of %d bytes, %ld out of order, writer exit %d\n", got, total, bad, WEXITSTATUS(st));
	tcsetattr(slave, TCSANOW, &saved);
}

static volatile int got_int, got_winch, got_hup, got_cont;
static void on_sig(int sig) {
	if (sig == SIGINT)
		got_int++;
	if (sig == SIGWINCH)
		got_winch++;
	if (sig == SIGHUP)
		got_hup++;
	if (sig == SIGCONT)
		got_cont++;
}

static void handle(int sig) {
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sigaction(sig, &sa, NULL);
}

// child forks fn in a new session; fn's result is the exit status, shown by the
// parent with what.
static void child(const char *what, int (*fn)(void)) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		_exit(fn());
	}
	int st;
	waitpid(c, &st, 0);
	if (WIFEXITED(st))
		printf("%s: exit %d\n", what, WEXITSTATUS(st));
	else
		printf("%s: signal %d\n", what, WTERMSIG(st));
}

static char name[64];

// report prints from a child (flushed: the parent waits for it).
#define report(...) (printf(__VA_ARGS__), fflush(stdout))

static int ctty(void) {
	report("  no controlling terminal: /dev/tty %s\n", open("/dev/tty", O_RDWR) < 0 ? strerrorname_np(errno) : "opened");
	report("  tcgetpgrp of a terminal that is not ours: %s\n", tcgetpgrp(slave) < 0 ? strerrorname_np(errno) : "ok");
	report("  tcgetsid: %s\n", tcgetsid(slave) < 0 ? strerrorname_np(errno) : "ok");
	report("  TIOCNOTTY: %s\n", ioctl(slave, TIOCNOTTY) < 0 ? strerrorname_np(errno) : "ok");
	report("  TIOCSCTTY on a write-only description: %s\n",
	       ioctl(open(name, O_WRONLY | O_NOCTTY), TIOCSCTTY, 0) < 0 ? strerrorname_np(errno) : "ok");
	int r = ioctl(slave, TIOCSCTTY, 0);
	report("  TIOCSCTTY: %d\n", r);
	report("  again: %d\n", ioctl(slave, TIOCSCTTY, 0));
	report("  tcgetpgrp is ours %d, tcgetsid is ours %d\n", tcgetpgrp(slave) == getpgrp(), tcgetsid(slave) == getsid(0));
	pid_t pg = -1;
	report("  tcgetpgrp through the master is ours %d\n", ioctl(master, TIOCGPGRP, &pg) == 0 && pg == getpgrp());
	int fd = open("/dev/tty", O_RDWR);
	report("  /dev/tty opened %d, is a tty %d\n", fd >= 0, isatty(fd));
	char link[64] = "";
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	readlink(path, link, sizeof link - 1);
	report("  /dev/tty's fd links to %s\n", link);
	write(fd, "via tty\n", 8);
	drain("  written through /dev/tty");
	report("  tcsetpgrp to a group that does not exist: %s\n", tcsetpgrp(slave, 999999) < 0 ? strerrorname_np(errno) : "ok");
	report("  tcsetpgrp to a group of another session: %s\n", tcsetpgrp(slave, getppid()) < 0 ? strerrorname_np(errno) : "ok");
	report("  tcsetpgrp negative: %s\n", tcsetpgrp(slave, -2) < 0 ? strerrorname_np(errno) : "ok");
	report("  TIOCNOTTY on the master: %s\n", ioctl(master, TIOCNOTTY) < 0 ? strerrorname_np(errno) : "ok");
	// A child in our session, not its leader.
	pid_t c = fork();
	if (c == 0) {
		int notleader = ioctl(slave, TIOCSCTTY, 0) < 0 ? errno : 0;
		int nottyerr = ioctl(slave, TIOCNOTTY);
		int after = tcgetpgrp(slave) < 0 ? errno : 0;
		_exit((notleader == EPERM) + 2 * (nottyerr == 0) + 4 * (after == ENOTTY));
	}
	int st;
	waitpid(c, &st, 0);
	report("  a member's TIOCSCTTY is EPERM, its TIOCNOTTY drops the terminal for itself: %d\n", WEXITSTATUS(st));
	report("  still ours: %d\n", tcgetpgrp(slave) == getpgrp());
	// A new session in a child can't take the terminal.
	c = fork();
	if (c == 0) {
		setsid();
		_exit(ioctl(slave, TIOCSCTTY, 0) < 0 ? errno : 0);
	}
	waitpid(c, &st, 0);
	report("  another session's TIOCSCTTY: %s\n", strerrorname_np(WEXITSTATUS(st)));
	handle(SIGHUP);
	handle(SIGCONT);
	report("  TIOCNOTTY: %d\n", ioctl(slave, TIOCNOTTY));
	report("  SIGHUP %d SIGCONT %d\n", got_hup, got_cont);
	report("  after it, /dev/tty: %s\n", open("/dev/tty", O_RDWR) < 0 ? strerrorname_np(errno) : "opened");
	report("  tcgetsid through the master: %s\n", ioctl(master, TIOCGSID, &pg) < 0 ? strerrorname_np(errno) : "ok");
	return 0;
}

// open_ctty: opening the slave without O_NOCTTY makes it the controlling terminal.
static int open_ctty(void) {
	int fd = open(name, O_RDWR);
	report("  tcgetpgrp after an open is ours: %d\n", tcgetpgrp(fd) == getpgrp());
	int other = posix_openpt(O_RDWR);
	unlockpt(other);
	int fd2 = open(ptsname(other), O_RDWR);
	report("  a second terminal does not replace it: %s\n", tcgetpgrp(fd2) < 0 ? strerrorname_np(errno) : "ok");
	return 0;
}

// block blocks sig, so that a later sigsuspend can't miss it.
static void block(int sig) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static int sigint(void) {
	ioctl(slave, TIOCSCTTY, 0);
	handle(SIGINT);
	handle(SIGWINCH);
	block(SIGINT);
	block(SIGWINCH);
	sigset_t none;
	sigemptyset(&none);
	write(master, "abc\x03", 4);
	while (!got_int)
		sigsuspend(&none);
	int n = -1;
	ioctl(slave, FIONREAD, &n);
	report("  SIGINT %d, input flushed: FIONREAD %d\n", got_int, n);
	drain("  echo");
	setflags(0, 0, 0, 0, 0, ISIG);
	write(master, "\x03\n", 2);
	char buf[8];
	show("  without ISIG", buf, read(slave, buf, sizeof buf));
	setflags(0, 0, 0, 0, ISIG, 0);
	drain("  echo");

	struct winsize ws = {24, 80, 0, 0}, got;
	ioctl(master, TIOCSWINSZ, &ws);
	while (!got_winch)
		sigsuspend(&none);
	ioctl(slave, TIOCGWINSZ, &got);
	report("  SIGWINCH %d, size %dx%d\n", got_winch, got.ws_row, got.ws_col);
	sigprocmask(SIG_SETMASK, &none, NULL);
	ioctl(master, TIOCSWINSZ, &ws);
	ioctl(slave, TIOCSWINSZ, &ws);
	usleep(50000);
	report("  the same size again: SIGWINCH %d\n", got_winch);
	// Another foreground group: ^C goes there, not to us.
	int ready[2];
	pipe(ready);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGINT, SIG_DFL);
		setpgid(0, 0);
		write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	setpgid(c, c);
	char r;
	read(ready[0], &r, 1);
	report("  tcsetpgrp to the child's group: %d\n", tcsetpgrp(slave, c));
	write(master, "\x03", 1);
	int st;
	waitpid(c, &st, 0);
	report("  the foreground child: signaled %d by SIGINT %d; we got %d\n", WIFSIGNALED(st), WTERMSIG(st) == SIGINT, got_int);
	report("  tcgetpgrp: the gone group %d\n", tcgetpgrp(slave) == c);
	tcsetpgrp(slave, getpgrp());
	drain("  echo");
	return 0;
}

// background: a process outside the foreground group reads (SIGTTIN) and writes with
// TOSTOP (SIGTTOU).
static int background(void) {
	ioctl(slave, TIOCSCTTY, 0);
	signal(SIGTTOU, SIG_IGN);
	for (int i = 0; i < 4; i++) {
		pid_t c = fork();
		if (c == 0) {
			setpgid(0, 0);
			char b;
			if (i == 0)
				_exit(read(slave, &b, 1) < 0 ? errno : 0);
			if (i == 1) {
				signal(SIGTTIN, SIG_IGN);
				_exit(read(slave, &b, 1) < 0 ? errno : 0);
			}
			signal(SIGTTOU, SIG_DFL);
			if (i == 2)
				_exit(write(slave, "w", 1) < 0 ? errno : 0);
			setflags(0, 0, 0, 0, TOSTOP, 0);
			_exit(write(slave, "w", 1) < 0 ? errno : 99);
		}
		setpgid(c, c);
		int st;
		waitpid(c, &st, WUNTRACED);
		const char *what[] = {"background read", "background read ignoring SIGTTIN",
				      "background write", "background TCSETS"};
		if (WIFSTOPPED(st)) {
			report("  %s: stopped by %s\n", what[i], sigabbrev_np(WSTOPSIG(st)));
			kill(c, SIGKILL);
			waitpid(c, &st, 0);
		} else {
			report("  %s: exit %s\n", what[i], WEXITSTATUS(st) ? strerrorname_np(WEXITSTATUS(st)) : "0");
		}
	}
	drain("  output");
	// TOSTOP set by the foreground; a background writer stops.
	setflags(0, 0, 0, 0, TOSTOP, 0);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGTTOU, SIG_DFL);
		_exit(write(slave, "w", 1) < 0 ? errno : 0);
	}
	setpgid(c, c);
	int st;
	waitpid(c, &st, WUNTRACED);
	report("  background write with TOSTOP: stopped %d by SIGTTOU %d\n", WIFSTOPPED(st), WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTOU);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	// An orphaned background group: EIO instead of a stop. The grandchild's group
	// has no member with a parent in this session once its parent is gone.
	int res[2];
	pipe(res);
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		pid_t parent = getpid();
		if (fork() == 0) {
			while (getppid() == parent)
				usleep(1000);
			signal(SIGTTOU, SIG_DFL);
			char b;
			int e[2];
			e[0] = read(slave, &b, 1) < 0 ? errno : 0;
			e[1] = write(slave, "w", 1) < 0 ? errno : 0;
			write(res[1], e, sizeof e);
			_exit(0);
		}
		_exit(0);
	}
	waitpid(c, &st, 0);
	int e[2] = {-1, -1};
	read(res[0], e, sizeof e);
	report("  orphaned background group: read %s, write with TOSTOP %s\n", strerrorname_np(e[0]), strerrorname_np(e[1]));
	setflags(0, 0, 0, 0, 0, TOSTOP);
	return 0;
}

// hangup: the master's close hangs up the slave.
static int hangup(void) {
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	unlockpt(m);
	char *n = ptsname(m);
	int s = open(n, O_RDWR);
	handle(SIGHUP);
	handle(SIGCONT);
	report("  controlling: %d\n", tcgetpgrp(s) == getpgrp());
	pid_t c = fork();
	if (c == 0) { // a member of the session: it is not signalled
		close(m);
		signal(SIGHUP, SIG_DFL);
		for (;;)
			pause();
	}
	char buf[8];
	block(SIGHUP);
	close(m);
	sigset_t none;
	sigemptyset(&none);
	while (!got_hup)
		sigsuspend(&none);
	report("  after the master's close: SIGHUP %d SIGCONT %d\n", got_hup, got_cont);
	long r = read(s, buf, sizeof buf);
	report("  read: %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	report("  write: %s\n", write(s, "x", 1) < 0 ? strerrorname_np(errno) : "ok");
	report("  tcgetattr: %s\n", tcgetattr(s, &(struct termios){0}) < 0 ? strerrorname_np(errno) : "ok");
	report("  tcsetpgrp: %s\n", tcsetpgrp(s, getpgrp()) < 0 ? strerrorname_np(errno) : "ok");
	struct pollfd p = {s, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	report("  poll %#x\n", p.revents);
	report("  open the slave again: %s\n", open(n, O_RDWR) < 0 ? strerrorname_np(errno) : "ok");
	report("  /dev/tty: %s\n", open("/dev/tty", O_RDWR) < 0 ? strerrorname_np(errno) : "opened");
	int st;
	report("  the member is alive: %d\n", waitpid(c, &st, WNOHANG) == 0);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	return 0;
}

static void slaveclose(void) {
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	write(s, "bye", 3);
	close(s);
	char buf[8];
	show("master read after the slave's close", buf, read(m, buf, sizeof buf));
	show("  again", buf, read(m, buf, sizeof buf));
	struct pollfd p = {m, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	printf("  poll %#x\n", p.revents);
	close(m);
}

int main(void) {
	openpair();
	strcpy(name, ptsname(master));
	termios();
	canonical();
	output();
	raw();
	bulk();
	child("controlling terminal", ctty);
	child("open makes it controlling", open_ctty);
	child("ISIG and window size", sigint);
	child("background", background);
	child("hang-up", hangup);
	slaveclose();
	CHECK("open /dev/pts/9999", open("/dev/pts/9999", O_RDWR));
	CHECK("TIOCGPTN on /dev/null", ioctl(open("/dev/null", O_RDONLY), TIOCGPTN, &(int){0}));
	CHECK("TIOCSWINSZ bad address", ioctl(master, TIOCSWINSZ, (void *)8));
	return 0;
}
