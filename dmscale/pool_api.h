/* Pool API for status, main and the daemon: query a pool, ask whether a volume
 * is a member (yes / no / unknown), read the thin pool's status. */
#ifndef DMSCALE_POOL_API_H
#define DMSCALE_POOL_API_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/plan.h"
#include "dmscale/thin.h"

/* What the labels of this machine say about one pool. */
struct dms_pool_query {
	int r;                        /* dms_plan_assembly's result: 0, -ENOENT, -ENODEV, ... or a scan error */
	size_t unreadable;            /* devices whose label could not be read */
	struct dms_assembly a;        /* valid when r is 0 or -ENODEV */
	char nodes[DMS_MAX_MEMBERS][256]; /* device of member i ("" when missing) */
};

/* Scan the labels (root) and plan `pool`. Returns q->r; no error is logged
 * (the caller decides: status shows it, the daemon keeps its volumes). */
int dms_pool_query(const char *pool, struct dms_pool_query *q);

enum dms_membership { DMS_MEMBER_UNKNOWN = -1, DMS_MEMBER_NO = 0, DMS_MEMBER_YES = 1 };

/* Pure: is volume_id a member of the queried pool? YES when the chosen table
 * lists it; NO only when the labels were all read and planned (complete,
 * incomplete, or no pool at all); UNKNOWN on any read or planning error. A
 * caller about to delete a volume MUST treat UNKNOWN as "keep". */
enum dms_membership dms_pool_membership(const struct dms_pool_query *q, const char *volume_id);

/* The one place that reads and parses a thin pool's status: the kernel's
 * status of dmscale-POOL-tpool (event counter in *event_nr if not NULL).
 * -ENODEV when the pool is not active, -EPROTO on an unexpected status. */
int dms_pool_thin_status(const char *pool, struct dms_thin_pool_status *ps, unsigned *event_nr);
/* Same by dm name. */
int dms_thin_status_read(const char *tpool, struct dms_thin_pool_status *ps, unsigned *event_nr);
/* Is devnum a dependency of the pool's live data table (dmscale-N or, for a
 * thin pool, dmscale-N-tdata)? Under the pool lock; any error answers "no". */
bool dms_pool_live_has(const char *pool, dev_t devnum);
/* The member devices of the pool's live data table (dmscale-N, or -tdata for
 * a thin pool), without taking the lock (the caller holds it). -ENOENT when
 * the pool is not active (*n = 0 then). */
int dms_pool_live_deps(const char *pool, dev_t *out, size_t max, size_t *n);
/* Which pool's pending list holds volume_id? 1 (name in pool), or 0. */
int dms_pending_pool_of(const char *volume_id, char *pool, size_t len);
#endif
