// POSIX message queues: mq_open's names, flags, attributes and errors; send and receive
// with priorities, O_NONBLOCK (EAGAIN), timeouts (ETIMEDOUT, EINVAL), EMSGSIZE and
// EBADF; blocking across processes and threads, handed over when the other side
// comes; signals interrupting a wait (EINTR, or a restart with SA_RESTART);
// mq_notify with SIGEV_SIGNAL and SIGEV_NONE (once, EBUSY, removal by NULL and by
// close, none while a receiver waits) and SIGEV_THREAD's netlink errors;
// mq_getsetattr; poll and epoll readiness; descriptors that are close-on-exec and
// inherited by fork; the /dev/mqueue files (status line, unlink, open(2) making a
// queue); permissions and RLIMIT_MSGQUEUE for an ordinary user; the limits in
// /proc/sys/fs/mqueue.
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <grp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char names[8][64];

// qname returns a queue name unique to this run (native runs share the host's
// namespace).
static const char *qname(int i) {
	if (!names[i][0])
		snprintf(names[i], sizeof names[i], "/moat-mq-%d-%d", (int)getpid(), i);
	return names[i];
}

static int waitchild(pid_t pid) {
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static struct timespec in_ms(long ms) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (ms % 1000) * 1000000;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

static void attr(const char *name, mqd_t q) {
	struct mq_attr a;
	if (mq_getattr(q, &a) < 0) {
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
		return;
	}
	printf("%s: flags %s maxmsg %ld msgsize %ld curmsgs %ld\n", name,
	       a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0", a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static void rcv(const char *name, mqd_t q, size_t len) {
	char buf[256] = "";
	unsigned prio = 99;
	errno = 0;
	ssize_t n = mq_receive(q, buf, len, &prio);
	if (n < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %zd prio %u \"%.*s\"\n", name, n, prio, (int)n, buf);
}

static void trcv(const char *name, mqd_t q, size_t len, long ms) {
	char buf[256] = "";
	unsigned prio = 99;
	struct timespec ts = in_ms(ms);
	errno = 0;
	ssize_t n = mq_timedreceive(q, buf, len, &prio, &ts);
	if (n < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %zd prio %u \"%.*s\"\n", name, n, prio, (int)n, buf);
}

static int snd(mqd_t q, const char *text, unsigned prio) { return mq_send(q, text, strlen(text), prio); }

// status prints the queue's /dev/mqueue file, its NOTIFY_PID shown as "self" (the
// caller), "child" or a number of 0. It is read by a child: a descriptor of the queue
// closed by the registered process would drop its notification.
static void status(const char *name, const char *q, pid_t child) {
	pid_t self = getpid(), pid = fork();
	if (pid != 0) {
		waitchild(pid);
		return;
	}
	char path[128], buf[128] = "";
	snprintf(path, sizeof path, "/dev/mqueue%s", q);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: open -1 %s\n", name, strerrorname_np(errno));
		_exit(0);
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		printf("%s: read -1 %s\n", name, strerrorname_np(errno));
		_exit(0);
	}
	buf[n] = 0;
	char *p = strstr(buf, "NOTIFY_PID:");
	int npid = p ? atoi(p + 11) : -1;
	if (p)
		*p = 0;
	printf("%s: %zd bytes \"%sNOTIFY_PID:%s\"\n", name, n, buf,
	       npid == self ? "self" : npid == child && child ? "child" : npid == 0 ? "0" : "other");
	_exit(0);
}

static volatile sig_atomic_t got_sig, got_code, got_value, got_pid, got_uid_ok;

// A child about to block tells the parent through readyp (ready), which waits for
// that and a little more (await_blocked), so that it acts once the child waits.
static int readyp[2];
static void ready(void) { write(readyp[1], "r", 1); }
static void await_blocked(void) {
	char c;
	read(readyp[0], &c, 1);
	sleep_ms(100);
}

static void on_notify(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_pid = si->si_pid;
	got_uid_ok = si->si_uid == getuid();
}

static void on_usr1(int sig) { (void)sig; }

static void ready(void);
static void *thread_rcv(void *arg) {
	ready();
	rcv("thread receive", *(mqd_t *)arg, 64);
	return NULL;
}

static void readiness(const char *name, mqd_t q) {
	struct pollfd p = {q, POLLIN | POLLOUT, 0};
	int n = poll(&p, 1, 0);
	printf("%s: poll %d%s%s\n", name, n, p.revents & POLLIN ? " IN" : "", p.revents & POLLOUT ? " OUT" : "");
}

static void limits(void) {
	const char *files[] = {"msg_max", "msgsize_max", "queues_max", "msg_default", "msgsize_default"};
	for (int i = 0; i < 5; i++) {
		char path[128], buf[64] = "";
		snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", files[i]);
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (fd >= 0)
			close(fd);
		printf("%s: %s", files[i], n > 0 ? buf : "missing\n");
	}
}

// asuser checks what an ordinary user may do: open and unlink root's queue, the
// attribute limits without CAP_SYS_RESOURCE, and RLIMIT_MSGQUEUE.
static void asuser(void) {
	pid_t pid = fork();
	if (pid == 0) {
		// A user of its own, so that no other run's queues count against it.
		uid_t uid = 40000 + getpid() % 20000;
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			_exit(1);
		CHECK("user open root's 0600 queue", mq_open(qname(0), O_RDONLY));
		CHECK("user unlink root's queue", mq_unlink(qname(0)));
		CHECK("user raw unlink root's queue", syscall(SYS_mq_unlink, qname(0) + 1));
		struct mq_attr a = {0, 11, 64, 0};
		CHECK("user maxmsg 11", mq_open(qname(5), O_CREAT | O_RDWR, 0600, &a));
		a.mq_maxmsg = 10, a.mq_msgsize = 8193;
		CHECK("user msgsize 8193", mq_open(qname(5), O_CREAT | O_RDWR, 0600, &a));
		// Two default queues cost 2 * (10 * 8192 + 10 * 96) bytes.
		struct rlimit rl = {2 * 82880, 2 * 82880};
		CHECK("setrlimit msgqueue", setrlimit(RLIMIT_MSGQUEUE, &rl));
		mqd_t a1 = mq_open(qname(5), O_CREAT | O_RDWR, 0600, NULL);
		mqd_t a2 = mq_open(qname(6), O_CREAT | O_RDWR, 0600, NULL);
		printf("user two queues: %s %s\n", a1 >= 0 ? "ok" : strerrorname_np(errno), a2 >= 0 ? "ok" : "fail");
		CHECK("user third queue", mq_open(qname(7), O_CREAT | O_RDWR, 0600, NULL));
		struct mq_attr small = {0, 1, 1, 0};
		CHECK("user third small queue", mq_open(qname(7), O_CREAT | O_RDWR, 0600, &small));
		CHECK("user unlink one", mq_unlink(qname(5)));
		CHECK("user third while one is open", mq_open(qname(7), O_CREAT | O_RDWR, 0600, NULL));
		CHECK("user close it", mq_close(a1));
		CHECKOK("user third after close", mq_open(qname(7), O_CREAT | O_RDWR, 0600, NULL));
		CHECK("user unlink own", mq_unlink(qname(6)));
		CHECK("user unlink third", mq_unlink(qname(7)));
		_exit(0);
	}
	printf("user child: %d\n", waitchild(pid));
}

// devmqueue makes sure /dev/mqueue is the mqueue filesystem: a host without it gets
// it in a mount namespace of this process's own (the sandbox always has it).
static void devmqueue(void) {
	struct statfs sf;
	if (statfs("/dev/mqueue", &sf) == 0 && sf.f_type == 0x19800202)
		return;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, NULL) < 0 || mkdir("/dev/mqueue", 0755) < 0 ||
	    mount("mqueue", "/dev/mqueue", "mqueue", 0, NULL) < 0)
		perror("mounting /dev/mqueue natively");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	devmqueue();
	pipe(readyp);
	umask(022);
	limits();

	// Names.
	CHECK("open without slash", mq_open("noslash", O_RDWR));
	CHECK("open /", mq_open("/", O_RDWR));
	CHECK("open /a/b", mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL));
	CHECK("open /..", mq_open("/..", O_RDWR));
	CHECK("open /.", mq_open("/.", O_RDWR | O_CREAT, 0600, NULL));
	char longname[300] = "/";
	memset(longname + 1, 'x', 256);
	CHECK("open 256-byte name", mq_open(longname, O_RDWR | O_CREAT, 0600, NULL));
	longname[256] = 0;
	memcpy(longname + 1, qname(3) + 1, strlen(qname(3)) - 1);
	CHECKOK("open 255-byte name", mq_open(longname, O_RDWR | O_CREAT, 0600, NULL));
	CHECK("unlink 255-byte name", mq_unlink(longname));
	CHECK("raw open empty", syscall(SYS_mq_open, "", O_RDWR, 0, NULL));
	CHECK("raw open NULL", syscall(SYS_mq_open, NULL, O_RDWR, 0, NULL));
	CHECK("raw open bad attr", syscall(SYS_mq_open, qname(0) + 1, O_RDWR | O_CREAT, 0600, (void *)8));
	CHECK("open missing", mq_open(qname(0), O_RDWR));
	CHECK("unlink missing", mq_unlink(qname(0)));
	CHECK("unlink /", mq_unlink("/"));
	CHECK("unlink /a/b", mq_unlink("/a/b"));

	// Attributes.
	struct mq_attr a = {0, 0, 64, 0};
	CHECK("create maxmsg 0", mq_open(qname(0), O_CREAT | O_RDWR, 0600, &a));
	a.mq_maxmsg = 4, a.mq_msgsize = -1;
	CHECK("create msgsize -1", mq_open(qname(0), O_CREAT | O_RDWR, 0600, &a));
	a.mq_maxmsg = 70000, a.mq_msgsize = 64;
	CHECK("create maxmsg 70000 (root)", mq_open(qname(0), O_CREAT | O_RDWR, 0600, &a));
	a.mq_maxmsg = 4, a.mq_msgsize = 64, a.mq_flags = 12345, a.mq_curmsgs = 7;
	mqd_t q = mq_open(qname(0), O_CREAT | O_EXCL | O_RDWR, 0640, &a);
	printf("create: %s\n", q >= 0 ? "ok" : strerrorname_np(errno));
	attr("attr", q);
	CHECK("create excl again", mq_open(qname(0), O_CREAT | O_EXCL | O_RDWR, 0600, &a));
	CHECK("open accmode 3", mq_open(qname(0), O_WRONLY | O_RDWR));
	CHECK("F_GETFD", fcntl(q, F_GETFD));
	CHECK("F_GETFL", fcntl(q, F_GETFL));
	struct stat st;
	char path[128];
	snprintf(path, sizeof path, "/dev/mqueue%s", qname(0));
	if (stat(path, &st) == 0)
		printf("stat: mode %o size %ld nlink %ld\n", st.st_mode, (long)st.st_size, (long)st.st_nlink);
	else
		printf("stat: -1 %s\n", strerrorname_np(errno));
	mqd_t d = mq_open(qname(1), O_CREAT | O_RDWR, 0600, NULL);
	attr("default attr", d);

	// Send and receive checks.
	CHECK("send prio 32768", mq_send(q, "x", 1, 32768));
	char big[100] = "";
	CHECK("send 65 bytes", mq_send(q, big, 65, 0));
	CHECK("send bad fd", mq_send(-1, "x", 1, 0));
	CHECK("send to a pipe", mq_send(1, "x", 1, 0));
	CHECK("send bad buffer", mq_send(q, (void *)8, 4, 0));
	CHECK("receive small buffer", mq_receive(q, big, 63, NULL));
	mqd_t ro = mq_open(qname(0), O_RDONLY);
	mqd_t wo = mq_open(qname(0), O_WRONLY);
	CHECK("send on O_RDONLY", mq_send(ro, "x", 1, 0));
	CHECK("receive on O_WRONLY", mq_receive(wo, big, 64, NULL));
	struct timespec bad = {0, 1000000000};
	CHECK("timedsend bad timespec", mq_timedsend(q, "x", 1, 0, &bad));
	CHECK("timedreceive bad timespec", mq_timedreceive(q, big, 64, NULL, &bad));
	CHECK("timedsend bad timeout pointer", syscall(SYS_mq_timedsend, q, "x", 1, 0, (void *)8));

	// Priorities: highest first, oldest first within one.
	readiness("empty", q);
	CHECK("send a 1", snd(q, "a", 1));
	CHECK("send bb 5", snd(q, "bb", 5));
	CHECK("send c 1", snd(q, "c", 1));
	CHECK("send ddd 3", snd(q, "ddd", 3));
	readiness("full", q);
	attr("attr full", q);
	status("status full", qname(0), 0);
	CHECK("send full nonblocking", ({
		      struct mq_attr n = {O_NONBLOCK, 0, 0, 0}, o;
		      mq_setattr(q, &n, &o);
		      long r = snd(q, "e", 0);
		      int e = errno;
		      mq_setattr(q, &o, NULL);
		      errno = e;
		      r;
	      }));
	struct timespec past = {1, 0};
	CHECK("timedsend full, past deadline", mq_timedsend(q, "e", 1, 0, &past));
	struct timespec soon = in_ms(50);
	CHECK("timedsend full, 50ms", mq_timedsend(q, "e", 1, 0, &soon));
	rcv("receive 1", q, 64);
	readiness("not full", q);
	rcv("receive 2", q, 64);
	rcv("receive 3", q, 64);
	rcv("receive 4", q, 64);
	rcv("receive empty nonblocking", ({
		    struct mq_attr n = {O_NONBLOCK, 0, 0, 0};
		    mq_setattr(q, &n, NULL);
		    q;
	    }),
	    64);
	attr("attr nonblocking", q);
	CHECK("F_GETFL nonblocking", fcntl(q, F_GETFL));
	struct mq_attr zero = {0, 0, 0, 0};
	mq_setattr(q, &zero, NULL);
	struct mq_attr badflags = {O_NONBLOCK | O_APPEND, 0, 0, 0};
	CHECK("setattr bad flags", mq_setattr(q, &badflags, NULL));
	CHECK("setattr bad fd", mq_setattr(99, &zero, NULL));
	CHECK("getattr on a pipe", ({
		      int p[2];
		      pipe(p);
		      struct mq_attr x;
		      long r = mq_getattr(p[0], &x);
		      int e = errno;
		      close(p[0]);
		      close(p[1]);
		      errno = e;
		      r;
	      }));
	trcv("timedreceive empty, 50ms", q, 64, 50);
	struct timespec past2 = {0, 0};
	CHECK("timedreceive empty, past", mq_timedreceive(q, big, 64, NULL, &past2));
	CHECK("send for a bad buffer", snd(q, "lost", 0));
	CHECK("receive into a bad buffer", mq_receive(q, (void *)8, 64, NULL));
	attr("after the fault", q);

	// A receiver in another process waits until a message comes.
	pid_t pid = fork();
	if (pid == 0) {
		ready();
		rcv("child receive (blocks)", q, 64);
		_exit(0);
	}
	await_blocked();
	int r = snd(q, "hello", 2);
	printf("child: %d\n", waitchild(pid));
	printf("send to the waiting child: %d\n", r);
	attr("after the handover", q);

	// A sender blocked on a full queue goes on when a place is freed.
	for (int i = 0; i < 4; i++)
		snd(q, "f", 0);
	pid = fork();
	if (pid == 0) {
		ready();
		CHECK("child send (blocks)", snd(q, "late", 7));
		_exit(0);
	}
	await_blocked();
	r = mq_receive(q, big, 64, NULL);
	printf("child: %d\n", waitchild(pid));
	printf("receive frees a place: %d\n", r);
	attr("full again", q);
	rcv("late message first", q, 64);
	while (mq_timedreceive(q, big, 64, NULL, &past2) >= 0)
		;

	// A thread waits.
	pthread_t th;
	pthread_create(&th, NULL, thread_rcv, &q);
	await_blocked();
	r = snd(q, "thread", 0);
	pthread_join(th, NULL);
	printf("send to the thread: %d\n", r);

	// Signals: EINTR without SA_RESTART; a restart with it.
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		ready();
		rcv("child receive interrupted", q, 64);
		struct timespec ts = in_ms(5000);
		CHECK("child timedsend interrupted", ({
			      for (int i = 0; i < 4; i++)
				      snd(q, "f", 0);
			      ready();
			      mq_timedsend(q, "x", 1, 0, &ts);
		      }));
		_exit(0);
	}
	await_blocked();
	kill(pid, SIGUSR1);
	await_blocked();
	kill(pid, SIGUSR1);
	printf("child: %d\n", waitchild(pid));
	while (mq_timedreceive(q, big, 64, NULL, &past2) >= 0)
		;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		ready();
		rcv("child receive restarted", q, 64);
		_exit(0);
	}
	await_blocked();
	kill(pid, SIGUSR1);
	sleep_ms(100);
	r = snd(q, "restarted", 0);
	printf("child: %d\n", waitchild(pid));
	printf("send after the signal: %d\n", r);

	// epoll wakes when another process sends.
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {.fd = q}}, out;
	CHECK("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev));
	pid = fork();
	if (pid == 0) {
		sleep_ms(100);
		snd(q, "epoll", 0);
		_exit(0);
	}
	int n = epoll_wait(ep, &out, 1, 5000);
	printf("epoll_wait: %d events %s\n", n, n == 1 && (out.events & EPOLLIN) ? "IN" : "-");
	waitchild(pid);
	rcv("receive the epoll message", q, 64);
	close(ep);

	// Notification.
	struct sigaction ns = {0};
	ns.sa_sigaction = on_notify;
	ns.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &ns, NULL);
	struct sigevent sev = {0};
	sev.sigev_notify = 99;
	CHECK("notify bad sigev_notify", mq_notify(q, &sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 65;
	CHECK("notify bad signal", mq_notify(q, &sev));
	CHECK("notify bad fd", mq_notify(-1, &sev));
	sev.sigev_signo = SIGUSR2;
	sev.sigev_value.sival_int = 42;
	CHECK("notify bad fd, good sigevent", mq_notify(77, &sev));
	CHECK("notify", mq_notify(q, &sev));
	CHECK("notify again", mq_notify(q, &sev));
	status("status registered", qname(0), 0);
	pid = fork();
	if (pid == 0) {
		CHECK("child notify (busy)", mq_notify(q, &sev));
		CHECK("child remove another's", mq_notify(q, NULL));
		CHECK("child send", snd(q, "n1", 0));
		_exit(0);
	}
	printf("child: %d\n", waitchild(pid));
	for (int i = 0; i < 50 && !got_sig; i++)
		sleep_ms(10);
	printf("notified: sig %d code %s value %d sender %s\n", (int)got_sig,
	       got_code == SI_MESGQ ? "SI_MESGQ" : "other", (int)got_value,
	       got_pid == pid && got_uid_ok ? "ok" : "wrong");
	status("status after the notification", qname(0), 0);
	got_sig = 0;
	CHECK("send to a non-empty queue", snd(q, "n2", 0));
	rcv("receive n1", q, 64);
	rcv("receive n2", q, 64);
	CHECK("notify once more", mq_notify(q, &sev));
	CHECK("remove", mq_notify(q, NULL));
	CHECK("remove when none", mq_notify(q, NULL));
	CHECK("send after removal", snd(q, "n3", 0));
	rcv("receive n3", q, 64);
	printf("signal after removal: %d\n", (int)got_sig);
	// None while a receiver waits: the message goes straight to it.
	CHECK("notify", mq_notify(q, &sev));
	pid = fork();
	if (pid == 0) {
		ready();
		rcv("child receive", q, 64);
		_exit(0);
	}
	await_blocked();
	r = snd(q, "direct", 0);
	waitchild(pid);
	printf("send to the waiting receiver: %d\n", r);
	sleep_ms(50);
	printf("signal with a receiver waiting: %d\n", (int)got_sig);
	status("still registered", qname(0), 0);
	// Closing any descriptor of the queue drops the registration: one of another
	// process does not.
	pid = fork();
	if (pid == 0) {
		mq_close(mq_open(qname(0), O_RDWR));
		_exit(0);
	}
	waitchild(pid);
	status("after another process's close", qname(0), 0);
	mqd_t dup = mq_open(qname(0), O_RDWR);
	CHECK("close another descriptor", mq_close(dup));
	status("after close", qname(0), 0);
	sev.sigev_notify = SIGEV_NONE;
	CHECK("notify SIGEV_NONE", mq_notify(q, &sev));
	status("SIGEV_NONE", qname(0), 0);
	CHECK("send", snd(q, "none", 0));
	status("SIGEV_NONE used", qname(0), 0);
	rcv("receive", q, 64);
	// SIGEV_THREAD takes a netlink socket's descriptor in sigev_signo.
	char cookie[32] = "";
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_value.sival_ptr = cookie;
	sev.sigev_signo = -1;
	CHECK("raw SIGEV_THREAD bad socket", syscall(SYS_mq_notify, q, &sev));
	sev.sigev_signo = 1;
	CHECK("raw SIGEV_THREAD pipe", syscall(SYS_mq_notify, q, &sev));
	int us = socket(AF_UNIX, SOCK_DGRAM, 0);
	sev.sigev_signo = us;
	CHECK("raw SIGEV_THREAD unix socket", syscall(SYS_mq_notify, q, &sev));
	sev.sigev_value.sival_ptr = (void *)8;
	CHECK("raw SIGEV_THREAD bad cookie", syscall(SYS_mq_notify, q, &sev));
	close(us);

	// /dev/mqueue.
	CHECK("send for the status", snd(q, "12345", 0));
	status("status", qname(0), 0);
	snprintf(path, sizeof path, "/dev/mqueue%s", qname(2));
	int fd = open(path, O_CREAT | O_RDWR, 0600);
	printf("open(2) creates a queue: %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
	attr("its attr", fd);
	CHECK("send through it", snd(fd, "via open", 0));
	mqd_t byname = mq_open(qname(2), O_RDONLY);
	rcv("receive by name", byname, 8192);
	CHECK("write to a queue file", write(fd, "x", 1));
	CHECK("unlink(2)", unlink(path));
	CHECK("mq_open after unlink(2)", mq_open(qname(2), O_RDONLY));
	CHECK("send after unlink", snd(fd, "still", 0));
	rcv("receive after unlink", byname, 8192);
	CHECK("mkdir in /dev/mqueue", mkdir("/dev/mqueue/moat-dir", 0700));
	close(fd);
	mq_close(byname);

	// Fork shares the description; exec would close it.
	pid = fork();
	if (pid == 0) {
		rcv("child receives the status message", q, 64);
		_exit(0);
	}
	printf("child: %d\n", waitchild(pid));

	asuser();

	CHECK("mq_unlink", mq_unlink(qname(0)));
	CHECK("mq_unlink again", mq_unlink(qname(0)));
	CHECK("send after mq_unlink", snd(q, "z", 0));
	rcv("receive after mq_unlink", q, 64);
	mqd_t q2 = mq_open(qname(0), O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
	attr("a new queue of the same name", q2);
	CHECK("mq_close", mq_close(q));
	CHECK("mq_close again", mq_close(q));
	mq_close(q2);
	mq_close(ro);
	mq_close(wo);
	mq_close(d);
	mq_unlink(qname(0));
	mq_unlink(qname(1));
	return 0;
}
