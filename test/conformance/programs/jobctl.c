// jobctl: job-control stops. A stop signal stops a child until SIGCONT; wait4 with
// WUNTRACED and WCONTINUED and waitid with WSTOPPED and WCONTINUED (and WNOWAIT) report
// each event once; SIGCHLD carries CLD_STOPPED and CLD_CONTINUED unless SA_NOCLDSTOP;
// SIGKILL ends a stopped child; SIGCONT discards pending stop signals and a stop signal
// a pending SIGCONT; SIGTSTP to an orphaned process group is discarded; a read from a
// pipe and a nanosleep interrupted by a stop are restarted after SIGCONT, or end with
// EINTR when a SIGCONT handler runs.
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

static void status(const char *what, pid_t r, pid_t want, int st) {
	if (r == -1) {
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
		return;
	}
	if (r == 0) {
		printf("%s: nothing\n", what);
		return;
	}
	printf("%s: pid matches %d status %#x stopped %d(%d) continued %d signaled %d(%d) exited %d(%d)\n",
	       what, r == want, st, WIFSTOPPED(st), WIFSTOPPED(st) ? WSTOPSIG(st) : 0,
	       WIFCONTINUED(st), WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0,
	       WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : 0);
}

// waitst waits for c with options and shows what it found.
static void waitst(const char *what, pid_t c, int options) {
	int st = 0;
	pid_t r = waitpid(c, &st, options);
	status(what, r, c, st);
}

static void info(const char *what, int r, siginfo_t *si, pid_t want) {
	if (r == -1) {
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: signo %d code %d pid matches %d status %d\n", what, si->si_signo, si->si_code,
	       si->si_pid == want, si->si_status);
}

static pid_t pauser(void) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	return c;
}

static void msleep(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static volatile int chld_code, chld_status, chld_count;

static void on_chld(int sig, siginfo_t *si, void *uc) {
	(void)sig, (void)uc;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_count++;
}

static void on_cont(int sig) { (void)sig; }

// waitchld waits, with SIGCHLD blocked in *old's complement, for one more SIGCHLD.
static void waitchld(int before, sigset_t *old) {
	while (chld_count == before)
		sigsuspend(old);
}

static void stop_and_continue(void) {
	pid_t c = pauser();
	CHECK("kill SIGSTOP", kill(c, SIGSTOP));
	waitst("wait4 WUNTRACED", c, WUNTRACED);
	waitst("wait4 WUNTRACED again", c, WUNTRACED | WNOHANG);
	waitst("wait4 without WUNTRACED", c, WNOHANG);
	CHECK("kill SIGCONT", kill(c, SIGCONT));
	waitst("wait4 WCONTINUED", c, WCONTINUED);
	waitst("wait4 WCONTINUED again", c, WCONTINUED | WNOHANG);

	// waitid: WNOWAIT leaves the event to be reported again.
	siginfo_t si;
	CHECK("kill SIGTSTP", kill(c, SIGTSTP));
	info("waitid WSTOPPED|WNOWAIT", waitid(P_PID, c, &si, WSTOPPED | WNOWAIT), &si, c);
	info("waitid WSTOPPED", waitid(P_PID, c, &si, WSTOPPED), &si, c);
	si.si_pid = 1;
	info("waitid WSTOPPED|WNOHANG again", waitid(P_PID, c, &si, WSTOPPED | WNOHANG), &si, 0);
	CHECK("kill SIGCONT", kill(c, SIGCONT));
	info("waitid WCONTINUED|WNOWAIT", waitid(P_PID, c, &si, WCONTINUED | WNOWAIT), &si, c);
	info("waitid WCONTINUED", waitid(P_PID, c, &si, WCONTINUED), &si, c);
	si.si_pid = 1;
	info("waitid WCONTINUED|WNOHANG again", waitid(P_PID, c, &si, WCONTINUED | WNOHANG), &si, 0);

	// A stop that was continued before anyone waited is not reported as a stop.
	CHECK("kill SIGSTOP", kill(c, SIGSTOP));
	info("waitid WSTOPPED|WNOWAIT", waitid(P_PID, c, &si, WSTOPPED | WNOWAIT), &si, c);
	CHECK("kill SIGCONT", kill(c, SIGCONT));
	waitst("wait4 WUNTRACED|WCONTINUED after the continue", c, WUNTRACED | WCONTINUED);

	// SIGKILL ends a stopped child.
	CHECK("kill SIGSTOP", kill(c, SIGSTOP));
	waitst("wait4 WUNTRACED", c, WUNTRACED);
	CHECK("kill SIGKILL", kill(c, SIGKILL));
	waitst("wait4 the killed child", c, WUNTRACED | WCONTINUED);
}

static void sigchld(void) {
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGCHLD, &sa, NULL);

	int st;
	pid_t c = pauser();
	int n = chld_count;
	kill(c, SIGTTIN);
	waitchld(n, &old);
	printf("SIGCHLD for a stop: code %d status %d\n", chld_code, chld_status);
	waitpid(c, &st, WUNTRACED);
	n = chld_count;
	kill(c, SIGCONT);
	waitchld(n, &old);
	printf("SIGCHLD for a continue: code %d status %d\n", chld_code, chld_status);
	waitpid(c, &st, WCONTINUED);

	sa.sa_flags = SA_SIGINFO | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	n = chld_count;
	kill(c, SIGSTOP);
	waitst("wait4 WUNTRACED with SA_NOCLDSTOP", c, WUNTRACED);
	kill(c, SIGCONT);
	waitst("wait4 WCONTINUED with SA_NOCLDSTOP", c, WCONTINUED);
	sigset_t pend;
	sigpending(&pend);
	printf("SA_NOCLDSTOP: SIGCHLD pending %d, handler ran %d\n", sigismember(&pend, SIGCHLD),
	       chld_count - n);
	kill(c, SIGKILL);
	waitchld(n, &old);
	printf("SIGCHLD for the kill: code %d status %d\n", chld_code, chld_status);
	waitpid(c, &st, 0);

	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

// pending shows that SIGCONT discards pending stop signals and the reverse, in a child
// that blocks them all (it never unblocks them: it would stop).
static void pending(void) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		sigset_t set, pend;
		sigemptyset(&set);
		sigaddset(&set, SIGTSTP);
		sigaddset(&set, SIGTTOU);
		sigaddset(&set, SIGTTIN);
		sigaddset(&set, SIGCONT);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGTSTP);
		raise(SIGTTOU);
		sigpending(&pend);
		printf("pending after SIGTSTP, SIGTTOU: TSTP %d TTOU %d CONT %d\n",
		       sigismember(&pend, SIGTSTP), sigismember(&pend, SIGTTOU), sigismember(&pend, SIGCONT));
		raise(SIGCONT);
		sigpending(&pend);
		printf("pending after SIGCONT: TSTP %d TTOU %d CONT %d\n", sigismember(&pend, SIGTSTP),
		       sigismember(&pend, SIGTTOU), sigismember(&pend, SIGCONT));
		raise(SIGTTIN);
		sigpending(&pend);
		printf("pending after SIGTTIN: TTIN %d CONT %d\n", sigismember(&pend, SIGTTIN), sigismember(&pend, SIGCONT));
		fflush(stdout);
		_exit(0);
	}
	waitst("the child that blocked them", c, WUNTRACED);
}

// groups: SIGTSTP stops a child in a group of its own under this process (not
// orphaned); in a new session (an orphaned group) it is discarded, SIGSTOP is not.
static void groups(void) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		raise(SIGTSTP);
		_exit(3);
	}
	waitst("SIGTSTP in a group with a parent outside", c, WUNTRACED);
	kill(c, SIGCONT);
	waitst("then continued", c, 0);

	fflush(stdout);
	c = fork();
	if (c == 0) {
		setsid();
		raise(SIGTSTP);
		raise(SIGTTIN);
		raise(SIGTTOU);
		printf("orphaned group: SIGTSTP, SIGTTIN, SIGTTOU discarded\n");
		fflush(stdout);
		raise(SIGSTOP);
		_exit(4);
	}
	waitst("SIGSTOP in an orphaned group", c, WUNTRACED);
	kill(c, SIGCONT);
	waitst("then continued", c, 0);
}

// sleeping waits (at most 10 s) until /proc/PID/stat shows process c in state S.
static void sleeping(pid_t c) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", c);
	for (int i = 0; i < 10000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = 0;
			char *p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return;
		}
		msleep(1);
	}
}

// blocked: a stop while the child blocks in read or nanosleep. With no handler the
// call goes on after SIGCONT; with a SIGCONT handler it ends with EINTR. The child
// reports the call's result as its exit status.
static void blocked(int op, int handler) {
	int data[2], ready[2];
	pipe(data);
	pipe(ready);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (handler) {
			struct sigaction sa = {0};
			sa.sa_handler = on_cont; // no SA_RESTART
			sigaction(SIGCONT, &sa, NULL);
		}
		write(ready[1], "r", 1);
		long r;
		if (op == 0) {
			char b;
			r = read(data[0], &b, 1);
		} else {
			// Long enough that the stop (once /proc shows it asleep) finds it
			// asleep even on a loaded machine.
			struct timespec ts = {3, 0};
			r = nanosleep(&ts, NULL);
		}
		_exit(r == -1 ? 100 + errno : r);
	}
	char b;
	read(ready[0], &b, 1);
	// The stop must find the child blocked in its call (natively too: stopped before
	// it, a handler runs first and the call does not end with EINTR): wait until
	// /proc shows it sleeping.
	sleeping(c);
	int st;
	kill(c, SIGSTOP);
	waitpid(c, &st, WUNTRACED);
	if (op == 0)
		write(data[1], "x", 1);
	msleep(op == 0 ? 50 : 400);
	status(op == 0 ? "read still stopped" : "nanosleep still stopped",
	       waitpid(c, &st, WNOHANG | WCONTINUED), c, st);
	kill(c, SIGCONT);
	pid_t r = waitpid(c, &st, 0);
	printf("%s %s: exit %d (EINTR is %d)\n", op == 0 ? "read" : "nanosleep",
	       handler ? "with a SIGCONT handler" : "without a handler", WEXITSTATUS(st), 100 + EINTR);
	(void)r;
	close(data[0]), close(data[1]), close(ready[0]), close(ready[1]);
}

static volatile int got_hup;
static void on_hup(int sig) { (void)sig, got_hup = 1; }

// orphan_stopped: when a group is orphaned (its last member's parent outside it, in
// the session, exits) while a member is stopped, the group gets SIGHUP and SIGCONT.
// It runs in a new session so that whoever adopts the stopped child is outside it.
static void orphan_stopped(void) {
	fflush(stdout);
	pid_t s = fork();
	if (s == 0) {
		setsid();
		int res[2];
		pipe(res);
		pid_t a = fork();
		if (a == 0) {
			setpgid(0, 0);
			pid_t g = fork();
			if (g == 0) {
				signal(SIGHUP, on_hup);
				raise(SIGSTOP);
				char r = got_hup ? 'H' : 'n';
				write(res[1], &r, 1);
				_exit(0);
			}
			int st;
			waitpid(g, &st, WUNTRACED);
			_exit(WIFSTOPPED(st) ? 0 : 1);
		}
		int st;
		waitpid(a, &st, 0);
		char r = '?';
		read(res[0], &r, 1);
		printf("a stopped member of a group orphaned by an exit: stopped first %d, SIGHUP then continued %d\n",
		       WEXITSTATUS(st) == 0, r == 'H');
		fflush(stdout);
		_exit(0);
	}
	waitpid(s, NULL, 0);
}

static int run(void) {
	stop_and_continue();
	sigchld();
	pending();
	groups();
	orphan_stopped();
	blocked(0, 0);
	blocked(0, 1);
	blocked(1, 0);
	blocked(1, 1);
	int st;
	CHECK("wait4 WUNTRACED no children", waitpid(-1, &st, WUNTRACED));
	CHECK("wait4 bad flag", waitpid(-1, &st, 0x100));
	return 0;
}

// main runs everything in a child that leads a process group of its own, so that its
// group is not orphaned (this process is outside it, in the same session) wherever
// the program runs: natively or as a sandbox's init.
int main(void) {
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		int r = run();
		fflush(stdout);
		_exit(r);
	}
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
