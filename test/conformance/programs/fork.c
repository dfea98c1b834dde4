// fork: fork, vfork, wait4 and the signal dispositions and masks (no delivery).
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

static int shared = 1;

static void handler(int sig) { (void)sig; }

int main(int argc, char **argv) {
	if (argc > 1) // the exec'd child of the vfork case
		return atoi(argv[1]);
	int st;
	pid_t me = getpid();

	pid_t c = fork();
	if (c == 0) {
		shared = 2;
		_exit(getppid() == me ? 3 : 4);
	}
	CHECK("wait4 child", waitpid(c, &st, 0) == c);
	printf("exited %d status %d, parent's copy untouched %d\n", WIFEXITED(st), WEXITSTATUS(st), shared);

	c = fork();
	if (c == 0) {
		volatile int *p = NULL;
		*p = 1; // SIGSEGV
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("signaled %d by SIGSEGV %d\n", WIFSIGNALED(st), WTERMSIG(st) == SIGSEGV);

	c = vfork();
	if (c == 0) {
		execl(argv[0], argv[0], "9", (char *)NULL);
		_exit(127);
	}
	waitpid(c, &st, 0);
	printf("vfork+exec status %d\n", WEXITSTATUS(st));

	CHECK("wait4 no children", wait(&st));
	CHECK("wait4 bad options", syscall(SYS_wait4, -1, &st, 0x100, NULL));
	c = fork();
	if (c == 0) {
		usleep(100000);
		_exit(5);
	}
	CHECK("wait4 WNOHANG while running", waitpid(c, &st, WNOHANG));
	CHECK("wait4 for someone else's pid", waitpid(c + 1000, &st, 0));
	waitpid(c, &st, 0);
	printf("after waiting: %d\n", WEXITSTATUS(st));
	CHECK("wait4 bad status pointer", ({ pid_t d = fork(); if (d == 0) _exit(0); long r = syscall(SYS_wait4, d, (void *)16, 0, NULL); waitpid(d, NULL, 0); r; }));

	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART}, old;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK("sigaction SIGUSR1", sigaction(SIGUSR1, &sa, NULL));
	CHECK("sigaction read back", sigaction(SIGUSR1, NULL, &old));
	printf("handler kept %d restart %d mask has USR2 %d\n", old.sa_handler == handler,
	       (old.sa_flags & SA_RESTART) != 0, sigismember(&old.sa_mask, SIGUSR2));
	CHECK("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
	CHECK("sigaction 0", syscall(SYS_rt_sigaction, 0, NULL, NULL, 8));
	CHECK("sigaction 65", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
	CHECK("sigaction bad size", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
	CHECK("sigaction read SIGKILL", sigaction(SIGKILL, NULL, &old));

	sigset_t set, cur;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGKILL);
	CHECK("sigprocmask block", sigprocmask(SIG_BLOCK, &set, NULL));
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("INT blocked %d KILL blocked %d\n", sigismember(&cur, SIGINT), sigismember(&cur, SIGKILL));
	CHECK("sigprocmask bad how", syscall(SYS_rt_sigprocmask, 99, &set, NULL, 8));
	CHECK("sigprocmask bad size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4));
	CHECK("sigprocmask bad pointer", syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)16, NULL, 8));
	c = fork();
	if (c == 0) {
		sigprocmask(SIG_BLOCK, NULL, &cur);
		_exit(sigismember(&cur, SIGINT) ? 10 : 11);
	}
	waitpid(c, &st, 0);
	printf("child inherits the mask: %d\n", WEXITSTATUS(st));
	return 0;
}
