// SysV message queues: msgget's keys and flags; msgsnd and msgrcv with message types
// (any, equal, MSG_EXCEPT, lowest at most), MSG_NOERROR and E2BIG, IPC_NOWAIT, a full
// queue blocking its sender until a receiver makes room, a receiver interrupted by a
// signal and one woken by removal; msgctl IPC_STAT/IPC_SET/IPC_RMID/IPC_INFO.
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <sys/wait.h>

struct msg {
	long type;
	char text[64];
};

static int waitchild(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int snd(int id, long type, const char *text, int flg) {
	struct msg m = {type, ""};
	strcpy(m.text, text);
	return msgsnd(id, &m, strlen(text) + 1, flg);
}

static void rcv(const char *name, int id, size_t size, long type, int flg) {
	struct msg m = {0, ""};
	errno = 0;
	long n = msgrcv(id, &m, size, type, flg);
	if (n < 0)
		printf("%s: -1 %s\n", name, strerrorname_np(errno));
	else
		printf("%s: %ld type %ld \"%.*s\"\n", name, n, m.type, (int)n, m.text);
}

static long qnum(int id) {
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	return (long)ds.msg_qnum;
}

static void onusr(int sig) { (void)sig; }

// A parent cannot see that its child sleeps in msgrcv (Linux shows it only as the
// state in /proc, which the Sentry does not keep), so the two checks of a sleeping
// receiver below do not assume that a fixed delay was long enough: they try again,
// each time waiting longer, until the child was asleep when the event came, and only
// then print. A receiver that never sees the event still ends the test, within ~15 s.

// interrupt_receiver forks a child that waits in msgrcv on id and signals it until its
// msgrcv returns: a signal that comes before the child waits runs the handler and
// changes nothing. It returns the child's status: 0 if msgrcv failed with EINTR.
static int interrupt_receiver(int id) {
	pid_t pid = fork();
	if (pid == 0) {
		struct msg r;
		long n = msgrcv(id, &r, 64, 0, 0);
		_exit(n < 0 && errno == EINTR ? 0 : 1);
	}
	for (long us = 1000; us < 8000000; us *= 2) {
		usleep(us);
		kill(pid, SIGUSR1);
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	kill(pid, SIGKILL);
	return waitchild(pid);
}

// removal_wakes_receiver makes a queue, forks a child that waits in msgrcv on it, and
// removes the queue: the child's msgrcv fails with EIDRM. If the removal came before
// the child waited (its msgrcv fails with EINVAL: no such queue), it starts again with
// a new queue and a longer delay. It returns msgctl's result and the child's status
// (0 for EIDRM).
static int removal_wakes_receiver(int *rmid) {
	int status = -1;
	for (long us = 1000; us < 8000000; us *= 2) {
		int id = msgget(IPC_PRIVATE, 0600);
		if (id < 0)
			return -1;
		pid_t pid = fork();
		if (pid == 0) {
			struct msg r;
			long n = msgrcv(id, &r, 64, 0, 0);
			_exit(n < 0 && errno == EIDRM ? 0 : n < 0 && errno == EINVAL ? 2 : 1);
		}
		usleep(us);
		*rmid = msgctl(id, IPC_RMID, NULL);
		status = waitchild(pid);
		if (status != 2)
			break;
	}
	return status;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	key_t key = 0x6d730000 | (getpid() & 0xffff);

	CHECK("msgget missing", msgget(key, 0600));
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	printf("msgget create: %s\n", id >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("msgget excl", msgget(key, IPC_CREAT | IPC_EXCL | 0600));
	printf("msgget same: %s\n", msgget(key, 0) == id ? "same id" : "other");

	// msgsnd checks.
	struct msg m = {0, "x"};
	CHECK("msgsnd type 0", msgsnd(id, &m, 2, 0));
	m.type = 1;
	CHECK("msgsnd too big", msgsnd(id, &m, 8193, 0));
	CHECK("msgsnd bad id", msgsnd(-1, &m, 2, 0));
	CHECK("msgsnd bad buffer", msgsnd(id, (void *)8, 2, 0));

	// Types.
	CHECK("send 3 a", snd(id, 3, "a", 0));
	CHECK("send 1 b", snd(id, 1, "b", 0));
	CHECK("send 2 c", snd(id, 2, "c", 0));
	CHECK("send 1 d", snd(id, 1, "d", 0));
	CHECK("send 5 e", snd(id, 5, "e", 0));
	printf("qnum %ld\n", qnum(id));
	rcv("rcv type 2", id, 64, 2, 0);
	rcv("rcv except 3", id, 64, 3, MSG_EXCEPT);
	rcv("rcv lowest <= 4", id, 64, -4, 0);
	rcv("rcv any", id, 64, 0, 0);
	rcv("rcv type 9 nowait", id, 64, 9, IPC_NOWAIT);
	CHECK("send 7 long", snd(id, 7, "a longer message", 0));
	rcv("rcv too small", id, 4, 7, 0);
	rcv("rcv noerror", id, 4, 7, MSG_NOERROR);
	rcv("rcv last", id, 64, 0, 0);
	rcv("rcv empty nowait", id, 64, 0, IPC_NOWAIT);
	rcv("rcv bad id", -1, 64, 0, 0);
	rcv("rcv copy", id, 64, 0, MSG_COPY);

	// IPC_STAT and IPC_SET: a smaller queue fills up.
	struct msqid_ds ds;
	CHECK("IPC_STAT", msgctl(id, IPC_STAT, &ds));
	printf("qbytes %lu qnum %lu cbytes %lu lspid self %d lrpid self %d mode %o\n", (unsigned long)ds.msg_qbytes,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, ds.msg_lspid == getpid(),
	       ds.msg_lrpid == getpid(), ds.msg_perm.mode);
	ds.msg_qbytes = 10;
	CHECK("IPC_SET qbytes 10", msgctl(id, IPC_SET, &ds));
	CHECK("send 6 bytes", snd(id, 1, "12345", 0));
	CHECK("send 6 more nowait", snd(id, 1, "67890", IPC_NOWAIT));

	// A blocked sender is let in when a receiver makes room.
	pid_t pid = fork();
	if (pid == 0)
		_exit(snd(id, 2, "later", 0) == 0 ? 0 : 1);
	usleep(50000);
	printf("qnum while sender waits: %ld\n", qnum(id));
	rcv("rcv makes room", id, 64, 0, 0);
	printf("sender: %d\n", waitchild(pid));
	rcv("rcv from child", id, 64, 0, 0);

	// A receiver interrupted by a signal with a handler: EINTR.
	struct sigaction sa = {.sa_handler = onusr};
	sigaction(SIGUSR1, &sa, NULL);
	printf("receiver interrupted with EINTR: %d\n", interrupt_receiver(id));

	// Permissions.
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		CHECK("other: send", snd(id, 1, "x", IPC_NOWAIT));
		rcv("other: rcv", id, 64, 0, IPC_NOWAIT);
		CHECK("other: IPC_RMID", msgctl(id, IPC_RMID, NULL));
		_exit(0);
	}
	waitchild(pid);

	// Removal wakes a receiver with EIDRM.
	int rmid = -1;
	int status = removal_wakes_receiver(&rmid);
	CHECK("IPC_RMID of a queue with a receiver", rmid);
	printf("receiver got EIDRM: %d\n", status);
	CHECK("IPC_RMID", msgctl(id, IPC_RMID, NULL));
	CHECK("IPC_STAT removed", msgctl(id, IPC_STAT, &ds));
	CHECK("msgget removed key", msgget(key, 0));
	CHECK("msgctl bad command", msgctl(0, 99, &ds));
	struct msginfo mi;
	printf("IPC_INFO: %s\n", msgctl(0, IPC_INFO, (void *)&mi) >= 0 ? "ok" : strerrorname_np(errno));
	return 0;
}
