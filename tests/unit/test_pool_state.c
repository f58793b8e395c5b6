/* Machine state helpers: mount roots (the busy-mountpoint check), pool names,
 * the saved mountpoint. */
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/pool.h"
#include "dmscale/state.h"

static void test_is_mountpoint(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmscale-state-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(dms_path_is_mountpoint("/"), 1);
	assert_int_equal(dms_path_is_mountpoint("/proc"), 1);
	assert_int_equal(dms_path_is_mountpoint(dir), 0);
	char sub[64];
	snprintf(sub, sizeof(sub), "%s/none", dir);
	assert_int_equal(dms_path_is_mountpoint(sub), 0);      /* does not exist: free */
	rmdir(dir);
}

static void test_pool_names(void **state)
{
	(void)state;
	assert_true(dms_pool_name_valid("scratch"));
	assert_true(dms_pool_name_valid("a.b_c-9"));
	assert_false(dms_pool_name_valid(""));
	assert_false(dms_pool_name_valid("."));
	assert_false(dms_pool_name_valid(".."));
	assert_false(dms_pool_name_valid("-x"));
	assert_false(dms_pool_name_valid("a/b"));
	assert_false(dms_pool_name_valid("0123456789012345678901234567890123456789012345678"));
	assert_false(dms_pool_name_valid(NULL));
}

static void test_saved_mountpoint(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmscale-state-XXXXXX", mp[256];
	assert_non_null(mkdtemp(dir));
	setenv("DMSCALE_STATE_DIR", dir, 1);
	assert_false(dms_state_has_mountpoint("p"));
	dms_state_load_mountpoint("p", mp, sizeof(mp));
	assert_string_equal(mp, DMS_DEFAULT_MOUNTPOINT);
	dms_state_save_mountpoint("p", "/srv/p");
	assert_true(dms_state_has_mountpoint("p"));
	dms_state_load_mountpoint("p", mp, sizeof(mp));
	assert_string_equal(mp, "/srv/p");
	char path[300];
	snprintf(path, sizeof(path), "%s/p/mountpoint", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/p", dir);
	rmdir(path);
	rmdir(dir);
	unsetenv("DMSCALE_STATE_DIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_mountpoint),
		cmocka_unit_test(test_pool_names),
		cmocka_unit_test(test_saved_mountpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
