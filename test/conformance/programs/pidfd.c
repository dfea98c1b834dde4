// pidfds: pidfd_open (flags, PIDFD_NONBLOCK, PIDFD_THREAD, ESRCH, EINVAL for a thread
// that does not lead its process), CLONE_PIDFD through clone and clone3 (and its
// errors), readiness in poll and epoll when the process exits and hang-up once it is
// reaped, the Pid: line of /proc/self/fdinfo, waitid(P_PIDFD) blocking and not,
// pidfd_send_signal (default siginfo, the caller's siginfo and its rules, the scopes,
// the errors) and pidfd_getfd (a descriptor of another process, EPERM for another
// user, EBADF, ESRCH).
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define PIDFD_NONBLOCK O_NONBLOCK
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static int pidfd_getfd(int fd, int target, unsigned flags) { return syscall(SYS_pidfd_getfd, fd, target, flags); }

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void readiness(const char *name, int fd, int timeout) {
	struct pollfd p = {fd, POLLIN, 0};
	int n = poll(&p, 1, timeout);
	printf("%s: poll %d%s%s\n", name, n, p.revents & POLLIN ? " IN" : "", p.revents & POLLHUP ? " HUP" : "");
}

// fdinfo prints the Pid: and NSpid: lines of fd's fdinfo, the PID shown as "pid" when
// it is want's.
static void fdinfo(const char *name, int fd, pid_t want) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	ssize_t n = f < 0 ? -1 : read(f, buf, sizeof buf - 1);
	if (f >= 0)
		close(f);
	if (n < 0) {
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
		return;
	}
	buf[n] = 0;
	char *p = strstr(buf, "Pid:\t"), *ns = strstr(buf, "NSpid:\t");
	int pid = p ? atoi(p + 5) : -2, nspid = ns ? atoi(ns + 7) : -2;
	printf("%s: Pid %s NSpid %s\n", name, pid == want ? "pid" : pid == -1 ? "-1" : "other",
	       nspid == want ? "pid" : nspid == -1 ? "-1" : "other");
}

static void waitfd(const char *name, int fd, int options) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	errno = 0;
	int r = waitid(P_PIDFD, fd, &si, options);
	if (r < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %d pid %s code %d status %d\n", name, r, si.si_pid ? "set" : "0", si.si_code, si.si_status);
}

static volatile sig_atomic_t thread_go;
static volatile pid_t thread_tid;

static void *thread_fn(void *arg) {
	(void)arg;
	thread_tid = gettid();
	while (!thread_go)
		sleep_ms(5);
	return NULL;
}

// child_waits forks a child that waits for a byte on a pipe, then exits with code.
static pid_t child_waits(int *wfd, int code) {
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		char c;
		read(p[0], &c, 1);
		_exit(code);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);

	// pidfd_open.
	CHECK("open bad flags", pidfd_open(getpid(), 1));
	CHECK("open pid 0", pidfd_open(0, 0));
	CHECK("open pid -1", pidfd_open(-1, 0));
	int self = pidfd_open(getpid(), 0);
	printf("open self: %s\n", self >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("F_GETFD", fcntl(self, F_GETFD));
	CHECK("F_GETFL", fcntl(self, F_GETFL));
	int selfnb = pidfd_open(getpid(), PIDFD_NONBLOCK);
	CHECK("F_GETFL nonblocking", fcntl(selfnb, F_GETFL));
	char link[64], target[64] = "";
	snprintf(link, sizeof link, "/proc/self/fd/%d", self);
	ssize_t ln = readlink(link, target, sizeof target - 1);
	printf("fd link: %s\n", ln > 0 ? target : strerrorname_np(errno));
	fdinfo("fdinfo self", self, getpid());
	readiness("self", self, 0);
	char buf[8];
	CHECK("read a pidfd", read(self, buf, sizeof buf));
	CHECK("send 0 to self", pidfd_send_signal(self, 0, NULL, 0));

	// A thread.
	pthread_t th;
	pthread_create(&th, NULL, thread_fn, NULL);
	while (!thread_tid)
		sleep_ms(5);
	CHECK("open a thread", pidfd_open(thread_tid, 0));
	int tfd = pidfd_open(thread_tid, PIDFD_THREAD);
	printf("open a thread with PIDFD_THREAD: %s\n", tfd >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("thread F_GETFL", fcntl(tfd, F_GETFL));
	fdinfo("thread fdinfo", tfd, thread_tid);
	readiness("live thread", tfd, 0);
	CHECK("send 0 to the thread", pidfd_send_signal(tfd, 0, NULL, 0));
	thread_go = 1;
	pthread_join(th, NULL);
	{
		struct pollfd p = {tfd, POLLIN, 0};
		int n = poll(&p, 1, 2000);
		printf("exited thread: poll %d%s\n", n, p.revents & POLLIN ? " IN" : "");
	}
	close(tfd);

	// A child: readiness, fdinfo, waitid(P_PIDFD).
	int wfd;
	pid_t pid = child_waits(&wfd, 7);
	int cfd = pidfd_open(pid, 0);
	int cnb = pidfd_open(pid, PIDFD_NONBLOCK);
	readiness("live child", cfd, 0);
	fdinfo("live child fdinfo", cfd, pid);
	waitfd("waitid nonblocking pidfd", cnb, WEXITED);
	waitfd("waitid nonblocking pidfd, WNOHANG", cnb, WEXITED | WNOHANG);
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {.u32 = 1}}, out;
	CHECK("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev));
	CHECK("epoll_wait live", epoll_wait(ep, &out, 1, 0));
	close(wfd);
	int n = epoll_wait(ep, &out, 1, 5000);
	printf("epoll_wait exit: %d%s\n", n, n == 1 && (out.events & EPOLLIN) ? " IN" : "");
	readiness("zombie", cfd, 0);
	fdinfo("zombie fdinfo", cfd, pid);
	CHECK("send 0 to a zombie", pidfd_send_signal(cfd, 0, NULL, 0));
	CHECK("send SIGTERM to a zombie", pidfd_send_signal(cfd, SIGTERM, NULL, 0));
	CHECK("getfd from a zombie", pidfd_getfd(cfd, 0, 0));
	waitfd("waitid WNOWAIT", cfd, WEXITED | WNOWAIT);
	waitfd("waitid", cfd, WEXITED);
	readiness("reaped", cfd, 0);
	fdinfo("reaped fdinfo", cfd, pid);
	waitfd("waitid again", cfd, WEXITED);
	CHECK("send to the reaped", pidfd_send_signal(cfd, 0, NULL, 0));
	CHECK("getfd from the reaped", pidfd_getfd(cfd, 0, 0));
	CHECK("open the reaped", pidfd_open(pid, 0));
	close(cfd);
	close(cnb);
	close(ep);

	// waitid(P_PIDFD) errors and blocking.
	CHECK("waitid bad fd", waitid(P_PIDFD, 99, NULL, WEXITED));
	CHECK("waitid not a pidfd", waitid(P_PIDFD, 1, NULL, WEXITED));
	CHECK("waitid negative", waitid(P_PIDFD, -1, NULL, WEXITED));
	waitfd("waitid on self", self, WEXITED | WNOHANG);
	pid = child_waits(&wfd, 9);
	cfd = pidfd_open(pid, 0);
	if (fork() == 0) {
		sleep_ms(100);
		close(wfd);
		_exit(0);
	}
	close(wfd);
	waitfd("waitid blocks", cfd, WEXITED);
	wait(NULL);
	close(cfd);

	// pidfd_send_signal.
	CHECK("send bad flags", pidfd_send_signal(self, 0, NULL, 8));
	CHECK("send two scopes", pidfd_send_signal(self, 0, NULL, 3));
	CHECK("send bad fd", pidfd_send_signal(99, 0, NULL, 0));
	CHECK("send to a pipe", pidfd_send_signal(1, 0, NULL, 0));
	CHECK("send signal 65", pidfd_send_signal(self, 65, NULL, 0));
	CHECK("send bad siginfo", pidfd_send_signal(self, SIGUSR1, (void *)8, 0));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sync[2];
	pipe(sync);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			siginfo_t si;
			int sig = sigwaitinfo(&set, &si);
			// The parent prints what the child saw, after its own line.
			char line[128] = "";
			snprintf(line, sizeof line, "child got %s code %d pid %s value %d\n",
				 sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2", si.si_code,
				 si.si_pid == getppid() ? "parent" : "other",
				 si.si_code == SI_QUEUE ? si.si_value.sival_int : 0);
			write(sync[1], line, sizeof line);
		}
		_exit(0);
	}
	cfd = pidfd_open(pid, 0);
	char c, line[128];
#define CHILD_SAW()                                                            \
	do {                                                                   \
		if (read(sync[0], line, sizeof line) == sizeof line)           \
			printf("%s", line);                                    \
	} while (0)
	CHECK("send SIGUSR1", pidfd_send_signal(cfd, SIGUSR1, NULL, 0));
	CHILD_SAW();
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR2;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 77;
	CHECK("send siginfo of another signal", pidfd_send_signal(cfd, SIGUSR1, &si, 0));
	si.si_code = SI_USER;
	CHECK("send SI_USER siginfo to another", pidfd_send_signal(cfd, SIGUSR2, &si, 0));
	si.si_code = SI_TKILL;
	CHECK("send SI_TKILL siginfo to another", pidfd_send_signal(cfd, SIGUSR2, &si, 0));
	si.si_code = SI_QUEUE;
	CHECK("send SI_QUEUE siginfo", pidfd_send_signal(cfd, SIGUSR2, &si, 0));
	CHILD_SAW();
	CHECK("send SIGUSR1 to the thread", pidfd_send_signal(cfd, SIGUSR1, NULL, 1));
	CHILD_SAW();
	printf("child: %d\n", ({
		       int st;
		       waitpid(pid, &st, 0);
		       WEXITSTATUS(st);
	       }));
	close(cfd);
	// The caller may send itself any siginfo.
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	CHECK("send SI_USER siginfo to self", pidfd_send_signal(self, SIGUSR1, &si, 0));
	{
		siginfo_t got;
		int sig = sigwaitinfo(&set, &got);
		printf("self got %s code %d\n", sig == SIGUSR1 ? "SIGUSR1" : "other", got.si_code);
	}
	// A process group.
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		sleep_ms(300);
		_exit(0);
	}
	setpgid(pid, pid);
	cfd = pidfd_open(pid, 0);
	CHECK("send 0 to the group", pidfd_send_signal(cfd, 0, NULL, 4));
	CHECK("send SIGKILL to the group", pidfd_send_signal(cfd, SIGKILL, NULL, 4));
	{
		int st;
		waitpid(pid, &st, 0);
		printf("group child: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
	}
	close(cfd);

	// pidfd_getfd.
	int pp[2];
	pipe(pp);
	pipe(sync);
	pid = fork();
	if (pid == 0) {
		dup2(pp[1], 50);
		close(pp[1]);
		close(pp[0]);
		write(sync[1], "r", 1);
		sleep_ms(1000);
		_exit(0);
	}
	close(pp[1]);
	read(sync[0], &c, 1);
	cfd = pidfd_open(pid, 0);
	CHECK("getfd bad flags", pidfd_getfd(cfd, 50, 1));
	CHECK("getfd missing fd", pidfd_getfd(cfd, 99, 0));
	CHECK("getfd not a pidfd", pidfd_getfd(1, 50, 0));
	int got = pidfd_getfd(cfd, 50, 0);
	printf("getfd: %s\n", got >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("getfd F_GETFD", fcntl(got, F_GETFD));
	CHECK("write through it", write(got, "hi", 2));
	char rb[4] = "";
	CHECK("read the other end", read(pp[0], rb, 2));
	printf("read: %s\n", rb);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cfd);
	close(got);
	// Another user may not take root's descriptors.
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(40000 + getpid() % 20000) < 0 || setuid(40000 + getpid() % 20000) < 0)
			_exit(1);
		CHECK("user getfd from root", pidfd_getfd(self, 0, 0));
		CHECK("user send to root", pidfd_send_signal(self, SIGUSR1, NULL, 0));
		CHECK("user send 0 to root", pidfd_send_signal(self, 0, NULL, 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);

	// CLONE_PIDFD.
	int pfd = -1;
	pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pfd, 0, 0);
	if (pid == 0)
		_exit(3);
	printf("clone CLONE_PIDFD: %s pidfd %s\n", pid > 0 ? "ok" : strerrorname_np(errno), pfd >= 0 ? "set" : "unset");
	CHECK("its F_GETFD", fcntl(pfd, F_GETFD));
	fdinfo("its fdinfo", pfd, pid);
	waitfd("its waitid", pfd, WEXITED);
	close(pfd);
	CHECK("clone CLONE_PIDFD|CLONE_PARENT_SETTID",
	      syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pfd, 0, 0));
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&pfd;
	ca.exit_signal = SIGCHLD;
	pfd = -1;
	pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		_exit(4);
	printf("clone3 CLONE_PIDFD: %s pidfd %s\n", pid > 0 ? "ok" : strerrorname_np(errno), pfd >= 0 ? "set" : "unset");
	waitfd("its waitid", pfd, WEXITED);
	close(pfd);
	ca.pidfd = 8;
	CHECK("clone3 CLONE_PIDFD bad address", syscall(SYS_clone3, &ca, sizeof ca));
	CHECK("no child made", wait(NULL));
	ca.pidfd = (uintptr_t)&pfd;
	ca.flags = CLONE_PIDFD | CLONE_DETACHED;
	CHECK("clone3 CLONE_PIDFD|CLONE_DETACHED", syscall(SYS_clone3, &ca, sizeof ca));
	return 0;
}
