/* The daemon's decisions (ec2/decide.c): keep or delete a volume (every
 * membership x label case), membership from a dms_status (a planning error
 * such as -ENOTUNIQ is UNKNOWN, never "not a member"), the provisioning gate
 * and the backoffs. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/status.h"
#include "ec2/decide.h"

static const enum dms_vol_membership memberships[] = {DMS_MEMBERSHIP_UNKNOWN, DMS_MEMBERSHIP_MEMBER,
						   DMS_MEMBERSHIP_NOT_MEMBER};
static const enum dms_volume_label labels[] = {DMS_VOLUME_LABEL_UNKNOWN, DMS_VOLUME_LABEL_BLANK,
					       DMS_VOLUME_LABEL_POOL, DMS_VOLUME_LABEL_NO_DEVICE};

static enum dms_keep_verdict decide(enum dms_vol_membership m, enum dms_volume_label l, const char *pool)
{
	struct dms_keep_input in;
	memset(&in, 0, sizeof(in));
	in.membership = m;
	in.label = l;
	if (pool)
		strcpy(in.label_pool, pool);
	return dms_keep_decide(&in);
}

static void test_keep_every_case(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 4; j++) {
			enum dms_vol_membership m = memberships[i];
			enum dms_volume_label l = labels[j];
			enum dms_keep_verdict v = decide(m, l, l == DMS_VOLUME_LABEL_POOL ? "scratch" : NULL);
			enum dms_keep_verdict want;
			if (m == DMS_MEMBERSHIP_MEMBER)
				want = DMS_KEEP_MEMBER;
			else if (m == DMS_MEMBERSHIP_UNKNOWN)
				want = DMS_KEEP_UNKNOWN;   /* unknown never deletes, whatever the label */
			else if (l == DMS_VOLUME_LABEL_POOL)
				want = DMS_KEEP_LABELLED;
			else if (l == DMS_VOLUME_LABEL_UNKNOWN)
				want = DMS_KEEP_LABEL_UNREADABLE;
			else
				want = DMS_DELETE;         /* not a member, blank or not here */
			assert_int_equal(v, want);
			assert_non_null(dms_keep_verdict_name(v));
		}
	}
	/* the only two roads to a delete */
	assert_int_equal(decide(DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_BLANK, NULL), DMS_DELETE);
	assert_int_equal(decide(DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_NO_DEVICE, NULL), DMS_DELETE);
	/* a label naming another pool, or this one (an attach cut off after the
	 * new member's label): kept */
	assert_int_equal(decide(DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_POOL, "other"), DMS_KEEP_LABELLED);
	assert_int_equal(dms_keep_decide(NULL), DMS_KEEP_UNKNOWN);
	/* out-of-range enum values (memory corruption, a future state): keep */
	assert_int_equal(decide((enum dms_vol_membership)7, DMS_VOLUME_LABEL_BLANK, NULL), DMS_KEEP_UNKNOWN);
	assert_int_equal(decide(DMS_MEMBERSHIP_NOT_MEMBER, (enum dms_volume_label)9, NULL),
			 DMS_KEEP_LABEL_UNREADABLE);
	for (size_t i = 0; i < 3; i++)
		assert_string_not_equal(dms_membership_name(memberships[i]), "?");
	for (size_t j = 0; j < 4; j++)
		assert_string_not_equal(dms_volume_label_name(labels[j]), "?");
}

static struct dms_status *status_with(uint32_t n, ...)
{
	struct dms_status *st = calloc(1, sizeof(*st));
	assert_non_null(st);
	st->privileged = true;
	st->generation = 3;
	st->member_count = n;
	va_list ap;
	va_start(ap, n);
	for (uint32_t i = 0; i < n; i++)
		strcpy(st->members[i].volume_id, va_arg(ap, const char *));
	va_end(ap);
	return st;
}

static void test_membership_from_status(void **state)
{
	(void)state;
	const char *a = "vol-0123456789abcdef0", *b = "vol-0fedcba9876543210", *x = "vol-0a1b2c3d4e5f60718";
	struct dms_status *st = status_with(2, a, b);
	assert_int_equal(dms_membership_from_status(st, 0, a), DMS_MEMBERSHIP_MEMBER);
	assert_int_equal(dms_membership_from_status(st, 0, b), DMS_MEMBERSHIP_MEMBER);
	assert_int_equal(dms_membership_from_status(st, 0, x), DMS_MEMBERSHIP_NOT_MEMBER);
	/* dms_status_collect failed */
	assert_int_equal(dms_membership_from_status(st, -ENOMEM, x), DMS_MEMBERSHIP_UNKNOWN);
	/* not root: no labels were read */
	st->privileged = false;
	assert_int_equal(dms_membership_from_status(st, 0, x), DMS_MEMBERSHIP_UNKNOWN);
	st->privileged = true;
	/* garbage count */
	st->member_count = DMS_MAX_MEMBERS + 1;
	assert_int_equal(dms_membership_from_status(st, 0, x), DMS_MEMBERSHIP_UNKNOWN);
	/* no volume id to look for */
	st->member_count = 2;
	assert_int_equal(dms_membership_from_status(st, 0, ""), DMS_MEMBERSHIP_UNKNOWN);
	assert_int_equal(dms_membership_from_status(NULL, 0, x), DMS_MEMBERSHIP_UNKNOWN);
	free(st);

	/* The bug: planning failed (-ENOTUNIQ, a clone attached; a read error):
	 * dms_status_collect returns 0 with no members and a note. The
	 * just-appended volume must be UNKNOWN, not "not a member". */
	st = status_with(0);
	st->generation = 0;
	strcpy(st->note, "labels unreadable: Name not unique on network");
	assert_int_equal(dms_membership_from_status(st, 0, a), DMS_MEMBERSHIP_UNKNOWN);
	assert_int_equal(decide(dms_membership_from_status(st, 0, a), DMS_VOLUME_LABEL_NO_DEVICE, NULL),
			 DMS_KEEP_UNKNOWN);
	/* no device of the pool found at all (-ENOENT): also unknown */
	assert_int_equal(dms_membership_from_status(st, 0, x), DMS_MEMBERSHIP_UNKNOWN);
	free(st);

	/* degraded (-ENODEV: members missing) still lists the newest member list */
	st = status_with(2, a, b);
	strcpy(st->state, "degraded");
	strcpy(st->members[1].device, "");
	assert_int_equal(dms_membership_from_status(st, 0, b), DMS_MEMBERSHIP_MEMBER);
	assert_int_equal(dms_membership_from_status(st, 0, x), DMS_MEMBERSHIP_NOT_MEMBER);
	free(st);
}

static void test_provision_gate(void **state)
{
	(void)state;
	struct dms_provision_gate_input g = {.ec2_ready = true, .now_s = 100, .next_provision_s = 50};
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_GO);
	g.next_provision_s = 100;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_GO);     /* due exactly now */
	g.next_provision_s = 100.5;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_BACKOFF);
	g.next_provision_s = 0;
	g.once = true;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_GO);
	g.provisioned_once = true;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_ONCE_DONE);
	g.once = false;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_GO);     /* provisioned_once only counts with --once */
	g.ec2_ready = false;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_NO_EC2);
	g.stopping = true;
	assert_int_equal(dms_provision_gate(&g), DMS_GATE_STOPPING);   /* stopping wins */
}

static void test_backoffs(void **state)
{
	(void)state;
	double st = 0;
	const double want[] = {10, 20, 40, 80, 160, 300, 300};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(dms_provision_backoff_s(-EAGAIN, &st) == want[i]);
	/* limits and permissions have their own fixed waits and leave the doubling alone */
	assert_true(dms_provision_backoff_s(-EDQUOT, &st) == 300);
	assert_true(dms_provision_backoff_s(-EACCES, &st) == 600);
	assert_true(st == 300);
	st = 0;   /* a success resets */
	assert_true(dms_provision_backoff_s(-ETIMEDOUT, &st) == 10);

	double ib = 0;
	const double iwant[] = {2, 4, 8, 16, 32, 60, 60};
	for (size_t i = 0; i < sizeof(iwant) / sizeof(iwant[0]); i++)
		assert_true(dms_init_backoff_s(&ib) == iwant[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_every_case),
		cmocka_unit_test(test_membership_from_status),
		cmocka_unit_test(test_provision_gate),
		cmocka_unit_test(test_backoffs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
