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

#include "bench/sim/latency_samples.h"
#include "bench/sim/replay.h"
#include "bench/sim/seed_policy.h"
#include "bench/sim/trace.h"
#include "dmscale/units.h"
#include "ec2/config.h"

static const char *const traces[] = {
	"bench/traces/steady-400g.trace", "bench/traces/genomics.trace",
	"bench/traces/bursts.trace", "bench/traces/big-1.5t.trace",
	"bench/traces/step-500m.trace",
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
		/* no provisioning on rate evidence buys more than the pool it joins
		 * (step-500m: the step, read as a rate, bought 1 volume for the whole
		 * job at once before the cap) */
		double pool_gib = r.start_gib;
		for (unsigned v = 0; v < r.volumes_created && v < REPLAY_MAX_VOLUMES; v++) {
			assert_true((double)r.sizes_gib[v] <= fmax(pool_gib, cfg.initial_volume_gib));
			pool_gib += (double)r.sizes_gib[v];
		}
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

/* A new temporary file (tmpl: a mkstemp template, rewritten) holding text. */
static void temp_file(char *tmpl, const char *text)
{
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	write_file(tmpl, text);
}

static void test_trace_format(void **state)
{
	(void)state;
	char path[] = "/tmp/dmscale-test-replay-XXXXXX";
	temp_file(path, "# a comment\n0 0\n10 1000\n\n20 500\n");
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
	char text[128];
	snprintf(text, sizeof(text), "0 0\n10 0\n11 %llu\n300 %llu\n", 120ULL * GIB, 120ULL * GIB);
	temp_file(p2, text);
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

/* The measured latencies the VM check feeds the replay (latency_samples.h). */
static void test_latency_samples_parse(void **state)
{
	(void)state;
	char err[200];
	struct latency_samples s;
	assert_int_equal(latency_samples_parse("# attached_s grown_s\n1.5 4.25\n\n  2 3 \n0 0", &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_true(s.attached_s[0] == 1.5 && s.grown_s[0] == 4.25);
	assert_true(s.attached_s[1] == 2 && s.grown_s[1] == 3);   /* grown before attached: the daemon polls */
	assert_true(s.attached_s[2] == 0 && s.grown_s[2] == 0);
	latency_samples_free(&s);
	const char *bad[] = {"", "# only a comment\n", "1\n", "1 2 3\n", "-1 2\n", "1 -2\n", "x 1\n", "1 nan\n",
			     "1 2\n3 y\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(latency_samples_parse(bad[i], &s, err, sizeof(err)), -EINVAL);
		assert_int_equal(s.n, 0);
		assert_null(s.attached_s);
	}
	assert_non_null(strstr(err, "line 2"));
	char path[] = "/tmp/dmscale-test-latency-XXXXXX";
	temp_file(path, "3 5\n");
	assert_int_equal(latency_samples_load(path, &s, err, sizeof(err)), 0);
	assert_true(s.n == 1 && s.grown_s[0] == 5);
	latency_samples_free(&s);
	unlink(path);
	assert_true(latency_samples_load(path, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
}

/* With measured latencies, each volume's space arrives grown_s after the
 * decision (the samples in order, cycling), not per the model. */
static void test_replay_measured_latency(void **state)
{
	(void)state;
	char p[] = "/tmp/dmscale-test-measured-XXXXXX";
	char text[128];   /* 4 GiB pool, 16 GiB at 64 MiB/s: several 1 GiB volumes */
	snprintf(text, sizeof(text), "0 0\n10 0\n266 %llu\n300 %llu\n", 16ULL * GIB, 16ULL * GIB);
	temp_file(p, text);
	struct trace tr;
	assert_int_equal(trace_load(p, &tr), 0);
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	cfg.min_free_bytes = 400 * MIB;
	cfg.min_volume_gib = 1;
	cfg.initial_volume_gib = 6;
	cfg.max_volume_gib = 60;
	cfg.max_total_gib = 655;
	cfg.fill_horizon_s = 8;
	cfg.min_lead_s = 19;
	double a1[] = {1.0}, g1[] = {7.0};
	struct latency_samples one = {.n = 1, .attached_s = a1, .grown_s = g1};
	struct replay_opts o = {.cfg = &cfg, .seed = BENCH_SEED, .start_gib = 4, .measured = &one};
	struct replay_result r, m;
	assert_int_equal(replay_dmscale(&tr, &o, &r), 0);
	assert_string_equal(r.latency, "measured");
	assert_true(r.volumes_created >= 3);
	assert_int_equal(r.enospc_events, 0);
	/* a volume is asked for at the tick the need arose (none is in flight
	 * then with a 7 s latency and 1 s ticks) */
	assert_true(fabs(r.max_time_to_space_s - 7.0) < 0.15);
	assert_true(fabs(r.mean_time_to_space_s - 7.0) < 0.15);
	assert_int_equal(r.api_calls, 0);

	/* two samples, used in turn: the 12 s one shows (a need that arises
	 * while it is in flight waits for it), and the pool runs closer to full */
	double a2[] = {1.0, 2.0}, g2[] = {5.0, 12.0};
	struct latency_samples two = {.n = 2, .attached_s = a2, .grown_s = g2};
	o.measured = &two;
	assert_int_equal(replay_dmscale(&tr, &o, &m), 0);
	assert_true(m.max_time_to_space_s > 11.95);
	assert_true(m.mean_time_to_space_s > 7.5);
	assert_true(m.min_free_gib < r.min_free_gib);

	/* without samples: the model (and its name in the result) */
	o.measured = NULL;
	assert_int_equal(replay_dmscale(&tr, &o, &m), 0);
	assert_string_equal(m.latency, "model");
	assert_true(m.api_calls > 0);
	assert_true(fabs(m.max_time_to_space_s - 7.0) > 0.5);
	char json[2048];
	assert_int_equal(replay_result_json(&r, json, sizeof(json)), 0);
	assert_non_null(strstr(json, "\"latency\":\"measured\""));
	trace_free(&tr);
	unlink(p);
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
		cmocka_unit_test(test_latency_samples_parse),
		cmocka_unit_test(test_replay_measured_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
