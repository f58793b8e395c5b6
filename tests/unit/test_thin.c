/* dm-thin planning: size parsing, metadata sizing, low water mark, tables and
 * the kernel's thin-pool status line. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/thin.h"
#include "dmscale/units.h"

static void test_parse_size(void **state)
{
	(void)state;
	bytes_t b;
	assert_int_equal(dms_parse_size("0", &b), 0);
	assert_true(b == 0);
	assert_int_equal(dms_parse_size("1048576", &b), 0);
	assert_true(b == MIB);
	assert_int_equal(dms_parse_size("512G", &b), 0);
	assert_true(b == 512 * GIB);
	assert_int_equal(dms_parse_size("16T", &b), 0);
	assert_true(b == 16 * TIB);
	assert_int_equal(dms_parse_size("16TiB", &b), 0);
	assert_true(b == 16 * TIB);
	assert_int_equal(dms_parse_size("2gb", &b), 0);
	assert_true(b == 2 * GIB);
	assert_int_equal(dms_parse_size("1.5T", &b), 0);
	assert_true(b == TIB + TIB / 2);
	assert_int_equal(dms_parse_size("0.25k", &b), 0);
	assert_true(b == 256);
	assert_int_equal(dms_parse_size("1P", &b), 0);
	assert_true(b == 1024 * TIB);
	const char *bad[] = { "", " 1G", "-1G", "+1G", "1 G", "1X", "G", "1.G", ".5G", "1.5", "1GiBx", "1e9",
			      "1.1234567G", "1Gi", "0x10" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dms_parse_size(bad[i], &b), -EINVAL);
	assert_int_equal(dms_parse_size("16385P", &b), -ERANGE);
	assert_int_equal(dms_parse_size("99999999999999999999", &b), -ERANGE);
	assert_int_equal(dms_parse_size(NULL, &b), -EINVAL);
}

static void test_meta_sizing(void **state)
{
	(void)state;
	/* 64 bytes per 512 KiB block: 16 TiB -> 2 GiB */
	assert_true(dms_thin_meta_rule_bytes(16 * TIB) == 2 * GIB + MIB);   /* +1 block, rounded up */
	assert_true(dms_thin_meta_rule_bytes(0) == DMS_THIN_META_MIN_BYTES);
	assert_true(dms_thin_meta_rule_bytes(10 * GIB) == DMS_THIN_META_MIN_BYTES);
	assert_true(dms_thin_meta_rule_bytes(UINT64_MAX) == DMS_THIN_META_MAX_BYTES);
	assert_true(dms_thin_meta_rule_bytes(1024 * TIB) == DMS_THIN_META_MAX_BYTES);
	for (bytes_t d = GIB; d < 64 * TIB; d *= 3)
		assert_true(dms_thin_meta_rule_bytes(d) % MIB == 0);

	bytes_t r;
	/* 100 GiB first volume, pool up to 16 TiB: the full rule fits */
	assert_int_equal(dms_thin_meta_reserve(100 * GIB, 16 * TIB, &r), 0);
	assert_true(r == dms_thin_meta_rule_bytes(16 * TIB));
	/* 1 GiB first volume: capped at 1/8 of the device */
	assert_int_equal(dms_thin_meta_reserve(GIB, 16 * TIB, &r), 0);
	assert_true(r == GIB / 8);
	/* too small for even the minimum */
	assert_int_equal(dms_thin_meta_reserve(32 * MIB, 16 * TIB, &r), -ERANGE);

	/* active: rule for 4x the data, monotonic, within the reserve */
	bytes_t res = 2 * GIB;
	assert_true(dms_thin_meta_active_for(GIB, res, 0) == DMS_THIN_META_MIN_BYTES);
	assert_true(dms_thin_meta_active_for(264 * GIB, res, 32 * MIB) == dms_thin_meta_rule_bytes(1056 * GIB));
	assert_true(dms_thin_meta_active_for(GIB, res, 64 * MIB) == 64 * MIB);      /* never shrinks */
	assert_true(dms_thin_meta_active_for(100 * TIB, res, 0) == res);            /* capped */
	assert_true(dms_thin_meta_active_for(UINT64_MAX, res, 0) == res);

	assert_true(dms_thin_meta_grow(8 * MIB, res) == 16 * MIB);
	assert_true(dms_thin_meta_grow(1536 * MIB, res) == res);
	assert_true(dms_thin_meta_grow(res, res) == res);
}

static void test_low_water(void **state)
{
	(void)state;
	uint64_t blk = DMS_THIN_BLOCK_BYTES;
	/* the larger of bytes and percent */
	assert_true(dms_thin_low_water_blocks(100 * GIB, 10 * GIB, 5) == 10 * GIB / blk);
	assert_true(dms_thin_low_water_blocks(1000 * GIB, 10 * GIB, 5) == 50 * GIB / blk);
	/* never the whole pool, never zero */
	assert_true(dms_thin_low_water_blocks(GIB, 10 * GIB, 10) == GIB / blk - 1);
	assert_true(dms_thin_low_water_blocks(GIB, 0, 0) == 1);
	assert_true(dms_thin_low_water_blocks(0, 0, 0) == 1);
	assert_true(dms_thin_low_water_blocks(GIB, 0, 150) == 1);    /* nonsense percent ignored */
}

static void test_tables(void **state)
{
	(void)state;
	char p[128];
	assert_int_equal(dms_thin_pool_params(254, 0, 254, 1, 512, p, sizeof(p)), 0);
	assert_string_equal(p, "254:0 254:1 1024 512 1 skip_block_zeroing");
	assert_int_equal(dms_thin_pool_params(254, 0, 254, 1, 512, p, 20), -ENAMETOOLONG);
	assert_int_equal(dms_thin_volume_params(254, 2, p, sizeof(p)), 0);
	assert_string_equal(p, "254:2 0");
}

static void test_pool_status(void **state)
{
	(void)state;
	struct dms_thin_pool_status s;
	assert_int_equal(dms_thin_parse_pool_status(
		"1 150/2048 4076/6122 - rw discard_passdown queue_if_no_space - 1024", &s), 0);
	assert_true(s.transaction_id == 1 && s.meta_used_blocks == 150 && s.meta_total_blocks == 2048);
	assert_true(s.data_used_blocks == 4076 && s.data_total_blocks == 6122);
	assert_int_equal(s.mode, DMS_THIN_RW);
	assert_true(s.discard_passdown && !s.error_if_no_space && !s.needs_check);
	assert_string_equal(dms_thin_mode_name(s.mode), "rw");

	assert_int_equal(dms_thin_parse_pool_status(
		"0 10/2048 2030/2030 17 out_of_data_space no_discard_passdown error_if_no_space needs_check", &s), 0);
	assert_int_equal(s.mode, DMS_THIN_OUT_OF_DATA);
	assert_true(!s.discard_passdown && s.error_if_no_space && s.needs_check);
	assert_string_equal(dms_thin_mode_name(s.mode), "out_of_data_space");

	assert_int_equal(dms_thin_parse_pool_status("1 1/2 1/2 - ro ignore_discard queue_if_no_space -", &s), 0);
	assert_int_equal(s.mode, DMS_THIN_RO);
	assert_int_equal(dms_thin_parse_pool_status("Fail", &s), 0);
	assert_int_equal(s.mode, DMS_THIN_FAIL);
	assert_string_equal(dms_thin_mode_name(s.mode), "fail");

	const char *bad[] = {
		"", "Fail now", "1 1/2 1/2 - rw discard_passdown queue_if_no_space",           /* too short */
		"x 1/2 1/2 - rw discard_passdown queue_if_no_space -",
		"1 3/2 1/2 - rw discard_passdown queue_if_no_space -",                        /* used > total */
		"1 1-2 1/2 - rw discard_passdown queue_if_no_space -",
		"1 1/2 1/ - rw discard_passdown queue_if_no_space -",
		"1 1/2 1/2 - rx discard_passdown queue_if_no_space -",
		"1 1/2 1/2 - rw passdown queue_if_no_space -",
		"1 1/2 1/2 - rw discard_passdown wait_if_no_space -",
		"1 1/2 1/2 - rw discard_passdown queue_if_no_space maybe",
		"99999999999999999999 1/2 1/2 - rw discard_passdown queue_if_no_space -",
		"1 1/2 1/2 - rw discard_passdown queue_if_no_space - 1 2 3 4 5",               /* too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dms_thin_parse_pool_status(bad[i], &s), -EINVAL);
	assert_int_equal(dms_thin_parse_pool_status(NULL, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_meta_sizing),
		cmocka_unit_test(test_low_water),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_pool_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
