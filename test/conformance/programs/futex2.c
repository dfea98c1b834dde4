// futex2: requeue (a condition variable's broadcast moves its waiters to the mutex),
// FUTEX_WAKE_OP's operations and comparisons, FUTEX_WAIT_BITSET with an absolute
// CLOCK_REALTIME deadline, PI mutexes under contention, robust mutexes whose owner
// thread dies, the robust list calls, and the error paths of each.
#include "common.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static long futex(void *addr, int op, uint32_t val, void *timeout_or_val2, void *addr2, uint32_t val3) {
	return syscall(SYS_futex, addr, op, val, timeout_or_val2, addr2, val3);
}

#define V2(n) ((void *)(uintptr_t)(n))

static uint32_t cv, mu, tmp;
static volatile int woken_count;

// waiters reports how many threads wait on *addr, by moving them all to tmp and back
// (a requeue wakes no one and returns how many it moved).
static int waiters(uint32_t *addr) {
	long n = futex(addr, FUTEX_REQUEUE, 0, V2(INT_MAX), &tmp, 0);
	futex(&tmp, FUTEX_REQUEUE, 0, V2(INT_MAX), addr, 0);
	return (int)n;
}

static void wait_for_waiters(uint32_t *addr, int n) {
	while (waiters(addr) < n)
		usleep(1000);
}

static void *cv_waiter(void *arg) {
	(void)arg;
	long r = futex(&cv, FUTEX_WAIT, 0, NULL, NULL, 0);
	if (r == 0)
		__atomic_add_fetch(&woken_count, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static uint32_t pw;

static void *private_waiter(void *arg) {
	(void)arg;
	futex(&pw, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

// A private futex and a shared one at the same address are different futexes.
static void private_shared(void) {
	pthread_t t;
	pthread_create(&t, NULL, private_waiter, NULL);
	while (futex(&pw, FUTEX_REQUEUE_PRIVATE, 0, V2(INT_MAX), &pw, 0) < 1)
		usleep(1000);
	CHECK("shared wake of a private waiter", futex(&pw, FUTEX_WAKE, 1, NULL, NULL, 0));
	CHECK("shared requeue of a private waiter", futex(&pw, FUTEX_REQUEUE, 0, V2(INT_MAX), &tmp, 0));
	CHECK("private wake", futex(&pw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	pthread_join(t, NULL);
}

static void requeue(void) {
	enum { N = 5 };
	pthread_t th[N];
	for (int i = 0; i < N; i++)
		pthread_create(&th[i], NULL, cv_waiter, NULL);
	wait_for_waiters(&cv, N);
	CHECK("cmp_requeue mismatch", futex(&cv, FUTEX_CMP_REQUEUE, 1, V2(INT_MAX), &mu, 1));
	// Broadcast: wake one, move the rest to the mutex word.
	CHECK("cmp_requeue wake 1 move rest", futex(&cv, FUTEX_CMP_REQUEUE, 1, V2(INT_MAX), &mu, 0));
	printf("waiting on cv %d, on mu %d\n", waiters(&cv), waiters(&mu));
	CHECK("requeue wake 1 move 1 back", futex(&mu, FUTEX_REQUEUE, 1, V2(1), &cv, 0));
	printf("waiting on cv %d, on mu %d\n", waiters(&cv), waiters(&mu));
	CHECK("wake mu all", futex(&mu, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
	CHECK("wake cv all", futex(&cv, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	printf("woken %d\n", woken_count);

	CHECK("requeue negative count", futex(&cv, FUTEX_REQUEUE, 1, V2(-1), &mu, 0));
	CHECK("requeue negative wake", futex(&cv, FUTEX_REQUEUE, -1, V2(1), &mu, 0));
	CHECK("requeue misaligned 2", futex(&cv, FUTEX_REQUEUE, 1, V2(1), (char *)&mu + 1, 0));
	CHECK("cmp_requeue bad address", futex(NULL, FUTEX_CMP_REQUEUE, 1, V2(1), &mu, 0));
	CHECK("requeue none", futex(&cv, FUTEX_REQUEUE, 0, V2(0), &mu, 0));
}

static uint32_t w1, w2;

static void *w1_waiter(void *arg) {
	futex(arg, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static void wake_op(void) {
	static const char *ops[] = {"SET", "ADD", "OR", "ANDN", "XOR"};
	static const char *cmps[] = {"EQ", "NE", "LT", "LE", "GT", "GE"};
	for (int op = 0; op < 5; op++)
		for (int shift = 0; shift < 2; shift++) {
			w2 = 0x0f0;
			long r = futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2,
				       FUTEX_OP(op | (shift ? FUTEX_OP_OPARG_SHIFT : 0), 5, FUTEX_OP_CMP_EQ, 0));
			printf("wake_op %s%s: %ld, word %#x\n", ops[op], shift ? " shift" : "", r, w2);
		}
	for (int cmp = 0; cmp < 6; cmp++)
		for (int arg = -1; arg <= 1; arg++) {
			w2 = 0;
			pthread_t a, b;
			pthread_create(&a, NULL, w1_waiter, &w1);
			pthread_create(&b, NULL, w1_waiter, &w2);
			wait_for_waiters(&w1, 1);
			wait_for_waiters(&w2, 1);
			// The old value is 0, compared with arg; the word becomes 0 again.
			long r = futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2, FUTEX_OP(FUTEX_OP_SET, 0, cmp, arg & 0xfff));
			printf("wake_op cmp %s %d: woke %ld\n", cmps[cmp], arg, r);
			futex(&w1, FUTEX_WAKE, 1, NULL, NULL, 0);
			futex(&w2, FUTEX_WAKE, 1, NULL, NULL, 0);
			pthread_join(a, NULL);
			pthread_join(b, NULL);
		}
	// Sign-extended 12-bit arguments, and a shift past 31 (masked).
	w2 = 10;
	CHECK("wake_op add -3", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2, FUTEX_OP(FUTEX_OP_ADD, 0xffd, FUTEX_OP_CMP_GT, 0xfff)));
	printf("word %u\n", w2);
	w2 = 0;
	CHECK("wake_op shift 33", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2, FUTEX_OP((FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT), 33, 0, 0)));
	printf("word %#x\n", w2);
	w2 = 7;
	CHECK("wake_op bad op", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2, 6u << 28));
	printf("word %u\n", w2);
	CHECK("wake_op bad cmp", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), &w2, FUTEX_OP(FUTEX_OP_SET, 9, 7, 0)));
	printf("word %u\n", w2);
	CHECK("wake_op bad address", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), NULL, 0));
	CHECK("wake_op misaligned", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), (char *)&w2 + 2, 0));
	static const uint32_t ro = 0;
	CHECK("wake_op read-only", futex(&w1, FUTEX_WAKE_OP, 1, V2(1), (void *)&ro, 0));
}

static void clocks(void) {
	uint32_t w = 0;
	struct timespec now, dl, after;
	clock_gettime(CLOCK_REALTIME, &now);
	dl = now;
	dl.tv_nsec += 50 * 1000 * 1000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	CHECK("wait_bitset realtime", futex(&w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY));
	clock_gettime(CLOCK_REALTIME, &after);
	long ms = (after.tv_sec - now.tv_sec) * 1000 + (after.tv_nsec - now.tv_nsec) / 1000000;
	printf("waited at least 45ms: %d\n", ms >= 45);
	CHECK("wait_bitset realtime past", futex(&w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &now, NULL, FUTEX_BITSET_MATCH_ANY));
	struct timespec zero = {0, 0};
	CHECK("wait_bitset monotonic 0", futex(&w, FUTEX_WAIT_BITSET, 0, &zero, NULL, FUTEX_BITSET_MATCH_ANY));
	CHECK("wait realtime flag", futex(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
	CHECK("wake realtime flag", futex(&w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
	struct timespec bad = {0, 1000000000};
	CHECK("wait realtime flag bad timeout", futex(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 0, &bad, NULL, 0));
	CHECK("wait_bitset bitset 0", futex(&w, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0));
	CHECK("wake_bitset bitset 0", futex(&w, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
	CHECK("wait wrong value", futex(&w, FUTEX_WAIT, 1, NULL, NULL, 0));
	CHECK("wait misaligned", futex((char *)&w + 1, FUTEX_WAIT, 0, NULL, NULL, 0));
	CHECK("wait bad address", futex(NULL, FUTEX_WAIT, 0, NULL, NULL, 0));
	CHECK("wait bad timeout pointer", futex(&w, FUTEX_WAIT, 0, (void *)8, NULL, 0));
	CHECK("unknown op", futex(&w, 99, 0, NULL, NULL, 0));
}

static pthread_mutex_t pi;
static long pi_counter;

static void *pi_worker(void *arg) {
	(void)arg;
	for (int i = 0; i < 3000; i++) {
		pthread_mutex_lock(&pi);
		pi_counter++;
		pthread_mutex_unlock(&pi);
	}
	return NULL;
}

static void *pi_trylock(void *arg) {
	(void)arg;
	printf("trylock while held: %s\n", strerrorname_np(pthread_mutex_trylock(&pi)));
	return NULL;
}

static void pi_mutex(void) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pi, &a);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, pi_worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("pi counter %ld\n", pi_counter);
	pthread_mutex_lock(&pi);
	pthread_t t;
	pthread_create(&t, NULL, pi_trylock, NULL);
	pthread_join(t, NULL);
	pthread_mutex_unlock(&pi);

	// The word protocol by hand.
	uint32_t w = 0;
	pid_t tid = syscall(SYS_gettid);
	CHECK("lock_pi free", futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	printf("word is my tid: %d\n", w == (uint32_t)tid);
	CHECK("lock_pi again", futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	CHECK("trylock_pi again", futex(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
	CHECK("unlock_pi", futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	printf("word %u\n", w);
	CHECK("unlock_pi not owner", futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	w = FUTEX_OWNER_DIED;
	CHECK("trylock_pi owner died", futex(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
	printf("owner died kept: %d, tid: %d\n", (w & FUTEX_OWNER_DIED) != 0, (w & FUTEX_TID_MASK) == (uint32_t)tid);
	CHECK("unlock_pi owner died", futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	printf("word %u\n", w);
	w = 0x3ffffff0; // no such thread
	CHECK("trylock_pi dead owner", futex(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
	printf("waiters bit set: %d\n", (w & FUTEX_WAITERS) != 0);
	w = 0x3ffffff0;
	CHECK("lock_pi dead owner", futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	CHECK("lock_pi misaligned", futex((char *)&w + 1, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	CHECK("lock_pi bad address", futex(NULL, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	CHECK("unlock_pi bad address", futex(NULL, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	CHECK("lock_pi monotonic flag", futex(&w, FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
	// A timed lock_pi on a word a live thread owns: its deadline is absolute realtime.
	w = tid; // owned by this thread: EDEADLK before any wait
	CHECK("lock_pi timed self", futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
}

static uint32_t held;
static int holder_exit[2]; // the holder exits when this pipe is written to

static void *pi_holder(void *arg) {
	(void)arg;
	futex(&held, FUTEX_LOCK_PI, 0, NULL, NULL, 0);
	char c;
	read(holder_exit[0], &c, 1); // held until the main thread is done with it
	return NULL;                 // exits holding it: non-robust
}

// The holder keeps the lock until told to exit (not for a fixed time: a slow run would
// see it exit before the timed lock or the trylock, and print ESRCH instead).
static void pi_timeout(void) {
	pthread_t t;
	if (pipe(holder_exit) < 0) {
		perror("pipe");
		return;
	}
	pthread_create(&t, NULL, pi_holder, NULL);
	while (__atomic_load_n(&held, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 20 * 1000 * 1000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	CHECK("lock_pi timeout", futex(&held, FUTEX_LOCK_PI, 0, &dl, NULL, 0));
	printf("waiters bit set: %d\n", (held & FUTEX_WAITERS) != 0);
	CHECK("trylock_pi held", futex(&held, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
	write(holder_exit[1], "x", 1);
	pthread_join(t, NULL);
	close(holder_exit[0]);
	close(holder_exit[1]);
	CHECK("trylock_pi owner exited", futex(&held, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
}

static pthread_mutex_t rm;
static volatile int locked_by_thread;

static void *robust_owner(void *arg) {
	pthread_mutex_lock(&rm);
	locked_by_thread = 1;
	if (arg)
		usleep(50 * 1000); // the main thread waits meanwhile
	return NULL;               // dies holding it
}

static void robust(int protocol) {
	printf("robust, %s\n", protocol == PTHREAD_PRIO_INHERIT ? "priority inheritance" : "plain");
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setprotocol(&a, protocol);
	pthread_mutex_init(&rm, &a);

	// The owner dies before anyone waits.
	pthread_t t;
	pthread_create(&t, NULL, robust_owner, NULL);
	pthread_join(t, NULL);
	int r = pthread_mutex_lock(&rm);
	printf("lock after owner died: %s\n", strerrorname_np(r));
	printf("consistent: %d\n", pthread_mutex_consistent(&rm));
	pthread_mutex_unlock(&rm);
	printf("lock again: %d\n", pthread_mutex_lock(&rm));
	pthread_mutex_unlock(&rm);

	// The owner dies while the main thread waits.
	locked_by_thread = 0;
	pthread_create(&t, NULL, robust_owner, (void *)1);
	while (!locked_by_thread)
		usleep(1000);
	r = pthread_mutex_lock(&rm);
	printf("waiter when owner died: %s\n", strerrorname_np(r));
	pthread_join(t, NULL);
	// Unlocked without pthread_mutex_consistent: the mutex is unusable.
	pthread_mutex_unlock(&rm);
	printf("lock of unrecoverable: %s\n", strerrorname_np(pthread_mutex_lock(&rm)));
	pthread_mutex_destroy(&rm);
}

static uint32_t rq_cond, rq_lock;
static int rq_owned, rq_count;

static void *rq_waiter(void *arg) {
	(void)arg;
	long r = futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &rq_lock, 0);
	if (r == 0) {
		// It owns the PI lock now.
		__atomic_add_fetch(&rq_owned, (rq_lock & FUTEX_TID_MASK) == (uint32_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&rq_count, 1, __ATOMIC_SEQ_CST);
		futex(&rq_lock, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0);
	}
	return NULL;
}

// FUTEX_WAIT_REQUEUE_PI and FUTEX_CMP_REQUEUE_PI: a condition variable whose mutex is
// a PI futex.
static void requeue_pi(void) {
	enum { N = 3 };
	pthread_t th[N];
	// The lock is held: every waiter is moved to it, then handed it in turn.
	CHECK("lock the PI futex", futex(&rq_lock, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	for (int i = 0; i < N; i++)
		pthread_create(&th[i], NULL, rq_waiter, NULL);
	int moved = 0;
	while (moved < N) {
		long r = futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(INT_MAX), &rq_lock, 0);
		if (r > 0)
			moved += r;
		else
			usleep(1000);
	}
	printf("moved %d, waiters bit %d\n", moved, (rq_lock & FUTEX_WAITERS) != 0);
	CHECK("plain wake of moved waiters", futex(&rq_lock, FUTEX_WAKE, 1, NULL, NULL, 0));
	CHECK("unlock", futex(&rq_lock, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	printf("woken owning the lock %d of %d, lock word %u\n", rq_owned, rq_count, rq_lock);

	// The lock is free: the first waiter gets it at once.
	pthread_t t;
	pthread_create(&t, NULL, rq_waiter, NULL);
	long r;
	while ((r = futex(&rq_cond, FUTEX_WAKE, 1, NULL, NULL, 0)) == 0)
		usleep(1000); // until it waits; a plain wake of it is EINVAL
	printf("plain wake of a requeue-pi waiter: %s\n", r == -1 ? strerrorname_np(errno) : "woke");
	CHECK("plain requeue of it", futex(&rq_cond, FUTEX_REQUEUE, 0, V2(1), &tmp, 0));
	CHECK("cmp_requeue_pi to the wrong futex", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(0), &tmp, 0));
	CHECK("cmp_requeue_pi, lock free", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(0), &rq_lock, 0));
	pthread_join(t, NULL);
	printf("woken owning the lock %d of %d, lock word %u\n", rq_owned, rq_count, rq_lock);

	CHECK("cmp_requeue_pi nr_wake 2", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 2, V2(1), &rq_lock, 0));
	CHECK("cmp_requeue_pi same futex", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(1), &rq_cond, 0));
	CHECK("cmp_requeue_pi mismatch", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(1), &rq_lock, 5));
	CHECK("cmp_requeue_pi no waiters", futex(&rq_cond, FUTEX_CMP_REQUEUE_PI, 1, V2(1), &rq_lock, 0));
	CHECK("wait_requeue_pi same futex", futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &rq_cond, 0));
	CHECK("wait_requeue_pi wrong value", futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI, 1, NULL, &rq_lock, 0));
	struct timespec zero = {0, 0};
	CHECK("wait_requeue_pi timeout", futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI, 0, &zero, &rq_lock, 0));
	CHECK("wait_requeue_pi misaligned", futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI, 0, NULL, (char *)&rq_lock + 1, 0));
}

struct robust_head {
	void *next;
	long futex_offset;
	void *pending;
};

static void robust_calls(void) {
	struct robust_head *head;
	size_t len;
	CHECK("get_robust_list self", syscall(SYS_get_robust_list, 0, &head, &len));
	printf("len %zu, head set: %d\n", len, head != NULL);
	struct robust_head mine = {&mine, 0, NULL};
	CHECK("set_robust_list bad len", syscall(SYS_set_robust_list, &mine, 23));
	CHECK("set_robust_list", syscall(SYS_set_robust_list, &mine, sizeof mine));
	struct robust_head *got;
	CHECK("get_robust_list own tid", syscall(SYS_get_robust_list, syscall(SYS_gettid), &got, &len));
	printf("head is mine: %d\n", got == &mine);
	CHECK("get_robust_list no such pid", syscall(SYS_get_robust_list, 0x3ffffff0, &got, &len));
	CHECK("get_robust_list bad pointer", syscall(SYS_get_robust_list, 0, NULL, &len));
	CHECK("get_robust_list bad len pointer", syscall(SYS_get_robust_list, 0, &got, NULL));
	CHECK("set_robust_list back", syscall(SYS_set_robust_list, head, sizeof mine));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	requeue();
	private_shared();
	wake_op();
	clocks();
	pi_mutex();
	pi_timeout();
	requeue_pi();
	robust(PTHREAD_PRIO_NONE);
	robust(PTHREAD_PRIO_INHERIT);
	robust_calls();
	return 0;
}
