/* Replay a reference trace in simulated time against a provisioning policy:
 * dmscale's (the product's pure ec2/policy.c with a dms_config, the shipped
 * defaults unless the caller changes them) or the seed's (a model of
 * amazon-ebs-autoscale's detection loop, thresholds and volume sizes,
 * seed_policy.h). The writer follows the trace; capacity arrives per the
 * attach-latency model (latency.h); every 0.1 s the used bytes are checked
 * against the capacity (an ENOSPC event is one stretch of time when the trace
 * needs more than is there). No I/O besides what the caller does. */
#ifndef DMSCALE_SIM_REPLAY_H
#define DMSCALE_SIM_REPLAY_H
#include <stdint.h>

#include "bench/sim/trace.h"

struct dms_config;
struct latency_samples;

#define REPLAY_MAX_VOLUMES 64

struct replay_opts {
	const struct dms_config *cfg;  /* dmscale: its config (policy limits, poll interval) */
	uint64_t start_gib;            /* the pool before the trace: 0 = the policy's own default
	                                  (dmscale 100 GiB: the launch template's volume; seed 200 GiB:
	                                  its install.sh --initial-size) */
	uint64_t seed;                 /* latency draws */
	double rtt_s;                  /* one EC2 API round trip (0 = 0.1 s) */
	double cli_s;                  /* seed: one aws CLI invocation (0 = 0.7 s) */
	const struct latency_samples *measured; /* dmscale: non-NULL = these latencies (k-th volume:
	                                  sample k mod n) instead of the model; the EC2 calls are then
	                                  not counted (api_calls 0) */
};

struct replay_result {
	char trace[64];
	const char *policy;            /* "dmscale" | "seed" */
	double start_gib;
	double prov_end_gib, used_end_gib, ratio_end;
	double used_peak_gib, prov_at_peak_gib, ratio_at_peak;
	double ratio_end_over_peak;    /* provisioned at the end / peak used */
	double min_free_gib;           /* negative: short by that much at the worst moment */
	unsigned enospc_events;
	double enospc_s;               /* time spent short of space */
	unsigned volumes_created;
	uint64_t sizes_gib[REPLAY_MAX_VOLUMES];
	unsigned api_calls;            /* dmscale: EC2 requests; seed: aws CLI invocations */
	double max_time_to_space_s;    /* the policy first wanted space -> that space usable */
	double mean_time_to_space_s;
	unsigned refused;              /* decisions "needed but a limit refused it" */
	const char *latency;           /* "model" | "measured" (replay_opts.measured) */
};

int replay_dmscale(const struct trace *tr, const struct replay_opts *o, struct replay_result *res);
int replay_seed(const struct trace *tr, const struct replay_opts *o, struct replay_result *res);

/* JSON object of one result (a static-free, caller-sized buffer); 0 or -ENOSPC. */
int replay_result_json(const struct replay_result *r, char *buf, size_t len);

#endif
