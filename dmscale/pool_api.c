/* Pool API for status, main and the daemon: query, membership, thin pool status. */
#include "dmscale/pool_api.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/dm.h"
#include "dmscale/state.h"
#include "dmscale/pending.h"
#include "dmscale/pool.h"
#include "dmscale/reconcile.h"
#include "dmscale/scan.h"

int dms_pool_query(const char *pool, struct dms_pool_query *q)
{
	memset(q, 0, sizeof(*q));
	struct dms_scan *s = dms_scan_new();
	if (!s)
		return q->r = -ENOMEM;
	q->r = dms_scan_labels(s);
	q->unreadable = s->unreadable;
	if (q->r == 0) {
		dms_scan_mark_live(s, pool);   /* a clone of a live member must not hide the pool */
		q->r = dms_plan_assembly(s->found, s->n, pool, NULL, &q->a);
	}
	if (q->r == 0 || q->r == -ENODEV)
		for (uint32_t i = 0; i < q->a.label.member_count; i++)
			snprintf(q->nodes[i], sizeof(q->nodes[i]), "%s",
				 q->a.member_found[i] != SIZE_MAX ? s->dev[q->a.member_found[i]].node : "");
	free(s);
	return q->r;
}

enum dms_membership dms_pool_membership(const struct dms_pool_query *q, const char *volume_id)
{
	if (!q || !volume_id || !volume_id[0])
		return DMS_MEMBER_UNKNOWN;
	if (q->r != 0 && q->r != -ENODEV && q->r != -ENOENT)
		return DMS_MEMBER_UNKNOWN;
	if (q->r != -ENOENT)
		for (uint32_t i = 0; i < q->a.label.member_count && i < DMS_MAX_MEMBERS; i++)
			if (!strcmp(q->a.label.members[i].volume_id, volume_id))
				return DMS_MEMBER_YES;
	/* A label we could not read may be the one that names it. */
	return q->unreadable ? DMS_MEMBER_UNKNOWN : DMS_MEMBER_NO;
}

int dms_thin_status_read(const char *tpool, struct dms_thin_pool_status *ps, unsigned *event_nr)
{
	char type[32], params[512];
	int r = dms_dm_status(tpool, type, sizeof(type), params, sizeof(params), event_nr);
	if (r < 0)
		return r;
	if (strcmp(type, "thin-pool") || dms_thin_parse_pool_status(params, ps) < 0)
		return -EPROTO;
	return 0;
}

int dms_pool_thin_status(const char *pool, struct dms_thin_pool_status *ps, unsigned *event_nr)
{
	char tpool[160];
	dms_rc_dm_name(pool, DMS_RC_TPOOL, tpool, sizeof(tpool));
	return dms_thin_status_read(tpool, ps, event_nr);
}

int dms_pool_live_deps(const char *pool, dev_t *out, size_t max, size_t *n)
{
	static const enum dms_rc_role roles[] = { DMS_RC_TDATA, DMS_RC_VOL };
	char name[160];
	*n = 0;
	for (size_t k = 0; k < 2; k++) {
		struct dms_dm_info info;
		dms_rc_dm_name(pool, roles[k], name, sizeof(name));
		int r = dms_dm_info(name, &info);
		if (r < 0)
			return r;
		if (info.exists)        /* the data table is the first that exists */
			return dms_dm_deps(name, out, max, n);
	}
	return -ENOENT;
}

/* Is devnum a dependency of the pool's live data table (dmscale-N or, for a
 * thin pool, dmscale-N-tdata)? Checked under the pool lock so that a running
 * assembly finishes first. Any error answers "no": the caller then assembles. */
bool dms_pool_live_has(const char *pool, dev_t devnum)
{
	dev_t deps[DMS_MAX_MEMBERS];
	size_t n = 0;
	bool found = false;
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return false;
	if (dms_pool_live_deps(pool, deps, DMS_MAX_MEMBERS, &n) == 0)
		for (size_t i = 0; i < n; i++)
			found |= deps[i] == devnum;
	dms_pool_unlock(lock);
	return found;
}

/* Which pool expects this volume id (the daemon's pending lists)? */
int dms_pending_pool_of(const char *volume_id, char *pool, size_t len)
{
	DIR *dir = opendir(dms_state_dir());
	if (!dir)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || !dms_pool_name_valid(de->d_name))
			continue;
		if (dms_pending_contains(NULL, de->d_name, volume_id) == 1) {
			snprintf(pool, len, "%s", de->d_name);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}
