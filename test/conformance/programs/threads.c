// threads: 32 pthreads contending on a mutex and a condition variable, joined; thread
// IDs; a signal to the process reaches a thread; exit from a thread ends the process.
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#define THREADS 32
#define ROUNDS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn;
static pid_t tids[THREADS];
static volatile int handled_in;

static void *worker(void *arg) {
	int id = (int)(intptr_t)arg;
	tids[id] = syscall(SYS_gettid);
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	// Take turns in order through the condition variable.
	pthread_mutex_lock(&mu);
	while (turn != id)
		pthread_cond_wait(&cond, &mu);
	turn++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return (void *)(intptr_t)(id * 2);
}

static void handler(int sig) {
	(void)sig;
	handled_in = syscall(SYS_gettid) != getpid();
}

static void *blocker_free(void *arg) {
	(void)arg;
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	while (!handled_in)
		usleep(1000);
	return NULL;
}

static int go[2];

// unblock_later unblocks SIGUSR1 once the main thread says so, and waits (at most
// 5 s) for its handler to run.
static void *unblock_later(void *arg) {
	(void)arg;
	char c;
	read(go[0], &c, 1);
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < 5000 && !handled_in; i++)
		usleep(1000);
	return NULL;
}

static void *exiter(void *arg) {
	(void)arg;
	exit(7); // the whole process
}

int main(void) {
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	long sum = 0;
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		sum += (intptr_t)ret;
	}
	int distinct = 1;
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < i; j++)
			distinct &= tids[i] != tids[j] && tids[i] != getpid();
	printf("counter %ld, turns %d, join sum %ld, thread ids distinct %d\n", counter, turn, sum, distinct);

	// A signal to the process goes to the thread that doesn't block it.
	signal(SIGUSR1, handler);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_t t2;
	pthread_create(&t2, NULL, blocker_free, NULL);
	usleep(20000);
	kill(getpid(), SIGUSR1);
	pthread_join(t2, NULL);
	printf("handled in the other thread %d\n", handled_in);

	// A signal sent while every thread blocks it waits for the process: the first
	// thread to unblock it gets it (here surely after the kill).
	handled_in = 0;
	if (pipe(go) < 0)
		return 1;
	pthread_create(&t2, NULL, unblock_later, NULL);
	kill(getpid(), SIGUSR1);
	write(go[1], "g", 1);
	pthread_join(t2, NULL);
	printf("sent while all blocked, handled in the thread that unblocked it %d\n", handled_in);

	// exit from a thread ends every thread of the process.
	pid_t c = fork();
	if (c == 0) {
		pthread_t t3;
		pthread_create(&t3, NULL, exiter, NULL);
		for (;;)
			pause();
	}
	int st;
	waitpid(c, &st, 0);
	printf("process ended by a thread's exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
