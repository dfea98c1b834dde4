// splice: splice between pipes and files (offsets in and out, the file offset moved or
// not), pipe to pipe, SPLICE_F_NONBLOCK, EOF, EPIPE, a blocking splice interrupted;
// tee; sendfile (file to file, to a pipe, offsets, short at EOF); copy_file_range
// (offsets, overlap, file types); and the EINVAL/ESPIPE/EBADF/EFAULT paths of each.
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

static void on_alarm(int sig) { (void)sig; }

static void drain(const char *what, int fd) {
	char buf[128];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	fcntl(fd, F_SETFL, fl);
	buf[n < 0 ? 0 : n] = 0;
	printf("  %s: \"%s\"\n", what, buf);
}

static void content(const char *what, int fd) {
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n < 0 ? 0 : n] = 0;
	printf("  %s: \"%s\"\n", what, buf);
}

int main(void) {
	char a[64], b[64], d[64];
	snprintf(a, sizeof a, "/tmp/moat-splice-a-%d", getpid());
	snprintf(b, sizeof b, "/tmp/moat-splice-b-%d", getpid());
	snprintf(d, sizeof d, "/tmp/moat-splice-d-%d", getpid());
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	int fa = open(a, O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(fa, "hello splice world", 18);
	lseek(fa, 0, SEEK_SET);
	int fb = open(b, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int p[2], q[2];
	pipe(p);
	pipe(q);
	loff_t off;

	// splice errors, in the kernel's order.
	CHECK("splice len 0, bad fds", splice(-1, NULL, -1, NULL, 0, 0));
	CHECK("splice bad flags", splice(fa, NULL, p[1], NULL, 10, 0x10));
	CHECK("splice bad in fd", splice(-1, NULL, p[1], NULL, 10, 0));
	CHECK("splice bad out fd", splice(fa, NULL, -1, NULL, 10, 0));
	CHECK("splice file to file", splice(fa, NULL, fb, NULL, 10, 0));
	off = 0;
	CHECK("splice offset on pipe in", splice(p[0], &off, fb, NULL, 10, 0));
	CHECK("splice offset on pipe out", splice(fa, NULL, p[1], &off, 10, 0));
	CHECK("splice pipe to itself", splice(p[0], NULL, p[1], NULL, 10, 0));
	CHECK("splice from a write end", splice(p[1], NULL, q[1], NULL, 10, 0));
	CHECK("splice to a read end", splice(fa, NULL, q[0], NULL, 10, 0));
	CHECK("splice bad offset pointer", splice(fa, (loff_t *)8, p[1], NULL, 10, 0));
	off = -1;
	CHECK("splice negative offset", splice(fa, &off, p[1], NULL, 10, 0));
	int app = open(b, O_WRONLY | O_APPEND);
	CHECK("splice to O_APPEND", splice(p[0], NULL, app, NULL, 10, SPLICE_F_NONBLOCK));
	int efd = eventfd(0, 0);
	CHECK("splice eventfd to pipe", splice(efd, NULL, p[1], NULL, 8, 0));
	CHECK("splice pipe to eventfd", splice(p[0], NULL, efd, NULL, 8, SPLICE_F_NONBLOCK));
	int rdonly = open(a, O_RDONLY);
	CHECK("splice pipe to read-only file", splice(p[0], NULL, rdonly, NULL, 8, 0));

	// File to pipe.
	off = 6;
	CHECK("splice file@6 to pipe", splice(fa, &off, p[1], NULL, 6, 0));
	printf("  offset now %ld, file offset %ld\n", (long)off, (long)lseek(fa, 0, SEEK_CUR));
	drain("pipe", p[0]);
	CHECK("splice file to pipe", splice(fa, NULL, p[1], NULL, 5, 0));
	printf("  file offset %ld\n", (long)lseek(fa, 0, SEEK_CUR));
	drain("pipe", p[0]);
	off = 100;
	CHECK("splice at EOF", splice(fa, &off, p[1], NULL, 5, 0));
	CHECK("splice more than the file", splice(fa, NULL, p[1], NULL, 100, 0));

	// Pipe to file.
	off = 3;
	CHECK("splice pipe to file@3", splice(p[0], NULL, fb, &off, 4, 0));
	printf("  offset now %ld, file offset %ld\n", (long)off, (long)lseek(fb, 0, SEEK_CUR));
	CHECK("splice pipe to file", splice(p[0], NULL, fb, NULL, 100, 0));
	printf("  file offset %ld\n", (long)lseek(fb, 0, SEEK_CUR));
	struct stat st;
	fstat(fb, &st);
	printf("  size %ld\n", (long)st.st_size);
	CHECK("splice empty pipe, SPLICE_F_NONBLOCK", splice(p[0], NULL, fb, NULL, 10, SPLICE_F_NONBLOCK));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECK("splice empty O_NONBLOCK pipe", splice(p[0], NULL, fb, NULL, 10, 0));
	fcntl(p[0], F_SETFL, 0);

	// Pipe to pipe.
	write(p[1], "abcdef", 6);
	CHECK("splice pipe to pipe", splice(p[0], NULL, q[1], NULL, 4, 0));
	drain("first", p[0]);
	drain("second", q[0]);
	CHECK("splice empty pipe to pipe, nonblock", splice(p[0], NULL, q[1], NULL, 4, SPLICE_F_NONBLOCK));

	// tee.
	write(p[1], "teedata", 7);
	CHECK("tee len 0", tee(p[0], q[1], 0, 0));
	CHECK("tee bad flags", tee(p[0], q[1], 5, 0x10));
	CHECK("tee bad fd", tee(-1, q[1], 5, 0));
	CHECK("tee same pipe", tee(p[0], p[1], 5, 0));
	CHECK("tee from a file", tee(fa, q[1], 5, 0));
	CHECK("tee from a write end", tee(p[1], q[1], 5, 0));
	CHECK("tee", tee(p[0], q[1], 3, 0));
	drain("copy", q[0]);
	drain("original", p[0]);
	CHECK("tee empty, nonblock", tee(p[0], q[1], 3, SPLICE_F_NONBLOCK));

	// A full pipe, a pipe without reader, a pipe without writer.
	fcntl(q[1], F_SETFL, O_NONBLOCK);
	char big[4096] = {0};
	while (write(q[1], big, sizeof big) > 0)
		;
	CHECK("splice to a full O_NONBLOCK pipe", splice(fa, &(loff_t){0}, q[1], NULL, 5, 0));
	CHECK("sendfile to a full O_NONBLOCK pipe", sendfile(q[1], fa, &(loff_t){0}, 5));
	close(q[0]);
	close(q[1]);
	pipe(q);
	close(q[0]);
	CHECK("splice to a pipe without reader", splice(fa, &(loff_t){0}, q[1], NULL, 5, 0));
	write(p[1], "x", 1);
	CHECK("splice pipe to a pipe without reader", splice(p[0], NULL, q[1], NULL, 5, 0));
	close(q[1]);
	pipe(q);
	close(q[1]);
	CHECK("splice from a pipe without writer", splice(q[0], NULL, fb, NULL, 5, 0));
	close(q[0]);
	drain("left", p[0]);

	// A blocking splice waits for a writer, and a signal interrupts it.
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		usleep(50000);
		write(p[1], "late", 4);
		_exit(0);
	}
	off = 0;
	CHECK("blocking splice", splice(p[0], NULL, fb, &off, 10, 0));
	waitpid(c, NULL, 0);
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("blocking splice interrupted", splice(p[0], NULL, fb, NULL, 10, 0));

	// sendfile.
	ftruncate(fb, 0);
	lseek(fb, 0, SEEK_SET);
	lseek(fa, 0, SEEK_SET);
	off = 6;
	CHECK("sendfile file@6 to file", sendfile(fb, fa, &off, 6));
	printf("  offset now %ld, in offset %ld, out offset %ld\n", (long)off, (long)lseek(fa, 0, SEEK_CUR),
	       (long)lseek(fb, 0, SEEK_CUR));
	CHECK("sendfile file to file", sendfile(fb, fa, NULL, 100));
	printf("  in offset %ld\n", (long)lseek(fa, 0, SEEK_CUR));
	content("out", fb);
	CHECK("sendfile at EOF", sendfile(fb, fa, NULL, 100));
	off = 0;
	CHECK("sendfile to a pipe", sendfile(p[1], fa, &off, 5));
	drain("pipe", p[0]);
	CHECK("sendfile bad in fd", sendfile(fb, -1, NULL, 5));
	CHECK("sendfile bad out fd", sendfile(-1, fa, NULL, 5));
	CHECK("sendfile bad offset pointer", sendfile(fb, fa, (loff_t *)8, 5));
	CHECK("sendfile from write-only", sendfile(fb, app, NULL, 5));
	CHECK("sendfile to read-only", sendfile(rdonly, fa, NULL, 5));
	CHECK("sendfile to O_APPEND", sendfile(app, fa, &(loff_t){0}, 5));
	off = -1;
	CHECK("sendfile negative offset", sendfile(fb, fa, &off, 5));
	off = 0;
	write(p[1], "pp", 2);
	CHECK("sendfile offset on a pipe", sendfile(fb, p[0], &off, 5));
	CHECK("sendfile from a pipe", sendfile(fb, p[0], NULL, 5));
	CHECK("sendfile from an eventfd", sendfile(fb, efd, NULL, 5));
	CHECK("sendfile count 0", sendfile(fb, fa, NULL, 0));

	// copy_file_range.
	ftruncate(fb, 0);
	loff_t oi = 6, oo = 2;
	CHECK("copy_file_range with offsets", copy_file_range(fa, &oi, fb, &oo, 6, 0));
	printf("  offsets %ld %ld, file offsets %ld %ld\n", (long)oi, (long)oo, (long)lseek(fa, 0, SEEK_CUR),
	       (long)lseek(fb, 0, SEEK_CUR));
	content("out", fb);
	lseek(fa, 0, SEEK_SET);
	lseek(fb, 0, SEEK_SET);
	CHECK("copy_file_range at the offsets", copy_file_range(fa, NULL, fb, NULL, 5, 0));
	printf("  file offsets %ld %ld\n", (long)lseek(fa, 0, SEEK_CUR), (long)lseek(fb, 0, SEEK_CUR));
	content("out", fb);
	oi = 100;
	CHECK("copy_file_range past EOF", copy_file_range(fa, &oi, fb, NULL, 5, 0));
	CHECK("copy_file_range len 0", copy_file_range(fa, NULL, fb, NULL, 0, 0));
	CHECK("copy_file_range bad flags", copy_file_range(fa, NULL, fb, NULL, 5, 1));
	CHECK("copy_file_range bad fd", copy_file_range(-1, NULL, fb, NULL, 5, 0));
	CHECK("copy_file_range bad offset pointer", copy_file_range(fa, (loff_t *)8, fb, NULL, 5, 0));
	CHECK("copy_file_range pipe", copy_file_range(p[0], NULL, fb, NULL, 5, 0));
	mkdir(d, 0700);
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	CHECK("copy_file_range directory", copy_file_range(dfd, NULL, fb, NULL, 5, 0));
	CHECK("copy_file_range to read-only", copy_file_range(fa, NULL, rdonly, NULL, 5, 0));
	CHECK("copy_file_range to O_APPEND", copy_file_range(fa, NULL, app, NULL, 5, 0));
	CHECK("copy_file_range from write-only", copy_file_range(app, NULL, fb, NULL, 5, 0));
	oi = 0, oo = 4;
	CHECK("copy_file_range overlapping", copy_file_range(fa, &oi, fa, &oo, 8, 0));
	oi = 0, oo = 20;
	CHECK("copy_file_range same file", copy_file_range(fa, &oi, fa, &oo, 5, 0));
	content("file", fa);
	oi = -1;
	CHECK("copy_file_range negative offset", copy_file_range(fa, &oi, fb, NULL, 5, 0));
	oi = 0, oo = -5;
	CHECK("copy_file_range negative out offset", copy_file_range(fa, &oi, fb, &oo, 5, 0));
	unlink(a);
	unlink(b);
	rmdir(d);
	return 0;
}
