// creds: the set*id family, groups and capabilities as root and after dropping
// privileges in forked children: which changes are allowed, how capabilities follow
// the user IDs (SECBIT_KEEP_CAPS, saved root), file access as the filesystem user,
// access(2) as the real user, and kill permission. Runs as root.
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int capget_(uint32_t version, int pid, struct __user_cap_data_struct *d) {
	struct __user_cap_header_struct h = {version, pid};
	return syscall(SYS_capget, &h, d);
}

static int capset_(uint32_t version, int pid, struct __user_cap_data_struct *d) {
	struct __user_cap_header_struct h = {version, pid};
	return syscall(SYS_capset, &h, d);
}

static uint64_t full; // the capabilities root starts with

// capdesc names a set relative to root's (which depends on the host's bounding set):
// "all", "none", "all but 7 13" or "only 5 8".
static const char *capdesc(uint64_t c) {
	static char buf[4][160];
	static int i;
	char *b = buf[i++ % 4];
	if (c == full)
		return "all";
	if (c == 0)
		return "none";
	uint64_t list = c;
	int n = snprintf(b, 160, "only");
	if (__builtin_popcountll(c) > __builtin_popcountll(full) / 2) {
		list = full & ~c;
		n = snprintf(b, 160, "all but");
	}
	for (int bit = 0; bit < 64 && n < 150; bit++)
		if (list >> bit & 1)
			n += snprintf(b + n, 160 - n, " %d", bit);
	return b;
}

static void show(const char *what) {
	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	struct __user_cap_data_struct d[2];
	capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
	uint64_t eff = d[0].effective | (uint64_t)d[1].effective << 32;
	uint64_t prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	uint64_t inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	printf("%s: uid %d %d %d fsuid %d, gid %d %d %d fsgid %d, caps eff %s prm %s inh %s\n", what,
	       r, e, s, setfsuid(-1), rg, eg, sg, setfsgid(-1), capdesc(eff), capdesc(prm), capdesc(inh));
}

// child runs f in a forked child and waits for it.
static void child(const char *name, void (*f)(void)) {
	printf("-- %s\n", name);
	pid_t p = fork();
	if (p == 0) {
		f();
		exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("child status %#x\n", st);
}

static void drop_all(void) {
	CHECK("setgroups none", setgroups(0, NULL));
	CHECK("setresgid 100", setresgid(100, 100, 100));
	show("after setresgid");
	CHECK("setresuid 1000", setresuid(1000, 1000, 1000));
	show("after setresuid");
	CHECK("setuid 0", setuid(0));
	CHECK("setuid 1000", setuid(1000));
	CHECK("setresuid to 0", setresuid(-1, 0, -1));
	CHECK("setgid 0", setgid(0));
	CHECK("setgroups", setgroups(0, NULL));
	CHECK("setreuid swap", setreuid(1000, 1000));
	CHECK("seteuid 2000", seteuid(2000));
	CHECK("open root's 0600 file", open("rootfile", O_RDONLY));
	CHECK("access root's 0600 file", access("rootfile", R_OK));
	CHECK("open own file", close(open("userfile", O_RDWR)));
	CHECK("kill parent", kill(getppid(), 0));
	CHECK("kill self", kill(getpid(), 0));
	CHECK("tgkill parent", syscall(SYS_tgkill, getppid(), getppid(), 0));
	struct __user_cap_data_struct d[2] = {{0}};
	d[0].permitted = 1 << CAP_CHOWN;
	CHECK("capset raise", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	CHECK("setfsuid 5 (refused)", setfsuid(5));
	CHECK("setfsuid now", setfsuid(-1));
	CHECK("setfsuid 1000", setfsuid(1000));
}

static void reuid(void) {
	CHECK("setreuid 1000 2000", setreuid(1000, 2000));
	show("after setreuid");
	CHECK("seteuid 1000", seteuid(1000));
	show("after seteuid");
	CHECK("setreuid -1 0", setreuid(-1, 0));
	CHECK("setreuid 2000 -1", setreuid(2000, -1));
	show("after setreuid 2000 -1");
	CHECK("setregid 7 8", setregid(7, 8));
	CHECK("setregid -1 9 (unprivileged now)", setregid(-1, 9));
	CHECK("setregid 8 -1", setregid(8, -1));
	show("after setregid");
}

static void saved_root(void) {
	CHECK("setresuid 1000 1000 0", setresuid(1000, 1000, 0));
	show("saved root");
	CHECK("open root's 0600 file", open("rootfile", O_RDONLY));
	CHECK("seteuid 0", seteuid(0));
	show("effective root again");
	CHECK("close(open root's file)", close(open("rootfile", O_RDONLY)));
	CHECK("setresuid 1000 1000 1000", setresuid(1000, 1000, 1000));
	show("saved root gone");
}

static void keepcaps(void) {
	CHECK("get keepcaps", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	CHECK("set keepcaps 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
	CHECK("set keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECK("get keepcaps", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	CHECK("setresuid 1000", setresuid(1000, 1000, 1000));
	show("kept");
	struct __user_cap_data_struct d[2];
	capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
	d[0].effective = 1 << CAP_SETUID;
	d[1].effective = 0;
	CHECK("capset effective SETUID", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	show("raised");
	CHECK("setuid 0", setuid(0));
	show("root again");
}

static void fsuid(void) {
	CHECK("setfsuid 1000", setfsuid(1000));
	CHECK("setfsuid again", setfsuid(1000));
	show("fsuid 1000");
	CHECK("open root's 0600 file", open("rootfile", O_RDONLY));
	CHECK("access (real uid)", access("rootfile", R_OK));
	CHECK("faccessat AT_EACCESS", faccessat(AT_FDCWD, "rootfile", R_OK, AT_EACCESS));
	CHECK("close(open own file)", close(open("userfile", O_RDWR)));
	int fd = open("pub/fsfile", O_CREAT | O_WRONLY, 0600);
	CHECKOK("create in a public directory", fd);
	struct stat st;
	fstat(fd, &st);
	printf("created as uid %d gid %d\n", st.st_uid, st.st_gid);
	close(fd);
	CHECK("create in root's directory", open("fsfile", O_CREAT | O_WRONLY, 0600));
	CHECK("setfsuid 0", setfsuid(0));
	show("fsuid 0");
	CHECK("setfsgid 50", setfsgid(50));
	CHECK("setfsgid now", setfsgid(-1));
}

static void caps(void) {
	struct __user_cap_data_struct d[2];
	capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
	d[0].effective &= ~(1u << CAP_NET_RAW);
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	CHECK("capset drop NET_RAW", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	show("dropped");
	d[0].permitted |= 1u << CAP_NET_RAW;
	CHECK("capset raise it back", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	d[0].effective |= 1u << CAP_NET_RAW;
	CHECK("capset effective beyond permitted", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	d[0].effective &= ~(1u << CAP_NET_RAW);
	d[0].inheritable = 1u << CAP_NET_RAW; // with CAP_SETPCAP: allowed, it is bounded
	CHECK("capset inheritable with SETPCAP", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	show("inheritable");
	d[0].effective &= ~(1u << CAP_SETPCAP);
	d[0].inheritable = 1u << CAP_NET_RAW | 1u << CAP_SETPCAP;
	CHECK("capset no effective SETPCAP", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	d[0].inheritable = 1u << CAP_NET_RAW | 1u << CAP_CHOWN;
	CHECK("capset inheritable from permitted", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	show("no SETPCAP");
	d[0].inheritable = 1u << CAP_NET_RAW | 1u << CAP_CHOWN;
	d[0].permitted &= ~(1u << CAP_CHOWN);
	d[0].effective &= ~(1u << CAP_CHOWN);
	d[0].inheritable |= 1u << CAP_NET_ADMIN;
	d[0].permitted &= ~(1u << CAP_NET_ADMIN);
	d[0].effective &= ~(1u << CAP_NET_ADMIN);
	d[0].inheritable &= ~(1u << CAP_NET_ADMIN);
	CHECK("capset keep inheritable", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	d[0].inheritable |= 1u << CAP_NET_ADMIN; // neither inheritable nor permitted now
	CHECK("capset new inheritable", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	// Version 1: 32 bits.
	struct __user_cap_data_struct v1;
	CHECK("capget v1", capget_(_LINUX_CAPABILITY_VERSION_1, 0, &v1));
	printf("v1 permitted %s\n", capdesc(v1.permitted | (full >> 32 << 32)));
	CHECK("capset v1", capset_(_LINUX_CAPABILITY_VERSION_1, 0, &v1));
	show("after v1 capset");
}

static void groups(void) {
	gid_t g[] = {5, 3, 1, 3};
	CHECK("setgroups 4", setgroups(4, g));
	gid_t out[8];
	int n = getgroups(8, out);
	printf("getgroups %d:", n);
	for (int i = 0; i < n; i++)
		printf(" %d", out[i]);
	printf("\n");
	CHECK("getgroups 0", getgroups(0, NULL));
	CHECK("getgroups too small", getgroups(2, out));
	CHECK("getgroups bad pointer", syscall(SYS_getgroups, 8, NULL));
	CHECK("setgroups -1 size", syscall(SYS_setgroups, -1, g));
	CHECK("setgroups 65537", syscall(SYS_setgroups, 65537, g));
	CHECK("setgroups bad pointer", setgroups(2, NULL));
	gid_t bad[] = {1, (gid_t)-1};
	CHECK("setgroups -1 gid", setgroups(2, bad));
	CHECK("setuid -1", setuid(-1));
	CHECK("setgid -1", setgid(-1));
	CHECK("setresuid all -1", setresuid(-1, -1, -1));
	CHECK("getresuid bad pointer", syscall(SYS_getresuid, NULL, NULL, NULL));
	CHECK("getresgid bad pointer", syscall(SYS_getresgid, out, out, NULL));
}

static pthread_barrier_t bar;

static void *other_thread(void *arg) {
	(void)arg;
	pthread_barrier_wait(&bar); // main changes its IDs
	pthread_barrier_wait(&bar);
	uid_t r, e, su;
	syscall(SYS_getresuid, &r, &e, &su);
	printf("other thread sees uid %d %d %d\n", r, e, su);
	return NULL;
}

// glibc's setresuid changes every thread's IDs (it signals each to make the call).
static void threads(void) {
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, other_thread, NULL);
	pthread_barrier_wait(&bar);
	CHECK("setresuid in a threaded process", setresuid(1000, 1000, 0));
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	// A raw system call changes the calling thread only.
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&th, NULL, other_thread, NULL);
	pthread_barrier_wait(&bar);
	CHECK("raw setresuid", syscall(SYS_setresuid, 0, 0, 0));
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
}

static void robust_list_perm(void) {
	void *head;
	size_t len;
	setresuid(1000, 1000, 1000);
	CHECK("get_robust_list of root's process", syscall(SYS_get_robust_list, getppid(), &head, &len));
	CHECK("get_robust_list own", syscall(SYS_get_robust_list, 0, &head, &len));
}

static void kill_users(void) {
	// Two children of user 1000: one may signal the other; neither may signal root.
	int p[2];
	pipe(p);
	pid_t victim = fork();
	if (victim == 0) {
		setresuid(2000, 2000, 2000);
		close(p[1]);
		char c;
		read(p[0], &c, 1);
		exit(0);
	}
	pid_t other = fork();
	if (other == 0) {
		setresuid(1000, 1000, 1000);
		CHECK("kill other user", kill(victim, 0));
		CHECK("kill other user SIGCONT (same session)", kill(victim, SIGCONT));
		setresuid(2000, 2000, 2000); // impossible: unprivileged now
		CHECK("kill as uid 1000 after refused setresuid", kill(victim, 0));
		exit(0);
	}
	waitpid(other, NULL, 0);
	pid_t same = fork();
	if (same == 0) {
		setresuid(0, 2000, 0); // real and saved root: may signal uid 2000 and root
		CHECK("kill from euid 2000 to uid 2000", kill(victim, 0));
		setresuid(3000, 3000, 3000);
		CHECK("kill from uid 3000", kill(victim, 0));
		CHECK("kill pgrp from uid 3000", kill(0, 0));
		exit(0);
	}
	waitpid(same, NULL, 0);
	close(p[1]);
	waitpid(victim, NULL, 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (getuid() != 0) {
		printf("not root\n");
		return 0;
	}
	struct __user_cap_data_struct d[2];
	CHECK("capget", capget_(_LINUX_CAPABILITY_VERSION_3, 0, d));
	full = d[0].permitted | (uint64_t)d[1].permitted << 32;
	printf("effective is permitted: %d, has SETUID: %d\n",
	       d[0].effective == d[0].permitted && d[1].effective == d[1].permitted, (int)(full >> CAP_SETUID) & 1);
	show("start");
	struct __user_cap_header_struct h = {0x12345678, 0};
	CHECK("capget bad version", syscall(SYS_capget, &h, d));
	printf("version written back: %#x\n", h.version);
	h.version = 0x12345678;
	CHECK("capget bad version, no data", syscall(SYS_capget, &h, NULL));
	printf("version written back: %#x\n", h.version);
	CHECK("capget v3 no data", capget_(_LINUX_CAPABILITY_VERSION_3, 0, NULL));
	CHECK("capget pid -1", capget_(_LINUX_CAPABILITY_VERSION_3, -1, d));
	CHECK("capget no such pid", capget_(_LINUX_CAPABILITY_VERSION_3, 0x3ffffff0, d));
	CHECK("capget bad header", syscall(SYS_capget, NULL, d));
	CHECK("capget bad data", capget_(_LINUX_CAPABILITY_VERSION_3, 0, (void *)8));
	CHECK("capget v2", capget_(_LINUX_CAPABILITY_VERSION_2, 0, d));
	CHECK("capset other pid", capset_(_LINUX_CAPABILITY_VERSION_3, 0x3ffffff0, d));
	CHECK("capset bad data", capset_(_LINUX_CAPABILITY_VERSION_3, 0, NULL));
	h.version = 1;
	CHECK("capset bad version", syscall(SYS_capset, &h, d));
	printf("version written back: %#x\n", h.version);

	int fd = open("rootfile", O_CREAT | O_WRONLY | O_TRUNC, 0600);
	close(fd);
	mkdir("pub", 0777);
	chmod("pub", 0777);
	chmod(".", 0755);
	fd = open("userfile", O_CREAT | O_WRONLY | O_TRUNC, 0600);
	fchown(fd, 1000, 100);
	close(fd);

	child("drop everything", drop_all);
	child("setreuid", reuid);
	child("saved root", saved_root);
	child("keepcaps", keepcaps);
	child("fsuid", fsuid);
	child("capset", caps);
	child("groups", groups);
	child("threads", threads);
	child("robust list permission", robust_list_perm);
	kill_users();
	show("parent unchanged");
	unlink("rootfile");
	unlink("userfile");
	unlink("pub/fsfile");
	rmdir("pub");
	return 0;
}
