// signal: delivery to handlers, frames and sigreturn, masks, the alternate stack, fault
// handlers, SIGCHLD, sigsuspend, sigpending, restart, alarm, FP state across handlers.
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>

static volatile sig_atomic_t got, gotcode, masked, usr1_count;
static volatile pid_t gotpid;
static volatile int gotstatus;
static char altstack[65536];
static volatile int on_alt;
static sigjmp_buf jb;
static volatile uintptr_t fault_addr;

static void info_handler(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	got = sig;
	gotcode = si->si_code;
	gotpid = si->si_pid;
	gotstatus = si->si_status;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	masked = sigismember(&cur, sig) * 10 + sigismember(&cur, SIGUSR2);
}

static void alt_handler(int sig) {
	char local;
	(void)sig;
	on_alt = (uintptr_t)&local > (uintptr_t)altstack && (uintptr_t)&local < (uintptr_t)altstack + sizeof altstack;
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	on_alt = on_alt * 10 + (sigaltstack(&ss, NULL) == -1 && errno == EPERM);
}

static volatile int cr2_ok, fpregs_ok;

static void segv_handler(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	ucontext_t *u = uc;
	fault_addr = (uintptr_t)si->si_addr;
	gotcode = si->si_code;
	// The sigcontext as Linux lays it out: cr2 holds the address, fpregs points at the
	// FP state (whose MXCSR has its reset value here).
	cr2_ok = u->uc_mcontext.gregs[REG_CR2] == (greg_t)fault_addr;
	fpregs_ok = u->uc_mcontext.fpregs != NULL && u->uc_mcontext.fpregs->mxcsr == 0x1f80;
	siglongjmp(jb, 1);
}

static void count_handler(int sig) {
	(void)sig;
	usr1_count++;
}

static void clobber_handler(int sig) {
	(void)sig;
	__asm__ volatile("pxor %%xmm2, %%xmm2" ::: "xmm2");
}

static void noop(int sig) { (void)sig; }

int main(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = info_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	CHECK("kill self SIGUSR1", kill(getpid(), SIGUSR1));
	printf("handled %d code SI_USER %d pid is me %d; in handler, sig blocked %d, sa_mask applied %d\n",
	       got == SIGUSR1, gotcode == SI_USER, gotpid == getpid(), masked / 10, masked % 10);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("mask restored after the handler: %d\n", !sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));

	// SA_RESETHAND: the second SIGUSR1 takes the default action.
	pid_t c = fork();
	if (c == 0) {
		struct sigaction r = {.sa_handler = count_handler, .sa_flags = SA_RESETHAND};
		sigaction(SIGUSR1, &r, NULL);
		raise(SIGUSR1);
		raise(SIGUSR1);
		_exit(usr1_count);
	}
	int st;
	waitpid(c, &st, 0);
	printf("SA_RESETHAND: killed by the second %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);

	// The alternate stack.
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	CHECK("sigaltstack", sigaltstack(&ss, NULL));
	stack_t small = {.ss_sp = altstack, .ss_size = 100};
	CHECK("sigaltstack too small", sigaltstack(&small, NULL));
	stack_t bad = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 99};
	CHECK("sigaltstack bad flags", sigaltstack(&bad, NULL));
	struct sigaction a2 = {.sa_handler = alt_handler, .sa_flags = SA_ONSTACK};
	sigaction(SIGUSR2, &a2, NULL);
	raise(SIGUSR2);
	printf("handler on the alternate stack %d, EPERM to change it there %d\n", on_alt / 10, on_alt % 10);
	stack_t old;
	sigaltstack(NULL, &old);
	printf("alternate stack: size right %d, flags %d\n", old.ss_size == sizeof altstack, old.ss_flags);

	// A SIGSEGV handler sees the address and recovers.
	struct sigaction sv = {.sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO};
	sigaction(SIGSEGV, &sv, NULL);
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sigsetjmp(jb, 1) == 0) {
		p[8] = 1;
		printf("no fault?\n");
	} else {
		printf("SIGSEGV at the address %d, SEGV_ACCERR %d\n", fault_addr == (uintptr_t)(p + 8), gotcode == SEGV_ACCERR);
		printf("sigcontext cr2 %d, fpregs %d\n", cr2_ok, fpregs_ok);
	}
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile int *)16 = 1;
	} else {
		printf("SIGSEGV at 16 %d, SEGV_MAPERR %d\n", fault_addr == 16, gotcode == SEGV_MAPERR);
	}

	// SIGCHLD carries the child's status.
	got = 0;
	sigaction(SIGCHLD, &sa, NULL);
	c = fork();
	if (c == 0)
		_exit(42);
	while (!got)
		usleep(1000);
	waitpid(c, &st, 0);
	printf("SIGCHLD from the child %d, CLD_EXITED %d, status %d\n", gotpid == c, gotcode == CLD_EXITED, gotstatus);
	// Ignoring SIGCHLD reaps children at once.
	signal(SIGCHLD, SIG_IGN);
	c = fork();
	if (c == 0)
		_exit(0);
	usleep(50000);
	CHECK("wait with SIGCHLD ignored", waitpid(c, &st, 0));
	signal(SIGCHLD, SIG_DFL);

	// sigsuspend and sigpending.
	signal(SIGUSR1, count_handler);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	sigset_t pend;
	sigpending(&pend);
	printf("pending while blocked %d, handled yet %d\n", sigismember(&pend, SIGUSR1), (int)usr1_count);
	sigemptyset(&empty);
	CHECK("sigsuspend", sigsuspend(&empty));
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("handled after sigsuspend %d, mask back %d\n", (int)usr1_count, sigismember(&cur, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	// A read interrupted by a handler: EINTR without SA_RESTART, finished with it.
	// Without SA_RESTART the child signals again, each time later, until the parent's
	// read ends (a signal that comes before the read only runs the handler: under
	// load the parent may take longer than any fixed delay to reach it); it writes
	// only after ~10 s, for a read that is never interrupted.
	for (int restart = 0; restart < 2; restart++) {
		int fds[2];
		pipe(fds);
		struct sigaction n = {.sa_handler = noop, .sa_flags = restart ? SA_RESTART : 0};
		sigaction(SIGUSR2, &n, NULL);
		pid_t parent = getpid();
		c = fork();
		if (c == 0) {
			long us = 50000;
			do {
				usleep(us);
				kill(parent, SIGUSR2);
				us *= 2;
			} while (!restart && us < 8000000);
			usleep(50000);
			write(fds[1], "z", 1);
			_exit(0);
		}
		char ch;
		errno = 0;
		long r = read(fds[0], &ch, 1);
		printf("read with SA_RESTART=%d: %ld %s\n", restart, r, r < 0 ? strerrorname_np(errno) : "data");
		if (!restart)
			kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		close(fds[0]);
		close(fds[1]);
	}

	// alarm and pause.
	signal(SIGALRM, noop);
	CHECK("alarm", alarm(1));
	CHECK("alarm again (seconds left)", alarm(1));
	CHECK("pause", pause());

	// FP registers survive a handler that changes them.
	signal(SIGUSR1, clobber_handler);
	uint64_t in = 0x1122334455667788ULL, out;
	__asm__ volatile("movq %1, %%xmm2\n\t"
			 "mov $62, %%eax\n\t"
			 "mov %2, %%edi\n\t"
			 "mov $10, %%esi\n\t"
			 "syscall\n\t"
			 "movq %%xmm2, %0"
			 : "=r"(out)
			 : "r"(in), "r"(getpid())
			 : "rax", "rdi", "rsi", "rcx", "r11", "xmm2", "memory");
	printf("xmm2 kept across the handler %d\n", out == in);
	return 0;
}
