/* The fleet simulation (bench/sim/fleet.c): the product's EC2 client
 * (retries, backoff, ClientToken, the whole provisioning sequence) runs as
 * coroutines under a simulated clock against one throttled in-process EC2;
 * a small fleet on the reference traces gets its space without ENOSPC,
 * throttling or leaked volumes, even when many CreateVolume answers are lost
 * (the retried request carries the same ClientToken); the fixed 2^i
 * schedule runs the same fleet; runs are deterministic. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <string.h>

#include "bench/sim/ec2sim.h"
#include "bench/sim/fleet.h"
#include "bench/sim/trace.h"
#include "ec2/config.h"

static const char *const paths[] = {
	"bench/traces/steady-400g.trace", "bench/traces/genomics.trace",
	"bench/traces/bursts.trace", "bench/traces/big-1.5t.trace",
};
#define N (sizeof(paths) / sizeof(paths[0]))

static struct trace traces[N];
static struct dms_config cfg;

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < N; i++)
		if (trace_load(paths[i], &traces[i]) < 0)
			return -1;
	dms_config_defaults(&cfg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < N; i++)
		trace_free(&traces[i]);
	return 0;
}

static void test_small_fleet(void **state)
{
	(void)state;
	struct fleet_opts o = {.instances = 8, .traces = traces, .n_traces = N, .start_spread_s = 60, .seed = 7,
			       .lost_create = 0.2, .cfg = &cfg};
	struct fleet_result r, r2;
	assert_int_equal(fleet_run(&o, &r), 0);
	assert_int_equal(r.instances, 8);
	assert_true(r.provisions >= 8);
	assert_int_equal(r.enospc_events, 0);
	assert_int_equal(r.leaked_volumes, 0);
	assert_true(r.lost_answers > 0);                 /* lost answers happened, and left nothing behind */
	assert_true(r.calls_by_api[SIM_CREATE] >= r.provisions + r.lost_answers);
	assert_true(r.throttled_fraction <= 0.05);
	assert_true(r.gib_provisioned > 0 && r.api_calls_per_gib > 0);
	assert_true(r.tts_p50_s > 0 && r.tts_p50_s <= r.tts_p99_s && r.tts_p99_s <= r.tts_max_s);
	/* deterministic */
	assert_int_equal(fleet_run(&o, &r2), 0);
	assert_int_equal(r2.api_calls, r.api_calls);
	assert_true(r2.tts_p99_s == r.tts_p99_s);
	/* the seed's fixed schedule on the same fleet */
	o.fixed_backoff = true;
	assert_int_equal(fleet_run(&o, &r2), 0);
	assert_int_equal(r2.enospc_events, 0);
	assert_int_equal(r2.leaked_volumes, 0);
	char json[4096];
	assert_int_equal(fleet_result_json(&r, "full-jitter", json, sizeof(json)), 0);
	assert_non_null(strstr(json, "\"leaked_volumes\":0"));
	assert_int_equal(fleet_result_json(&r, "x", json, 8), -ENOSPC);
	struct fleet_opts bad = o;
	bad.instances = 0;
	assert_int_equal(fleet_run(&bad, &r2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_fleet),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
