/* assemble's bounded wait for late members: when to wait, when to stop. */
#include "tests/unit/unit.h"

#include <errno.h>

#include "dmscale/latewait.h"

static void test_all_assembled_is_done(void **state)
{
	(void)state;
	const int r[] = { 0, 0 };
	assert_int_equal(dms_wait_verdict(r, 2, 0, 60000), DMS_WAIT_DONE);
	assert_int_equal(dms_wait_verdict(r, 0, 0, 0), DMS_WAIT_DONE);      /* no pool at all */
}

static void test_incomplete_waits_until_the_limit(void **state)
{
	(void)state;
	const int r[] = { 0, -ENODEV };
	assert_int_equal(dms_wait_verdict(r, 2, 0, 60000), DMS_WAIT_AGAIN);
	assert_int_equal(dms_wait_verdict(r, 2, 59999, 60000), DMS_WAIT_AGAIN);
	assert_int_equal(dms_wait_verdict(r, 2, 60000, 60000), DMS_WAIT_GIVE_UP);
	/* no member visible yet (udev still setting the disk up): wait too */
	const int none[] = { -ENOENT };
	assert_int_equal(dms_wait_verdict(none, 1, 1000, 60000), DMS_WAIT_AGAIN);
	assert_int_equal(dms_wait_verdict(none, 1, 60000, 60000), DMS_WAIT_GIVE_UP);
	/* --wait-members 0: the old behaviour, fail at once */
	assert_int_equal(dms_wait_verdict(r, 2, 0, 0), DMS_WAIT_GIVE_UP);
}

static void test_other_errors_are_final(void **state)
{
	(void)state;
	const int r[] = { -ENODEV, -EUCLEAN };
	assert_int_equal(dms_wait_verdict(r, 2, 0, 60000), DMS_WAIT_GIVE_UP);
	const int busy[] = { -EBUSY };
	assert_int_equal(dms_wait_verdict(busy, 1, 0, 60000), DMS_WAIT_GIVE_UP);
}

static void test_next_wait_is_bounded(void **state)
{
	(void)state;
	assert_int_equal(dms_wait_next_ms(0, 60000), DMS_WAIT_POLL_MS);
	assert_int_equal(dms_wait_next_ms(58000, 60000), 2000);
	assert_int_equal(dms_wait_next_ms(60000, 60000), 0);
	assert_int_equal(dms_wait_next_ms(70000, 60000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_assembled_is_done),
		cmocka_unit_test(test_incomplete_waits_until_the_limit),
		cmocka_unit_test(test_other_errors_are_final),
		cmocka_unit_test(test_next_wait_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
