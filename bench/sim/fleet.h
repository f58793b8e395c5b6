/* A fleet of dmscale daemons in one process, in simulated time: each
 * instance replays a reference trace from a random start offset; its daemon
 * runs the product's pure policy (ec2/policy.c), provisioning gate and
 * failure backoff (ec2/decide.c) and, for every provisioning, the product's
 * EC2 client (ec2_provision_volume with its real retries, backoff, retry
 * budget and ClientToken, ec2/ec2.c, ec2/ec2_ops.c) over the clock and
 * transport seams of ec2/clock.h, against one shared in-process EC2 with
 * AWS's request throttling (ec2sim.h). A discrete-event loop: each client
 * runs as a coroutine (ucontext) that yields on every sleep and request; no
 * thread, process, socket or real sleep. */
#ifndef DMSCALE_SIM_FLEET_H
#define DMSCALE_SIM_FLEET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/sim/trace.h"

struct dms_config;

struct fleet_opts {
	unsigned instances;
	const struct trace *traces;   /* instance i replays traces[i % n_traces] */
	size_t n_traces;
	double start_spread_s;        /* start offsets uniform in [0, spread) */
	uint64_t seed;
	double rtt_s;                 /* one request's round trip (0 = 0.05 s) */
	double lost_create;           /* CreateVolume answers lost (ec2sim.h) */
	bool fixed_backoff;           /* the seed's schedule: 1, 2, 4 … s, no jitter, 11 attempts */
	const struct dms_config *cfg; /* the daemons' config (shipped defaults) */
};

struct fleet_result {
	unsigned instances;
	unsigned long api_calls, throttled, lost_answers;
	unsigned long calls_by_api[8], throttled_by_api[8];
	double throttled_fraction;
	unsigned provisions, failures;
	unsigned enospc_events;
	unsigned leaked_volumes;      /* exist at the end, not in a pool */
	double gib_provisioned;
	double api_calls_per_gib;
	double tts_p50_s, tts_p99_s, tts_max_s;   /* needed -> space usable, per volume */
	double sim_end_s;
	double ratio_end_mean;        /* provisioned/used at each instance's job end, mean */
};

int fleet_run(const struct fleet_opts *o, struct fleet_result *r);
int fleet_result_json(const struct fleet_result *r, const char *label, char *buf, size_t len);

#endif
