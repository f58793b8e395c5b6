/* Shared by the pool commands (pool.c: init, assemble; attach.c: attach). */
#ifndef DMSCALE_POOL_PRIV_H
#define DMSCALE_POOL_PRIV_H
#include <stdbool.h>
#include "dmscale/pool.h"
#include "dmscale/device.h"
#include "dmscale/reconcile.h"
#include "dmscale/scan.h"

/* A pool as its labels describe it, read under its lock (held by the caller). */
struct pool_view {
	struct dms_scan *s;
	struct dms_assembly *a;
};

struct dms_pool_params dms_pool_params_of(const struct dms_opts *o, const char *mountpoint, bool do_mount);
/* Converge the system to a complete assembly from the scan. */
int dms_pool_reconcile(const struct dms_scan *s, const struct dms_assembly *a, const struct dms_pool_params *pp);
/* Refuse anything that is not a blank, unused, big enough, non-root disk;
 * on success d->fd is the exclusive writable fd the labels go through. */
int dms_pool_check_candidate(struct dms_device *d, bool force);
int dms_pool_setup_kernel(void);
/* Full scan of every disk, then plan `pool`: 0, or the planning error (logged;
 * -ENOENT is not). */
int dms_pool_view_open(const char *pool, struct pool_view *v);
void dms_pool_view_close(struct pool_view *v);
/* Pure: may an append use the labels read from the live table's ndeps
 * members plus the candidate `cand` (scan s) instead of a full scan? Only
 * when every label was read, the candidate carries none, and the pool's
 * newest generation lists exactly those members, none stale or torn (an
 * interrupted attach or a repair reads every disk). Plans into a. */
bool dms_attach_live_view(const struct dms_scan *s, const char *pool, size_t ndeps, dev_t cand,
			  struct dms_assembly *a);
/* Lock, full scan, converge. */
int dms_pool_assemble_one(const char *pool, const struct dms_pool_params *pp);
#endif
