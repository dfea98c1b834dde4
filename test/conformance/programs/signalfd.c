// signalfd: signalfd and signalfd4 reading blocked pending signals as struct
// signalfd_siginfo (kill, tgkill, SIGCHLD from a child), several per read lowest first,
// a blocking read woken by another process's kill, poll and epoll readiness, replacing
// the mask, SFD_NONBLOCK/SFD_CLOEXEC, and the errors.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>

static void on_alarm(int sig) { (void)sig; }

static void show(const char *what, struct signalfd_siginfo *si, pid_t pid) {
	printf("%s: signo %s code %d pid matches %d uid %u\n", what, sigabbrev_np(si->ssi_signo),
	       si->ssi_code, (pid_t)si->ssi_pid == pid, si->ssi_uid);
}

int main(void) {
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigset_t usr;
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);

	// Errors, in the kernel's order of checks.
	CHECK("bad flags", syscall(SYS_signalfd4, -1, &usr, 8, 0x1));
	CHECK("bad size", syscall(SYS_signalfd4, -1, &usr, 4, 0));
	CHECK("bad size and flags", syscall(SYS_signalfd4, -1, &usr, 4, 0x1));
	CHECK("bad mask pointer", syscall(SYS_signalfd4, -1, (void *)8, 8, 0));
	CHECK("bad mask pointer, bad fd", syscall(SYS_signalfd4, -5, (void *)8, 8, 0));
	CHECK("bad fd", syscall(SYS_signalfd4, -2, &usr, 8, 0));
	CHECK("closed fd", syscall(SYS_signalfd4, 100, &usr, 8, 0));
	CHECK("not a signalfd", syscall(SYS_signalfd4, 0, &usr, 8, 0));
	CHECK("signalfd bad size", syscall(SYS_signalfd, -1, &usr, 16));

	int fd = signalfd(-1, &usr, SFD_NONBLOCK | SFD_CLOEXEC);
	printf("created %d cloexec %d nonblock %d rdwr %d\n", fd >= 0, fcntl(fd, F_GETFD) & FD_CLOEXEC,
	       (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	char link[64], path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t ln = readlink(path, link, sizeof link - 1);
	link[ln < 0 ? 0 : ln] = 0;
	printf("/proc/self/fd: %s\n", link);
	struct signalfd_siginfo si[4];
	CHECK("read nothing pending", read(fd, si, sizeof si));
	CHECK("short read", read(fd, si, sizeof si[0] - 1));
	CHECK("write", write(fd, si, sizeof si[0]));
	CHECK("lseek", lseek(fd, 0, SEEK_SET));
	struct pollfd p = {fd, POLLIN, 0};
	CHECK("poll nothing pending", poll(&p, 1, 0));

	kill(getpid(), SIGUSR1);
	CHECK("poll after kill", poll(&p, 1, 0));
	printf("  revents %#x\n", p.revents);
	CHECK("read", read(fd, si, sizeof si));
	show("  kill", &si[0], getpid());
	sigset_t pend;
	sigpending(&pend);
	printf("  still pending %d\n", sigismember(&pend, SIGUSR1));

	// Several per read, lowest number first; a short buffer takes what fits.
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	CHECK("read two", read(fd, si, sizeof si));
	printf("  %s %s\n", sigabbrev_np(si[0].ssi_signo), sigabbrev_np(si[1].ssi_signo));
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	CHECK("read one of two", read(fd, si, sizeof si[0] + 10));
	printf("  %s\n", sigabbrev_np(si[0].ssi_signo));
	CHECK("read the other", read(fd, si, sizeof si));
	printf("  %s\n", sigabbrev_np(si[0].ssi_signo));

	// tgkill fills pid and uid too (SI_TKILL).
	syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);
	CHECK("read tgkill", read(fd, si, sizeof si));
	show("  tgkill", &si[0], getpid());

	// Replacing the mask: SIGUSR1 is no longer read and stays pending.
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	printf("replace mask returns the fd %d\n", signalfd(fd, &only2, 0) == fd);
	printf("  flags kept: nonblock %d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	kill(getpid(), SIGUSR1);
	CHECK("  read", read(fd, si, sizeof si));
	sigpending(&pend);
	printf("  SIGUSR1 pending %d\n", sigismember(&pend, SIGUSR1));
	signalfd(fd, &usr, 0);
	CHECK("  read with SIGUSR1 back", read(fd, si, sizeof si));

	// SIGCHLD from a child's exit.
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int cfd = signalfd(-1, &chld, 0);
	pid_t c = fork();
	if (c == 0)
		_exit(3);
	CHECK("read SIGCHLD", read(cfd, si, sizeof si));
	show("  child", &si[0], c);
	printf("  status %d\n", si[0].ssi_status);
	waitpid(c, NULL, 0);

	// A blocking read waits for another process's kill; epoll sees it coming.
	int bfd = signalfd(-1, &usr, 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {.u32 = 9}}, got;
	epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ev);
	CHECK("epoll_wait nothing pending", epoll_wait(ep, &got, 1, 0));
	pid_t parent = getpid();
	c = fork();
	if (c == 0) {
		usleep(20000);
		kill(parent, SIGUSR2);
		_exit(0);
	}
	CHECK("epoll_wait", epoll_wait(ep, &got, 1, 5000));
	printf("  events %#x data %u\n", got.events, got.data.u32);
	CHECK("blocking read", read(bfd, si, sizeof si));
	show("  from child", &si[0], c);
	waitpid(c, NULL, 0);
	read(cfd, si, sizeof si); // the child's SIGCHLD

	// Readiness and reads are the caller's: a forked child doesn't see its parent's
	// pending signal through the inherited signalfd.
	kill(getpid(), SIGUSR1);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		struct pollfd cp = {bfd, POLLIN, 0};
		CHECK("child: poll with the parent's signal pending", poll(&cp, 1, 0));
		kill(getpid(), SIGUSR2);
		CHECK("child: poll with its own", poll(&cp, 1, 0));
		CHECK("child: read", read(bfd, si, sizeof si));
		show("  child's", &si[0], getpid());
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	read(cfd, si, sizeof si); // the child's SIGCHLD
	CHECK("parent: read", read(bfd, si, sizeof si));
	printf("  %s\n", sigabbrev_np(si[0].ssi_signo));

	// An unblocked signal with a handler interrupts a blocking read.
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("blocking read interrupted", read(bfd, si, sizeof si));
	CHECK("read bad buffer", (kill(getpid(), SIGUSR1), read(bfd, (void *)8, sizeof si)));
	return 0;
}
