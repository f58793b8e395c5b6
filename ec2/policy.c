/* Provisioning policy. See policy.h. */
#include "ec2/policy.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ec2/config.h"

void policy_limits_from_config(const struct dms_config *c, struct policy_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->min_free_bytes = c->min_free_bytes;
	l->min_free_percent = c->min_free_percent;
	l->initial_volume_gib = c->initial_volume_gib;
	l->min_volume_gib = c->min_volume_gib;
	l->max_volume_gib = c->max_volume_gib;
	l->max_volumes = c->max_volumes;
	l->max_total_gib = c->max_total_gib;
	l->max_attachments = c->max_attachments;
	l->fill_horizon_s = c->fill_horizon_s;
	l->growth_percent = c->growth_percent;
	l->safety_factor = c->safety_factor;
	l->min_lead_s = c->min_lead_s;
}

const char *policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_NO_NEED: return "no-need";
	case POLICY_LOW_FREE: return "low-free-space";
	case POLICY_FILL_RATE: return "fill-rate";
	case POLICY_IN_FLIGHT: return "in-flight";
	case POLICY_LIMIT_VOLUMES: return "max-volumes";
	case POLICY_LIMIT_TOTAL: return "max-total";
	case POLICY_LIMIT_ATTACHMENTS: return "max-attachments";
	}
	return "unknown";
}

static uint64_t gib_ceil(double bytes)
{
	if (!(bytes > 0))
		return 0;
	double g = ceil(bytes / (double)GIB);
	return g > 1e9 ? (uint64_t)1e9 : (uint64_t)g;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* With POLICY_RESERVE_SLOTS or fewer volumes left (max_volumes, attachment
 * slots), grow geometrically so that the slots left still reach max_total_gib:
 * size >= pool × ((max_total / pool)^(1 / left) - 1). */
static uint64_t reserve_floor_gib(const struct policy_limits *l, const struct policy_input *in)
{
	uint32_t left_v = l->max_volumes - in->n_volumes, left_a = l->max_attachments - in->attachments_in_use;
	uint32_t left = left_v < left_a ? left_v : left_a;   /* >= 1: checked by the caller */
	if (left > POLICY_RESERVE_SLOTS || in->pool_gib == 0 || in->pool_gib >= l->max_total_gib)
		return 0;
	double q = pow((double)l->max_total_gib / (double)in->pool_gib, 1.0 / left);
	return (uint64_t)ceil((double)in->pool_gib * (q - 1));
}

/* The fill rate × fill_horizon_s, at most the pool's size (or min_volume_gib
 * on an empty pool). The rate is a short EWMA: a step in usage (an image
 * unpacked, a file fallocated) reads as tens of GiB/s for a few ticks, and
 * the uncapped term bought max_volume_gib at once (bench section 10: 1500 GiB
 * for a job that used 300, 5.66×). Capped, one provisioning on rate evidence
 * at most doubles the pool; a writer that really keeps that pace trips the
 * lead-time trigger again as soon as the volume is in, so the pool still
 * grows geometrically. The threshold's deficit (below) is never capped. */
static uint64_t rate_size_gib(const struct policy_limits *l, const struct policy_input *in, double rate)
{
	uint64_t g = gib_ceil(rate * (double)l->fill_horizon_s);
	uint64_t cap = max_u64(in->pool_gib, l->min_volume_gib);
	return g < cap ? g : cap;
}

int policy_decide(const struct policy_limits *l, const struct policy_input *in, struct policy_decision *d)
{
	if (!l || !in || !d || l->min_volume_gib == 0 || l->min_volume_gib > l->max_volume_gib)
		return -EINVAL;
	memset(d, 0, sizeof(*d));

	bytes_t free_b = in->free_bytes > in->total_bytes ? in->total_bytes : in->free_bytes;
	double pct = l->min_free_percent < 0 ? 0 : l->min_free_percent > 100 ? 100 : l->min_free_percent;
	double pct_bytes = (double)in->total_bytes * pct / 100.0;
	double thr = fmax((double)l->min_free_bytes, pct_bytes);
	d->threshold_bytes = thr >= 1.8e19 ? UINT64_MAX : (bytes_t)thr;

	double rate = isfinite(in->fill_rate_bps) && in->fill_rate_bps > 0 ? in->fill_rate_bps : 0;
	d->time_to_full_s = rate > 0 ? (double)free_b / rate : 1e18;
	double latency = in->attach_latency_s > 0 && isfinite(in->attach_latency_s)
				 ? in->attach_latency_s : POLICY_DEFAULT_ATTACH_LATENCY_S;
	double safety = l->safety_factor >= 1 ? l->safety_factor : 1;

	if ((double)free_b < thr)
		d->reason = POLICY_LOW_FREE;
	else if (rate > 0 && d->time_to_full_s < fmax(latency * safety, (double)l->min_lead_s))
		d->reason = POLICY_FILL_RATE;
	else
		return 0; /* POLICY_NO_NEED */
	d->needed = true;

	if (in->in_flight) {
		d->reason = POLICY_IN_FLIGHT;
		return 0;
	}
	if (in->n_volumes >= l->max_volumes) {
		d->reason = POLICY_LIMIT_VOLUMES;
		return 0;
	}
	if (in->attachments_in_use >= l->max_attachments) {
		d->reason = POLICY_LIMIT_ATTACHMENTS;
		return 0;
	}
	if (in->pool_gib >= l->max_total_gib || l->max_total_gib - in->pool_gib < l->min_volume_gib) {
		d->reason = POLICY_LIMIT_TOTAL;
		return 0;
	}

	/* size */
	uint64_t want = in->n_volumes == 0 ? l->initial_volume_gib : l->min_volume_gib;
	want = max_u64(want, rate_size_gib(l, in, rate));
	want = max_u64(want, in->pool_gib * l->growth_percent / 100);
	want = max_u64(want, reserve_floor_gib(l, in));
	/* bring free space back over the threshold, the percentage applying to
	 * the grown filesystem too: free + x >= max(min_free, p (total + x)) */
	double p = pct / 100.0;
	double deficit = fmax((double)l->min_free_bytes - (double)free_b,
			      p < 1 ? (pct_bytes - (double)free_b) / (1 - p) : 0);
	want = max_u64(want, gib_ceil(deficit));
	if (want < l->min_volume_gib)
		want = l->min_volume_gib;
	if (want > l->max_volume_gib)
		want = l->max_volume_gib;
	uint64_t left = l->max_total_gib - in->pool_gib;
	if (want > left)
		want = left;
	d->size_gib = want;
	d->provision = true;
	return 0;
}

void fill_rate_init(struct fill_rate *f, double tau_s)
{
	memset(f, 0, sizeof(*f));
	f->tau_s = tau_s > 0 ? tau_s : 10.0;
}

void fill_rate_update(struct fill_rate *f, double t_s, uint64_t used_bytes)
{
	if (!isfinite(t_s))
		return;
	if (f->samples == 0) {
		f->last_t = t_s;
		f->last_used = used_bytes;
		f->samples = 1;
		return;
	}
	double dt = t_s - f->last_t;
	if (!(dt > 0))
		return;
	double delta = used_bytes >= f->last_used ? (double)(used_bytes - f->last_used)
						  : -(double)(f->last_used - used_bytes);
	double inst = delta / dt;
	if (f->samples == 1)
		f->rate_bps = inst;
	else {
		double alpha = 1.0 - exp(-dt / f->tau_s);
		f->rate_bps += alpha * (inst - f->rate_bps);
	}
	f->last_t = t_s;
	f->last_used = used_bytes;
	if (f->samples < 1000000)
		f->samples++;
}
