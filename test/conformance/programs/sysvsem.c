// SysV semaphores: semget's checks, semctl (GETVAL/SETVAL/GETALL/SETALL/GETPID/
// GETNCNT/GETZCNT/IPC_STAT/IPC_SET/IPC_RMID/IPC_INFO), semop's atomicity, IPC_NOWAIT,
// semtimedop's timeout, SEM_UNDO applied at exit, two processes ping-ponging through
// semaphores, a sleeper interrupted by a signal (EINTR, never restarted) and woken by
// the set's removal (EIDRM).
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

static int waitchild(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int op(int id, unsigned short num, short o, short flg) {
	struct sembuf b = {num, o, flg};
	return semop(id, &b, 1);
}

// waitfor polls until the count cmd of semaphore num reaches n (a child is asleep).
static void waitfor(int id, int num, int cmd, int n) {
	for (int i = 0; i < 2000 && semctl(id, num, cmd) != n; i++)
		usleep(1000);
}

static void onalrm(int sig) { (void)sig; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	key_t key = 0x73650000 | (getpid() & 0xffff);
	union semun arg;

	// semget.
	CHECK("semget 0 sems", semget(IPC_PRIVATE, 0, 0600));
	CHECK("semget negative", semget(IPC_PRIVATE, -1, 0600));
	CHECK("semget too many", semget(IPC_PRIVATE, 1 << 20, 0600));
	CHECK("semget missing key", semget(key, 1, 0600));
	int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
	printf("semget create: %s\n", id >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("semget excl", semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
	printf("semget same: %s\n", semget(key, 2, 0) == id ? "same id" : "other");
	CHECK("semget more sems", semget(key, 4, 0));

	// semctl values.
	CHECK("GETVAL new", semctl(id, 0, GETVAL));
	arg.val = 5;
	CHECK("SETVAL", semctl(id, 0, SETVAL, arg));
	CHECK("GETVAL", semctl(id, 0, GETVAL));
	printf("GETPID is self: %d\n", semctl(id, 0, GETPID) == getpid());
	arg.val = -1;
	CHECK("SETVAL negative", semctl(id, 0, SETVAL, arg));
	arg.val = 40000;
	CHECK("SETVAL too big", semctl(id, 0, SETVAL, arg));
	arg.val = 1;
	CHECK("SETVAL bad num", semctl(id, 3, SETVAL, arg));
	CHECK("GETVAL bad num", semctl(id, -1, GETVAL));
	CHECK("GETVAL bad id", semctl(-1, 0, GETVAL));
	CHECK("bad command", semctl(id, 0, 99));
	unsigned short vals[3] = {1, 2, 3}, got[3];
	arg.array = vals;
	CHECK("SETALL", semctl(id, 0, SETALL, arg));
	arg.array = got;
	CHECK("GETALL", semctl(id, 0, GETALL, arg));
	printf("values %d %d %d\n", got[0], got[1], got[2]);
	arg.array = (void *)8;
	CHECK("GETALL bad buffer", semctl(id, 0, GETALL, arg));
	unsigned short big[3] = {1, 40000, 1};
	arg.array = big;
	CHECK("SETALL too big", semctl(id, 0, SETALL, arg));
	struct semid_ds ds;
	arg.buf = &ds;
	CHECK("IPC_STAT", semctl(id, 0, IPC_STAT, arg));
	printf("nsems %lu mode %o key ok %d\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode, ds.sem_perm.__key == key);

	// semop: atomic (all or nothing), IPC_NOWAIT, ERANGE, bad arguments.
	struct sembuf two[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
	CHECK("semop all or nothing", semop(id, two, 2));
	CHECK("after it GETVAL 0", semctl(id, 0, GETVAL));
	CHECK("semop nowait", op(id, 2, -4, IPC_NOWAIT));
	CHECK("semop zero nowait", op(id, 0, 0, IPC_NOWAIT));
	CHECK("semop range", op(id, 0, 32767, 0));
	CHECK("semop bad num", op(id, 3, 1, 0));
	CHECK("semop no ops", semop(id, two, 0));
	CHECK("semop bad id", op(-1, 0, 1, 0));
	CHECK("semop bad buffer", semop(id, (void *)8, 1));
	struct sembuf many[501];
	CHECK("semop too many", semop(id, many, 501));
	struct timespec ts = {0, 20 * 1000 * 1000};
	struct sembuf down = {2, -10, 0};
	CHECK("semtimedop times out", semtimedop(id, &down, 1, &ts));
	ts.tv_nsec = -1;
	CHECK("semtimedop bad timeout", semtimedop(id, &down, 1, &ts));
	CHECK("semop ok", op(id, 1, -2, 0));
	CHECK("GETVAL after", semctl(id, 1, GETVAL));

	// SEM_UNDO: a child's adjustments are undone when it exits.
	pid_t pid = fork();
	if (pid == 0) {
		op(id, 2, 4, SEM_UNDO);
		op(id, 2, -1, SEM_UNDO);
		printf("child sees %d\n", semctl(id, 2, GETVAL));
		_exit(0);
	}
	waitchild(pid);
	CHECK("after child exit, undone", semctl(id, 2, GETVAL));

	// Ping-pong: sem 0 is the parent's turn, sem 1 the child's.
	arg.val = 0;
	semctl(id, 0, SETVAL, arg);
	semctl(id, 1, SETVAL, arg);
	const int rounds = 100;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < rounds; i++) {
			if (op(id, 1, -1, 0) < 0)
				_exit(1);
			op(id, 0, 1, 0);
		}
		_exit(0);
	}
	int ok = 1;
	for (int i = 0; i < rounds; i++) {
		op(id, 1, 1, 0);
		if (op(id, 0, -1, 0) < 0)
			ok = 0;
	}
	printf("ping-pong: %d child %d\n", ok, waitchild(pid));
	printf("GETPID after ping-pong is the child's: %d\n", semctl(id, 0, GETPID) == pid);

	// A sleeper shows in GETNCNT / GETZCNT, and is woken by the value it waits for.
	pid = fork();
	if (pid == 0)
		_exit(op(id, 0, -2, 0) == 0 ? 0 : 1);
	waitfor(id, 0, GETNCNT, 1);
	CHECK("GETNCNT", semctl(id, 0, GETNCNT));
	CHECK("GETZCNT", semctl(id, 0, GETZCNT));
	op(id, 0, 1, 0);
	usleep(10000);
	CHECK("still asleep at 1", semctl(id, 0, GETNCNT));
	op(id, 0, 1, 0);
	printf("woken: %d\n", waitchild(pid));
	arg.val = 1;
	semctl(id, 2, SETVAL, arg);
	pid = fork();
	if (pid == 0)
		_exit(op(id, 2, 0, 0) == 0 ? 0 : 1);
	waitfor(id, 2, GETZCNT, 1);
	CHECK("GETZCNT waiting for zero", semctl(id, 2, GETZCNT));
	op(id, 2, -1, 0);
	printf("zero waiter woken: %d\n", waitchild(pid));

	// A signal interrupts semop with EINTR even with SA_RESTART.
	struct sigaction sa = {.sa_handler = onalrm, .sa_flags = SA_RESTART};
	sigaction(SIGALRM, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		int r = op(id, 1, -1, 0);
		_exit(r < 0 && errno == EINTR ? 0 : 1);
	}
	waitfor(id, 1, GETNCNT, 1);
	kill(pid, SIGALRM);
	printf("interrupted with EINTR: %d\n", waitchild(pid));

	// Permissions, checked by an unprivileged child.
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		CHECK("other: GETVAL", semctl(id, 0, GETVAL));
		CHECK("other: semop", op(id, 0, 1, IPC_NOWAIT));
		CHECK("other: IPC_RMID", semctl(id, 0, IPC_RMID));
		_exit(0);
	}
	waitchild(pid);
	ds.sem_perm.mode = 0644;
	arg.buf = &ds;
	CHECK("IPC_SET", semctl(id, 0, IPC_SET, arg));
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		CHECK("other after IPC_SET: GETVAL", semctl(id, 0, GETVAL));
		CHECK("other after IPC_SET: semop", op(id, 0, 1, IPC_NOWAIT));
		_exit(0);
	}
	waitchild(pid);

	// Removal wakes sleepers with EIDRM.
	pid = fork();
	if (pid == 0) {
		int r = op(id, 1, -1, 0);
		_exit(r < 0 && errno == EIDRM ? 0 : 1);
	}
	waitfor(id, 1, GETNCNT, 1);
	CHECK("IPC_RMID", semctl(id, 0, IPC_RMID));
	printf("sleeper got EIDRM: %d\n", waitchild(pid));
	CHECK("GETVAL removed", semctl(id, 0, GETVAL));
	CHECK("semop removed", op(id, 0, 1, 0));
	CHECK("semget removed key", semget(key, 1, 0));

	struct seminfo si;
	arg.__buf = &si;
	printf("IPC_INFO: %s\n", semctl(0, 0, IPC_INFO, arg) >= 0 ? "ok" : strerrorname_np(errno));
	return 0;
}
