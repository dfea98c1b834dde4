// waitid: P_ALL, P_PID and P_PGID; WNOHANG, WNOWAIT; the siginfo of an exit and of a
// kill; its errors (EINVAL, ECHILD, EFAULT).
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

static void show(const char *what, int r, siginfo_t *si, pid_t want) {
	if (r == -1) {
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: %d signo %d code %d pid matches %d uid matches %d status %d\n", what, r,
	       si->si_signo, si->si_code, si->si_pid == want, si->si_uid == getuid(), si->si_status);
}

static pid_t child(int code) {
	pid_t c = fork();
	if (c == 0)
		_exit(code);
	return c;
}

int main(void) {
	siginfo_t si;
	CHECK("waitid with no children", waitid(P_ALL, 0, &si, WEXITED));
	CHECK("waitid no event flags", waitid(P_ALL, 0, &si, WNOHANG));
	CHECK("waitid unknown flag", waitid(P_ALL, 0, &si, WEXITED | 0x100));
	CHECK("waitid bad idtype", waitid(9, 0, &si, WEXITED));
	CHECK("waitid P_PID 0", waitid(P_PID, 0, &si, WEXITED));
	CHECK("waitid P_PGID negative", waitid(P_PGID, (id_t)-5, &si, WEXITED));

	pid_t c = child(7);
	show("P_PID WNOWAIT", waitid(P_PID, c, &si, WEXITED | WNOWAIT), &si, c);
	show("P_PID again (still a zombie)", waitid(P_PID, c, &si, WEXITED), &si, c);
	CHECK("P_PID after reaping", waitid(P_PID, c, &si, WEXITED));

	// A live child and WNOHANG: success, and si_pid and si_signo zeroed.
	int p[2];
	pipe(p);
	c = fork();
	if (c == 0) {
		char ch;
		close(p[1]);
		read(p[0], &ch, 1);
		_exit(0);
	}
	close(p[0]);
	memset(&si, 0x55, sizeof si);
	int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
	printf("WNOHANG, nothing yet: %d signo %d pid %d\n", r, si.si_signo, si.si_pid);
	kill(c, SIGKILL);
	show("P_ALL after SIGKILL", waitid(P_ALL, 0, &si, WEXITED), &si, c);

	c = child(3);
	show("P_PGID own group (0)", waitid(P_PGID, 0, &si, WEXITED), &si, c);
	c = child(4);
	show("P_PGID own group by id", waitid(P_PGID, getpgrp(), &si, WEXITED), &si, c);
	c = child(5);
	show("infop NULL", waitid(P_PID, c, NULL, WEXITED), &si, c);
	c = child(6);
	CHECK("infop bad address", waitid(P_PID, c, (siginfo_t *)8, WEXITED));
	CHECK("child reaped anyway", waitid(P_PID, c, &si, WEXITED | WNOHANG));

	// SIGCHLD is queued before the parent's wait returns (do_notify_parent).
	sigset_t chld, pending;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int missing = 0;
	for (int i = 0; i < 20; i++) {
		c = child(0);
		waitid(P_PID, c, &si, WEXITED);
		sigpending(&pending);
		missing += !sigismember(&pending, SIGCHLD);
		struct timespec zero = {0, 0};
		sigtimedwait(&chld, NULL, &zero);
	}
	printf("SIGCHLD pending when wait returns: missing %d of 20\n", missing);
	return 0;
}
