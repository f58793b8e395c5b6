/* Scratch recreate of a pool whose instance storage was lost: the adapter of
 * recreate.c (instance-store scan, device I/O, logging). */
#ifndef DMSCALE_POOL_RECREATE_H
#define DMSCALE_POOL_RECREATE_H
#include "dmscale/reconcile.h"
#include "dmscale/scan.h"

/* Under the pool lock, after the scan s planned `pool` as incomplete or
 * ambiguous. Returns 1 (DMS_RECREATE_NOT_NEEDED: the planning error stands),
 * 0 (the pool was relabelled: scan and plan again), or -errno (logged):
 * -ECANCELED when pp->scratch is DMS_SCRATCH_REFUSE, -ENODEV while disks or
 * EBS members are still missing. */
int dms_pool_recreate(const char *pool, struct dms_scan *s, const struct dms_pool_params *pp);
#endif
