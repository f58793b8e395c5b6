/* The pending list: the pure parser against malformed input, format round
 * trips, and the file adapter (add/remove/contains) in a temporary state
 * directory, including a failed update that leaves nothing behind. */
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/pending.h"

static int parse(const char *text, struct dms_pending *p) { return dms_pending_parse(text, strlen(text), p); }

static void test_parse_valid(void **state)
{
	(void)state;
	struct dms_pending *p = malloc(sizeof(*p));
	assert_int_equal(parse("", p), 0);
	assert_int_equal(p->count, 0);
	assert_int_equal(parse("vol-0123456789abcdef0\nvol-1\n", p), 0);
	assert_int_equal(p->count, 2);
	assert_string_equal(p->ids[0], "vol-0123456789abcdef0");
	assert_string_equal(p->ids[1], "vol-1");
	/* CRLF, trailing blanks, empty lines, no final newline */
	assert_int_equal(parse("\nvol-a  \r\n\n\nvol-b", p), 0);
	assert_int_equal(p->count, 2);
	assert_string_equal(p->ids[0], "vol-a");
	assert_string_equal(p->ids[1], "vol-b");
	free(p);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	struct dms_pending *p = malloc(sizeof(*p));
	static const char *const bad[] = {
		"vol-",                                   /* no digits */
		"vol-XYZ\n",                              /* not hex */
		"vol-ABC\n",                              /* upper case */
		"VOL-abc\n",
		" vol-abc\n",                             /* leading blank */
		"vol-ab cd\n",                            /* inner blank */
		"vol-abc\tx\n",
		"vol-0123456789abcdef0123456789abc\n",    /* longer than an id */
		"snap-0123\n",
		"vol-abc\nvol-../../etc\n",               /* one bad line spoils the file */
		"vol-abc;rm\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p->count = 99;
		assert_int_equal(parse(bad[i], p), -EINVAL);
	}
	/* an embedded NUL is not a line end */
	assert_int_equal(dms_pending_parse("vol-ab\0cd\n", 10, p), -EINVAL);
	/* only len bytes are read: a prefix is fine */
	assert_int_equal(dms_pending_parse("vol-abcXYZ", 7, p), 0);
	assert_string_equal(p->ids[0], "vol-abc");
	/* more ids than a pool can have members */
	char *many = malloc((DMS_MAX_MEMBERS + 1) * 16 + 1);
	size_t off = 0;
	for (int i = 0; i <= DMS_MAX_MEMBERS; i++)
		off += (size_t)sprintf(many + off, "vol-%08x\n", i);
	assert_int_equal(dms_pending_parse(many, off, p), -E2BIG);
	free(many);
	free(p);
}

static void test_format_roundtrip(void **state)
{
	(void)state;
	struct dms_pending *p = calloc(1, sizeof(*p)), *q = calloc(1, sizeof(*q));
	char out[256];
	p->count = 2;
	strcpy(p->ids[0], "vol-1");
	strcpy(p->ids[1], "vol-0123456789abcdef0");
	int n = dms_pending_format(p, out, sizeof(out));
	assert_int_equal(n, (int)strlen("vol-1\nvol-0123456789abcdef0\n"));
	assert_string_equal(out, "vol-1\nvol-0123456789abcdef0\n");
	assert_int_equal(dms_pending_parse(out, (size_t)n, q), 0);
	assert_int_equal(q->count, 2);
	assert_string_equal(q->ids[1], p->ids[1]);
	assert_int_equal(dms_pending_format(p, out, 8), -ENOSPC);
	free(p);
	free(q);
}

static char dir[] = "/tmp/dmscale-pending-XXXXXX";

static int count_entries(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static void test_file_adapter(void **state)
{
	(void)state;
	struct dms_pending *p = malloc(sizeof(*p));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(dms_pending_contains(dir, "pool", "vol-1"), 0);     /* no file yet */
	assert_int_equal(dms_pending_add(dir, "pool", "vol-1"), 0);
	assert_int_equal(dms_pending_add(dir, "pool", "vol-2"), 0);
	assert_int_equal(dms_pending_add(dir, "pool", "vol-1"), 0);          /* idempotent */
	assert_int_equal(dms_pending_load(dir, "pool", p), 0);
	assert_int_equal(p->count, 2);
	assert_int_equal(dms_pending_contains(dir, "pool", "vol-2"), 1);
	assert_int_equal(dms_pending_remove(dir, "pool", "vol-1"), 0);
	assert_int_equal(dms_pending_contains(dir, "pool", "vol-1"), 0);
	assert_int_equal(dms_pending_add(dir, "pool", "../etc"), -EINVAL);

	char pooldir[128], path[160];
	snprintf(pooldir, sizeof(pooldir), "%s/pool", dir);
	snprintf(path, sizeof(path), "%s/pending", pooldir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(pooldir), 2);                     /* pending + pending.lock */

	/* A failed replace (the disk is full: here a file size limit) leaves the
	 * old list and no temporary file (the old code left .pending.tmp). */
	struct rlimit saved, small = { 8, 8 };
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small.rlim_max = saved.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int r = dms_pending_add(dir, "pool", "vol-3");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	assert_true(r < 0);
	assert_int_equal(count_entries(pooldir), 2);
	assert_int_equal(dms_pending_load(dir, "pool", p), 0);
	assert_int_equal(p->count, 1);
	assert_string_equal(p->ids[0], "vol-2");

	/* A malformed file is reported, not half-used. */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "vol-1\ngarbage\n", 14), 14);
	close(fd);
	assert_int_equal(dms_pending_load(dir, "pool", p), -EINVAL);
	assert_int_equal(dms_pending_add(dir, "pool", "vol-4"), -EINVAL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pending.lock", pooldir);
	unlink(path);
	rmdir(pooldir);
	rmdir(dir);
	free(p);
}

static void quiet(int level, const char *line, void *userdata)
{
	(void)level;
	(void)line;
	(void)userdata;
}

int main(void)
{
	log_set_sink(quiet, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_file_adapter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
