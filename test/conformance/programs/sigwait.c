// rt_sigtimedwait (sigwaitinfo, sigtimedwait, sigwait): a pending signal is taken at
// once with its siginfo, a zero timeout polls (EAGAIN), a timeout passes (EAGAIN),
// a signal sent later by another process or thread ends the wait, a signal outside the
// set with a handler interrupts it (EINTR), SIGKILL and SIGSTOP in the set are ignored,
// and the argument errors (EINVAL, EFAULT). A signal to the process that every thread
// blocks is pending for the whole process: any thread sees it (sigpending, ShdPnd) and
// takes it (sigwait, a signalfd, a signalfd's poll), also when it was sent before the
// thread waited; a signal sent to one thread stays that thread's. Real-time signals
// queue, each with its siginfo; a standard one pending stands for all sent.
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static volatile sig_atomic_t handled;
static void on_usr2(int sig) { handled = sig; }

static void show(const char *name, int sig, siginfo_t *si) {
	if (sig < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %s code %d pid %s value %d\n", name, strsignal(sig), si->si_code,
		       si->si_pid == getpid() ? "self" : si->si_pid == getppid() ? "parent" : si->si_pid ? "other" : "0",
		       si->si_code == SI_QUEUE ? si->si_value.sival_int : 0);
}

static sigset_t waitset;
static volatile int waiter_ready;
static void *waiter(void *arg) {
	(void)arg;
	siginfo_t si;
	waiter_ready = 1;
	int sig = sigwaitinfo(&waitset, &si);
	printf("the waiting thread took %s code %d\n", sig > 0 ? strsignal(sig) : strerrorname_np(errno), si.si_code);
	return NULL;
}

// The whole process's pending signals, as another thread sees them.
static void *late_waiter(void *arg) {
	(void)arg;
	sigset_t pend;
	sigpending(&pend);
	printf("another thread: SIGTERM pending %d, SIGUSR1 pending %d\n", sigismember(&pend, SIGTERM),
	       sigismember(&pend, SIGUSR1));
	int sig = 0;
	int r = sigwait(&waitset, &sig);
	printf("another thread's sigwait: %d %s\n", r, strsignal(sig));
	return NULL;
}

static void *fd_reader(void *arg) {
	(void)arg;
	int fd = signalfd(-1, &waitset, 0);
	struct signalfd_siginfo ssi;
	ssize_t n = read(fd, &ssi, sizeof ssi);
	printf("another thread's signalfd read: %zd %s\n", n, n > 0 ? strsignal(ssi.ssi_signo) : strerrorname_np(errno));
	close(fd);
	return NULL;
}

static void *thread_poll(void *arg) {
	(void)arg;
	struct timespec zero = {0, 0};
	sigset_t pend;
	sigpending(&pend);
	printf("another thread: sees the main thread's SIGUSR1 %d\n", sigismember(&pend, SIGUSR1));
	int r = sigtimedwait(&waitset, NULL, &zero);
	printf("another thread polls for it: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	return NULL;
}

static void *fd_poller(void *arg) {
	(void)arg;
	int fd = signalfd(-1, &waitset, SFD_NONBLOCK);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	waiter_ready = 1;
	int r = poll(&p, 1, 5000);
	printf("another thread's signalfd poll: %d revents %#x\n", r, p.revents);
	struct signalfd_siginfo ssi;
	ssize_t n = read(fd, &ssi, sizeof ssi);
	printf("then its read: %zd %s\n", n, n > 0 ? strsignal(ssi.ssi_signo) : strerrorname_np(errno));
	close(fd);
	return NULL;
}

static void show_status(const char *field) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, field, strlen(field)) == 0)
			printf("%s", line);
	if (f)
		fclose(f);
}

static int rt_got[8], rt_n;
static void on_rt(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (rt_n < 8)
		rt_got[rt_n++] = si->si_value.sival_int * 100 + sig - SIGRTMIN;
}

static void realtime_queue(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	sigaddset(&s, SIGRTMIN + 1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (int i = 1; i <= 3; i++) {
		union sigval v = {.sival_int = i};
		sigqueue(getpid(), SIGRTMIN + 1, v);
		sigqueue(getpid(), SIGRTMIN, v);
		sigqueue(getpid(), SIGUSR2, v);
	}
	show_status("ShdPnd:");
	siginfo_t si;
	struct timespec zero = {0, 0};
	int sig;
	while ((sig = sigtimedwait(&s, &si, &zero)) > 0) {
		printf("took %s value %d\n", sig == SIGUSR2 ? "SIGUSR2" : sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+1",
		       si.si_value.sival_int);
		if (sig == SIGRTMIN)
			break;
	}
	struct sigaction sa = {0};
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	for (int i = 0; i < rt_n; i++)
		printf("handled value %d of SIGRTMIN+%d\n", rt_got[i] / 100, rt_got[i] % 100);
	// Thread-directed ones queue too.
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (int i = 1; i <= 2; i++) {
		union sigval v = {.sival_int = i};
		pthread_sigqueue(pthread_self(), SIGRTMIN, v);
	}
	show_status("SigPnd:");
	while ((sig = sigtimedwait(&s, &si, &zero)) > 0)
		printf("took value %d\n", si.si_value.sival_int);
	printf("then: %s\n", strerrorname_np(errno));
}

static pthread_t main_thread;
static void *thread_kill(void *arg) {
	(void)arg;
	sleep_ms(100);
	pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	siginfo_t si;
	struct timespec zero = {0, 0}, short_ = {0, 50000000}, bad = {0, 1000000000}, neg = {-1, 0};

	// Pending already.
	raise(SIGUSR1);
	memset(&si, 0, sizeof si);
	show("pending", sigwaitinfo(&set, &si), &si);
	union sigval v = {.sival_int = 9};
	sigqueue(getpid(), SIGTERM, v);
	memset(&si, 0, sizeof si);
	show("queued", sigtimedwait(&set, &si, &zero), &si);
	raise(SIGTERM);
	raise(SIGUSR1);
	int sig = 0;
	CHECK("sigwait", sigwait(&set, &sig));
	printf("sigwait took %s\n", strsignal(sig));
	CHECK("sigwait again", sigwait(&set, &sig));
	printf("sigwait took %s\n", strsignal(sig));

	// Polls and timeouts.
	CHECK("poll", sigtimedwait(&set, NULL, &zero));
	CHECK("50ms", sigtimedwait(&set, NULL, &short_));
	CHECK("bad timespec", sigtimedwait(&set, NULL, &bad));
	CHECK("negative timespec", sigtimedwait(&set, NULL, &neg));
	CHECK("bad set", syscall(SYS_rt_sigtimedwait, (void *)8, NULL, NULL, 8));
	CHECK("bad size", syscall(SYS_rt_sigtimedwait, &set, NULL, NULL, 4));
	CHECK("bad timeout", syscall(SYS_rt_sigtimedwait, &set, NULL, (void *)8, 8));
	raise(SIGUSR1);
	CHECK("bad siginfo", syscall(SYS_rt_sigtimedwait, &set, (void *)8, NULL, 8));
	CHECK("the signal went", sigtimedwait(&set, NULL, &zero));

	// From another process, from another thread.
	pid_t pid = fork();
	if (pid == 0) {
		sleep_ms(100);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	memset(&si, 0, sizeof si);
	show("from a child", sigwaitinfo(&set, &si), &si);
	waitpid(pid, NULL, 0);
	main_thread = pthread_self();
	pthread_t th;
	pthread_create(&th, NULL, thread_kill, NULL);
	memset(&si, 0, sizeof si);
	struct timespec five = {5, 0};
	show("from a thread", sigtimedwait(&set, &si, &five), &si);
	pthread_join(th, NULL);

	// A signal to the process, blocked by every thread, goes to the thread waiting for
	// it.
	waitset = set;
	pthread_create(&th, NULL, waiter, NULL);
	while (!waiter_ready)
		sleep_ms(5);
	sleep_ms(50);
	kill(getpid(), SIGTERM);
	pthread_join(th, NULL);

	// Sent to the process before any thread waits for it.
	kill(getpid(), SIGTERM);
	show_status("SigPnd:");
	show_status("ShdPnd:");
	pthread_create(&th, NULL, late_waiter, NULL);
	pthread_join(th, NULL);
	kill(getpid(), SIGUSR1);
	pthread_create(&th, NULL, fd_reader, NULL);
	pthread_join(th, NULL);
	// Sent to this thread: not another's.
	pthread_kill(pthread_self(), SIGUSR1);
	show_status("SigPnd:");
	show_status("ShdPnd:");
	pthread_create(&th, NULL, thread_poll, NULL);
	pthread_join(th, NULL);
	memset(&si, 0, sizeof si);
	show("this thread takes it", sigtimedwait(&set, &si, &zero), &si);
	// Sent while another thread polls a signalfd.
	waiter_ready = 0;
	pthread_create(&th, NULL, fd_poller, NULL);
	while (!waiter_ready)
		sleep_ms(5);
	sleep_ms(50);
	kill(getpid(), SIGTERM);
	pthread_join(th, NULL);

	// A handled signal outside the set interrupts the wait.
	struct sigaction sa = {0};
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		sleep_ms(100);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	CHECK("interrupted", sigtimedwait(&set, NULL, &five));
	printf("handler ran: %d\n", handled == SIGUSR2);
	waitpid(pid, NULL, 0);

	// rt_sigqueueinfo and rt_tgsigqueueinfo.
	siginfo_t q;
	memset(&q, 0, sizeof q);
	q.si_code = SI_QUEUE;
	q.si_pid = getpid();
	q.si_uid = getuid();
	q.si_value.sival_int = 5;
	CHECK("sigqueueinfo to self", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &q));
	memset(&si, 0, sizeof si);
	show("taken", sigtimedwait(&set, &si, &zero), &si);
	CHECK("tgsigqueueinfo to self", syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGTERM, &q));
	memset(&si, 0, sizeof si);
	show("taken", sigtimedwait(&set, &si, &zero), &si);
	CHECK("sigqueueinfo bad siginfo", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, (void *)8));
	CHECK("sigqueueinfo signal 65", syscall(SYS_rt_sigqueueinfo, getpid(), 65, &q));
	CHECK("tgsigqueueinfo tid 0", syscall(SYS_rt_tgsigqueueinfo, getpid(), 0, SIGTERM, &q));
	CHECK("tgsigqueueinfo wrong group", syscall(SYS_rt_tgsigqueueinfo, getpid() + 100000, gettid(), SIGTERM, &q));
	pid = fork();
	if (pid == 0) {
		sleep_ms(200);
		_exit(0);
	}
	CHECK("sigqueueinfo to a child", syscall(SYS_rt_sigqueueinfo, pid, 0, &q));
	q.si_code = SI_USER;
	CHECK("SI_USER siginfo to a child", syscall(SYS_rt_sigqueueinfo, pid, 0, &q));
	q.si_code = SI_TKILL;
	CHECK("SI_TKILL siginfo to a child", syscall(SYS_rt_sigqueueinfo, pid, 0, &q));
	q.si_code = SI_QUEUE;
	waitpid(pid, NULL, 0);
	CHECK("sigqueueinfo to the reaped", syscall(SYS_rt_sigqueueinfo, pid, 0, &q));
	CHECK("sigqueueinfo to pid 0", syscall(SYS_rt_sigqueueinfo, 0, 0, &q));

	// SIGKILL and SIGSTOP are not waited for.
	sigset_t ks;
	sigemptyset(&ks);
	sigaddset(&ks, SIGKILL);
	sigaddset(&ks, SIGSTOP);
	CHECK("SIGKILL|SIGSTOP set, poll", sigtimedwait(&ks, NULL, &zero));

	realtime_queue();
	return 0;
}
