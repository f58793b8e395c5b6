/* The cost replay (bench/sim/replay.c) over the reference traces of
 * bench/traces/ with the shipped defaults: no ENOSPC on any trace (the
 * provisioned/used ratio is reported by `make bench-cost`, not asserted);
 * the harness itself: it sees ENOSPC when a policy is too weak, it reads
 * traces as documented, and the seed's policy model follows its shell code. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/sim/replay.h"
#include "bench/sim/seed_policy.h"
#include "bench/sim/trace.h"
#include "dmscale/units.h"
#include "ec2/config.h"

static const char *const traces[] = {
	"bench/traces/steady-400g.trace", "bench/traces/genomics.trace",
	"bench/traces/bursts.trace", "bench/traces/big-1.5t.trace",
};
#define N_TRACES (sizeof(traces) / sizeof(traces[0]))
#define BENCH_SEED 15   /* bench/cost.py's */

static void test_shipped_defaults_no_enospc(void **state)
{
	(void)state;
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	struct replay_opts o = {.cfg = &cfg, .seed = BENCH_SEED};
	for (size_t i = 0; i < N_TRACES; i++) {
		struct trace tr;
		assert_int_equal(trace_load(traces[i], &tr), 0);
		struct replay_result r;
		assert_int_equal(replay_dmscale(&tr, &o, &r), 0);
		printf("  %-12s dmscale: %u volumes, provisioned/used %.3f at the end, %.3f at the peak, min free %.1f GiB, "
		       "ENOSPC %u\n", r.trace, r.volumes_created, r.ratio_end, r.ratio_at_peak, r.min_free_gib,
		       r.enospc_events);
		assert_int_equal(r.enospc_events, 0);
		assert_true(r.min_free_gib > 0);
		assert_true(r.volumes_created + 1 <= cfg.max_volumes);
		assert_true(r.prov_end_gib >= tr.peak_used / (double)GIB);
		/* the other latency draws too: a few seeds */
		for (uint64_t s = 1; s <= 8; s++) {
			struct replay_opts o2 = o;
			o2.seed = s;
			assert_int_equal(replay_dmscale(&tr, &o2, &r), 0);
			assert_int_equal(r.enospc_events, 0);
		}
		/* the seed's policy replays on the same trace */
		assert_int_equal(replay_seed(&tr, &o, &r), 0);
		assert_true(r.volumes_created >= 1 && r.volumes_created < SEED_MAX_VOLUMES);
		trace_free(&tr);
	}
}

/* The harness is not blind: a policy that waits for 1 GiB free and sizes
 * 1 GiB volumes runs out on the fast traces. */
static void test_weak_policy_runs_short(void **state)
{
	(void)state;
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	cfg.min_free_bytes = GIB;
	cfg.min_free_percent = 0;
	cfg.min_lead_s = 0;
	cfg.safety_factor = 1;
	cfg.min_volume_gib = 1;
	cfg.initial_volume_gib = 1;
	cfg.growth_percent = 0;
	cfg.fill_horizon_s = 1;
	struct replay_opts o = {.cfg = &cfg, .seed = BENCH_SEED};
	unsigned short_traces = 0;
	for (size_t i = 0; i < N_TRACES; i++) {
		struct trace tr;
		assert_int_equal(trace_load(traces[i], &tr), 0);
		struct replay_result r;
		assert_int_equal(replay_dmscale(&tr, &o, &r), 0);
		short_traces += r.enospc_events > 0;
		if (r.enospc_events)
			assert_true(r.min_free_gib < 0 && r.enospc_s > 0);
		trace_free(&tr);
	}
	assert_true(short_traces >= 2);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_trace_format(void **state)
{
	(void)state;
	char path[] = "/tmp/dmscale-test-replay-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "# a comment\n0 0\n10 1000\n\n20 500\n");
	struct trace tr;
	assert_int_equal(trace_load(path, &tr), 0);
	assert_int_equal(tr.n, 3);
	assert_true(tr.peak_used == 1000 && tr.end_s == 20);
	assert_true(fabs(trace_used_at(&tr, 5) - 500) < 1e-9);
	assert_true(fabs(trace_used_at(&tr, 15) - 750) < 1e-9);
	assert_true(trace_used_at(&tr, -1) == 0 && trace_used_at(&tr, 99) == 500);
	trace_free(&tr);
	/* times must increase; two samples at least; no negative bytes */
	const char *bad[] = {"0 0\n5 1\n5 2\n", "0 0\n", "0 0\n1 -5\n", "0 x\n1 1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		assert_int_equal(trace_load(path, &tr), -EINVAL);
	}
	unlink(path);
	assert_true(trace_load("/nonexistent/x.trace", &tr) < 0);

	/* an instantaneous jump past the pool is one ENOSPC event (until a volume lands) */
	char p2[] = "/tmp/dmscale-test-jump-XXXXXX";
	fd = mkstemp(p2);
	assert_true(fd >= 0);
	close(fd);
	char text[128];
	snprintf(text, sizeof(text), "0 0\n10 0\n11 %llu\n300 %llu\n", 120ULL * GIB, 120ULL * GIB);
	write_file(p2, text);
	assert_int_equal(trace_load(p2, &tr), 0);
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	struct replay_opts o = {.cfg = &cfg, .seed = 1};
	struct replay_result r;
	assert_int_equal(replay_dmscale(&tr, &o, &r), 0);
	assert_int_equal(r.enospc_events, 1);
	assert_true(r.min_free_gib < -19 && r.min_free_gib > -21);   /* 120 GiB on 100 */
	assert_true(r.volumes_created >= 1 && r.prov_end_gib >= 120);
	char json[2048];
	assert_int_equal(replay_result_json(&r, json, sizeof(json)), 0);
	assert_non_null(strstr(json, "\"enospc_events\":1"));
	assert_int_equal(replay_result_json(&r, json, 16), -ENOSPC);
	trace_free(&tr);
	unlink(p2);
}

static void test_seed_policy_model(void **state)
{
	(void)state;
	/* thresholds and sizes by device count (bin/ebs-autoscale's calc_threshold / calc_new_size) */
	assert_int_equal(seed_threshold_pct(1), 50);
	assert_int_equal(seed_threshold_pct(3), 50);
	assert_int_equal(seed_threshold_pct(4), 80);
	assert_int_equal(seed_threshold_pct(7), 90);
	assert_int_equal(seed_threshold_pct(11), 90);
	assert_int_equal(seed_new_size_gib(1), 150);
	assert_int_equal(seed_new_size_gib(4), 300);
	assert_int_equal(seed_new_size_gib(10), 1000);
	assert_int_equal(seed_new_size_gib(11), 1500);
	/* df rounds use% up */
	assert_int_equal(seed_df_pct(100.1, 99.9), 51);
	assert_int_equal(seed_df_pct(100, 100), 50);
	double g = (double)GIB;
	assert_int_equal(seed_decide(200 * g, 98 * g, 1), 0);   /* 49 % */
	assert_int_equal(seed_decide(200 * g, 99 * g, 1), 150);  /* 49.5 %: df says 50 % */
	assert_int_equal(seed_decide(200 * g, 100 * g, 1), 150);
	assert_int_equal(seed_decide(200 * g, 199 * g, SEED_MAX_VOLUMES), 0);
	assert_int_equal(seed_decide(8000 * g, 7999 * g, 12), 0);   /* max_logical_volume_size */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_defaults_no_enospc),
		cmocka_unit_test(test_weak_policy_runs_short),
		cmocka_unit_test(test_trace_format),
		cmocka_unit_test(test_seed_policy_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
