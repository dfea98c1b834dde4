// clone3: raw clone3 for a thread-like child (shared memory, its own stack, the TID
// words) and fork-like children (struct sizes 64, 80 and 88, CLONE_CLEAR_SIGHAND,
// vfork's flags), glibc's clone3-first paths (pthread_create, posix_spawn), and the
// argument checks of copy_clone_args_from_user and clone3_args_valid.
#include "common.h"
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

// my_clone3(args, size, fn, arg): the child runs fn(arg) on its stack and exits with
// its result, as glibc's __clone3.
long my_clone3(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
	".globl my_clone3\n"
	"my_clone3:\n"
	"	mov %rcx, %r8\n"
	"	mov $435, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r8, %rdi\n"
	"	call *%rdx\n"
	"	mov %rax, %rdi\n"
	"	mov $60, %eax\n"
	"	syscall\n"
	"	hlt\n");

static volatile int shared;
static volatile pid_t child_tid_word, parent_tid_word;

static volatile int saw_own_tid;

static int thread_fn(void *arg) {
	saw_own_tid = child_tid_word == syscall(SYS_gettid);
	shared = (int)(intptr_t)arg;
	return 0;
}

static int fork_fn(void *arg) {
	printf("fork-like child: arg %d, shared %d\n", (int)(intptr_t)arg, shared);
	shared = 99; // its own copy
	return 7;
}

static int sighand_fn(void *arg) {
	(void)arg;
	struct sigaction a;
	sigaction(SIGUSR1, NULL, &a);
	printf("child: USR1 %s", a.sa_handler == SIG_DFL ? "default" : "handled");
	sigaction(SIGUSR2, NULL, &a);
	printf(", USR2 %s\n", a.sa_handler == SIG_IGN ? "ignored" : "not ignored");
	return 0;
}

static int vfork_fn(void *arg) {
	(void)arg;
	printf("vfork child runs first\n");
	return 3;
}

static void handler(int sig) { (void)sig; }

static void fork_like(size_t size) {
	struct {
		struct clone_args a;
		uint64_t extra[2];
	} big = {{0}};
	big.a.exit_signal = SIGCHLD;
	big.a.flags = CLONE_PARENT_SETTID;
	big.a.parent_tid = (uintptr_t)&parent_tid_word;
	shared = 5;
	long pid = my_clone3(&big.a, size, fork_fn, (void *)(intptr_t)size);
	int st;
	pid_t w = waitpid(pid, &st, 0);
	printf("size %zu: waited %d, status %d, parent_tid is pid %d, shared %d\n", size, w == pid,
	       WEXITSTATUS(st), parent_tid_word == pid, shared);
}

static long c3(struct clone_args *a, size_t size) {
	return syscall(SYS_clone3, a, size);
}

static void errors(void) {
	struct {
		struct clone_args a;
		uint64_t extra[4];
	} b = {{0}};
	b.a.exit_signal = SIGCHLD;
	CHECK("size 63", c3(&b.a, 63));
	CHECK("size 4097", c3(&b.a, 4097));
	b.extra[1] = 1;
	CHECK("size 104, non-zero tail", c3(&b.a, 104));
	b.extra[1] = 0;
	CHECK("NULL args", c3(NULL, 64));
	CHECK("bad args pointer", c3((void *)8, 64));
	b.a.exit_signal = 65;
	CHECK("exit signal 65", c3(&b.a, 64));
	b.a.exit_signal = SIGCHLD | 1ull << 32;
	CHECK("exit signal high bits", c3(&b.a, 64));
	b.a.exit_signal = SIGCHLD;
	b.a.flags = SIGCHLD;
	CHECK("CSIGNAL in flags", c3(&b.a, 64));
	b.a.flags = 0x00400000; // CLONE_DETACHED
	CHECK("CLONE_DETACHED", c3(&b.a, 64));
	b.a.flags = 1ull << 40;
	CHECK("unknown flag", c3(&b.a, 64));
	b.a.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
	CHECK("SIGHAND and CLEAR_SIGHAND", c3(&b.a, 64));
	b.a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	CHECK("thread with exit signal", c3(&b.a, 64));
	b.a.exit_signal = 0;
	b.a.flags = CLONE_THREAD | CLONE_VM;
	CHECK("THREAD without SIGHAND", c3(&b.a, 64));
	b.a.flags = CLONE_SIGHAND;
	CHECK("SIGHAND without VM", c3(&b.a, 64));
	b.a.flags = CLONE_PARENT;
	b.a.exit_signal = SIGCHLD;
	CHECK("PARENT with exit signal", c3(&b.a, 64));
	b.a.flags = 0;
	b.a.stack = (uintptr_t)&b;
	CHECK("stack without size", c3(&b.a, 64));
	b.a.stack = 0;
	b.a.stack_size = 4096;
	CHECK("size without stack", c3(&b.a, 64));
	b.a.stack = -4096ull;
	b.a.stack_size = 8192;
	CHECK("stack past the end", c3(&b.a, 64));
	b.a.stack = 0;
	b.a.stack_size = 0;
	b.a.set_tid_size = 1;
	CHECK("set_tid_size without set_tid", c3(&b.a, 80));
	pid_t tids[40] = {0};
	b.a.set_tid = (uintptr_t)tids;
	b.a.set_tid_size = 33;
	CHECK("set_tid_size 33", c3(&b.a, 80));
	b.a.set_tid_size = 0;
	CHECK("set_tid without size", c3(&b.a, 80));
	b.a.set_tid = 0;
	b.a.flags = CLONE_INTO_CGROUP;
	CHECK("INTO_CGROUP, size 80", c3(&b.a, 80));
	b.a.cgroup = 1ull << 31;
	CHECK("INTO_CGROUP, cgroup past INT_MAX", c3(&b.a, 88));
}

static void *glibc_thread(void *arg) { return arg; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);

	// A thread-like child: it shares memory, runs on its own stack, and its TID
	// words are set and cleared as clone's.
	size_t stack_size = 1 << 16;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct clone_args a = {0};
	a.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		  CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	a.parent_tid = (uintptr_t)&parent_tid_word;
	a.child_tid = (uintptr_t)&child_tid_word;
	a.stack = (uintptr_t)stack;
	a.stack_size = stack_size;
	child_tid_word = -1; // CLONE_CHILD_SETTID's store happens when the child first runs
	long tid = my_clone3(&a, sizeof a, thread_fn, (void *)42);
	printf("thread: tid > 0 %d, not the pid %d, parent_tid word %d\n", tid > 0, tid != getpid(),
	       parent_tid_word == tid);
	// Wait for its exit through CLONE_CHILD_CLEARTID.
	pid_t v;
	while ((v = child_tid_word) != 0)
		syscall(SYS_futex, &child_tid_word, FUTEX_WAIT, v, NULL, NULL, 0);
	printf("thread exited, shared %d, it saw its tid %d\n", shared, saw_own_tid);

	fork_like(64);
	fork_like(80);
	fork_like(88);
	fork_like(96); // larger, zero tail

	// CLONE_CLEAR_SIGHAND: handled signals are reset, ignored ones stay ignored.
	signal(SIGUSR1, handler);
	signal(SIGUSR2, SIG_IGN);
	struct clone_args s = {0};
	s.flags = CLONE_CLEAR_SIGHAND;
	s.exit_signal = SIGCHLD;
	long pid = my_clone3(&s, sizeof s, sighand_fn, NULL);
	waitpid(pid, NULL, 0);
	struct sigaction act;
	sigaction(SIGUSR1, NULL, &act);
	printf("parent: USR1 still handled %d\n", act.sa_handler == handler);

	// vfork's flags on a new stack: the parent waits for the child.
	struct clone_args vf = {0};
	vf.flags = CLONE_VM | CLONE_VFORK;
	vf.exit_signal = SIGCHLD;
	vf.stack = (uintptr_t)stack;
	vf.stack_size = stack_size;
	pid = my_clone3(&vf, sizeof vf, vfork_fn, NULL);
	printf("vfork parent resumes\n");
	int st;
	waitpid(pid, &st, 0);
	printf("vfork child status %d\n", WEXITSTATUS(st));

	// glibc tries clone3 first for threads and posix_spawn.
	pthread_t th;
	void *ret;
	pthread_create(&th, NULL, glibc_thread, (void *)11);
	pthread_join(th, &ret);
	printf("pthread returned %ld\n", (long)ret);
	pid_t sp;
	char *argv[] = {"true", NULL};
	int r = posix_spawn(&sp, "/bin/true", NULL, NULL, argv, NULL);
	waitpid(sp, &st, 0);
	printf("posix_spawn %d, status %d\n", r, WEXITSTATUS(st));

	errors();
	return 0;
}
