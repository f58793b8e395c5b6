/* Provisioning policy, fill-rate EWMA, and the EC2 client's pure helpers
 * (full-jitter backoff, device name choice, client tokens, errno mapping). */
#include "tests/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/units.h"
#include "ec2/config.h"
#include "ec2/ec2.h"
#include "ec2/policy.h"

static struct policy_limits L;

static int setup(void **state)
{
	(void)state;
	static struct dms_config c;
	dms_config_defaults(&c);
	policy_limits_from_config(&c, &L);
	return 0;
}

static struct policy_input base(void)
{
	return (struct policy_input){
		.total_bytes = 1000 * GIB, .free_bytes = 500 * GIB, .fill_rate_bps = 0,
		.attach_latency_s = 20, .n_volumes = 1, .pool_gib = 1000, .attachments_in_use = 1,
	};
}

static void test_no_need(void **state)
{
	(void)state;
	struct policy_input in = base();
	struct policy_decision d;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.provision);
	assert_false(d.needed);
	assert_int_equal(d.reason, POLICY_NO_NEED);
	assert_int_equal(d.threshold_bytes, 50 * GIB); /* 5 % of 1000 GiB > 10 GiB */
}

static void test_low_free(void **state)
{
	(void)state;
	struct policy_input in = base();
	in.free_bytes = 49 * GIB;
	struct policy_decision d;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.reason, POLICY_LOW_FREE);
	/* growth 15 % of the 1000 GiB pool */
	assert_int_equal(d.size_gib, 150);
	assert_string_equal(policy_reason_name(d.reason), "low-free-space");

	/* absolute threshold dominates on small filesystems */
	in = base();
	in.total_bytes = 20 * GIB;
	in.pool_gib = 20;
	in.free_bytes = 9 * GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.threshold_bytes, 10 * GIB);
	assert_int_equal(d.size_gib, L.min_volume_gib);

	/* first volume of the pool uses initial_volume_gib */
	in.n_volumes = 0;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.size_gib, L.initial_volume_gib);
}

static void test_fill_rate(void **state)
{
	(void)state;
	struct policy_input in = base();
	/* 500 GiB free at 1 GiB/s: 500 s to full; latency 20 s × 3 = 60 s and the
	 * 150 s lead floor: not yet */
	in.fill_rate_bps = (double)GIB;
	struct policy_decision d;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.provision);
	assert_true(fabs(d.time_to_full_s - 500) < 1e-6);
	/* 200 s of latency: 600 s > 500 s: provision */
	in.attach_latency_s = 200;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.reason, POLICY_FILL_RATE);
	assert_int_equal(d.size_gib, 150); /* growth 15 % of 1000 GiB > 60 s × 1 GiB/s */
	/* a fast rate (60 s × 30 GiB/s = 1800 GiB): the rate term buys at most
	 * the pool's own size (1000 GiB), not max_volume_gib */
	in.fill_rate_bps = 30.0 * (double)GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.size_gib, 1000);
	/* a step in usage on a 200 GiB pool (110 GiB in one 1 s tick, EWMA 5 s:
	 * ~20 GiB/s, 1200 GiB per 60 s): 200 GiB, not 1200 (bench section 10) */
	in.total_bytes = 200 * GIB;
	in.pool_gib = 200;
	in.free_bytes = 90 * GIB;
	in.fill_rate_bps = 20.0 * (double)GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.size_gib, 200);
	/* the threshold's deficit is not capped: 2 GiB free of a 100 GiB pool
	 * under a 300 GiB min_free needs 298 GiB at once */
	struct policy_limits big = L;
	big.min_free_bytes = 300 * GIB;
	in.total_bytes = 100 * GIB;
	in.pool_gib = 100;
	in.free_bytes = 2 * GIB;
	assert_int_equal(policy_decide(&big, &in, &d), 0);
	assert_int_equal(d.size_gib, 298);
	/* an empty pool: the cap is min_volume_gib, the first step initial_volume_gib */
	in = base();
	in.n_volumes = 0;
	in.pool_gib = 0;
	in.total_bytes = in.free_bytes = 0;
	in.fill_rate_bps = 30.0 * (double)GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.size_gib, L.initial_volume_gib);
	in = base();
	in.attach_latency_s = 200;
	in.fill_rate_bps = (double)GIB;
	/* moderate rate: size = rate × horizon */
	in.fill_rate_bps = 4.0 * (double)GIB; /* 240 GiB per 60 s */
	in.free_bytes = 110 * GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.size_gib, 240);
	/* the lead floor: a measured latency of 1 s (× 3) would wait until 3 s
	 * before full; min_lead_s (150 s) provisions at 100 s, not at 151 s */
	in = base();
	in.attach_latency_s = 1;
	in.free_bytes = 100 * GIB;
	in.fill_rate_bps = (double)GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.reason, POLICY_FILL_RATE);
	in.free_bytes = 151 * GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.needed);
	struct policy_limits nolead = L;
	nolead.min_lead_s = 0;
	in.free_bytes = 100 * GIB;
	assert_int_equal(policy_decide(&nolead, &in, &d), 0);
	assert_false(d.needed);
	in.attach_latency_s = 200;
	/* unknown latency uses the conservative default */
	in.attach_latency_s = 0;
	in.fill_rate_bps = 110.0 * (double)GIB / (POLICY_DEFAULT_ATTACH_LATENCY_S * 3 - 1);
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	/* shrinking or NaN rates never trigger */
	in = base();
	in.fill_rate_bps = -1e12;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.needed);
	in.fill_rate_bps = NAN;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.needed);
	in.fill_rate_bps = INFINITY;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.needed);
}

static void test_limits(void **state)
{
	(void)state;
	struct policy_input in = base();
	in.free_bytes = 0;
	struct policy_decision d;

	in.n_volumes = L.max_volumes;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.provision);
	assert_true(d.needed);
	assert_int_equal(d.reason, POLICY_LIMIT_VOLUMES);

	in = base();
	in.free_bytes = 0;
	in.attachments_in_use = L.max_attachments;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.reason, POLICY_LIMIT_ATTACHMENTS);

	in = base();
	in.free_bytes = 0;
	in.in_flight = 1;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.provision);
	assert_int_equal(d.reason, POLICY_IN_FLIGHT);

	/* max_total: what is left is used, if at least min_volume_gib */
	in = base();
	in.free_bytes = 0;
	in.pool_gib = L.max_total_gib - 70;
	in.total_bytes = in.pool_gib * GIB;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.size_gib, 70);
	in.pool_gib = L.max_total_gib - (L.min_volume_gib - 1);
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_false(d.provision);
	assert_int_equal(d.reason, POLICY_LIMIT_TOTAL);
	in.pool_gib = L.max_total_gib + 5; /* already above (config lowered) */
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.reason, POLICY_LIMIT_TOTAL);

	/* invalid limits */
	struct policy_limits bad = L;
	bad.min_volume_gib = 0;
	assert_int_equal(policy_decide(&bad, &in, &d), -EINVAL);
	bad.min_volume_gib = 10;
	bad.max_volume_gib = 5;
	assert_int_equal(policy_decide(&bad, &in, &d), -EINVAL);
	assert_int_equal(policy_decide(NULL, &in, &d), -EINVAL);
}

/* With 4 volumes or attachment slots left (or fewer), the sizes let the slots
 * left still reach max_total_gib; with 5 left, the usual size. */
static void test_reserve_slots(void **state)
{
	(void)state;
	struct policy_limits l = L;
	l.max_volume_gib = 16384;
	struct policy_input in = base();
	in.free_bytes = 0;
	struct policy_decision d;
	in.n_volumes = l.max_volumes - 5;
	assert_int_equal(policy_decide(&l, &in, &d), 0);
	assert_int_equal(d.size_gib, 150);
	in.n_volumes = l.max_volumes - 2;   /* 1000 × (sqrt(16384 / 1000) - 1) = 3047.7 */
	assert_int_equal(policy_decide(&l, &in, &d), 0);
	assert_int_equal(d.size_gib, 3048);
	in.n_volumes = l.max_volumes - 1;   /* the last one: all that is left */
	assert_int_equal(policy_decide(&l, &in, &d), 0);
	assert_int_equal(d.size_gib, l.max_total_gib - in.pool_gib);
	/* the attachment slots count the same way */
	in.n_volumes = 1;
	in.attachments_in_use = l.max_attachments - 2;
	assert_int_equal(policy_decide(&l, &in, &d), 0);
	assert_int_equal(d.size_gib, 3048);
	/* and the slots left reach max_total: 4 volumes from 1000 GiB */
	uint64_t pool = 1000;
	for (uint32_t left = 4; left >= 1; left--) {
		in.attachments_in_use = l.max_attachments - left;
		in.pool_gib = pool;
		in.total_bytes = pool * GIB;
		assert_int_equal(policy_decide(&l, &in, &d), 0);
		assert_true(d.provision);
		pool += d.size_gib;
	}
	assert_true(pool >= l.max_total_gib);
}

static void test_deficit_and_odd_values(void **state)
{
	(void)state;
	struct policy_input in = base();
	struct policy_decision d;
	/* 50 % free threshold, nearly full: the new volume must restore it */
	struct policy_limits l = L;
	l.min_free_percent = 50;
	l.growth_percent = 0;
	l.max_volume_gib = 16384;
	in.total_bytes = 1000 * GIB;
	in.free_bytes = 0;
	in.pool_gib = 1000;
	assert_int_equal(policy_decide(&l, &in, &d), 0);
	assert_true(d.provision);
	/* free + x >= 0.5 (1000 + x) => x >= 1000 */
	assert_int_equal(d.size_gib, 1000);

	/* free > total (racy statvfs) is clamped; huge values do not overflow */
	in = base();
	in.total_bytes = UINT64_MAX;
	in.free_bytes = UINT64_MAX;
	in.fill_rate_bps = 1e300;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_true(d.provision);
	assert_int_equal(d.size_gib, in.pool_gib);   /* the rate term's cap */
	in.total_bytes = 0;
	in.free_bytes = 5;
	in.fill_rate_bps = 0;
	assert_int_equal(policy_decide(&L, &in, &d), 0);
	assert_int_equal(d.reason, POLICY_LOW_FREE);
}

static void test_fill_rate_ewma(void **state)
{
	(void)state;
	struct fill_rate f;
	fill_rate_init(&f, 10);
	assert_true(fill_rate_bps(&f) == 0);
	fill_rate_update(&f, 100, 0);
	assert_true(fill_rate_bps(&f) == 0); /* baseline only */
	for (int i = 1; i <= 100; i++)
		fill_rate_update(&f, 100 + i, (uint64_t)i * 100 * MIB);
	assert_true(fabs(fill_rate_bps(&f) - 100.0 * MIB) < 1.0);
	/* rate change converges with tau: after 3 tau at 0, below 6 % of before */
	for (int i = 1; i <= 30; i++)
		fill_rate_update(&f, 200 + i, 100 * 100 * MIB);
	assert_true(fill_rate_bps(&f) < 0.06 * 100 * MIB);
	assert_true(fill_rate_bps(&f) > 0);
	/* out-of-order / duplicate / NaN timestamps are ignored */
	double before = fill_rate_bps(&f);
	fill_rate_update(&f, 150, 0);
	fill_rate_update(&f, 230, 0);
	fill_rate_update(&f, NAN, 12345);
	assert_true(fill_rate_bps(&f) == before);
	/* deletions give a negative rate, not a wrap-around */
	fill_rate_update(&f, 240, 0);
	assert_true(fill_rate_bps(&f) < 0);
	/* irregular sampling: one sample after 60 s weighs almost fully */
	fill_rate_init(&f, 10);
	fill_rate_update(&f, 0, 0);
	fill_rate_update(&f, 1, 0);
	fill_rate_update(&f, 61, 60 * GIB);
	assert_true(fill_rate_bps(&f) > 0.99 * GIB);
	fill_rate_init(&f, -1); /* bad tau falls back to 10 s */
	assert_true(f.tau_s == 10);
}

static void test_backoff(void **state)
{
	(void)state;
	uint64_t rng = 42;
	unsigned max_seen[12] = {0};
	for (int k = 0; k < 2000; k++)
		for (unsigned a = 0; a < 12; a++) {
			unsigned ms = ec2_backoff_ms(a, 100, 5000, &rng);
			unsigned cap = 100u << a;
			if (cap > 5000)
				cap = 5000;
			assert_true(ms <= cap);
			if (ms > max_seen[a])
				max_seen[a] = ms;
		}
	/* jitter spreads over the whole window */
	assert_true(max_seen[0] > 80);
	assert_true(max_seen[11] > 4500);
	/* no overflow with huge attempt numbers */
	assert_true(ec2_backoff_ms(1000, 100, 20000, &rng) <= 20000);
	assert_true(ec2_backoff_ms(3, 0, 20000, &rng) == 0);
}

static void test_pick_device(void **state)
{
	(void)state;
	char d[32];
	assert_int_equal(ec2_pick_device(NULL, 0, d, sizeof(d)), 0);
	assert_string_equal(d, "/dev/xvdba");
	const char *used[] = {"/dev/xvda", "/dev/sdba", "xvdbb", "/dev/xvdbd", NULL};
	assert_int_equal(ec2_pick_device(used, 5, d, sizeof(d)), 0);
	assert_string_equal(d, "/dev/xvdbc");
	const char *all[26];
	char names[26][16];
	for (int i = 0; i < 26; i++) {
		snprintf(names[i], sizeof(names[i]), "/dev/xvdb%c", 'a' + i);
		all[i] = names[i];
	}
	assert_int_equal(ec2_pick_device(all, 26, d, sizeof(d)), -ENOSPC);
	assert_int_equal(ec2_pick_device(all, 25, d, sizeof(d)), 0);
	assert_string_equal(d, "/dev/xvdbz");
	assert_int_equal(ec2_pick_device(NULL, 0, d, 5), -ENOSPC);
}

static void test_client_token_and_errno(void **state)
{
	(void)state;
	uint64_t rng = 1;
	char a[EC2_CLIENT_TOKEN_MAX], b[EC2_CLIENT_TOKEN_MAX];
	ec2_make_client_token(&rng, a);
	ec2_make_client_token(&rng, b);
	assert_int_equal(strlen(a), 40);
	assert_true(strlen(a) <= 64);
	assert_memory_equal(a, "dmscale-", 8);
	assert_string_not_equal(a, b);

	struct ec2_error e = {.http_status = 400, .cls = EC2_ERR_FATAL};
	snprintf(e.code, sizeof(e.code), "UnauthorizedOperation");
	assert_int_equal(ec2_error_errno(&e), -EACCES);
	snprintf(e.code, sizeof(e.code), "InvalidParameterValue");
	assert_int_equal(ec2_error_errno(&e), -EINVAL);
	e.cls = EC2_ERR_LIMIT;
	assert_int_equal(ec2_error_errno(&e), -EDQUOT);
	e.cls = EC2_ERR_THROTTLE;
	assert_int_equal(ec2_error_errno(&e), -EBUSY);
	e.cls = EC2_ERR_NOT_FOUND;
	assert_int_equal(ec2_error_errno(&e), -ENOENT);
	assert_string_equal(ec2_stage_name(EC2_STAGE_CLEANUP_FAILED), "cleanup-failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_need),
		cmocka_unit_test(test_low_free),
		cmocka_unit_test(test_fill_rate),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reserve_slots),
		cmocka_unit_test(test_deficit_and_odd_values),
		cmocka_unit_test(test_fill_rate_ewma),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_pick_device),
		cmocka_unit_test(test_client_token_and_errno),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
