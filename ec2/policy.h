/* Provisioning policy (pure): when to add a volume and how big.
 *
 * Provision when
 *   free < max(min_free_bytes, total × min_free_percent / 100)      (LOW_FREE)
 *   or free / fill_rate < max(attach_latency × safety_factor, min_lead_s) (FILL_RATE)
 *   (min_lead_s: the trigger looks that far ahead whatever the measured
 *   latency; an attach can hang in "attaching" for a minute or more, and the
 *   daemon provisions one volume at a time: docs/COST.md)
 * Size (GiB) = the largest of
 *   - what the fill rate consumes in fill_horizon_s,
 *   - growth_percent of the current pool (sizes grow with the pool),
 *   - with POLICY_RESERVE_SLOTS volumes or slots left or fewer: what lets the
 *     slots left reach max_total_gib (pool × ((max_total/pool)^(1/left) - 1)),
 *   - what brings free space back above the threshold,
 *   - initial_volume_gib for the first volume, else min_volume_gib,
 * clamped to [min_volume_gib, max_volume_gib] and to what max_total_gib
 * leaves; refused when max_volumes or max_attachments is reached or when
 * less than min_volume_gib is left under max_total_gib. */
#ifndef DMSCALE_EC2_POLICY_H
#define DMSCALE_EC2_POLICY_H
#include <stdbool.h>
#include <stdint.h>

#include "dmscale/units.h"

struct dms_config;

struct policy_limits {
	bytes_t min_free_bytes;
	double min_free_percent;
	uint64_t initial_volume_gib, min_volume_gib, max_volume_gib;
	uint32_t max_volumes;
	uint64_t max_total_gib;
	uint32_t max_attachments;
	uint32_t fill_horizon_s;
	uint32_t growth_percent;
	double safety_factor;
	uint32_t min_lead_s;
};

void policy_limits_from_config(const struct dms_config *c, struct policy_limits *l);

#define POLICY_DEFAULT_ATTACH_LATENCY_S 60.0 /* used until one attach was measured */
/* With this many volumes (or attachment slots) left, sizes grow so that the
 * slots left still reach max_total_gib. */
#define POLICY_RESERVE_SLOTS 4

struct policy_input {
	bytes_t total_bytes;        /* filesystem size (statvfs f_blocks × f_frsize) */
	bytes_t free_bytes;         /* available to unprivileged users (f_bavail × f_frsize) */
	double fill_rate_bps;       /* EWMA estimate, bytes/s (negative = shrinking) */
	double attach_latency_s;    /* measured create→device latency; <= 0 = unknown */
	uint32_t n_volumes;         /* volumes the daemon has added to the pool */
	uint64_t pool_gib;          /* current pool size, GiB */
	uint32_t attachments_in_use;/* slots of the xvdb* range in use on the instance */
	uint32_t in_flight;         /* provisions started and not finished */
};

enum policy_reason {
	POLICY_NO_NEED = 0,
	POLICY_LOW_FREE,
	POLICY_FILL_RATE,
	POLICY_IN_FLIGHT,
	POLICY_LIMIT_VOLUMES,
	POLICY_LIMIT_TOTAL,
	POLICY_LIMIT_ATTACHMENTS,
};

struct policy_decision {
	bool provision;
	uint64_t size_gib;
	enum policy_reason reason;  /* why provision, or why not although needed */
	bool needed;                /* threshold or rate condition true */
	double time_to_full_s;      /* free / rate; INFINITY-like 1e18 when not filling */
	bytes_t threshold_bytes;
};

int policy_decide(const struct policy_limits *l, const struct policy_input *in, struct policy_decision *d);
const char *policy_reason_name(enum policy_reason r);

/* EWMA fill-rate estimator over irregular samples (t in seconds, used bytes):
 * alpha = 1 - exp(-dt / tau_s). The first sample sets the baseline only;
 * samples with dt <= 0 are ignored. */
struct fill_rate {
	double tau_s;
	double rate_bps;
	double last_t;
	uint64_t last_used;
	unsigned samples;
};

void fill_rate_init(struct fill_rate *f, double tau_s);
void fill_rate_update(struct fill_rate *f, double t_s, uint64_t used_bytes);
static inline double fill_rate_bps(const struct fill_rate *f) { return f->samples > 1 ? f->rate_bps : 0.0; }

#endif
