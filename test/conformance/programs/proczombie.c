// /proc and zombies: an exited, unreaped child keeps its /proc/[pid] (listed, state Z,
// no memory, executable or directories left, its leader under task/) until it is
// reaped; a process whose leader thread ended keeps its directory while another thread
// lives.
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

// cat prints /proc/pid/f: its first lines, or its size with lines 0, or the error.
static void cat(pid_t pid, const char *f, int lines) {
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, f);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: open %s\n", f, strerrorname_np(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		printf("%s: read %s\n", f, strerrorname_np(errno));
		return;
	}
	buf[n] = 0;
	if (!lines) {
		printf("%s: %zd bytes\n", f, n);
		return;
	}
	char *s = buf;
	for (int i = 0; i < lines && s && *s; i++) {
		char *e = strchr(s, '\n');
		if (e)
			*e = 0;
		printf("%s: %s\n", f, s);
		s = e ? e + 1 : NULL;
	}
}

static void listed(pid_t pid) {
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d)))
		if (atoi(e->d_name) == pid)
			found = 1;
	closedir(d);
	printf("listed in /proc: %d\n", found);
}

static void link_of(pid_t pid, const char *name) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
	ssize_t n = readlink(path, buf, sizeof buf);
	printf("%s: %s\n", name, n < 0 ? strerrorname_np(errno) : "a link");
}

static void *sleeper(void *arg) {
	(void)arg;
	usleep(500000);
	return NULL;
}

int main(void) {
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	listed(pid);
	cat(pid, "comm", 1);

	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f && fgets(line, sizeof line, f)) {
		char state;
		int ppid;
		sscanf(strrchr(line, ')') + 2, "%c %d", &state, &ppid);
		printf("stat: state %c, parent is me %d\n", state, ppid == getpid());
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "State", 5) || !strncmp(line, "Vm", 2) || !strncmp(line, "Threads", 7) ||
		    !strncmp(line, "Name", 4))
			printf("status: %s", line);
	if (f)
		fclose(f);
	cat(pid, "cmdline", 0);
	cat(pid, "environ", 0);
	cat(pid, "maps", 0);
	cat(pid, "statm", 1);
	link_of(pid, "exe");
	link_of(pid, "cwd");

	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	int self = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (atoi(e->d_name) == pid)
				self++;
		closedir(d);
	}
	printf("task/ lists the leader: %d\n", self);

	waitpid(pid, NULL, 0);
	listed(pid);
	cat(pid, "stat", 0);

	// The leader thread ends, another goes on.
	pid = fork();
	if (pid == 0) {
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
		pthread_exit(NULL);
	}
	usleep(200000);
	listed(pid);
	cat(pid, "comm", 1);
	int st;
	waitpid(pid, &st, 0);
	printf("exit status %d\n", WEXITSTATUS(st));
	return 0;
}
