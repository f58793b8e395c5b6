/* Step timing: the line's format (parsed by bench/bench.py) and the recorder. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/steps.h"

static void test_format(void **state)
{
	struct dms_steps st = { 0 };
	char line[512];
	st.ns[DMS_STEP_LOCK] = 120000;          /* 0.120 ms */
	st.ns[DMS_STEP_RESUME] = 2500000000u;   /* 2500 ms */
	assert_int_equal(dms_steps_format(&st, 3000001000u, "attach pool p member 1 of 2", line, sizeof(line)), 0);
	assert_non_null(strstr(line, "attach pool p member 1 of 2 steps: lock_ms=0.120 read_ms=0.000"));
	assert_non_null(strstr(line, " resume_ms=2500.000 "));
	assert_non_null(strstr(line, " other_ms=499.881 total_ms=3000.001"));
	/* every step is named, in order */
	const char *at = line;
	for (int s = 0; s < DMS_STEP_COUNT; s++) {
		char key[32];
		snprintf(key, sizeof(key), " %s_ms=", dms_step_name(s));
		const char *p = strstr(at, key);
		assert_non_null(p);
		at = p + 1;
	}
}

static void test_format_short_buffer(void **state)
{
	struct dms_steps st = { 0 };
	char line[40];
	assert_int_equal(dms_steps_format(&st, 1, "attach", line, sizeof(line)), -ENOSPC);
	assert_int_equal(dms_steps_format(&st, 1, "attach", line, 0), -ENOSPC);
}

static void test_other_never_negative(void **state)
{
	struct dms_steps st = { 0 };
	char line[512];
	st.ns[DMS_STEP_READ] = 5000000;
	assert_int_equal(dms_steps_format(&st, 1000000, "x", line, sizeof(line)), 0);
	assert_non_null(strstr(line, " other_ms=0.000 total_ms=1.000"));
}

static void test_recorder_adds_only_while_recording(void **state)
{
	dms_steps_add(DMS_STEP_LOCK, dms_steps_now_ns());     /* not recording: ignored */
	dms_steps_begin();
	uint64_t t = dms_steps_now_ns();
	dms_steps_add(DMS_STEP_LOCK, t);
	dms_steps_end("unit");
	dms_steps_end("unit");                               /* no second line, no crash */
	assert_string_equal(dms_step_name(DMS_STEP_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_short_buffer),
		cmocka_unit_test(test_other_never_negative),
		cmocka_unit_test(test_recorder_adds_only_while_recording),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
