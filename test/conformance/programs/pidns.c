// pidns: PID namespaces (pid_namespaces(7)) made by clone(CLONE_NEWPID) and
// unshare(CLONE_NEWPID), as root: the child is PID 1 with no visible parent, its IDs
// are those of its namespace, the parent sees it under its own ID (wait, SIGCHLD's
// si_pid, credentials on a Unix socket), an init drops the signals it has no handler
// for unless SIGKILL comes from an ancestor and adopts the namespace's orphans, its
// death kills the rest and closes the namespace (fork: ENOMEM); and the errors.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>

static pid_t xclone(unsigned long flags) {
	return syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

static pid_t xgetpid(void) { return syscall(SYS_getpid); }

static volatile pid_t chld_pid;
static void on_chld(int sig, siginfo_t *si, void *uc) {
	(void)sig, (void)uc;
	chld_pid = si->si_pid;
}

static volatile int got_usr1;
static void on_usr1(int sig) {
	(void)sig;
	got_usr1 = 1;
}

// status prints how a child ended.
static void status(const char *what, int st) {
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
}

// recvpid reads a byte from fd and returns the PID of the credentials it came with.
static int recvpid(int fd) {
	char b, buf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {&b, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf};
	if (recvmsg(fd, &m, 0) != 1)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			return ((struct ucred *)CMSG_DATA(c))->pid;
	return -1;
}

// inside runs as the init of a new namespace; outsider is a process of the parent's.
static int inside(pid_t outsider) {
	printf("child: getpid %d gettid %ld getppid %d\n", xgetpid(), syscall(SYS_gettid), getppid());
	CHECK("child: kill an outsider's PID", kill(outsider, 0));
	CHECK("child: getpgid", getpgid(0));
	CHECK("child: getsid", getsid(0));
	CHECK("child: setsid", setsid());
	CHECK("child: getpgid after setsid", getpgid(0));
	// An init ignores signals it has no handler for, even its own.
	CHECK("child: SIGTERM to itself", kill(1, SIGTERM));
	CHECK("child: SIGKILL to itself", kill(xgetpid(), SIGKILL));
	printf("child: still alive\n");
	signal(SIGUSR1, on_usr1);
	pid_t g = fork();
	if (g == 0) {
		printf("grandchild: getpid %d getppid %d\n", xgetpid(), getppid());
		CHECK("grandchild: SIGKILL to init", kill(1, SIGKILL));
		CHECK("grandchild: SIGUSR1 to init", kill(1, SIGUSR1));
		_exit(5);
	}
	int st;
	pid_t w = waitpid(g, &st, 0);
	printf("child: waitpid %d, fork gave %d\n", w, g);
	status("child: grandchild", st);
	printf("child: got SIGUSR1 %d\n", got_usr1);
	// An orphan of the namespace goes to its init.
	pid_t g2 = fork();
	if (g2 == 0) {
		if (fork() == 0) {
			pid_t pp = getppid();
			for (int i = 0; i < 5000 && getppid() == pp; i++)
				usleep(1000);
			printf("orphan: getppid %d\n", getppid());
			_exit(6);
		}
		_exit(0);
	}
	waitpid(g2, &st, 0);
	while ((w = wait(&st)) < 0 && errno == EINTR)
		;
	printf("child: reaped the orphan %d\n", w > 0);
	status("child: orphan", st);
	return 9;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int st;

	// Errors.
	CHECK("clone NEWPID|THREAD", xclone(CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM));
	CHECK("unshare unknown flag", unshare(0x1));
	CHECK("unshare 0", unshare(0));
	pid_t c = fork();
	if (c == 0) {
		if (setuid(65534) != 0)
			_exit(1);
		CHECK("unprivileged clone NEWPID", xclone(CLONE_NEWPID));
		CHECK("unprivileged unshare NEWPID", unshare(CLONE_NEWPID));
		_exit(0);
	}
	waitpid(c, &st, 0);

	// clone(CLONE_NEWPID): IDs inside and out.
	pid_t outsider = fork();
	if (outsider == 0) {
		pause();
		_exit(0);
	}
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGCHLD, &sa, NULL);
	// A subreaper outside the namespace does not take its orphans.
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	c = xclone(CLONE_NEWPID);
	if (c == 0)
		_exit(inside(outsider));
	pid_t w;
	while ((w = waitpid(c, &st, 0)) < 0 && errno == EINTR)
		;
	printf("parent: waitpid gave clone's pid %d, SIGCHLD si_pid too %d\n", w == c, chld_pid == c);
	status("parent: child", st);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	signal(SIGCHLD, SIG_DFL);
	kill(outsider, SIGKILL);
	waitpid(outsider, &st, 0);

	// Credentials on a Unix socket, the holder of a record lock and a System V
	// segment's creator and last user are seen in the reader's namespace.
	int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	struct shmid_ds ds;
	int lk = memfd_create("pidns", 0);
	ftruncate(lk, 2);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	CHECK("parent: lock byte 0", fcntl(lk, F_SETLK, &fl));
	int sv[2], one = 1;
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	c = xclone(CLONE_NEWPID);
	if (c == 0) {
		struct ucred uc;
		socklen_t l = sizeof uc;
		getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l);
		printf("child: SO_PEERCRED pid %d\n", uc.pid);
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
		fcntl(lk, F_GETLK, &q);
		printf("child: byte 0 locked %d by pid %d\n", q.l_type == F_WRLCK, q.l_pid);
		struct flock mine = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1};
		CHECK("child: lock byte 1", fcntl(lk, F_SETLK, &mine));
		shmctl(shm, IPC_STAT, &ds);
		printf("child: shm_cpid %d\n", ds.shm_cpid);
		shmdt(shmat(shm, NULL, 0));
		write(sv[1], "x", 1);
		printf("child: the parent's credentials pid %d\n", recvpid(sv[1]));
		_exit(0);
	}
	printf("parent: the child's credentials pid is clone's %d\n", recvpid(sv[0]) == c);
	struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1};
	fcntl(lk, F_GETLK, &q);
	printf("parent: byte 1 locked %d by clone's pid %d\n", q.l_type == F_WRLCK, q.l_pid == c);
	shmctl(shm, IPC_STAT, &ds);
	printf("parent: shm_cpid is mine %d, shm_lpid is clone's %d\n", ds.shm_cpid == xgetpid(), ds.shm_lpid == c);
	shmctl(shm, IPC_RMID, NULL);
	write(sv[0], "y", 1);
	waitpid(c, &st, 0);
	close(sv[0]);
	close(sv[1]);
	close(lk);

	// From the parent's namespace: SIGTERM is dropped, SIGKILL kills; the init's death
	// kills the rest of its namespace before the parent hears of it.
	int p[2];
	pipe(p);
	c = xclone(CLONE_NEWPID);
	if (c == 0) {
		close(p[0]);
		if (fork() == 0) {
			pause(); // holds the pipe's write end until killed
			_exit(0);
		}
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK("parent: SIGTERM to the child init", kill(c, SIGTERM));
	CHECK("parent: child still there", kill(c, 0));
	CHECK("parent: SIGKILL to the child init", kill(c, SIGKILL));
	waitpid(c, &st, 0);
	status("parent: child init", st);
	struct pollfd pfd = {p[0], POLLIN, 0};
	char b;
	printf("parent: the grandchild is gone: %d\n", poll(&pfd, 1, 0) == 1 && read(p[0], &b, 1) == 0);
	close(p[0]);

	// unshare(CLONE_NEWPID): the caller stays; its first child is init, the next one
	// PID 2 with no visible parent; when init dies, the others die and fork fails.
	c = fork();
	if (c == 0) {
		pid_t me = xgetpid();
		CHECK("unshare NEWPID", unshare(CLONE_NEWPID));
		printf("unsharer: getpid unchanged %d\n", xgetpid() == me);
		CHECK("unshare NEWPID again", unshare(CLONE_NEWPID));
		CHECK("clone NEWPID after unshare", xclone(CLONE_NEWPID));
		CHECK("thread after unshare", xclone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM));
		int q[2];
		pipe(q);
		pid_t a = fork();
		if (a == 0) {
			printf("first: getpid %d getppid %d\n", xgetpid(), getppid());
			write(q[1], "", 1);
			for (;;)
				pause();
		}
		char b1;
		read(q[0], &b1, 1);
		pid_t b2 = fork();
		if (b2 == 0) {
			printf("second: getpid %d getppid %d\n", xgetpid(), getppid());
			write(q[1], "", 1);
			for (;;)
				pause();
		}
		read(q[0], &b1, 1);
		kill(a, SIGKILL);
		int s2;
		waitpid(b2, &s2, 0);
		status("unsharer: second", s2);
		waitpid(a, &s2, 0);
		status("unsharer: first", s2);
		CHECK("unsharer: fork after init died", fork());
		_exit(0);
	}
	waitpid(c, &st, 0);
	status("unsharer", st);

	// Nesting: 32 levels at most.
	c = fork();
	if (c == 0) {
		for (;;) {
			pid_t n = xclone(CLONE_NEWPID);
			if (n < 0)
				_exit(errno);
			if (n > 0) {
				waitpid(n, &st, 0);
				_exit(WEXITSTATUS(st));
			}
		}
	}
	waitpid(c, &st, 0);
	printf("nesting ends with %s\n", strerrorname_np(WEXITSTATUS(st)));
	return 0;
}
