/* dmscale-fleet: N simulated instances (default 500) replaying the reference
 * traces against one throttled EC2, once with the product's full-jitter
 * backoff and once with the seed's fixed 2^i schedule; JSON on stdout.
 *   dmscale-fleet [--instances N] [--seed N] [--spread S] [--lost P] TRACE...
 * (--lost: the share of CreateVolume answers lost after EC2 created the volume) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sim/fleet.h"
#include "ec2/config.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	struct fleet_opts o = {.instances = 500, .start_spread_s = 300, .seed = 15, .lost_create = 0.002, .cfg = &cfg};
	int i = 1;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--instances"))
			o.instances = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			o.seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--lost"))
			o.lost_create = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--spread"))
			o.start_spread_s = strtod(argv[i + 1], NULL);
		else {
			fprintf(stderr, "dmscale-fleet: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: dmscale-fleet [--instances N] [--seed N] [--spread S] [--lost P] TRACE...\n");
		return 2;
	}
	size_t n = (size_t)(argc - i);
	struct trace *tr = calloc(n, sizeof(*tr));
	if (!tr)
		return 1;
	for (size_t k = 0; k < n; k++)
		if (trace_load(argv[i + (int)k], &tr[k]) < 0)
			return 1;
	o.traces = tr;
	o.n_traces = n;
	printf("{\"instances\":%u,\"start_spread_s\":%.0f,\"seed\":%llu,\"lost_create\":%.4f,\"runs\":[", o.instances,
	       o.start_spread_s, (unsigned long long)o.seed, o.lost_create);
	int rc = 0;
	for (int fixed = 0; fixed < 2; fixed++) {
		o.fixed_backoff = fixed;
		struct fleet_result r;
		double t0 = mono();
		int e = fleet_run(&o, &r);
		double wall = mono() - t0;
		char buf[4096];
		if (e < 0 || fleet_result_json(&r, fixed ? "fixed-2^i" : "full-jitter", buf, sizeof(buf)) < 0) {
			fprintf(stderr, "dmscale-fleet: run failed (%d)\n", e);
			rc = 1;
			continue;
		}
		buf[strlen(buf) - 1] = '\0';   /* append the wall time inside the object */
		printf("%s%s,\"wall_s\":%.2f}", fixed ? "," : "", buf, wall);
	}
	printf("]}\n");
	for (size_t k = 0; k < n; k++)
		trace_free(&tr[k]);
	free(tr);
	return rc;
}
