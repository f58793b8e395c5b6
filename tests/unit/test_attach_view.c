/* attach's live view: when the labels of the live table's members and the
 * candidate are enough for an append, and when it must read every disk. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/pool_priv.h"
#include "tests/unit/pools.h"

static struct dms_scan *s;
static struct dms_assembly a;
static struct dms_label g2, g3;

/* Members 0..k-1 of `l` (generation per member from `old` when i < k_old). */
static void scan_of(const struct dms_label *l, uint32_t k, const struct dms_label *old, uint32_t k_old, unsigned ok)
{
	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < k; i++) {
		struct dms_device d = { .fd = -1 };
		struct dms_label ml;
		snprintf(d.node, sizeof(d.node), "/dev/m%u", i);
		d.devnum = makedev(259, i);
		dms_label_for_member(i < k_old ? old : l, i, &ml);
		assert_int_equal(dms_scan_add(s, &d, &ml, ok), 0);
	}
}

static int setup(void **state)
{
	s = calloc(1, sizeof(*s));
	make_pool(&g2, DMS_TARGET_LINEAR, 2);
	make_pool(&g3, DMS_TARGET_LINEAR, 3);
	return s ? 0 : -1;
}

static int teardown(void **state)
{
	free(s);
	return 0;
}

static void test_complete(void **state)
{
	scan_of(&g2, 2, NULL, 0, 3);
	assert_true(dms_attach_live_view(s, "scratch", 2, makedev(259, 99), &a));
	assert_int_equal(a.label.member_count, 2);
	assert_int_equal(a.generation, g2.generation);
}

static void test_other_pool_name(void **state)
{
	scan_of(&g2, 2, NULL, 0, 3);
	assert_false(dms_attach_live_view(s, "other", 2, makedev(259, 99), &a));
}

static void test_unreadable(void **state)
{
	scan_of(&g2, 2, NULL, 0, 3);
	s->unreadable = 1;
	assert_false(dms_attach_live_view(s, "scratch", 2, makedev(259, 99), &a));
}

static void test_candidate_labelled(void **state)
{
	scan_of(&g2, 2, NULL, 0, 3);
	assert_false(dms_attach_live_view(s, "scratch", 2, makedev(259, 1), &a));
}

/* An attach cut after the old members' labels: they name a member the live
 * table does not have (it is elsewhere on the machine): read every disk. */
static void test_labels_name_more_members(void **state)
{
	scan_of(&g3, 2, NULL, 0, 3);
	assert_false(dms_attach_live_view(s, "scratch", 2, makedev(259, 99), &a));
}

/* Cut between the old members' copy A and B batches, or half of them
 * relabelled: stale members: read every disk (the repair finishes it). */
static void test_stale_or_torn(void **state)
{
	scan_of(&g3, 3, &g2, 1, 3);
	assert_false(dms_attach_live_view(s, "scratch", 3, makedev(259, 99), &a));
	scan_of(&g2, 2, NULL, 0, 1);           /* copy B torn */
	assert_false(dms_attach_live_view(s, "scratch", 2, makedev(259, 99), &a));
}

/* The live table has a device more than the labels list (not ours). */
static void test_count_differs(void **state)
{
	scan_of(&g2, 2, NULL, 0, 3);
	assert_false(dms_attach_live_view(s, "scratch", 3, makedev(259, 99), &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_other_pool_name),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_candidate_labelled),
		cmocka_unit_test(test_labels_name_more_members),
		cmocka_unit_test(test_stale_or_torn),
		cmocka_unit_test(test_count_differs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
