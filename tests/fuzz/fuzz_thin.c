/* Fuzz the dm-thin parsers (dmscale/thin.c): the thin-pool status line the
 * kernel reports (dm_get_status params) and the size strings of the command
 * line ("512G", "1.5T"), then the sizing rules fed with the parsed size. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>

#include "dmscale/thin.h"

static void pool_status(const char *s)
{
	struct dms_thin_pool_status st;
	int r = dms_thin_parse_pool_status(s, &st);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r)
		return;
	FUZZ_ASSERT(st.mode == DMS_THIN_RW || st.mode == DMS_THIN_RO || st.mode == DMS_THIN_OUT_OF_DATA ||
		    st.mode == DMS_THIN_FAIL);
	FUZZ_ASSERT(strcmp(dms_thin_mode_name(st.mode), "unknown"));
	if (st.mode == DMS_THIN_FAIL)
		return;
	/* usage percentages are computed from these: used never exceeds total */
	FUZZ_ASSERT(st.meta_used_blocks <= st.meta_total_blocks);
	FUZZ_ASSERT(st.data_used_blocks <= st.data_total_blocks);
}

static void sizing(bytes_t b)
{
	bytes_t reserve;
	if (dms_thin_meta_reserve(b, b, &reserve) == 0) {
		FUZZ_ASSERT(reserve >= DMS_THIN_META_MIN_BYTES && reserve <= DMS_THIN_META_MAX_BYTES);
		FUZZ_ASSERT(reserve <= b / 8 && reserve % MIB == 0);
		bytes_t act = dms_thin_meta_active_for(b, reserve, 0);
		FUZZ_ASSERT(act <= reserve && act > 0);
		bytes_t act2 = dms_thin_meta_active_for(b, reserve, act);
		FUZZ_ASSERT(act2 >= act && act2 <= reserve); /* never shrinks */
		bytes_t g = dms_thin_meta_grow(act, reserve);
		FUZZ_ASSERT(g >= act && g <= reserve);
	}
	bytes_t rule = dms_thin_meta_rule_bytes(b);
	FUZZ_ASSERT(rule >= DMS_THIN_META_MIN_BYTES && rule <= DMS_THIN_META_MAX_BYTES && rule % MIB == 0);
	uint64_t blocks = b / DMS_THIN_BLOCK_BYTES;
	uint64_t lwm = dms_thin_low_water_blocks(b, b / 3, 10.0);
	FUZZ_ASSERT(lwm >= 1 && (blocks <= 1 || lwm < blocks));
	char params[128];
	FUZZ_ASSERT(dms_thin_pool_params(254, 0, 254, 1, lwm, params, sizeof(params)) == 0);
}

static void size_string(const char *s)
{
	bytes_t b = 7;
	int r = dms_parse_size(s, &b);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r) {
		FUZZ_ASSERT(b == 7); /* untouched on error */
		return;
	}
	/* plain bytes round trip; a suffix multiplies exactly */
	char back[32];
	snprintf(back, sizeof(back), "%" PRIu64, (uint64_t)b);
	bytes_t b2 = 0;
	FUZZ_ASSERT(dms_parse_size(back, &b2) == 0 && b2 == b);
	size_t n = strlen(s);
	if (n >= 2 && (s[n - 1] == 'G' || s[n - 1] == 'g') && !strchr(s, '.')) {
		char *digits = strndup(s, n - 1);
		bytes_t whole = 0;
		FUZZ_ASSERT(digits && dms_parse_size(digits, &whole) == 0 && whole * GIB == b);
		free(digits);
	}
	sizing(b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	pool_status(s);
	size_string(s);
	free(s);
	return 0;
}
