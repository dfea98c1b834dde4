// uts: sethostname and setdomainname in a UTS namespace of the program's own (made
// natively with unshare; the sandbox is one): uname, /proc/sys/kernel/{hostname,
// domainname} and gethostname see the names; lengths up to 64, EINVAL past it or
// negative, EFAULT, EPERM without CAP_SYS_ADMIN; a NUL ends the name.
#include "common.h"
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static void show(const char *what) {
	struct utsname u;
	uname(&u);
	char h[128] = "", d[128] = "";
	FILE *f = fopen("/proc/sys/kernel/hostname", "r");
	if (f) {
		fgets(h, sizeof h, f);
		fclose(f);
	}
	f = fopen("/proc/sys/kernel/domainname", "r");
	if (f) {
		fgets(d, sizeof d, f);
		fclose(f);
	}
	char gh[128] = "";
	gethostname(gh, sizeof gh);
	printf("%s: uname %s / %s, proc %.*s / %.*s, gethostname %s\n", what, u.nodename, u.domainname,
	       (int)strcspn(h, "\n"), h, (int)strcspn(d, "\n"), d, gh);
}

static const char long65[66] = "01234567890123456789012345678901234567890123456789012345678901234";

int main(void) {
	// Natively, a UTS namespace of its own, so the host's names are not touched.
	// (The sandbox has its own; unshare there is not needed for this.)
	if (getenv("MOAT_TEST") && access("/proc/self/ns/uts", F_OK) == 0)
		unshare(CLONE_NEWUTS);
	CHECK("sethostname", sethostname("alpha", 5));
	CHECK("setdomainname", setdomainname("example.org", 11));
	show("set");
	CHECK("sethostname of 64", sethostname("0123456789012345678901234567890123456789012345678901234567890123", 64));
	show("64");
	CHECK("sethostname of 65", sethostname(long65, 65));
	CHECK("sethostname of -1", syscall(SYS_sethostname, "x", -1L));
	CHECK("sethostname bad address", syscall(SYS_sethostname, (void *)8, 4));
	CHECK("setdomainname of 65", setdomainname(long65, 65));
	CHECK("sethostname with a NUL", sethostname("be\0ta", 5));
	CHECK("setdomainname empty", setdomainname("", 0));
	show("nul and empty");
	CHECK("sethostname of 0", sethostname("", 0));
	show("empty host");
	sethostname("gamma", 5);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		// Without CAP_SYS_ADMIN: EPERM, checked before the length.
		prctl(PR_CAPBSET_DROP, 21, 0, 0, 0);
		setresuid(1000, 1000, 1000);
		CHECK("sethostname unprivileged", sethostname("delta", 5));
		CHECK("sethostname unprivileged of 65", sethostname(long65, 65));
		CHECK("setdomainname unprivileged", setdomainname("x", 1));
		show("child");
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	show("after");
	return 0;
}
