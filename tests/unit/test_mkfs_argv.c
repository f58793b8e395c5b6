/* The mkfs command line: a thin volume's journal/log is sized by the real
 * data space (issue 12: mkfs.xfs zeroed a 2 GiB log on a 2 GiB thin pool). */
#include "tests/unit/unit.h"

#include <errno.h>
#include <string.h>

#include "dmscale/mkfs_argv.h"

static const char *after(char *const argv[], const char *flag)
{
	for (size_t i = 0; argv[i]; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return NULL;
}

static size_t count(char *const argv[])
{
	size_t n = 0;
	while (argv[n])
		n++;
	return n;
}

static void test_journal_bytes(void **state)
{
	(void)state;
	assert_int_equal(dms_mkfs_journal_bytes(2 * GIB - 64 * MIB), 248 * MIB);   /* 1/8, whole MiB */
	assert_int_equal(dms_mkfs_journal_bytes(2 * GIB), 256 * MIB);
	assert_int_equal(dms_mkfs_journal_bytes(256 * MIB), 64 * MIB);              /* floor */
	assert_int_equal(dms_mkfs_journal_bytes(100 * GIB), GIB);                   /* ceiling */
}

static void test_xfs_thin_bounds_the_log(void **state)
{
	(void)state;
	char *argv[DMS_MKFS_ARGV_MAX + 1], buf[64];
	assert_int_equal(dms_mkfs_argv("xfs", "/dev/mapper/dmscale-scratch", 2 * GIB, true, argv, buf, sizeof(buf)), 0);
	assert_string_equal(argv[0], "mkfs.xfs");
	assert_string_equal(after(argv, "-l"), "size=256m");
	assert_non_null(after(argv, "-K"));
	assert_string_equal(argv[count(argv) - 1], "/dev/mapper/dmscale-scratch");
	/* linear: the device is the real space, mkfs' default log */
	assert_int_equal(dms_mkfs_argv("xfs", "/dev/x", 2 * GIB, false, argv, buf, sizeof(buf)), 0);
	assert_null(after(argv, "-l"));
}

static void test_ext4_thin_bounds_the_journal(void **state)
{
	(void)state;
	char *argv[DMS_MKFS_ARGV_MAX + 1], buf[64];
	assert_int_equal(dms_mkfs_argv("ext4", "/dev/x", 2 * GIB, true, argv, buf, sizeof(buf)), 0);
	assert_string_equal(argv[0], "mkfs.ext4");
	assert_string_equal(after(argv, "-J"), "size=256");         /* mke2fs: MiB, no suffix */
	assert_string_equal(after(argv, "-O"), "64bit,^resize_inode");
	assert_string_equal(after(argv, "-E"), "nodiscard,lazy_itable_init=1,lazy_journal_init=1");
	assert_int_equal(dms_mkfs_argv("ext4", "/dev/x", 2 * GIB, false, argv, buf, sizeof(buf)), 0);
	assert_null(after(argv, "-J"));
	assert_string_equal(after(argv, "-O"), "64bit,resize_inode");
}

static void test_btrfs_and_unknown(void **state)
{
	(void)state;
	char *argv[DMS_MKFS_ARGV_MAX + 1], buf[64];
	assert_int_equal(dms_mkfs_argv("btrfs", "/dev/x", 2 * GIB, true, argv, buf, sizeof(buf)), 0);
	assert_string_equal(argv[0], "mkfs.btrfs");
	assert_string_equal(argv[count(argv) - 1], "/dev/x");
	assert_int_equal(dms_mkfs_argv("ext3", "/dev/x", 2 * GIB, true, argv, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dms_mkfs_argv("xfs", "/dev/x", 2 * GIB, true, argv, buf, 4), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_bytes),
		cmocka_unit_test(test_xfs_thin_bounds_the_log),
		cmocka_unit_test(test_ext4_thin_bounds_the_journal),
		cmocka_unit_test(test_btrfs_and_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
