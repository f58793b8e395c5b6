/* dms_uuid_generate: RFC 4122 version 4 layout, and no two alike. */
#include "tests/unit/unit.h"

#include <string.h>

#include "dmscale/label.h"
#include "dmscale/uuid.h"

static void test_generate(void **state)
{
	(void)state;
	uint8_t a[16], b[16], zero[16] = { 0 };
	char s[37];
	dms_uuid_generate(a);
	dms_uuid_generate(b);
	assert_memory_not_equal(a, b, 16);
	assert_memory_not_equal(a, zero, 16);
	assert_int_equal(a[6] >> 4, 4);              /* version 4 */
	assert_int_equal(a[8] >> 6, 2);              /* variant 10xx */
	dms_uuid_format(a, s);
	assert_int_equal(s[14], '4');
	uint8_t back[16];
	assert_int_equal(dms_uuid_parse(s, back), 0);
	assert_memory_equal(a, back, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
