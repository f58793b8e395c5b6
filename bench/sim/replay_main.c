/* dmscale-replay: replay reference traces against dmscale's shipped policy
 * and the seed's; JSON on stdout (bench/results-cost.json's "replay").
 *   dmscale-replay [--seed N] [--start-gib N] [--config-json JSON]
 *                  [--latency-samples FILE] TRACE...
 * --latency-samples: dmscale's attach latencies from FILE (latency_samples.h:
 * what the VM measured, bench/replay_check.py) instead of the model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sim/latency_samples.h"
#include "bench/sim/replay.h"
#include "ec2/config.h"

/* The same traces over `n` latency seeds: how often a policy runs short,
 * and the spread of its ratios (JSON, like the single run). */
static int run_sweep(struct replay_opts *o, unsigned n, int ntr, char **paths)
{
	printf("{\"seeds\":%u,\"sweep\":[", n);
	for (int k = 0; k < ntr; k++) {
		struct trace tr;
		if (trace_load(paths[k], &tr) < 0)
			return 1;
		for (int p = 0; p < 2; p++) {
			unsigned enospc = 0, runs_short = 0;
			double rmax = 0, rsum = 0, pmax = 0;
			for (unsigned s = 0; s < n; s++) {
				struct replay_result r;
				o->seed = 1000 + s;
				if ((p ? replay_seed(&tr, o, &r) : replay_dmscale(&tr, o, &r)) < 0)
					return 1;
				enospc += r.enospc_events;
				runs_short += r.enospc_events > 0;
				rsum += r.ratio_end;
				rmax = r.ratio_end > rmax ? r.ratio_end : rmax;
				pmax = r.ratio_end_over_peak > pmax ? r.ratio_end_over_peak : pmax;
			}
			printf("%s{\"trace\":\"%s\",\"policy\":\"%s\",\"enospc_events\":%u,\"runs_with_enospc\":%u,"
			       "\"ratio_end_mean\":%.3f,\"ratio_end_max\":%.3f,\"end_over_peak_max\":%.3f}",
			       k == 0 && p == 0 ? "" : ",", tr.name, p ? "seed" : "dmscale", enospc, runs_short, rsum / n,
			       rmax, pmax);
		}
		trace_free(&tr);
	}
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct replay_opts o = {.seed = 15};
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	o.cfg = &cfg;
	unsigned sweep = 0;
	struct latency_samples samples = {0};
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--seed"))
			o.seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--config-json")) {   /* experiments: keys over the shipped defaults */
			char err[256];
			if (dms_config_parse(argv[i + 1], strlen(argv[i + 1]), &cfg, err, sizeof(err)) < 0 ||
			    dms_config_validate(&cfg, err, sizeof(err)) < 0) {
				fprintf(stderr, "dmscale-replay: --config-json: %s\n", err);
				return 2;
			}
		} else if (!strcmp(argv[i], "--latency-samples")) {
			char err[300];
			latency_samples_free(&samples);
			if (latency_samples_load(argv[i + 1], &samples, err, sizeof(err)) < 0) {
				fprintf(stderr, "dmscale-replay: --latency-samples %s\n", err);
				return 2;
			}
			o.measured = &samples;
		} else if (!strcmp(argv[i], "--sweep"))
			sweep = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--start-gib"))
			o.start_gib = strtoull(argv[i + 1], NULL, 0);
		else {
			fprintf(stderr, "dmscale-replay: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: dmscale-replay [--seed N] [--start-gib N] [--config-json JSON] "
			"[--latency-samples FILE] [--sweep N] TRACE...\n");
		latency_samples_free(&samples);
		return 2;
	}
	if (sweep) {
		int sr = run_sweep(&o, sweep, argc - i, argv + i);
		latency_samples_free(&samples);
		return sr;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	printf("{\"seed\":%llu,\"results\":[", (unsigned long long)o.seed);
	int rc = 0;
	for (int k = i; k < argc; k++) {
		struct trace tr;
		if (trace_load(argv[k], &tr) < 0) {
			rc = 1;
			continue;
		}
		struct replay_result r[2];
		char buf[2048];
		if (replay_dmscale(&tr, &o, &r[0]) < 0 || replay_seed(&tr, &o, &r[1]) < 0) {
			fprintf(stderr, "dmscale-replay: %s: invalid policy limits\n", argv[k]);
			rc = 1;
		} else {
			for (int p = 0; p < 2; p++) {
				if (replay_result_json(&r[p], buf, sizeof(buf)) == 0)
					printf("%s%s", k == i && p == 0 ? "" : ",", buf);
			}
		}
		trace_free(&tr);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("],\"wall_s\":%.3f}\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	latency_samples_free(&samples);
	return rc;
}
