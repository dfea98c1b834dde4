// Timers on CPU time: setitimer's ITIMER_VIRTUAL and ITIMER_PROF (their values, a busy
// loop reaching them, sleeping not counting, intervals), POSIX timers on
// CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and the clocks of
// clock_getcpuclockid and pthread_getcpuclockid (relative, absolute, SIGEV_NONE,
// several threads), clock_nanosleep on CPU clocks, and the errors of those clocks.
// Only what does not depend on timing is printed.
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static long long ns(clockid_t c) {
	struct timespec ts;
	if (clock_gettime(c, &ts) < 0)
		return -1;
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static volatile sig_atomic_t got[65];
static void on_sig(int sig) { got[sig]++; }

// burn spins until got[sig] reaches n, for at most 5 s of wall time; it reports
// whether it did.
static int burn(int sig, int n) {
	long long end = ns(CLOCK_MONOTONIC) + 5000000000LL;
	while (got[sig] < n)
		if (ns(CLOCK_MONOTONIC) > end)
			return 0;
	return 1;
}

static volatile int stop_spinning;
static void *spin(void *arg) {
	(void)arg;
	while (!stop_spinning)
		;
	return NULL;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static long tv_us(struct timeval tv) { return tv.tv_sec * 1000000 + tv.tv_usec; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGPROF, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	// ITIMER_PROF, once.
	struct itimerval v = {{0, 0}, {0, 50000}}, o;
	long long cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	CHECK("setitimer PROF 50ms", setitimer(ITIMER_PROF, &v, NULL));
	getitimer(ITIMER_PROF, &o);
	printf("getitimer PROF: value in (0, 54ms] %d interval %ld\n",
	       tv_us(o.it_value) > 0 && tv_us(o.it_value) <= 54000, tv_us(o.it_interval));
	printf("SIGPROF came: %d\n", burn(SIGPROF, 1));
	getitimer(ITIMER_PROF, &o);
	printf("getitimer PROF after: %ld %ld\n", tv_us(o.it_value), tv_us(o.it_interval));

	// ITIMER_VIRTUAL with an interval; the old value.
	v.it_value.tv_usec = 20000;
	v.it_interval.tv_usec = 20000;
	CHECK("setitimer VIRTUAL 20ms/20ms", setitimer(ITIMER_VIRTUAL, &v, NULL));
	printf("three SIGVTALRM: %d\n", burn(SIGVTALRM, 3));
	struct itimerval zero = {{0, 0}, {0, 0}};
	CHECK("disarm", setitimer(ITIMER_VIRTUAL, &zero, &o));
	printf("old: value in (0, 24ms] %d interval %ld\n", tv_us(o.it_value) > 0 && tv_us(o.it_value) <= 24000,
	       tv_us(o.it_interval));
	got[SIGVTALRM] = 0;

	// Sleeping takes no CPU time.
	v.it_value.tv_usec = 30000;
	v.it_interval.tv_usec = 0;
	setitimer(ITIMER_VIRTUAL, &v, NULL);
	sleep_ms(150);
	getitimer(ITIMER_VIRTUAL, &o);
	printf("after sleeping: signal %d armed %d\n", (int)got[SIGVTALRM], tv_us(o.it_value) > 0);
	setitimer(ITIMER_VIRTUAL, &zero, NULL);
	CHECK("setitimer bad which", setitimer(7, &v, NULL));
	v.it_value.tv_usec = 1000000;
	CHECK("setitimer bad usec", setitimer(ITIMER_PROF, &v, NULL));

	// POSIX timers on the process's and the thread's CPU clocks.
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	timer_t tp, tt, tn;
	CHECK("timer_create PROCESS_CPUTIME", timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tp));
	struct itimerspec its = {{0, 0}, {0, 40000000}}, cur;
	cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	CHECK("timer_settime 40ms", timer_settime(tp, 0, &its, NULL));
	timer_gettime(tp, &cur);
	printf("timer_gettime: in (0, 40ms] %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
						       cur.it_value.tv_nsec <= 40000000);
	printf("SIGUSR1 came: %d\n", burn(SIGUSR1, 1));
	timer_gettime(tp, &cur);
	printf("disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	sev.sigev_signo = SIGUSR2;
	CHECK("timer_create THREAD_CPUTIME", timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &tt));
	long long tnow = ns(CLOCK_THREAD_CPUTIME_ID) + 30000000;
	its.it_value.tv_sec = tnow / 1000000000;
	its.it_value.tv_nsec = tnow % 1000000000;
	CHECK("timer_settime absolute", timer_settime(tt, TIMER_ABSTIME, &its, NULL));
	printf("SIGUSR2 came: %d\n", burn(SIGUSR2, 1));
	sev.sigev_notify = SIGEV_NONE;
	CHECK("timer_create SIGEV_NONE", timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tn));
	its.it_value.tv_sec = 1;
	its.it_value.tv_nsec = 0;
	timer_settime(tn, 0, &its, NULL);
	struct itimerspec c1, c2;
	timer_gettime(tn, &c1);
	long long until = ns(CLOCK_PROCESS_CPUTIME_ID) + 20000000;
	while (ns(CLOCK_PROCESS_CPUTIME_ID) < until)
		;
	timer_gettime(tn, &c2);
	printf("SIGEV_NONE timer went down by 20ms: %d\n",
	       (c1.it_value.tv_nsec - c2.it_value.tv_nsec) + (c1.it_value.tv_sec - c2.it_value.tv_sec) * 1000000000L >=
		       20000000);
	timer_delete(tn);

	// Two spinning threads move the process's clock.
	got[SIGUSR1] = 0;
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, spin, NULL);
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 100000000;
	timer_settime(tp, 0, &its, NULL);
	long long end = ns(CLOCK_MONOTONIC) + 5000000000LL;
	while (!got[SIGUSR1] && ns(CLOCK_MONOTONIC) < end)
		sleep_ms(5);
	printf("threads' CPU time: SIGUSR1 %d\n", (int)got[SIGUSR1]);
	// clock_nanosleep on the process clock while they spin.
	struct timespec d = {0, 50000000};
	cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	CHECK("clock_nanosleep PROCESS_CPUTIME 50ms", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &d, NULL));
	printf("the clock went 50ms on: %d\n", ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0 >= 50000000);
	long long target = ns(CLOCK_PROCESS_CPUTIME_ID) + 30000000;
	struct timespec at = {target / 1000000000, target % 1000000000};
	CHECK("clock_nanosleep absolute", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &at, NULL));
	printf("reached: %d\n", ns(CLOCK_PROCESS_CPUTIME_ID) >= target);
	clockid_t tc;
	CHECK("pthread_getcpuclockid", pthread_getcpuclockid(th[0], &tc));
	long long t0 = ns(tc);
	printf("thread clock: %d\n", t0 > 0);
	CHECK("clock_nanosleep on a spinning thread's clock", clock_nanosleep(tc, 0, &d, NULL));
	printf("it went 50ms on: %d\n", ns(tc) - t0 >= 50000000);
	timer_t tth;
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	got[SIGUSR2] = 0;
	CHECK("timer_create on its clock", timer_create(tc, &sev, &tth));
	its.it_value.tv_nsec = 30000000;
	timer_settime(tth, 0, &its, NULL);
	end = ns(CLOCK_MONOTONIC) + 5000000000LL;
	while (!got[SIGUSR2] && ns(CLOCK_MONOTONIC) < end)
		sleep_ms(5);
	printf("its timer: SIGUSR2 %d\n", (int)got[SIGUSR2]);
	timer_delete(tth);
	stop_spinning = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	// The thread's ID goes a moment after pthread_join returns (its clear_child_tid is
	// woken first, on Linux too).
	for (int i = 0; i < 200 && clock_gettime(tc, &at) == 0; i++)
		sleep_ms(10);
	CHECK("clock_gettime of an exited thread's clock", clock_gettime(tc, &at));

	// clock_nanosleep's errors.
	clockid_t self;
	pthread_getcpuclockid(pthread_self(), &self);
	printf("clock_nanosleep own thread clock: %s\n", strerrorname_np(clock_nanosleep(self, 0, &d, NULL)));
	printf("clock_nanosleep THREAD_CPUTIME (glibc): %s\n",
	       strerrorname_np(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL)));
	CHECK("raw clock_nanosleep THREAD_CPUTIME",
	      syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL));
	CHECK("raw clock_nanosleep own thread clock", syscall(SYS_clock_nanosleep, self, 0, &d, NULL));
	d.tv_nsec = 1000000000;
	CHECK("raw clock_nanosleep bad time", syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &d, NULL));

	// Other processes' clocks.
	clockid_t pc;
	CHECK("clock_getcpuclockid 0", clock_getcpuclockid(0, &pc));
	printf("own clock: %d\n", ns(pc) > 0);
	CHECK("clock_getcpuclockid self", clock_getcpuclockid(getpid(), &pc));
	int up[2], down[2];
	pipe(up);
	pipe(down);
	pid_t pid = fork();
	if (pid == 0) {
		long long u = ns(CLOCK_PROCESS_CPUTIME_ID) + 30000000;
		while (ns(CLOCK_PROCESS_CPUTIME_ID) < u)
			;
		write(up[1], "x", 1);
		char c;
		read(down[0], &c, 1);
		_exit(0);
	}
	char c;
	read(up[0], &c, 1);
	CHECK("clock_getcpuclockid child", clock_getcpuclockid(pid, &pc));
	printf("child's clock past 30ms: %d\n", ns(pc) >= 30000000);
	clockid_t childthread = ((~pid) << 3) | 6;
	CHECK("clock_gettime child's thread clock", clock_gettime(childthread, &at));
	CHECK("clock_gettime kind 3", clock_gettime(((~pid) << 3) | 3, &at));
	CHECK("clock_getres SCHED", clock_getres(pc, &at));
	printf("resolution %ld\n", at.tv_nsec);
	CHECK("timer_create on a bad clock", timer_create(((~pid) << 3) | 3, NULL, &tth));
	write(down[1], "x", 1);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	printf("zombie's clock: %d\n", ns(pc) >= 30000000);
	waitpid(pid, NULL, 0);
	CHECK("reaped's clock", clock_gettime(pc, &at));
	printf("clock_getcpuclockid reaped: %s\n", strerrorname_np(clock_getcpuclockid(pid, &pc)));
	return 0;
}
