// kvm_touch: cost of a KVM guest's first write to a page, per page: the floor
// of a page fault in Moat's KVM platform, where the application's memory is a
// memfd (the memory file) registered as guest memory and mapped by 4 KiB guest
// page tables. A minimal VM - one vCPU in 64-bit mode (ring 0, paging on,
// 4-level tables with 4 KiB leaves) - runs a loop writing one byte to each page
// of a 1 MiB region (256 pages, like the mmap_touch_munmap_1m workload) and
// halts; one KVM_RUN per region. The region is guest memory slot 1, backed by a
// memfd; between regions (untimed) it is put back in the state the row names:
//
//   kvm_touch          the memfd range is a hole (fallocate PUNCH_HOLE): the
//                      host allocates and zeroes each page, as for a fresh mmap
//                      in the sandbox. Guest PTEs have Accessed and Dirty set.
//   kvm_touch_noad     as kvm_touch, but the guest PTEs are written without
//                      Accessed and Dirty (KVM sets them on the guest's access).
//   kvm_touch_cached   the pages exist in the memfd but the host's mapping of
//                      them was dropped (MADV_DONTNEED of a shared mapping keeps
//                      the data): a host minor fault per page, as after the
//                      Sentry's shootdown of a page (fork's copy-on-write).
//   kvm_touch_mapped   the pages are mapped in the host; only KVM's translations
//                      are gone (the slot is deleted and added back): the guest
//                      fault alone (under shadow paging, KVM may map up to 8
//                      neighbouring pages per fault whose guest PTEs are
//                      Accessed and whose host pages are present).
//   kvm_touch_mapped_noad  as kvm_touch_mapped, guest PTEs without A and D
//                      (nothing to prefetch: a fault for each page).
//
// Each row is the median of 5 timed runs of ITERATIONS pages (rounded up to
// whole regions, at most 100 regions), after a warm-up region. The time of a
// region includes one KVM_RUN entry and exit and a KVM_SET_REGS (a few µs, so
// some hundredths of a µs per page). Prints "kvm_touch skip REASON" when
// /dev/kvm is missing or unusable. An alarm bounds each row: never hangs.
//
// Usage: kvm_touch [ITERATIONS]   (pages per timed run; default 2560)
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
	printf("kvm_touch skip guest code is only written for x86_64\n");
	return 0;
}
#else
#include <linux/kvm.h>

#define RUNS 5
#define PAGE 4096UL
#define REGION_PAGES 256UL
#define REGION (REGION_PAGES * PAGE)
#define MAX_REGIONS 100

// Guest physical layout. Slot 0, CTL_SIZE bytes of anonymous memory at 0: the
// user code and the page tables (identity-mapped where mapped at all), and the
// kernel pages (ring-0 code, IDT, GDT+TSS+stack), mapped at KBASE, the top GiB,
// supervisor-only. Slot 1: the memfd region at DATA (1 GiB), mapped at the same
// virtual address by its own page directory and table.
#define CTL_SIZE (2UL << 20)
#define CODE 0x1000UL
#define PML4 0x2000UL
#define PDPT 0x3000UL
#define PD0 0x4000UL // [0, 1 GiB)
#define PT0 0x5000UL // [0, 2 MiB)
#define PD1 0x6000UL // [1 GiB, 2 GiB)
#define PT1 0x7000UL // [1 GiB, 1 GiB + 2 MiB): the region's PTEs
#define KPDPT 0x9000UL
#define KPD 0xa000UL
#define KPT 0xb000UL
#define KCODE 0xc000UL // at KBASE: iretq at 0, hlt at HLT_OFF
#define KIDT 0xd000UL  // at KBASE + 0x1000
#define KPAGE 0xe000UL // at KBASE + 0x2000: the GDT, the TSS at 0x80, the stack
#define KBASE 0xffffffffc0000000UL
#define HLT_OFF 0x10
#define KSTACK (KBASE + 0x3000)
#define DATA (1UL << 30)

#define P 0x1UL
#define W 0x2UL
#define U 0x4UL
#define A 0x20UL
#define D 0x40UL

enum mode { FRESH, FRESH_NOAD, CACHED, MAPPED, MAPPED_NOAD };
static const char *const names[] = {
	"kvm_touch", "kvm_touch_noad", "kvm_touch_cached", "kvm_touch_mapped", "kvm_touch_mapped_noad",
};

static int vm, vcpu, memfd;
static struct kvm_run *run;
static uint8_t *ctl, *data;

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
	printf("kvm_touch skip %s: %s\n", what, strerror(errno));
	exit(0);
}

static void on_alarm(int sig) { (void)sig; }

static uint64_t *ent(uint64_t table, int i) { return (uint64_t *)(ctl + table) + i; }

static int set_data_slot(uint64_t size) {
	struct kvm_userspace_memory_region r = {
		.slot = 1,
		.guest_phys_addr = DATA,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)data,
	};
	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

// reset puts the region in the state mode measures (untimed). It returns 0, or
// -1 after printing a skip line.
static int reset(enum mode m) {
	uint64_t bits = P | W | U;
	if (m != FRESH_NOAD && m != MAPPED_NOAD)
		bits |= A | D;
	for (unsigned long i = 0; i < REGION_PAGES; i++)
		*ent(PT1, i) = (DATA + i * PAGE) | bits;
	switch (m) {
	case FRESH:
	case FRESH_NOAD:
		if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, REGION) != 0) {
			printf("kvm_touch skip fallocate PUNCH_HOLE: %s\n", strerror(errno));
			return -1;
		}
		break;
	case CACHED:
		madvise(data, REGION, MADV_DONTNEED);
		break;
	case MAPPED:
	case MAPPED_NOAD:
		// Deleting a slot makes KVM drop every translation of the VM.
		if (set_data_slot(0) != 0 || set_data_slot(REGION) != 0) {
			printf("kvm_touch skip re-adding the memory slot: %s\n", strerror(errno));
			return -1;
		}
		break;
	}
	return 0;
}

// touch runs the guest over the region once: returns 0, or -1 after printing a
// skip line.
static int touch(void) {
	struct kvm_regs regs;
	memset(&regs, 0, sizeof regs);
	// Ring 0 returns to the loop in ring 3 (the user code and data segments)
	// with iretq, the way Moat enters the application: under PVM (shadow paging
	// without hardware virtualization) ring 0 is emulated instruction by
	// instruction, and only ring 3 runs on the CPU.
	uint64_t frame[5] = {CODE, 0x33, 0x202, CODE, 0x2b}; // rip cs rflags rsp ss
	memcpy(ctl + KPAGE + 0x1000 - sizeof frame, frame, sizeof frame);
	regs.rip = KBASE;
	regs.rsp = KSTACK - sizeof frame;
	regs.rdi = DATA;
	regs.rcx = REGION_PAGES;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) != 0) {
		printf("kvm_touch skip KVM_SET_REGS: %s\n", strerror(errno));
		return -1;
	}
	if (ioctl(vcpu, KVM_RUN, 0) != 0) {
		if (errno == EINTR)
			printf("kvm_touch skip KVM_RUN timed out (watchdog)\n");
		else
			printf("kvm_touch skip KVM_RUN: %s\n", strerror(errno));
		return -1;
	}
	if (run->exit_reason != KVM_EXIT_HLT) {
		printf("kvm_touch skip unexpected exit reason %u (hw reason %llu)\n", run->exit_reason,
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return -1;
	}
	return 0;
}

// measure prints mode's row: returns 0, or -1 after printing a skip line.
static int measure(enum mode m, long regions) {
	alarm(30);
	if (reset(m) != 0 || touch() != 0) // warm-up (and proof that the guest runs)
		return -1;
	struct kvm_regs regs;
	if (ioctl(vcpu, KVM_GET_REGS, &regs) != 0 || regs.rcx != 0 || data[0] != 1 || data[REGION - PAGE] != 1) {
		printf("kvm_touch skip the guest did not write every page (rcx %llu left, rip %#llx)\n",
		       (unsigned long long)regs.rcx, (unsigned long long)regs.rip);
		return -1;
	}
	double res[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t = 0;
		for (long i = 0; i < regions; i++) {
			if (reset(m) != 0)
				return -1;
			double t0 = now_ns();
			if (touch() != 0)
				return -1;
			t += now_ns() - t0;
		}
		res[r] = t / (double)(regions * REGION_PAGES);
	}
	qsort(res, RUNS, sizeof res[0], cmp_double);
	printf("%s %.1f\n", names[m], res[RUNS / 2]);
	return 0;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 2560;
	if (n <= 0)
		n = 2560;
	long regions = (n + REGION_PAGES - 1) / REGION_PAGES;
	if (regions > MAX_REGIONS)
		regions = MAX_REGIONS;

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
		printf("kvm_touch skip KVM API version %d, want %d\n", ver, KVM_API_VERSION);
		return 0;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		skip("KVM_CREATE_VM");
	// Needed on Intel without unrestricted guest; harmless elsewhere.
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);

	ctl = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		skip("mmap guest memory");
	memfd = memfd_create("kvm_touch", MFD_CLOEXEC);
	if (memfd < 0)
		skip("memfd_create");
	if (ftruncate(memfd, REGION) != 0)
		skip("ftruncate");
	data = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (data == MAP_FAILED)
		skip("mmap memfd");

	static const uint8_t code[] = {
		0xc6, 0x07, 0x01,                         // 0: movb $1, (%rdi)
		0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, // 3: add $4096, %rdi
		0x48, 0xff, 0xc9,                         // 10: dec %rcx
		0x75, 0xf1,                               // 13: jnz 0
		0xf4,                                     // 15: hlt (a #GP in ring 3)
	};
	memcpy(ctl + CODE, code, sizeof code);
	ctl[KCODE] = 0x48, ctl[KCODE + 1] = 0xcf; // iretq
	ctl[KCODE + HLT_OFF] = 0xf4;              // hlt
	// IDT: every exception lands on the hlt, on IST1 (interrupt gates, DPL 0).
	uint64_t target = KBASE + HLT_OFF;
	for (int v = 0; v < 32; v++) {
		uint64_t *g = (uint64_t *)(ctl + KIDT) + 2 * v;
		g[0] = (target & 0xffff) | 0x10UL << 16 | 1UL << 32 | 0x8eUL << 40 | (target >> 16 & 0xffff) << 48;
		g[1] = target >> 32;
	}
	// GDT (Linux's selectors), TSS (RSP0 and IST1 at the top of the page).
	uint64_t *gdt = (uint64_t *)(ctl + KPAGE);
	gdt[2] = 0x00af9b000000ffffUL; // kernel code, 64-bit
	gdt[3] = 0x00cf93000000ffffUL; // kernel data
	gdt[5] = 0x00cff3000000ffffUL; // user data (0x2b)
	gdt[6] = 0x00affb000000ffffUL; // user code, 64-bit (0x33)
	uint64_t tss = KBASE + 0x2000 + 0x80;
	gdt[8] = 0x67 | (tss & 0xffffff) << 16 | 0x8bUL << 40 | (tss >> 24 & 0xff) << 56;
	gdt[9] = tss >> 32;
	memcpy(ctl + KPAGE + 0x80 + 4, &(uint64_t){KSTACK}, 8);  // RSP0
	memcpy(ctl + KPAGE + 0x80 + 36, &(uint64_t){KSTACK}, 8); // IST1
	memcpy(ctl + KPAGE + 0x80 + 102, &(uint16_t){0x68}, 2); // no I/O bitmap

	*ent(PML4, 0) = PDPT | P | W | U | A;
	*ent(PDPT, 0) = PD0 | P | W | U | A;
	*ent(PDPT, 1) = PD1 | P | W | U | A;
	*ent(PD0, 0) = PT0 | P | W | U | A;
	*ent(PD1, 0) = PT1 | P | W | U | A;
	*ent(PT0, CODE / PAGE) = CODE | P | U | A;
	*ent(PML4, 511) = KPDPT | P | W | U | A;
	*ent(KPDPT, 511) = KPD | P | W | U | A;
	*ent(KPD, 0) = KPT | P | W | U | A;
	*ent(KPT, 0) = KCODE | P | A;
	*ent(KPT, 1) = KIDT | P | A;
	*ent(KPT, 2) = KPAGE | P | W | A | D;

	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = CTL_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ctl,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) != 0)
		skip("KVM_SET_USER_MEMORY_REGION");
	if (set_data_slot(REGION) != 0)
		skip("KVM_SET_USER_MEMORY_REGION (memfd)");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		skip("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		skip("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		skip("mmap kvm_run");

	// Long mode needs the CPUID the guest is told about to include it.
	int nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + nent * sizeof(struct kvm_cpuid_entry2));
	if (cpuid == NULL)
		skip("calloc");
	cpuid->nent = nent;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) != 0)
		skip("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) != 0)
		skip("KVM_SET_CPUID2");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) != 0)
		skip("KVM_GET_SREGS");
	struct kvm_segment cs = {.limit = 0xffffffff, .selector = 0x10, .type = 0xb,
				 .present = 1, .s = 1, .l = 1, .g = 1};
	struct kvm_segment ss = {.limit = 0xffffffff, .selector = 0x18, .type = 0x3,
				 .present = 1, .s = 1, .db = 1, .g = 1};
	// The data segments hold selector 0 with DPL 3, so that iretq keeps them.
	struct kvm_segment user = {.limit = 0xffffffff, .type = 0x3, .present = 1, .s = 1,
				   .db = 1, .g = 1, .dpl = 3};
	struct kvm_segment tr = {.base = tss, .limit = 0x67, .selector = 0x40, .type = 0xb, .present = 1};
	sregs.cs = cs;
	sregs.ss = ss;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = user;
	sregs.tr = tr;
	sregs.ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	sregs.gdt.base = KBASE + 0x2000;
	sregs.gdt.limit = 10 * 8 - 1;
	sregs.idt.base = KBASE + 0x1000;
	sregs.idt.limit = 256 * 16 - 1;
	sregs.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
	sregs.cr3 = PML4;
	sregs.cr4 = 0x620;       // OSXMMEXCPT OSFXSR PAE
	sregs.efer = 0xd01;      // NXE LMA LME SCE
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) != 0)
		skip("KVM_SET_SREGS (64-bit mode)");

	for (enum mode m = FRESH; m <= MAPPED_NOAD; m++)
		if (measure(m, regions) != 0)
			return 0;
	return 0;
}
#endif // __x86_64__
