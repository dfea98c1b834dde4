// prctl: the task name, the parent-death signal (sent when the parent *thread* exits,
// cleared on fork and by a change of user), child subreapers, no_new_privs, keepcaps,
// dumpable, securebits, the bounding and ambient capability sets, unknown options.
// Runs as root.
#include "common.h"
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static int pdeath(void) {
	int sig = -1;
	prctl(PR_GET_PDEATHSIG, &sig);
	return sig;
}

static void names(void) {
	char name[32];
	CHECK("set name", prctl(PR_SET_NAME, "conformance", 0, 0, 0));
	CHECK("get name", prctl(PR_GET_NAME, name, 0, 0, 0));
	printf("name %s\n", name);
	CHECK("set long name", prctl(PR_SET_NAME, "a-name-longer-than-sixteen-bytes", 0, 0, 0));
	prctl(PR_GET_NAME, name, 0, 0, 0);
	printf("name %s (%zu)\n", name, strlen(name));
	CHECK("set name bad pointer", prctl(PR_SET_NAME, NULL, 0, 0, 0));
	CHECK("get name bad pointer", prctl(PR_GET_NAME, NULL, 0, 0, 0));
}

static volatile sig_atomic_t got;
static void on_sig(int sig) { got = sig; }

static int fds[2];

static void *forker(void *arg) {
	(void)arg;
	pid_t c = fork();
	if (c == 0) {
		got = 0;
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		write(fds[1], "r", 1); // ready
		for (int i = 0; i < 5000 && !got; i++)
			usleep(1000);
		printf("grandchild: got %s after its parent thread exited\n", got ? strsignal(got) : "nothing");
		exit(0);
	}
	char ch;
	read(fds[0], &ch, 1);
	return (void *)(intptr_t)c;
}

static void pdeathsig(void) {
	signal(SIGUSR1, on_sig);
	signal(SIGUSR2, on_sig);
	CHECK("get pdeathsig", pdeath());
	CHECK("set pdeathsig 65", prctl(PR_SET_PDEATHSIG, 65));
	CHECK("set pdeathsig USR2", prctl(PR_SET_PDEATHSIG, SIGUSR2));
	CHECK("get pdeathsig", pdeath());
	CHECK("get pdeathsig bad pointer", prctl(PR_GET_PDEATHSIG, NULL));
	pid_t c = fork();
	if (c == 0) {
		printf("child's pdeathsig after fork: %d\n", pdeath());
		exit(0);
	}
	waitpid(c, NULL, 0);
	c = fork();
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGUSR2);
		setresuid(1000, 1000, 1000);
		printf("pdeathsig after setresuid: %d\n", pdeath());
		exit(0);
	}
	waitpid(c, NULL, 0);
	CHECK("clear pdeathsig", prctl(PR_SET_PDEATHSIG, 0));

	// A process made by a thread gets the signal when that thread exits, though the
	// process (and its main thread) live on; it is then a child of the main thread.
	pipe(fds);
	pthread_t th;
	pthread_create(&th, NULL, forker, NULL);
	void *ret;
	pthread_join(th, &ret);
	pid_t gc = (pid_t)(intptr_t)ret;
	int st;
	CHECK("wait for it from the main thread", waitpid(gc, &st, 0) == gc);

	// And when the parent process exits. The orphan writes to the pipe printed once
	// it has printed: it is no child of ours to wait for, and no fixed delay is sure
	// to be long enough for it (its line came after ours, or never, on a slow run).
	int printed[2];
	pipe(printed);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t c2 = fork();
		if (c2 == 0) {
			got = 0;
			prctl(PR_SET_PDEATHSIG, SIGUSR2);
			write(fds[1], "r", 1);
			for (int i = 0; i < 5000 && !got; i++)
				usleep(1000);
			printf("child: got %s after its parent exited\n", got ? strsignal(got) : "nothing");
			write(printed[1], "p", 1);
			exit(0);
		}
		char ch;
		read(fds[0], &ch, 1);
		exit(0);
	}
	waitpid(mid, NULL, 0);
	char ch;
	read(printed[0], &ch, 1);
	close(printed[0]);
	close(printed[1]);
}

static void subreaper(void) {
	int v = -1;
	CHECK("get subreaper", prctl(PR_GET_CHILD_SUBREAPER, &v));
	printf("subreaper %d\n", v);
	CHECK("get subreaper bad pointer", prctl(PR_GET_CHILD_SUBREAPER, NULL));
	pid_t s = fork();
	if (s == 0) {
		CHECK("set subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1));
		prctl(PR_GET_CHILD_SUBREAPER, &v);
		printf("subreaper %d\n", v);
		pid_t me = getpid();
		int p[2];
		pipe(p);
		pid_t mid = fork();
		if (mid == 0) {
			pid_t g = fork();
			if (g == 0) {
				char ch;
				read(p[0], &ch, 1); // until the middle process is gone
				printf("orphan's parent is the subreaper: %d\n", getppid() == me);
				exit(3);
			}
			exit(0);
		}
		waitpid(mid, NULL, 0);
		write(p[1], "x", 1);
		int st;
		pid_t w = wait(&st);
		printf("subreaper reaped the orphan: %d, status %d\n", w > 0 && w != mid, WEXITSTATUS(st));
		CHECK("no more children", wait(NULL));
		pid_t c = fork();
		if (c == 0) {
			prctl(PR_GET_CHILD_SUBREAPER, &v);
			printf("child's subreaper after fork: %d\n", v);
			exit(0);
		}
		waitpid(c, NULL, 0);
		exit(0);
	}
	waitpid(s, NULL, 0);
}

static void flags(void) {
	CHECK("get no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK("get no_new_privs extra arg", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK("set no_new_privs 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK("set no_new_privs extra arg", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
	pid_t c = fork();
	if (c == 0) {
		CHECK("set no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
		pid_t g = fork();
		if (g == 0) {
			CHECK("grandchild's no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
			exit(0);
		}
		waitpid(g, NULL, 0);
		exit(0);
	}
	waitpid(c, NULL, 0);

	CHECK("get dumpable", prctl(PR_GET_DUMPABLE));
	CHECK("set dumpable 2", prctl(PR_SET_DUMPABLE, 2));
	CHECK("set dumpable 0", prctl(PR_SET_DUMPABLE, 0));
	CHECK("get dumpable", prctl(PR_GET_DUMPABLE));
	CHECK("set dumpable 1", prctl(PR_SET_DUMPABLE, 1));
	c = fork();
	if (c == 0) {
		setresuid(1000, 1000, 1000);
		CHECK("dumpable after setresuid", prctl(PR_GET_DUMPABLE));
		exit(0);
	}
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		CHECK("get securebits", prctl(PR_GET_SECUREBITS));
		CHECK("set unknown securebit", prctl(PR_SET_SECUREBITS, 1 << 20));
		CHECK("set KEEP_CAPS bit", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS));
		CHECK("get keepcaps", prctl(PR_GET_KEEPCAPS));
		CHECK("set KEEP_CAPS locked", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED));
		CHECK("get securebits", prctl(PR_GET_SECUREBITS));
		CHECK("clear keepcaps when locked", prctl(PR_SET_KEEPCAPS, 0));
		CHECK("clear the lock", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS));
		CHECK("set keepcaps when locked", prctl(PR_SET_KEEPCAPS, 1));
		exit(0);
	}
	waitpid(c, NULL, 0);
}

static int capset_(struct __user_cap_data_struct *d) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return syscall(SYS_capset, &h, d);
}

static int capget_(struct __user_cap_data_struct *d) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return syscall(SYS_capget, &h, d);
}

static void capsets(void) {
	CHECK("bset read CHOWN", prctl(PR_CAPBSET_READ, CAP_CHOWN));
	CHECK("bset read 63", prctl(PR_CAPBSET_READ, 63));
	CHECK("bset read -1", prctl(PR_CAPBSET_READ, -1L));
	pid_t c = fork();
	if (c == 0) {
		CHECK("bset drop NET_RAW", prctl(PR_CAPBSET_DROP, CAP_NET_RAW));
		CHECK("bset read NET_RAW", prctl(PR_CAPBSET_READ, CAP_NET_RAW));
		CHECK("bset drop 99", prctl(PR_CAPBSET_DROP, 99));
		CHECK("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
		CHECK("ambient raise, not inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
		struct __user_cap_data_struct d[2];
		capget_(d);
		d[0].inheritable = 1 << CAP_CHOWN | 1 << CAP_KILL;
		CHECK("capset inheritable", capset_(d));
		CHECK("ambient raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
		CHECK("ambient raise KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
		CHECK("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
		CHECK("ambient lower", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_CHOWN, 0, 0));
		CHECK("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
		CHECK("ambient bad op", prctl(PR_CAP_AMBIENT, 9, CAP_CHOWN, 0, 0));
		CHECK("ambient bad cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
		CHECK("ambient extra arg", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 1, 0));
		CHECK("ambient clear all extra arg", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
		d[0].inheritable = 0;
		CHECK("capset no inheritable", capset_(d));
		CHECK("ambient KILL after capset", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
		CHECK("ambient clear all", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
		d[0].effective &= ~(1u << CAP_SETPCAP);
		CHECK("capset no SETPCAP", capset_(d));
		CHECK("bset drop without SETPCAP", prctl(PR_CAPBSET_DROP, CAP_CHOWN));
		CHECK("bset drop bad cap without SETPCAP", prctl(PR_CAPBSET_DROP, 99));
		CHECK("set securebits without SETPCAP", prctl(PR_SET_SECUREBITS, 0));
		exit(0);
	}
	waitpid(c, NULL, 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (getuid() != 0) {
		printf("not root\n");
		return 0;
	}
	names();
	pdeathsig();
	subreaper();
	flags();
	capsets();
	CHECK("unknown option", prctl(0x7777, 0, 0, 0, 0));
	return 0;
}
