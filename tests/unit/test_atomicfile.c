/* dms_atomic_write: contents and mode, replacement of an existing file, and a
 * failed update that leaves the old file and no temporary file behind. */
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/atomicfile.h"
#include "dmscale/log.h"

static char dir[] = "/tmp/dmscale-atomic-XXXXXX";

static int entries(const char *d)
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

static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static void test_write_and_replace(void **state)
{
	(void)state;
	char path[128], buf[64];
	struct stat st1, st2;
	snprintf(path, sizeof(path), "%s/state", dir);
	mode_t old = umask(077);
	assert_int_equal(dms_atomic_write(path, "one\n", 4, 0644), 0);
	umask(old);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "one\n");
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0644);     /* the mode asked for, whatever the umask */
	assert_int_equal(dms_atomic_write(path, "two\n", 4, 0600), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "two\n");
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_true(st1.st_ino != st2.st_ino);            /* a new file renamed over, not rewritten */
	assert_int_equal(dms_atomic_write(path, "", 0, 0600), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_size, 0);
	assert_int_equal(entries(dir), 1);
	unlink(path);
}

static void test_failure_leaves_nothing(void **state)
{
	(void)state;
	char path[128], inner[160];
	snprintf(path, sizeof(path), "%s/busy", dir);
	snprintf(inner, sizeof(inner), "%s/x", path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mkdir(inner, 0755), 0);     /* rename onto a non-empty directory fails */
	assert_true(dms_atomic_write(path, "data", 4, 0644) < 0);
	assert_int_equal(entries(dir), 1);            /* no .busy.XXXXXX left behind */
	rmdir(inner);
	rmdir(path);
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no/such/dir/file", dir);
	assert_int_equal(dms_atomic_write(missing, "x", 1, 0644), -ENOENT);
	assert_int_equal(dms_atomic_write("", "x", 1, 0644), -EINVAL);
	assert_int_equal(dms_atomic_write("/tmp/", "x", 1, 0644), -EINVAL);
}

static void test_relative_path(void **state)
{
	(void)state;
	char cwd[4096], buf[16];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(dms_atomic_write("rel", "r", 1, 0644), 0);
	slurp("rel", buf, sizeof(buf));
	assert_string_equal(buf, "r");
	unlink("rel");
	assert_int_equal(chdir(cwd), 0);
}

static void quiet(int level, const char *line, void *userdata)
{
	(void)level;
	(void)line;
	(void)userdata;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	log_set_sink(quiet, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_and_replace),
		cmocka_unit_test(test_failure_leaves_nothing),
		cmocka_unit_test(test_relative_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
