/* Trace replay against dmscale's policy and the seed's. See replay.h. */
#include "bench/sim/replay.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/sim/latency.h"
#include "bench/sim/latency_samples.h"
#include "bench/sim/seed_policy.h"
#include "dmscale/units.h"
#include "ec2/config.h"
#include "ec2/ec2.h"
#include "ec2/policy.h"

#define DT_S 0.1
#define G ((double)GIB)

/* What both policies share: the trace, the capacity, the accounting. */
struct world {
	const struct trace *tr;
	struct replay_result *res;
	double cap;              /* bytes usable now */
	bool short_now;
	double tts_sum;
	unsigned tts_n;
	/* one provisioning at a time, for both policies */
	bool active;
	double t_need, t_grown, add_bytes;
};

static void world_init(struct world *w, const struct trace *tr, struct replay_result *res, const char *policy,
		       double start_gib)
{
	memset(w, 0, sizeof(*w));
	memset(res, 0, sizeof(*res));
	w->tr = tr;
	w->res = res;
	w->cap = start_gib * G;
	snprintf(res->trace, sizeof(res->trace), "%s", tr->name);
	res->policy = policy;
	res->start_gib = start_gib;
	res->min_free_gib = 1e18;
	res->latency = "model";
}

/* Advance the accounting to time t (capacity arrivals, ENOSPC, peaks). */
static void world_step(struct world *w, double t)
{
	struct replay_result *r = w->res;
	if (w->active && t >= w->t_grown) {
		w->cap += w->add_bytes;
		w->active = false;
		double tts = w->t_grown - w->t_need;
		w->tts_sum += tts;
		w->tts_n++;
		if (tts > r->max_time_to_space_s)
			r->max_time_to_space_s = tts;
	}
	double used = trace_used_at(w->tr, t);
	double free_b = w->cap - used;
	if (free_b / G < r->min_free_gib)
		r->min_free_gib = free_b / G;
	bool short_now = free_b < 0;
	if (short_now && !w->short_now)
		r->enospc_events++;
	if (short_now)
		r->enospc_s += DT_S;
	w->short_now = short_now;
	if (used / G > r->used_peak_gib) {
		r->used_peak_gib = used / G;
		r->prov_at_peak_gib = w->cap / G;
	}
}

static void world_start(struct world *w, double t_need, double t_grown, uint64_t size_gib)
{
	struct replay_result *r = w->res;
	w->active = true;
	w->t_need = t_need;
	w->t_grown = t_grown;
	w->add_bytes = (double)size_gib * G;
	if (r->volumes_created < REPLAY_MAX_VOLUMES)
		r->sizes_gib[r->volumes_created] = size_gib;
	r->volumes_created++;
}

static void world_finish(struct world *w)
{
	struct replay_result *r = w->res;
	r->used_end_gib = trace_used_at(w->tr, w->tr->end_s) / G;
	r->prov_end_gib = w->cap / G;
	r->ratio_end = r->used_end_gib > 0 ? r->prov_end_gib / r->used_end_gib : 0;
	r->ratio_at_peak = r->used_peak_gib > 0 ? r->prov_at_peak_gib / r->used_peak_gib : 0;
	r->ratio_end_over_peak = r->used_peak_gib > 0 ? r->prov_end_gib / r->used_peak_gib : 0;
	r->mean_time_to_space_s = w->tts_n ? w->tts_sum / w->tts_n : 0;
}

/* ec2_wait_volume's polling (its jitter left out): sleep EC2_WAIT_FIRST_MS,
 * DescribeVolumes (one round trip), then sleeps growing ×1.5 up to
 * EC2_WAIT_MAX_MS; returns when a call sees the state. */
static double poll_until(double t, double ready, double rtt, unsigned *calls)
{
	double delay = EC2_WAIT_FIRST_MS / 1000.0;
	for (;;) {
		t += delay + rtt;
		(*calls)++;
		if (t >= ready)
			return t;
		delay = fmin(delay * 1.5, EC2_WAIT_MAX_MS / 1000.0);
	}
}

int replay_dmscale(const struct trace *tr, const struct replay_opts *o, struct replay_result *res)
{
	if (!tr || !o || !o->cfg || !res)
		return -EINVAL;
	struct policy_limits lim;
	policy_limits_from_config(o->cfg, &lim);
	double rtt = o->rtt_s > 0 ? o->rtt_s : 0.1, poll = o->cfg->poll_interval_ms / 1000.0;
	struct world w;
	world_init(&w, tr, res, "dmscale", o->start_gib ? (double)o->start_gib : 100);
	struct sim_rng rng = {o->seed};
	struct fill_rate fr;
	fill_rate_init(&fr, fmax(5.0, 5.0 * poll));   /* as the daemon */
	uint32_t members = 1;
	double att_lat = 0, blocked_until = 0, t_needed = -1, next_tick = 0, t0 = 0;
	bool needed = false, in_flight = false;

	for (long step = 0; (double)step * DT_S <= tr->end_s + 1e-9; step++) {
		const double t = (double)step * DT_S;
		world_step(&w, t);
		if (t + 1e-9 < next_tick)
			continue;
		next_tick += poll;
		if (t < blocked_until)    /* inside ec2_provision_volume: the daemon does not tick */
			continue;
		double used = fmin(trace_used_at(tr, t), w.cap);
		fill_rate_update(&fr, t, (uint64_t)used);
		if (in_flight && !w.active) {   /* appended: the pending list no longer names it */
			double lat = t - t0;
			att_lat = att_lat > 0 ? 0.5 * att_lat + 0.5 * lat : lat;
			in_flight = false;
			members++;
		}
		struct policy_input in = {
			.total_bytes = (bytes_t)w.cap, .free_bytes = (bytes_t)(w.cap - used),
			.fill_rate_bps = fill_rate_bps(&fr), .attach_latency_s = att_lat, .n_volumes = members,
			.pool_gib = (uint64_t)ceil(w.cap / G), .attachments_in_use = members + (in_flight ? 1 : 0),
			.in_flight = in_flight ? 1 : 0,
		};
		struct policy_decision d;
		if (policy_decide(&lim, &in, &d) < 0)
			return -EINVAL;
		if (d.needed && !needed)
			t_needed = t;
		needed = d.needed;
		if (d.needed && !d.provision && d.reason != POLICY_IN_FLIGHT)
			res->refused++;
		if (!d.provision)
			continue;
		t0 = t;
		if (o->measured && o->measured->n) {
			/* measured: CreateVolume sent at the decision; the daemon is back
			 * after the attachment it saw + ModifyInstanceAttribute and its verify */
			size_t k = res->volumes_created % o->measured->n;
			blocked_until = t + o->measured->attached_s[k] + 2 * rtt;
			in_flight = true;
			world_start(&w, t_needed >= 0 ? t_needed : t, t + o->measured->grown_s[k], d.size_gib);
			t_needed = -1;
			needed = false;
			continue;
		}
		/* ec2_provision_volume, step by step (ec2/ec2_ops.c) */
		struct attach_latency l;
		latency_draw(&rng, &l);
		unsigned calls = 1;
		double s = t + rtt;                                   /* CreateVolume */
		s = poll_until(s, s + l.create_s, rtt, &calls);       /* wait available */
		s += 2 * rtt;                                         /* DescribeInstances, AttachVolume */
		calls += 2;
		double attached = s + l.attach_s;
		s = poll_until(s, attached, rtt, &calls);             /* wait attached */
		s += 2 * rtt;                                         /* ModifyInstanceAttribute, verify */
		calls += 2;
		blocked_until = s;
		res->api_calls += calls;
		in_flight = true;
		world_start(&w, t_needed >= 0 ? t_needed : t, attached + l.grow_s, d.size_gib);
		t_needed = -1;
		needed = false;
	}
	world_finish(&w);
	if (o->measured && o->measured->n)
		res->latency = "measured";
	return 0;
}

/* The seed's create-ebs-volume after its loop saw the threshold: CLI calls
 * (get_num_devices, describe-tags, 3 × describe-volumes, create-volume), the
 * `aws ec2 wait volume-available` waiter (a call at once, then every 15 s),
 * sleep 1, attach-volume, a 1 s loop until the device exists,
 * modify-instance-attribute, then the btrfs/LVM commands (grow). */
static double seed_sequence(double t, const struct attach_latency *l, double cli, unsigned *calls, double *grown)
{
	t += 5 * cli;                      /* describe-volumes (count), describe-tags, 3 × describe-volumes */
	t += cli;                          /* create-volume */
	double avail = t + l->create_s;
	t += cli;                          /* waiter: first DescribeVolumes */
	*calls += 7;
	while (t < avail) {
		t += 15;
		(*calls)++;
	}
	t += 1 + cli;                      /* sleep 1; attach-volume */
	double attached = t + l->attach_s;
	*calls += 1;
	while (t < attached)
		t += 1;                    /* until [ -e $device ] */
	t += cli;                          /* modify-instance-attribute */
	*calls += 1;
	*grown = t + l->grow_s;
	return *grown;
}

int replay_seed(const struct trace *tr, const struct replay_opts *o, struct replay_result *res)
{
	if (!tr || !o || !res)
		return -EINVAL;
	double cli = o->cli_s > 0 ? o->cli_s : 0.7;
	struct world w;
	world_init(&w, tr, res, "seed", o->start_gib ? (double)o->start_gib : SEED_INITIAL_GIB);
	struct sim_rng rng = {o->seed};
	unsigned devices = 1;
	double blocked_until = 0, next_tick = 0;
	for (long step = 0; (double)step * DT_S <= tr->end_s + 1e-9; step++) {
		const double t = (double)step * DT_S;
		world_step(&w, t);
		if (t + 1e-9 < next_tick || t < blocked_until)
			continue;
		next_tick = t + SEED_DETECTION_INTERVAL_S;
		double used = fmin(trace_used_at(tr, t), w.cap);
		uint64_t size = seed_decide(w.cap, used, devices);
		if (!size) {
			if (seed_df_pct(used, w.cap - used) >= seed_threshold_pct(devices))
				res->refused++;
			continue;
		}
		struct attach_latency l;
		latency_draw(&rng, &l);
		double grown;
		blocked_until = seed_sequence(t, &l, cli, &res->api_calls, &grown);
		world_start(&w, t, grown, size);
		devices++;
		next_tick = blocked_until + SEED_DETECTION_INTERVAL_S;
	}
	world_finish(&w);
	return 0;
}

int replay_result_json(const struct replay_result *r, char *buf, size_t len)
{
	char sizes[REPLAY_MAX_VOLUMES * 8] = "";
	size_t off = 0;
	unsigned n = r->volumes_created < REPLAY_MAX_VOLUMES ? r->volumes_created : REPLAY_MAX_VOLUMES;
	for (unsigned i = 0; i < n && off < sizeof(sizes); i++)
		off += (size_t)snprintf(sizes + off, sizeof(sizes) - off, "%s%llu", i ? "," : "",
					(unsigned long long)r->sizes_gib[i]);
	int k = snprintf(buf, len,
			 "{\"trace\":\"%s\",\"policy\":\"%s\",\"start_gib\":%.0f,\"provisioned_end_gib\":%.1f,"
			 "\"used_end_gib\":%.2f,\"provisioned_over_used_end\":%.3f,\"used_peak_gib\":%.2f,"
			 "\"provisioned_at_peak_gib\":%.1f,\"provisioned_over_used_at_peak\":%.3f,"
			 "\"provisioned_end_over_peak_used\":%.3f,\"min_free_gib\":%.2f,\"enospc_events\":%u,"
			 "\"enospc_s\":%.1f,\"volumes_created\":%u,\"volume_sizes_gib\":[%s],\"api_calls\":%u,"
			 "\"max_time_to_space_s\":%.1f,\"mean_time_to_space_s\":%.1f,\"refused\":%u,\"latency\":\"%s\"}",
			 r->trace, r->policy, r->start_gib, r->prov_end_gib, r->used_end_gib, r->ratio_end,
			 r->used_peak_gib, r->prov_at_peak_gib, r->ratio_at_peak, r->ratio_end_over_peak,
			 r->min_free_gib, r->enospc_events, r->enospc_s, r->volumes_created, sizes, r->api_calls,
			 r->max_time_to_space_s, r->mean_time_to_space_s, r->refused, r->latency ? r->latency : "model");
	return k < 0 || (size_t)k >= len ? -ENOSPC : 0;
}
