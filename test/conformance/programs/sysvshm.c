// SysV shared memory: shmget's keys, flags and size checks, shmat's address rules and
// SHM_RDONLY, shmdt, shmctl (IPC_STAT, IPC_SET, IPC_RMID with attachments, IPC_INFO,
// SHM_INFO, SHM_STAT), attachments inherited by fork and dropped at exit, permissions.
#include "common.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

static long pg;

static int waitchild(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long nattch(int id) {
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	return (long)ds.shm_nattch;
}

static void mapsflag(const char *name, void *addr) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	char perm[5];
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && lo == (unsigned long)addr) {
			printf("%s: %s\n", name, perm);
			fclose(f);
			return;
		}
	}
	printf("%s: not found\n", name);
	if (f)
		fclose(f);
}

#define SHMAT(name, id, addr, flg)                                                        \
	do {                                                                              \
		void *_p = shmat(id, addr, flg);                                          \
		printf("%s: %s\n", name, _p == (void *)-1 ? strerrorname_np(errno) : "ok"); \
		if (_p != (void *)-1)                                                     \
			shmdt(_p);                                                        \
	} while (0)

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	key_t key = 0x6d6f0000 | (getpid() & 0xffff);

	// shmget.
	CHECK("shmget size 0", shmget(IPC_PRIVATE, 0, 0600));
	CHECK("shmget key missing", shmget(key, pg, 0600));
	int id = shmget(key, 3 * pg + 100, IPC_CREAT | 0600);
	printf("shmget create: %s\n", id >= 0 ? "ok" : strerrorname_np(errno));
	CHECK("shmget excl", shmget(key, pg, IPC_CREAT | IPC_EXCL | 0600));
	printf("shmget same key: %s\n", shmget(key, pg, 0) == id ? "same id" : "other");
	printf("shmget create existing: %s\n", shmget(key, 0, IPC_CREAT | 0600) == id ? "same id" : "other");
	CHECK("shmget larger", shmget(key, 4 * pg, 0));
	int priv = shmget(IPC_PRIVATE, pg, 0600);
	int priv2 = shmget(IPC_PRIVATE, pg, 0600);
	printf("private ids differ: %d\n", priv >= 0 && priv2 >= 0 && priv != priv2);

	struct shmid_ds ds;
	CHECK("IPC_STAT", shmctl(id, IPC_STAT, &ds));
	printf("segsz %zu nattch %lu mode %o key ok %d cpid self %d lpid %d atime %ld\n", ds.shm_segsz,
	       (unsigned long)ds.shm_nattch, ds.shm_perm.mode, ds.shm_perm.__key == key,
	       ds.shm_cpid == getpid(), ds.shm_lpid, (long)ds.shm_atime);
	CHECK("IPC_STAT bad buffer", shmctl(id, IPC_STAT, (void *)8));
	CHECK("IPC_STAT negative id", shmctl(-1, IPC_STAT, &ds));
	CHECK("shmctl bad command", shmctl(id, 99, &ds));

	// shmat.
	SHMAT("shmat bad id", -1, NULL, 0);
	SHMAT("shmat remap without address", id, NULL, SHM_REMAP);
	char *base = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHMAT("shmat unaligned", id, base + 1, 0);
	SHMAT("shmat over a mapping", id, base, 0);
	char *a = shmat(id, base + 1, SHM_RND | SHM_REMAP);
	printf("shmat rnd remap: %s at base %d\n", a == (void *)-1 ? strerrorname_np(errno) : "ok", a == base);
	char *b = shmat(id, NULL, 0);
	printf("shmat anywhere: %s\n", b == (void *)-1 ? strerrorname_np(errno) : "ok");
	printf("nattch after two: %ld\n", nattch(id));
	CHECK("IPC_STAT after shmat", shmctl(id, IPC_STAT, &ds));
	printf("lpid self %d atime set %d\n", ds.shm_lpid == getpid(), ds.shm_atime != 0);
	strcpy(a, "hello");
	printf("second attachment reads: %s\n", b);
	b[3 * pg + 50] = 'z'; // the last, partial page is there
	printf("last page shared: %c\n", a[3 * pg + 50]);
	mapsflag("maps attachment", b);

	// mprotect splits the attachment: Linux counts the VMAs.
	CHECK("mprotect part", mprotect(b, pg, PROT_READ));
	printf("nattch after split: %ld\n", nattch(id));

	// A child inherits the attachments and drops them at exit.
	pid_t pid = fork();
	if (pid == 0) {
		printf("child nattch: %ld\n", nattch(id));
		strcpy(b + pg, "from child");
		_exit(0);
	}
	printf("child: %d\n", waitchild(pid));
	printf("parent reads: %s\n", a + pg);
	printf("nattch after child exit: %ld\n", nattch(id));

	// SHM_RDONLY: writing faults.
	char *ro = shmat(id, NULL, SHM_RDONLY);
	printf("shmat rdonly reads: %s\n", ro == (void *)-1 ? strerrorname_np(errno) : ro);
	CHECK("mprotect rdonly writable", mprotect(ro, pg, PROT_READ | PROT_WRITE));
	pid = fork();
	if (pid == 0) {
		ro[0] = 'x';
		_exit(0);
	}
	int st = waitchild(pid);
	printf("write to rdonly: %s\n", st > 128 ? sigabbrev_np(st - 128) : "no signal");

	// shmdt.
	CHECK("shmdt unaligned", shmdt(a + 1));
	CHECK("shmdt not attached", shmdt(base + 7 * pg));
	CHECK("shmdt", shmdt(ro));
	CHECK("shmdt split", shmdt(b));
	printf("nattch after shmdt: %ld\n", nattch(id));
	CHECK("shmdt again", shmdt(b));

	// IPC_SET and permissions, checked by an unprivileged child.
	ds.shm_perm.mode = 0640;
	CHECK("IPC_SET", shmctl(id, IPC_SET, &ds));
	CHECK("IPC_STAT", shmctl(id, IPC_STAT, &ds));
	printf("mode after IPC_SET: %o\n", ds.shm_perm.mode);
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		CHECKOK("other: shmget", shmget(key, 0, 0));
		CHECK("other: shmget write", shmget(key, 0, 0200));
		SHMAT("other: shmat", id, NULL, 0);
		SHMAT("other: shmat rdonly", id, NULL, SHM_RDONLY);
		CHECK("other: IPC_STAT", shmctl(id, IPC_STAT, &ds));
		CHECK("other: IPC_RMID", shmctl(id, IPC_RMID, NULL));
		CHECK("other: IPC_SET", shmctl(id, IPC_SET, &ds));
		_exit(0);
	}
	printf("unprivileged child: %d\n", waitchild(pid));
	// The group: 0640 lets it read.
	pid = fork();
	if (pid == 0) {
		if (setgid(getgid()) < 0 || setuid(65534) < 0)
			_exit(99);
		SHMAT("group: shmat rdonly", id, NULL, SHM_RDONLY);
		SHMAT("group: shmat", id, NULL, 0);
		_exit(0);
	}
	printf("group child: %d\n", waitchild(pid));

	// IPC_RMID with an attachment: marked, key made private, destroyed at the last detach.
	CHECK("shmdt first", shmdt(a));
	printf("nattch with none: %ld\n", nattch(id));
	a = shmat(id, NULL, 0);
	CHECK("IPC_RMID attached", shmctl(id, IPC_RMID, NULL));
	CHECK("IPC_STAT removed", shmctl(id, IPC_STAT, &ds));
	printf("dest %d key private %d\n", !!(ds.shm_perm.mode & SHM_DEST), ds.shm_perm.__key == IPC_PRIVATE);
	CHECK("shmget removed key", shmget(key, 0, 0));
	printf("still readable: %s\n", a);
	b = shmat(id, NULL, 0);
	printf("shmat removed: %s\n", b == (void *)-1 ? strerrorname_np(errno) : "ok");
	printf("nattch: %ld\n", nattch(id));
	shmdt(a);
	CHECK("shmdt last but one", shmdt(b));
	CHECK("IPC_STAT destroyed", shmctl(id, IPC_STAT, &ds));
	CHECK("IPC_RMID destroyed", shmctl(id, IPC_RMID, NULL));
	SHMAT("shmat destroyed", id, NULL, 0);
	int id2 = shmget(key, pg, IPC_CREAT | 0600);
	printf("key reusable: %s, new id %s\n", id2 >= 0 ? "ok" : strerrorname_np(errno), id2 != id ? "differs" : "same");

	// IPC_RMID without attachments destroys at once.
	CHECK("IPC_RMID", shmctl(id2, IPC_RMID, NULL));
	CHECK("IPC_STAT after IPC_RMID", shmctl(id2, IPC_STAT, &ds));

	// IPC_INFO, SHM_INFO, SHM_STAT.
	struct shminfo si;
	printf("IPC_INFO: %s\n", shmctl(0, IPC_INFO, (void *)&si) >= 0 ? "ok" : strerrorname_np(errno));
	printf("shmmin %lu shmmni>0 %d shmmax>0 %d\n", si.shmmin, si.shmmni > 0, si.shmmax > 0);
	struct shm_info sinfo;
	int maxidx = shmctl(0, SHM_INFO, (void *)&sinfo);
	printf("SHM_INFO: %s used>=2 %d\n", maxidx >= 0 ? "ok" : strerrorname_np(errno), sinfo.used_ids >= 2);
	int found = 0;
	for (int i = 0; i <= maxidx; i++) {
		int sid = shmctl(i, SHM_STAT, &ds);
		if (sid == priv)
			found = 1;
	}
	printf("SHM_STAT finds the private segment: %d\n", found);
	CHECK("SHM_STAT bad index", shmctl(maxidx + 1, SHM_STAT, &ds));
	shmctl(priv, IPC_RMID, NULL);
	shmctl(priv2, IPC_RMID, NULL);
	return 0;
}
