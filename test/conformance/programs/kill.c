// kill: signals whose default action ends a process, ignored signals, sig 0, errors;
// and nanosleep.
#include "common.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static pid_t sleeper(void) {
	pid_t c = fork();
	if (c == 0) {
		struct timespec ts = {5, 0};
		nanosleep(&ts, NULL);
		_exit(0);
	}
	return c;
}

int main(void) {
	int st;
	pid_t c = sleeper();
	CHECK("kill 0 to a child", kill(c, 0));
	CHECK("kill SIGTERM", kill(c, SIGTERM));
	waitpid(c, &st, 0);
	printf("signaled %d by SIGTERM %d\n", WIFSIGNALED(st), WTERMSIG(st) == SIGTERM);
	CHECK("kill a reaped child", kill(c, 0));
	CHECK("kill bad signal", kill(getpid(), 65));

	c = sleeper();
	CHECK("kill SIGCHLD (ignored by default)", kill(c, SIGCHLD));
	CHECK("still alive", kill(c, 0));
	CHECK("kill SIGKILL", kill(c, SIGKILL));
	waitpid(c, &st, 0);
	printf("killed by SIGKILL %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	c = fork();
	if (c == 0) {
		signal(SIGUSR1, SIG_IGN);
		kill(getpid(), SIGUSR1); // ignored
		_exit(7);
	}
	waitpid(c, &st, 0);
	printf("ignored SIGUSR1, exit %d\n", WEXITSTATUS(st));

	// A zombie keeps its PID until it is reaped: kill finds it and succeeds.
	c = fork();
	if (c == 0)
		_exit(3);
	siginfo_t si;
	CHECK("waitid WNOWAIT (the child is a zombie)", waitid(P_PID, c, &si, WEXITED | WNOWAIT));
	CHECK("kill 0 to a zombie", kill(c, 0));
	CHECK("kill SIGTERM to a zombie", kill(c, SIGTERM));
	waitpid(c, &st, 0);
	printf("the zombie's status is its own: exit %d\n", WEXITSTATUS(st));
	CHECK("kill the reaped zombie", kill(c, 0));

	CHECK("tgkill bad ids", syscall(SYS_tgkill, 0, 0, 0));
	CHECK("tgkill self, sig 0", syscall(SYS_tgkill, getpid(), getpid(), 0));

	struct timespec ts = {0, 20000000};
	CHECK("nanosleep 20ms", nanosleep(&ts, NULL));
	struct timespec bad = {0, 1000000000};
	CHECK("nanosleep bad nsec", nanosleep(&bad, NULL));
	CHECK("nanosleep bad pointer", syscall(SYS_nanosleep, (void *)16, NULL));
	CHECK("clock_nanosleep bad clock", syscall(SYS_clock_nanosleep, 99, 0, &ts, NULL));
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now.tv_nsec += 10000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	CHECK("clock_nanosleep absolute", syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &now, NULL));
	return 0;
}
