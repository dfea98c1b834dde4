// treewalk: walks a tree with nftw(FTW_PHYS), as find, du and tar do, reading every
// file, and prints one line per entry, sorted (a sandbox's overlay may list a
// directory in another order): its path below the root, type, size, a checksum of a
// file's bytes, a symlink's target. With "rm" it then makes, opens and unlinks a
// temporary file in the root and uses it through its descriptor (fchmod, ftruncate,
// write, fstat), and removes the whole tree bottom-up (FTW_DEPTH), as rm -rf does.
// Under runsc with --overlay=none and a low RLIMIT_NOFILE, the tree is larger than the
// Gofer's cache of host FDs.
#include "common.h"
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *root;
static char **lines;
static size_t nlines, cap;

static uint32_t checksum(const char *path) {
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	uint32_t h = 2166136261u; // FNV-1a
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 16777619u;
	close(fd);
	return h;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
	(void)ftw;
	const char *rel = path + strlen(root);
	char line[4200];
	switch (flag) {
	case FTW_F:
		if (S_ISREG(st->st_mode))
			snprintf(line, sizeof line, "%s file %lld %08x", rel, (long long)st->st_size, checksum(path));
		else
			snprintf(line, sizeof line, "%s other %o", rel, st->st_mode & S_IFMT);
		break;
	case FTW_D:
		snprintf(line, sizeof line, "%s dir", rel);
		break;
	case FTW_SL: {
		char target[4096];
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = 0;
		snprintf(line, sizeof line, "%s symlink -> %s", rel, target);
		break;
	}
	default:
		snprintf(line, sizeof line, "%s unreadable (flag %d) %s", rel, flag, strerrorname_np(errno));
	}
	if (nlines == cap) {
		cap = cap ? 2 * cap : 1024;
		lines = realloc(lines, cap * sizeof *lines);
	}
	lines[nlines++] = strdup(line);
	return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static long removed, failed;

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) == 0)
		removed++;
	else if (failed++ < 5)
		printf("removing %s: %s\n", path + strlen(root), strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	root = argv[1];
	CHECK("nftw of a missing root", nftw("/nonexistent-moat-tree", visit, 16, FTW_PHYS));
	CHECK("nftw", nftw(root, visit, 16, FTW_PHYS));
	qsort(lines, nlines, sizeof *lines, cmp);
	for (size_t i = 0; i < nlines; i++)
		puts(lines[i]);
	printf("%zu entries\n", nlines);
	// Every file again, in the order of the sorted listing: by now the first ones
	// looked up are long out of any cache.
	long same = 0;
	for (size_t i = 0; i < nlines; i++) {
		char *sp = strchr(lines[i], ' '), path[4200];
		snprintf(path, sizeof path, "%s%.*s", root, (int)(sp - lines[i]), lines[i]);
		struct stat st;
		if (lstat(path, &st) == 0)
			same++;
	}
	printf("%ld entries found again\n", same);
	if (argc < 3 || strcmp(argv[2], "rm") != 0)
		return 0;

	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/tmpfile", root);
	int fd = open(tmp, O_CREAT | O_EXCL | O_RDWR, 0644);
	CHECKOK("open tmpfile", fd);
	CHECK("unlink tmpfile", unlink(tmp));
	CHECK("fchmod unlinked", fchmod(fd, 0600));
	CHECK("ftruncate unlinked", ftruncate(fd, 100));
	CHECK("pwrite unlinked", pwrite(fd, "data", 4, 200));
	struct stat st;
	CHECK("fstat unlinked", fstat(fd, &st));
	printf("unlinked: mode %o size %lld nlink %ld\n", st.st_mode & 07777, (long long)st.st_size, (long)st.st_nlink);
	CHECK("stat of its name", stat(tmp, &st));
	// Another file at the name is another file.
	int fd2 = open(tmp, O_CREAT | O_EXCL | O_RDWR, 0640);
	CHECKOK("open new tmpfile", fd2);
	CHECK("fstat new", fstat(fd2, &st));
	printf("new: mode %o size %lld nlink %ld\n", st.st_mode & 07777, (long long)st.st_size, (long)st.st_nlink);
	CHECK("fchmod unlinked again", fchmod(fd, 0700));
	CHECK("fstat unlinked", fstat(fd, &st));
	printf("unlinked: mode %o size %lld\n", st.st_mode & 07777, (long long)st.st_size);
	CHECK("stat new", stat(tmp, &st));
	printf("new: mode %o\n", st.st_mode & 07777);
	close(fd);
	close(fd2);

	CHECK("rm -r", nftw(root, rm, 16, FTW_PHYS | FTW_DEPTH));
	printf("removed %ld, failed %ld\n", removed, failed);
	CHECK("stat of the removed root", stat(root, &st));
	return 0;
}
