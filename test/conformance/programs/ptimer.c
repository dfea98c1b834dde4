// ptimer: POSIX timers. timer_create with the default sigevent, SIGEV_SIGNAL,
// SIGEV_NONE and SIGEV_THREAD_ID on CLOCK_REALTIME, MONOTONIC and BOOTTIME; the siginfo
// delivered (SI_TIMER, si_timerid, si_value, si_overrun); timer_settime's old value and
// TIMER_ABSTIME; timer_gettime; overruns while the signal is blocked; timers gone in a
// forked child and after exec; and the errors.
#include "common.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

static volatile int got_sig, got_code, got_timerid, got_overrun, got_tid;
static volatile long got_value;
// The first SIGUSR2's si_overrun since usr2_seen was cleared: a periodic timer's next
// signal may follow before the program looks (a loaded host).
static volatile int usr2_seen, usr2_overrun;

static void handler(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_timerid = si->si_timerid;
	got_overrun = si->si_overrun;
	got_value = (long)si->si_value.sival_ptr;
	got_tid = gettid();
	if (sig == SIGUSR2 && !usr2_seen) {
		usr2_seen = 1;
		usr2_overrun = si->si_overrun;
	}
}

static struct itimerspec spec(long vs, long vns, long is, long ins) {
	struct itimerspec s = {{is, ins}, {vs, vns}};
	return s;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

// wait_sig waits up to 5 s for the handler.
static void wait_sig(void) {
	for (int i = 0; i < 500 && !got_sig; i++)
		sleep_ms(10);
}

int main(int argc, char **argv) {
	if (argc > 1) {
		struct itimerspec cur;
		CHECK("after exec: timer_gettime", syscall(SYS_timer_gettime, atoi(argv[1]), &cur));
		return 0;
	}
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);

	// Errors of timer_create, in order.
	timer_t id;
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	CHECK("create bad clock", syscall(SYS_timer_create, 99, &ev, &id));
	CHECK("create MONOTONIC_RAW", syscall(SYS_timer_create, CLOCK_MONOTONIC_RAW, &ev, &id));
	CHECK("create REALTIME_COARSE", syscall(SYS_timer_create, CLOCK_REALTIME_COARSE, &ev, &id));
	CHECK("create bad sigevent pointer", syscall(SYS_timer_create, CLOCK_MONOTONIC, (void *)8, &id));
	CHECK("create bad sigevent pointer, bad clock", syscall(SYS_timer_create, 99, (void *)8, &id));
	ev.sigev_notify = 99;
	CHECK("create bad notify", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	CHECK("create signal 0", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	ev.sigev_signo = 65;
	CHECK("create signal 65", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	ev.sigev_signo = 0;
	ev.sigev_notify = SIGEV_NONE;
	CHECK("create SIGEV_NONE ignores the signal", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	syscall(SYS_timer_delete, id);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR1;
	ev._sigev_un._tid = 999999;
	CHECK("create THREAD_ID bad thread", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	ev._sigev_un._tid = getppid();
	CHECK("create THREAD_ID other process", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
	ev.sigev_notify = SIGEV_SIGNAL;
	CHECK("create bad id pointer", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, (void *)8));

	// The default sigevent: SIGALRM to the process, si_value the timer's id.
	int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
	const char *names[] = {"REALTIME", "MONOTONIC", "BOOTTIME"};
	for (int i = 0; i < 3; i++) {
		int tid = -1;
		CHECK("create", syscall(SYS_timer_create, clocks[i], NULL, &tid));
		printf("%s: id %d\n", names[i], tid);
		// 200 ms: a loaded host may take tens of ms between two calls.
		struct itimerspec s = spec(0, 200000000, 0, 0), cur;
		got_sig = 0;
		CHECK("  settime 200 ms", syscall(SYS_timer_settime, tid, 0, &s, NULL));
		syscall(SYS_timer_gettime, tid, &cur);
		printf("  left in (0, 200 ms]: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		                                        cur.it_value.tv_nsec <= 200000000);
		wait_sig();
		printf("  signal %s code %d timerid matches %d value matches %d overrun %d\n",
		       sigabbrev_np(got_sig), got_code, got_timerid == tid, got_value == tid, got_overrun);
		syscall(SYS_timer_gettime, tid, &cur);
		printf("  after expiry %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
		// Absolute: now plus 10 ms on the timer's clock.
		struct timespec now;
		clock_gettime(clocks[i], &now);
		now.tv_nsec += 10000000;
		if (now.tv_nsec >= 1000000000) {
			now.tv_sec++;
			now.tv_nsec -= 1000000000;
		}
		s = spec(now.tv_sec, now.tv_nsec, 0, 0);
		got_sig = 0;
		CHECK("  settime absolute", syscall(SYS_timer_settime, tid, TIMER_ABSTIME, &s, NULL));
		wait_sig();
		printf("  absolute: signal %s\n", sigabbrev_np(got_sig));
		CHECK("  delete", syscall(SYS_timer_delete, tid));
		CHECK("  delete again", syscall(SYS_timer_delete, tid));
	}

	// SIGEV_SIGNAL with a value; old settings; disarming.
	int t1;
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_ptr = (void *)0x1234;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t1);
	struct itimerspec s = spec(100, 0, 3, 5), old, cur;
	CHECK("settime 100 s", syscall(SYS_timer_settime, t1, 0, &s, &old));
	printf("  old %ld %ld %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec,
	       (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	syscall(SYS_timer_gettime, t1, &cur);
	printf("  left in (99 s, 100 s] %d interval %ld %ld\n",
	       cur.it_value.tv_sec == 99 || (cur.it_value.tv_sec == 100 && cur.it_value.tv_nsec == 0),
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	s = spec(0, 0, 1, 0);
	CHECK("disarm", syscall(SYS_timer_settime, t1, 0, &s, &old));
	printf("  old near 100 s %d interval %ld %ld\n", old.it_value.tv_sec >= 99,
	       (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	syscall(SYS_timer_gettime, t1, &cur);
	printf("  disarmed %ld %ld %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	got_sig = 0;
	s = spec(0, 5000000, 0, 0);
	syscall(SYS_timer_settime, t1, 0, &s, NULL);
	wait_sig();
	printf("value: signal %s code %d value %#lx\n", sigabbrev_np(got_sig), got_code, got_value);

	// Overruns: a periodic timer whose signal stays blocked.
	int t2;
	ev.sigev_signo = SIGUSR2;
	ev.sigev_value.sival_int = 77;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t2);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	s = spec(0, 5000000, 0, 5000000);
	syscall(SYS_timer_settime, t2, 0, &s, NULL);
	sleep_ms(80);
	CHECK("getoverrun before delivery", syscall(SYS_timer_getoverrun, t2));
	got_sig = 0;
	usr2_seen = 0;
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	wait_sig();
	printf("overrun: signal %s value %ld overrun at least 5 %d\n", sigabbrev_np(got_sig), got_value,
	       usr2_overrun >= 5);
	// The last delivered signal's count: the first one's, or a later signal's smaller one.
	long ov = syscall(SYS_timer_getoverrun, t2);
	printf("  getoverrun at most the first delivered one %d\n", ov <= usr2_overrun);
	s = spec(0, 0, 0, 0);
	syscall(SYS_timer_settime, t2, 0, &s, NULL);
	CHECK("  getoverrun after settime", syscall(SYS_timer_getoverrun, t2));

	// SIGEV_NONE: nothing is sent; gettime shows the progress.
	int t3;
	ev.sigev_notify = SIGEV_NONE;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t3);
	s = spec(0, 200000000, 0, 0);
	got_sig = 0;
	syscall(SYS_timer_settime, t3, 0, &s, NULL);
	syscall(SYS_timer_gettime, t3, &cur);
	printf("SIGEV_NONE: armed %d\n", cur.it_value.tv_nsec > 0);
	sleep_ms(220);
	syscall(SYS_timer_gettime, t3, &cur);
	printf("  expired %ld %ld, no signal %d\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec, got_sig == 0);
	s = spec(0, 10000000, 0, 10000000);
	syscall(SYS_timer_settime, t3, 0, &s, NULL);
	sleep_ms(35);
	syscall(SYS_timer_gettime, t3, &cur);
	printf("  periodic: left in (0, 10 ms] %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
	                                                  cur.it_value.tv_nsec <= 10000000);

	// SIGEV_THREAD_ID: to this thread.
	int t4;
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 1;
	ev._sigev_un._tid = gettid();
	CHECK("create THREAD_ID", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t4));
	got_sig = 0;
	s = spec(0, 5000000, 0, 0);
	syscall(SYS_timer_settime, t4, 0, &s, NULL);
	wait_sig();
	printf("  signal is SIGRTMIN+1 %d code %d this thread %d\n", got_sig == SIGRTMIN + 1, got_code,
	       got_tid == gettid());

	// Errors of the others.
	CHECK("settime NULL", syscall(SYS_timer_settime, t1, 0, NULL, NULL));
	CHECK("settime NULL, bad id", syscall(SYS_timer_settime, 12345, 0, NULL, NULL));
	CHECK("settime bad pointer", syscall(SYS_timer_settime, t1, 0, (void *)8, NULL));
	s = spec(0, 1000000000, 0, 0);
	CHECK("settime bad nsec", syscall(SYS_timer_settime, t1, 0, &s, NULL));
	s = spec(0, 0, -1, 0);
	CHECK("settime bad interval", syscall(SYS_timer_settime, t1, 0, &s, NULL));
	CHECK("settime bad interval, bad id", syscall(SYS_timer_settime, 12345, 0, &s, NULL));
	s = spec(0, 0, 0, 0);
	CHECK("settime bad id", syscall(SYS_timer_settime, 12345, 0, &s, NULL));
	CHECK("settime negative id", syscall(SYS_timer_settime, -1, 0, &s, NULL));
	CHECK("settime bad old pointer", syscall(SYS_timer_settime, t1, 0, &s, (void *)8));
	CHECK("gettime bad id", syscall(SYS_timer_gettime, 12345, &cur));
	CHECK("gettime bad pointer", syscall(SYS_timer_gettime, t1, (void *)8));
	CHECK("getoverrun bad id", syscall(SYS_timer_getoverrun, 12345));
	CHECK("delete bad id", syscall(SYS_timer_delete, 12345));

	// Not inherited by fork; gone after exec.
	pid_t c = fork();
	if (c == 0) {
		CHECK("child: timer_gettime", syscall(SYS_timer_gettime, t1, &cur));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	fflush(stdout);
	char arg[16];
	snprintf(arg, sizeof arg, "%d", t1);
	execl("/proc/self/exe", argv[0], arg, (char *)NULL);
	printf("exec failed: %s\n", strerrorname_np(errno));
	return 1;
}
