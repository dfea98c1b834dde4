// procfs: /proc/self/task lists the threads, fdinfo shows an FD's offset and flags,
// mountinfo has the root mount in its format; and
// /proc/self/stat and status agree with the calls that tell the same (relations only).
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pthread_barrier_t bar;

static void *idle(void *arg) {
	(void)arg;
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	return NULL;
}

static int count_dir(const char *path) {
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int read_file(const char *path, char *buf, int size) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

int main(void) {
	char buf[8192], path[128];
	pthread_t th[2];
	pthread_barrier_init(&bar, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, idle, NULL);
	pthread_barrier_wait(&bar);
	printf("task entries: %d\n", count_dir("/proc/self/task"));
	snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
	printf("own task comm readable: %d\n", read_file(path, buf, sizeof buf) > 0);
	read_file("/proc/self/status", buf, sizeof buf);
	printf("status Threads: 3: %d\n", strstr(buf, "\nThreads:\t3\n") != NULL);
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	lseek(fd, 3, SEEK_SET);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	read_file(path, buf, sizeof buf);
	long pos = -1;
	unsigned flags = 0;
	sscanf(buf, "pos:\t%ld\nflags:\t%o", &pos, &flags);
	printf("fdinfo pos %ld, flags %o\n", pos, flags);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", 999);
	printf("fdinfo of a closed fd: %d\n", read_file(path, buf, sizeof buf));

	read_file("/proc/self/mountinfo", buf, sizeof buf);
	int fields = 0, root = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[256], sep[8];
		if (sscanf(line, "%*d %*d %*s %*s %255s %*s %7s", mp, sep) == 2 && strcmp(mp, "/") == 0) {
			root = 1;
			fields = strcmp(sep, "-") == 0 || strchr(line, '-') != NULL;
		}
	}
	printf("mountinfo has / with a separator: %d %d\n", root, fields);

	read_file("/proc/self/stat", buf, sizeof buf);
	long pid, ppid, pgrp, sid;
	char state;
	sscanf(buf, "%ld %*s %c %ld %ld %ld", &pid, &state, &ppid, &pgrp, &sid);
	printf("stat: pid %d ppid %d pgrp %d session %d\n", pid == getpid(), ppid == getppid(),
	       pgrp == getpgrp(), sid == getsid(0));

	// The state field and Status's State line: R for the reader itself, S for a child
	// blocked in read, T once it is stopped, S again when continued. (Not Z: the
	// Sentry's /proc does not list zombies.)
	printf("own state %c\n", state);
	int p[2];
	pipe(p);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char b;
		read(p[0], &b, 1);
		_exit(0);
	}
	char want[] = {'S', 'T', 'S'};
	for (int step = 0; step < 3; step++) {
		if (step == 1)
			kill(c, SIGSTOP);
		if (step == 2)
			kill(c, SIGCONT);
		char line[256];
		char got = '?', status[64] = "";
		for (int i = 0; i < 5000 && got != want[step]; i++) {
			snprintf(path, sizeof path, "/proc/%d/stat", c);
			read_file(path, line, sizeof line);
			char *q = strrchr(line, ')');
			got = q ? q[2] : '?';
			usleep(1000);
		}
		snprintf(path, sizeof path, "/proc/%d/status", c);
		read_file(path, line, sizeof line);
		char *st = strstr(line, "State:");
		if (st)
			sscanf(st, "State:\t%63[^\n]", status);
		printf("child state %c, status \"%s\"\n", got, status);
	}
	write(p[1], "x", 1);
	waitpid(c, NULL, 0);
	return 0;
}
