// timerfd: timerfd_create, timerfd_settime and timerfd_gettime on CLOCK_REALTIME,
// CLOCK_MONOTONIC and CLOCK_BOOTTIME: relative and absolute (TFD_TIMER_ABSTIME) expiries,
// intervals counted by read, the old setting, disarming, TFD_NONBLOCK/TFD_CLOEXEC, poll
// and epoll readiness, a blocking read interrupted by a signal, and the errors.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

static void on_alarm(int sig) { (void)sig; }

static struct itimerspec spec(long vs, long vns, long is, long ins) {
	struct itimerspec s = {{is, ins}, {vs, vns}};
	return s;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static long read_count(int fd) {
	uint64_t n = 0;
	long r = read(fd, &n, sizeof n);
	if (r == -1) {
		printf("  read: -1 %s\n", strerrorname_np(errno));
		return -1;
	}
	return (long)n;
}

int main(void) {
	CHECK("create bad flags", timerfd_create(CLOCK_MONOTONIC, 0x4));
	CHECK("create bad clock", timerfd_create(99, 0));
	CHECK("create CPU clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
	CHECK("create MONOTONIC_RAW", timerfd_create(CLOCK_MONOTONIC_RAW, 0));
	int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
	const char *names[] = {"REALTIME", "MONOTONIC", "BOOTTIME"};
	for (int i = 0; i < 3; i++) {
		int fd = timerfd_create(clocks[i], TFD_NONBLOCK);
		printf("%s: created %d\n", names[i], fd >= 0);
		struct itimerspec s = spec(0, 20000000, 0, 0), cur;
		CHECK("  settime 20 ms", timerfd_settime(fd, 0, &s, NULL));
		timerfd_gettime(fd, &cur);
		printf("  left in (0, 20 ms]: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		                                         cur.it_value.tv_nsec <= 20000000);
		CHECK("  read before expiry", read_count(fd));
		struct pollfd p = {fd, POLLIN, 0};
		CHECK("  poll until expiry", poll(&p, 1, 5000));
		printf("  revents %#x\n", p.revents);
		CHECK("  read count", read_count(fd));
		timerfd_gettime(fd, &cur);
		printf("  expired one-shot: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
		// Absolute: now plus 10 ms on the same clock.
		struct timespec now;
		clock_gettime(clocks[i], &now);
		now.tv_nsec += 10000000;
		if (now.tv_nsec >= 1000000000) {
			now.tv_sec++;
			now.tv_nsec -= 1000000000;
		}
		s = spec(now.tv_sec, now.tv_nsec, 0, 0);
		CHECK("  settime absolute", timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL));
		poll(&p, 1, 5000);
		CHECK("  read absolute", read_count(fd));
		s = spec(0, 1, 0, 0);
		CHECK("  settime absolute in the past", timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL));
		CHECK("  read at once", read_count(fd));
		close(fd);
	}

	// Intervals: every expiry is counted, read resets the count.
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec s = spec(0, 10000000, 0, 10000000), old, cur;
	timerfd_settime(fd, 0, &s, NULL);
	sleep_ms(65);
	long n = read_count(fd);
	printf("interval: at least 5 expiries in 65 ms: %d\n", n >= 5);
	timerfd_gettime(fd, &cur);
	printf("interval kept: %ld %ld, left <= 10 ms: %d\n", (long)cur.it_interval.tv_sec,
	       cur.it_interval.tv_nsec, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 10000000);
	// Disarming returns the old setting; the unread count is dropped.
	sleep_ms(15);
	struct itimerspec zero = spec(0, 0, 0, 0);
	CHECK("disarm with old", timerfd_settime(fd, 0, &zero, &old));
	printf("old interval %ld %ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	timerfd_gettime(fd, &cur);
	printf("disarmed: %ld %ld %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	CHECK("read after disarm", read_count(fd));
	// A long timer: gettime shows what is left, the old value of the next settime too.
	s = spec(100, 0, 7, 5);
	timerfd_settime(fd, 0, &s, NULL);
	timerfd_gettime(fd, &cur);
	printf("long: left in (99 s, 100 s]: %d, interval %ld %ld\n",
	       cur.it_value.tv_sec == 99 || (cur.it_value.tv_sec == 100 && cur.it_value.tv_nsec == 0),
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

	// A blocking read waits for the expiry, and a signal interrupts it.
	fcntl(fd, F_SETFL, 0);
	s = spec(0, 30000000, 0, 0);
	timerfd_settime(fd, 0, &s, NULL);
	CHECK("blocking read", read_count(fd));
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	s = spec(10, 0, 0, 0);
	timerfd_settime(fd, 0, &s, NULL);
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("read interrupted", read_count(fd));

	// epoll sees the expiry.
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {.u32 = 7}}, got;
	CHECK("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK("epoll_wait armed for 10 s", epoll_wait(ep, &got, 1, 0));
	s = spec(0, 5000000, 0, 0);
	timerfd_settime(fd, 0, &s, NULL);
	CHECK("epoll_wait", epoll_wait(ep, &got, 1, 5000));
	printf("  events %#x data %u\n", got.events, got.data.u32);
	close(ep);

	// Flags and the file.
	int fd2 = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	printf("cloexec %d nonblock %d\n", fcntl(fd2, F_GETFD) & FD_CLOEXEC,
	       (fcntl(fd2, F_GETFL) & O_NONBLOCK) != 0);
	printf("access mode O_RDWR %d\n", (fcntl(fd2, F_GETFL) & O_ACCMODE) == O_RDWR);
	char link[64], path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd2);
	ssize_t ln = readlink(path, link, sizeof link - 1);
	link[ln < 0 ? 0 : ln] = 0;
	printf("/proc/self/fd: %s\n", link);
	char small[4];
	CHECK("short read", read(fd2, small, sizeof small));
	uint64_t one = 1;
	CHECK("write", write(fd2, &one, sizeof one));
	CHECK("lseek", lseek(fd2, 0, SEEK_SET));

	// Errors.
	s = spec(0, 1000000000, 0, 0);
	CHECK("settime nsec too big", timerfd_settime(fd2, 0, &s, NULL));
	s = spec(-1, 0, 0, 0);
	CHECK("settime negative", timerfd_settime(fd2, 0, &s, NULL));
	s = spec(0, 0, 0, -1);
	CHECK("settime bad interval", timerfd_settime(fd2, 0, &s, NULL));
	s = spec(0, 0, 0, 0);
	CHECK("settime bad flags", timerfd_settime(fd2, 4, &s, NULL));
	CHECK("settime bad fd", timerfd_settime(-1, 0, &s, NULL));
	CHECK("settime bad flags and fd", timerfd_settime(-1, 4, &s, NULL));
	CHECK("settime not a timerfd", timerfd_settime(1, 0, &s, NULL));
	CHECK("settime bad pointer", timerfd_settime(fd2, 0, (void *)8, NULL));
	CHECK("settime bad pointer, bad fd", timerfd_settime(-1, 0, (void *)8, NULL));
	CHECK("settime bad old pointer", timerfd_settime(fd2, 0, &s, (void *)8));
	CHECK("gettime bad fd", timerfd_gettime(-1, &cur));
	CHECK("gettime not a timerfd", timerfd_gettime(0, &cur));
	CHECK("gettime bad pointer", timerfd_gettime(fd2, (void *)8));
	return 0;
}
