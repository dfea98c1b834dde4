// pgrp: process groups and sessions — setsid, setpgid (and its EPERM, EACCES, ESRCH
// and EINVAL cases), getpgid, getsid, getpgrp, kill and waitpid aimed at a group.
// All of it runs in a child that starts its own session, so that the native and the
// sandboxed runs start from the same place, and prints relations, never PIDs.
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

// sleeper forks a child that waits to be killed.
static pid_t sleeper(void) {
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	return c;
}

static void session(void) {
	int st;
	printf("setsid returns own pid %d\n", setsid() == getpid());
	printf("getsid %d getpgid %d getpgrp %d\n", getsid(0) == getpid(), getpgid(0) == getpid(),
	       getpgrp() == getpid());
	CHECK("setsid as a group leader", setsid());
	CHECK("setpgid of a session leader", setpgid(0, 0));
	CHECK("setpgid negative group", setpgid(0, -1));

	pid_t a = sleeper();
	printf("child inherits the group %d and session %d\n", getpgid(a) == getpid(),
	       getsid(a) == getpid());
	CHECK("setpgid child into a new group", setpgid(a, a));
	printf("child leads its group %d\n", getpgid(a) == a);
	pid_t b = sleeper();
	CHECK("setpgid second child into that group", setpgid(b, a));
	printf("second child in the group %d\n", getpgid(b) == a);

	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, &st, 0);
	CHECK("setpgid into a group that does not exist", setpgid(b, gone));
	CHECK("getpgid of a reaped process", getpgid(gone));
	CHECK("getsid of a reaped process", getsid(gone));
	CHECK("setpgid of a non-child", setpgid(getppid(), 0));
	CHECK("kill a group that does not exist", kill(-gone, 0));

	CHECK("waitpid own group, none there", waitpid(0, &st, WNOHANG));
	CHECK("kill the group", kill(-a, SIGTERM));
	int n = 0;
	while (waitpid(-a, &st, 0) > 0)
		n += WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
	printf("reaped from the group, killed by SIGTERM: %d, then %s\n", n, strerrorname_np(errno));

	// A child that has exec'd can no longer be moved. The pipe closes on exec.
	int p[2];
	pipe2(p, O_CLOEXEC);
	pid_t e = fork();
	if (e == 0) {
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char ch;
	read(p[0], &ch, 1);
	CHECK("setpgid of a child after exec", setpgid(e, e));
	CHECK("kill own group (signal 0)", kill(0, 0));
	kill(e, SIGKILL);
	waitpid(e, &st, 0);

	// A child in the caller's group is found by waitpid(0).
	pid_t f = fork();
	if (f == 0)
		_exit(3);
	printf("waitpid(0) finds it %d\n", waitpid(0, &st, 0) == f && WEXITSTATUS(st) == 3);
	exit(0);
}

int main(void) {
	pid_t s = fork();
	if (s == 0)
		session();
	int st;
	waitpid(s, &st, 0);
	printf("session child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
