// setid: execve of set-user-ID and set-group-ID programs (run as root). A copy of this
// program, owned and moded each way, is run by an unprivileged child: the effective and
// saved IDs become the file's (set-group-ID only with group execute), AT_SECURE and the
// auxv IDs say so, the process is not dumpable, its capabilities follow the root rules
// (a root-owned set-user-ID program runs with all of them, a user's one run by root with
// none effective), no_new_privs and a #! script ignore the bits, and the ambient set and
// parent-death signal are cleared.
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void report(const char *argv0) {
	// /proc/self/exe is the absolute path even for a program run by a relative one.
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
	printf("  exe absolute %d, its name %d\n", exe[0] == '/', n > 0 && !strcmp(strrchr(exe, '/') + 1, base));
	// The command name is the base name of the path exec got: a script's own.
	char comm[32] = "";
	FILE *cf = fopen("/proc/self/comm", "r");
	if (cf) {
		fgets(comm, sizeof comm, cf);
		fclose(cf);
	}
	printf("  comm %s", comm);
	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	printf("  uids %u %u %u, gids %u %u %u, fsuid %d\n", r, e, s, rg, eg, sg, setfsuid(-1));
	printf("  AT_SECURE %lu, AT_UID %lu AT_EUID %lu AT_GID %lu AT_EGID %lu\n", getauxval(AT_SECURE),
	       getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
	printf("  dumpable %d, pdeathsig ", prctl(PR_GET_DUMPABLE));
	int sig = -1;
	prctl(PR_GET_PDEATHSIG, &sig);
	printf("%d\n", sig);
	// The sets, with the bounding set (which depends on the machine) as "bnd".
	unsigned long long prm = 0, eff = 0, amb = 0, bnd = 0;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "CapPrm: %llx", &prm);
		sscanf(line, "CapEff: %llx", &eff);
		sscanf(line, "CapAmb: %llx", &amb);
		sscanf(line, "CapBnd: %llx", &bnd);
	}
	if (f)
		fclose(f);
	unsigned long long sets[] = {prm, eff, amb};
	const char *names[] = {"permitted", "effective", "ambient"};
	for (int i = 0; i < 3; i++) {
		if (sets[i] == bnd)
			printf("  %s: bnd\n", names[i]);
		else
			printf("  %s: %llx\n", names[i], sets[i]);
	}
}

// copy writes this program to path with owner uid:gid and mode.
static void copy(const char *path, uid_t uid, gid_t gid, mode_t mode) {
	int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		write(out, buf, n);
	close(in);
	close(out);
	chown(path, uid, gid);
	chmod(path, mode); // after chown, which clears the set-ID bits
}

// run execs path as uid:gid (unless uid is -1: as root), after setup, and waits.
static void run(const char *what, const char *path, int uid, int nnp, int ambient) {
	printf("%s:\n", what);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (ambient) {
			// CAP_NET_RAW (13) inheritable, then ambient, kept across setuid.
			struct {
				unsigned v;
				int pid;
			} h = {0x20080522, 0};
			struct {
				unsigned eff, perm, inh;
			} d[2];
			syscall(SYS_capget, &h, d);
			d[0].inh |= 1u << 13;
			syscall(SYS_capset, &h, d);
			prctl(PR_SET_KEEPCAPS, 1);
		}
		if (uid >= 0) {
			setgroups(0, NULL);
			setresgid(uid, uid, uid);
			setresuid(uid, uid, uid);
		}
		if (ambient) {
			struct {
				unsigned v;
				int pid;
			} h = {0x20080522, 0};
			struct {
				unsigned eff, perm, inh;
			} d[2];
			syscall(SYS_capget, &h, d);
			d[0].eff = d[0].perm; // KEEPCAPS kept permitted, not effective
			syscall(SYS_capset, &h, d);
			CHECK("  raise ambient CAP_NET_RAW", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 13, 0, 0));
		}
		if (nnp)
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		prctl(PR_SET_PDEATHSIG, SIGUSR1); // after the ID changes, which clear it
		char *argv[] = {(char *)path, "report", NULL};
		fflush(stdout);
		execv(path, argv);
		printf("  execv: %s\n", strerrorname_np(errno));
		_exit(1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("  status %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv) {
	if (argc > 1) {
		report(argv[0]);
		return 0;
	}
	copy("suid-root", 0, 0, 04755);
	copy("suid-1000", 1000, 1000, 04755);
	copy("sgid-0", 0, 0, 02755);
	copy("sgid-noexec", 0, 0, 02745); // set-group-ID without group execute: mandatory locking, not set-ID
	copy("plain", 0, 0, 0755);
	run("plain, as 1000", "./plain", 1000, 0, 0);
	run("set-user-ID root, as 1000", "./suid-root", 1000, 0, 0);
	run("set-user-ID 1000, as root", "./suid-1000", -1, 0, 0);
	run("set-group-ID 0, as 1000", "./sgid-0", 1000, 0, 0);
	run("set-group-ID without group execute, as 1000", "./sgid-noexec", 1000, 0, 0);
	run("set-user-ID root under no_new_privs, as 1000", "./suid-root", 1000, 1, 0);
	run("plain with an ambient capability, as 1000", "./plain", 1000, 0, 1);
	run("set-user-ID root with an ambient capability, as 1000", "./suid-root", 1000, 0, 1);

	// A #! script's own set-ID bits are ignored; its interpreter's are not.
	int fd = open("script", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	dprintf(fd, "#!./plain\n");
	close(fd);
	chmod("script", 04755);
	run("set-user-ID root script, plain interpreter, as 1000", "./script", 1000, 0, 0);
	fd = open("script2", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	dprintf(fd, "#!./suid-root\n");
	close(fd);
	run("plain script, set-user-ID root interpreter, as 1000", "./script2", 1000, 0, 0);
	return 0;
}
