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
	pid = fork();
	if (pid == 0) {
		struct msg r;
		long n = msgrcv(id, &r, 64, 0, 0);
		_exit(n < 0 && errno == EINTR ? 0 : 1);
	}
	usleep(50000);
	kill(pid, SIGUSR1);
	printf("receiver interrupted with EINTR: %d\n", waitchild(pid));

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
	pid = fork();
	if (pid == 0) {
		struct msg r;
		long n = msgrcv(id, &r, 64, 0, 0);
		_exit(n < 0 && errno == EIDRM ? 0 : 1);
	}
	usleep(50000);
	CHECK("IPC_RMID", msgctl(id, IPC_RMID, NULL));
	printf("receiver got EIDRM: %d\n", waitchild(pid));
	CHECK("IPC_STAT removed", msgctl(id, IPC_STAT, &ds));
	CHECK("msgget removed key", msgget(key, 0));
	CHECK("msgctl bad command", msgctl(0, 99, &ds));
	struct msginfo mi;
	printf("IPC_INFO: %s\n", msgctl(0, IPC_INFO, (void *)&mi) >= 0 ? "ok" : strerrorname_np(errno));
	return 0;
}
