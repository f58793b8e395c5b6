/* One validator each for pool names and volume ids (ec2/names.c), and they
 * agree with the on-disk label's rules (dms_label_validate): a name the
 * config or the EC2 requests accept is one a label can carry, and back.
 * Before, the config accepted ".." and "-x" and the EC2 side any 8..17 hex. */
#include "tests/unit/unit.h"

#include <string.h>

#include "dmscale/label.h"
#include "ec2/config.h"
#include "ec2/names.h"
#include "ec2/query.h"

static struct dms_label base(void)
{
	struct dms_label l;
	memset(&l, 0, sizeof(l));
	l.version = DMS_LABEL_VERSION;
	l.generation = 1;
	memset(l.pool_uuid, 0x11, 16);
	memset(l.member_uuid, 0x22, 16);
	strcpy(l.pool_name, "scratch");
	strcpy(l.fs_type, "ext4");
	l.target = DMS_TARGET_LINEAR;
	l.member_count = 1;
	assert_int_equal(dms_member_layout(2 * GIB, 0, &l.members[0]), 0);
	memcpy(l.members[0].uuid, l.member_uuid, 16);
	strcpy(l.members[0].volume_id, "vol-0123456789abcdef0");
	assert_int_equal(dms_label_validate(&l), 0);
	return l;
}

static const char *const pools[] = {
	"scratch", "a", "A.b_c-9", "x-", "..a", "a..", "12345678901234567890123456789012345678901234567",
	"", ".", "..", "-x", "a/b", "a b", "ü", "a\nb", "scratch!", "123456789012345678901234567890123456789012345678",
};

static const char *const vols[] = {
	"vol-0123456789abcdef0", "vol-01234567", "vol-0123456789abcdef", "vol-0123456789ab", "vol-0123456789ABCDEF0",
	"vol-0123456789abcdef01", "vol-", "vol-0123456g", "vol0123456789abcdef0", "vol-01234567 ", "vol-1",
};

static void test_pool_names_agree_with_labels(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
		struct dms_label l = base();
		bool fits = strlen(pools[i]) < sizeof(l.pool_name);
		if (fits)
			strcpy(l.pool_name, pools[i]);
		bool label_ok = fits && dms_label_validate(&l) == 0;
		assert_int_equal(dms_valid_pool_name(pools[i]), label_ok);
		/* the daemon's config takes exactly those */
		struct dms_config c;
		char err[256];
		dms_config_defaults(&c);
		if (strlen(pools[i]) < sizeof(c.pool)) {
			strcpy(c.pool, pools[i]);
			assert_int_equal(dms_config_validate(&c, err, sizeof(err)) == 0, label_ok);
		}
	}
	assert_false(dms_valid_pool_name(NULL));
}

static void test_volume_ids_agree_with_labels(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++) {
		struct dms_label l = base();
		strcpy(l.members[0].volume_id, vols[i]);
		bool label_ok = dms_label_validate(&l) == 0;
		assert_int_equal(dms_valid_volume_id(vols[i]), label_ok);
		/* and the EC2 requests take exactly those */
		struct ec2_form f;
		int r = ec2_query_delete_volume(vols[i], &f);
		assert_int_equal(r == 0, label_ok);
		if (r == 0)
			ec2_form_free(&f);
	}
	assert_false(dms_valid_volume_id(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_names_agree_with_labels),
		cmocka_unit_test(test_volume_ids_agree_with_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
