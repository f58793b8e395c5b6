/* dms_meminfo_dirty_bytes: Dirty + Writeback of /proc/meminfo, and refusals. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <string.h>

#include "dmscale/meminfo.h"

static const char sample[] =
	"MemTotal:        1492612 kB\n"
	"MemFree:          91880 kB\n"
	"Dirty:              512 kB\n"
	"Writeback:           24 kB\n"
	"AnonPages:        60928 kB\n"
	"WritebackTmp:     99999 kB\n";

static void test_sums_dirty_and_writeback(void **state)
{
	(void)state;
	uint64_t b = 0;
	assert_int_equal(dms_meminfo_dirty_bytes(sample, strlen(sample), &b), 0);
	assert_int_equal(b, (512 + 24) * 1024ULL);   /* not WritebackTmp */
}

static void test_no_trailing_newline_and_no_nul(void **state)
{
	(void)state;
	const char t[] = "Writeback: 0 kB\nDirty: 7 kBXXXX";
	uint64_t b = 0;
	/* len stops before the junk: the last line has no newline */
	assert_int_equal(dms_meminfo_dirty_bytes(t, strlen(t) - 4, &b), 0);
	assert_int_equal(b, 7 * 1024ULL);
}

static void test_refusals(void **state)
{
	(void)state;
	uint64_t b = 42;
	const char *bad[] = {
		"Dirty: 5 kB\n",                          /* no Writeback */
		"Writeback: 5 kB\n",                      /* no Dirty */
		"Dirty: x kB\nWriteback: 0 kB\n",         /* not a number */
		"Dirty: 5 MB\nWriteback: 0 kB\n",         /* unit */
		"Dirty: 5\nWriteback: 0 kB\n",            /* no unit */
		"Dirty: 5 kB extra\nWriteback: 0 kB\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dms_meminfo_dirty_bytes(bad[i], strlen(bad[i]), &b), -EINVAL);
		assert_int_equal(b, 42);
	}
	const char huge[] = "Dirty: 99999999999999999999 kB\nWriteback: 0 kB\n";
	assert_int_equal(dms_meminfo_dirty_bytes(huge, strlen(huge), &b), -ERANGE);
	const char sum[] = "Dirty: 18014398509481983 kB\nWriteback: 18014398509481983 kB\n";
	assert_int_equal(dms_meminfo_dirty_bytes(sum, strlen(sum), &b), -ERANGE);
	assert_int_equal(b, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums_dirty_and_writeback),
		cmocka_unit_test(test_no_trailing_newline_and_no_nul),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
