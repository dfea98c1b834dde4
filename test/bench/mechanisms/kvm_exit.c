// kvm_exit: cost of one guest exit to the host VMM (the mechanism of gVisor's
// KVM platform, minus its ring-0 tricks). A minimal VM - one vCPU, one page
// of guest memory, real mode - runs `out 0x10, al; jmp $-2` forever, so every
// KVM_RUN returns with KVM_EXIT_IO. One round trip = KVM_RUN -> guest ->
// exit -> back to user space. Prints "kvm_exit skip REASON" when /dev/kvm is
// missing or unusable. Bounded iteration count plus an alarm: never hangs.
//
// Usage: kvm_exit [ITERATIONS]   (per timed run; 5 runs, median reported)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void) {
	printf("kvm_exit skip guest code is only written for x86_64\n");
	return 0;
}
#else
#include <linux/kvm.h>

#define RUNS 5
#define GUEST_ADDR 0x1000
#define PORT 0x10

static int vcpu;
static struct kvm_run *run;

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void skip(const char *what) {
	printf("kvm_exit skip %s: %s\n", what, strerror(errno));
	exit(0);
}

static void on_alarm(int sig) { (void)sig; }

// loop returns 0, or -1 after printing a skip line.
static int loop(long n) {
	for (long i = 0; i < n; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) != 0) {
			if (errno == EINTR)
				printf("kvm_exit skip KVM_RUN timed out (watchdog)\n");
			else
				printf("kvm_exit skip KVM_RUN: %s\n", strerror(errno));
			return -1;
		}
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != PORT) {
			printf("kvm_exit skip unexpected exit reason %u (hw reason %llu)\n",
			       run->exit_reason,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n <= 0)
		n = 20000;

	// Watchdog: SIGALRM with a handler interrupts KVM_RUN (EINTR) instead of
	// leaving us stuck in a guest that never exits.
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(30);

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		skip("open /dev/kvm");
	int ver = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		printf("kvm_exit skip KVM API version %d, want %d\n", ver, KVM_API_VERSION);
		return 0;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		skip("KVM_CREATE_VM");
	// Needed on Intel without unrestricted guest; harmless elsewhere.
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);

	uint8_t *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		skip("mmap guest memory");
	static const uint8_t code[] = {
		0xe6, PORT, // out PORT, al
		0xeb, 0xfc, // jmp back to the out
	};
	memcpy(mem, code, sizeof code);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = GUEST_ADDR,
		.memory_size = 0x1000,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) != 0)
		skip("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		skip("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		skip("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		skip("mmap kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) != 0)
		skip("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) != 0)
		skip("KVM_SET_SREGS");
	struct kvm_regs regs;
	memset(&regs, 0, sizeof regs);
	regs.rip = GUEST_ADDR;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) != 0)
		skip("KVM_SET_REGS");

	if (loop(n / 10 + 1) != 0) // warm-up (and proof that the guest exits)
		return 0;
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		if (loop(n) != 0)
			return 0;
		res[r] = (now_ns() - t0) / (double)n;
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("kvm_exit %.1f\n", res[RUNS / 2]);
	return 0;
}
#endif // __x86_64__
