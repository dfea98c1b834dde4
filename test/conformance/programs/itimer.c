// itimer: setitimer and getitimer on ITIMER_REAL (value, interval, old value, NULL),
// alarm's rounding of what was left, a periodic timer's signals, fork not inheriting
// the timer, and the errors.
#include "common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile int alarms;
static void on_alarm(int sig) {
	(void)sig;
	alarms++;
}

static void set(long sec, long usec, long isec, long iusec) {
	struct itimerval v = {{isec, iusec}, {sec, usec}};
	setitimer(ITIMER_REAL, &v, NULL);
}

int main(void) {
	struct itimerval v, old;
	CHECK("getitimer REAL", getitimer(ITIMER_REAL, &v));
	printf("unarmed: %ld %ld %ld %ld\n", (long)v.it_value.tv_sec, (long)v.it_value.tv_usec,
	       (long)v.it_interval.tv_sec, (long)v.it_interval.tv_usec);

	set(10, 0, 3, 5);
	getitimer(ITIMER_REAL, &v);
	printf("armed: value in (9 s, 10 s] %d, interval %ld %ld\n",
	       v.it_value.tv_sec == 9 || (v.it_value.tv_sec == 10 && v.it_value.tv_usec == 0),
	       (long)v.it_interval.tv_sec, (long)v.it_interval.tv_usec);
	struct itimerval zero = {{0, 0}, {0, 0}};
	CHECK("setitimer disarm with old", setitimer(ITIMER_REAL, &zero, &old));
	printf("old: value near 10 s %d, interval %ld %ld\n", old.it_value.tv_sec >= 9,
	       (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec);

	// alarm reports what was left rounded to the nearest second, and never 0.
	set(1, 400000, 0, 0);
	printf("alarm after 1.4 s: %u\n", alarm(0));
	set(1, 700000, 0, 0);
	printf("alarm after 1.7 s: %u\n", alarm(0));
	set(0, 300000, 0, 0);
	printf("alarm after 0.3 s: %u\n", alarm(0));
	alarm(7);
	getitimer(ITIMER_REAL, &v);
	printf("alarm(7) is the real timer: %d\n", v.it_value.tv_sec == 6 || v.it_value.tv_sec == 7);
	CHECK("setitimer NULL disarms", setitimer(ITIMER_REAL, NULL, &old));
	printf("  and returned the alarm %d\n", old.it_value.tv_sec >= 6);
	getitimer(ITIMER_REAL, &v);
	printf("  now %ld %ld\n", (long)v.it_value.tv_sec, (long)v.it_value.tv_usec);

	// Not inherited by a child.
	set(5, 0, 0, 0);
	pid_t c = fork();
	if (c == 0) {
		getitimer(ITIMER_REAL, &v);
		_exit(v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0 ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child has no timer %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	// A periodic timer: five signals, then disarm.
	signal(SIGALRM, on_alarm);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	set(0, 20000, 0, 20000);
	while (alarms < 5)
		sigsuspend(&empty);
	setitimer(ITIMER_REAL, &zero, NULL);
	printf("periodic alarms %d\n", alarms);
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	struct itimerval bad = {{0, 0}, {0, 1000000}};
	CHECK("setitimer usec 1e6", setitimer(ITIMER_REAL, &bad, NULL));
	struct itimerval neg = {{0, 0}, {-1, 0}};
	CHECK("setitimer negative", setitimer(ITIMER_REAL, &neg, NULL));
	struct itimerval badi = {{0, -1}, {1, 0}};
	CHECK("setitimer bad interval", setitimer(ITIMER_REAL, &badi, NULL));
	CHECK("setitimer bad which", setitimer(3, &zero, NULL));
	CHECK("setitimer bad address", setitimer(ITIMER_REAL, (struct itimerval *)8, NULL));
	CHECK("setitimer bad old address", setitimer(ITIMER_REAL, &zero, (struct itimerval *)8));
	CHECK("getitimer bad which", getitimer(5, &v));
	CHECK("getitimer bad address", getitimer(ITIMER_REAL, (struct itimerval *)8));
	CHECK("setitimer VIRTUAL disarm", setitimer(ITIMER_VIRTUAL, &zero, NULL));
	CHECK("getitimer PROF", getitimer(ITIMER_PROF, &v));
	printf("PROF unarmed %d\n", v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0);
	return 0;
}
