/* dm-thin target (pure): tmeta and tdata under a thin-pool, one thin volume on top. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/failpoint.h"
#include "dmscale/log.h"
#include "dmscale/target.h"

/* The low water mark of a live thin-pool table ("META DATA BLOCK LWM ..."). */
static bool live_low_water(const struct dms_rc_dev *d, uint64_t *blocks)
{
	unsigned long long v;
	if (!d->exists || d->count != 1 || strcmp(d->tg[0].type, "thin-pool") ||
	    sscanf(d->tg[0].params, "%*s %*s %*u %llu", &v) != 1 || v == 0)
		return false;
	*blocks = v;
	return true;
}

static uint64_t low_water_blocks(const struct dms_rc_input *in, bytes_t data_bytes)
{
	const struct dms_pool_params *pp = &in->params;
	uint64_t blocks;
	if (pp->low_water_set)
		return dms_thin_low_water_blocks(data_bytes, pp->low_water_bytes, pp->low_water_percent);
	/* Not configured by the caller (the daemon's metadata growth): keep the
	 * live pool's mark when the data size is unchanged. */
	if (in->dev[DMS_RC_TPOOL].size_sectors == bytes_to_sectors(data_bytes) &&
	    live_low_water(&in->dev[DMS_RC_TPOOL], &blocks))
		return blocks;
	return dms_thin_low_water_blocks(data_bytes, DMS_RC_DEFAULT_LOW_BYTES, DMS_RC_DEFAULT_LOW_PERCENT);
}

static int degraded(const struct dms_label *l, const struct dms_thin_pool_status *ps)
{
	char base[128], n_pool[160], n_meta[160];
	dms_rc_dm_name(l->pool_name, DMS_RC_VOL, base, sizeof(base));
	dms_rc_dm_name(l->pool_name, DMS_RC_TPOOL, n_pool, sizeof(n_pool));
	dms_rc_dm_name(l->pool_name, DMS_RC_TMETA, n_meta, sizeof(n_meta));
	return log_error_errno(EUCLEAN, "pool %s is degraded: the thin pool is %s%s. The filesystem was "
			       "not activated. To repair: stop writers, 'dmsetup remove %s %s', run "
			       "'thin_check /dev/mapper/%s'; if it reports errors, 'thin_repair -i "
			       "/dev/mapper/%s -o SPARE' onto a spare device of the same size and copy "
			       "it back with dd; then 'thin_check --clear-needs-check-flag "
			       "/dev/mapper/%s' and 'dmscale assemble --name %s'",
			       l->pool_name, dms_thin_mode_name(ps->mode), ps->needs_check ? " and flagged needs_check" : "",
			       base, n_pool, n_meta, n_meta, n_meta, l->pool_name);
}

/* A new pool: create thin device 0, then mark that done. The transaction id
 * is 0 until the set succeeds, and nothing writes to device 0 before that
 * (the volume is activated only at id 1), so a device 0 left by a crash
 * between the two messages is empty: when create_thin fails, delete device 0
 * and create it again; if that fails too, the run stops before the
 * transaction id is set (never mark a volume that does not exist). */
static int create_volume(const struct dms_label *l, struct dms_rc_plan *p)
{
	struct dms_rc_action *a = dms_rc_add(p, DMS_RC_MESSAGE);
	if (!a)
		return -E2BIG;
	a->role = DMS_RC_TPOOL;
	snprintf(a->msg, sizeof(a->msg), "create_thin %d", DMS_THIN_DEV_ID);
	snprintf(a->retry_after, sizeof(a->retry_after), "delete %d", DMS_THIN_DEV_ID);
	if (!(a = dms_rc_add(p, DMS_RC_MESSAGE)))
		return -E2BIG;
	a->role = DMS_RC_TPOOL;
	snprintf(a->msg, sizeof(a->msg), "set_transaction_id 0 %d", DMS_THIN_TRANSACTION_READY);
	snprintf(a->note, sizeof(a->note), "pool %s: thin volume created (id %d, %" PRIu64 " virtual bytes)",
		 l->pool_name, DMS_THIN_DEV_ID, l->thin_virtual_bytes);
	return 1;
}

static int thin_plan_devices(const struct dms_rc_input *in, struct dms_rc_plan *p)
{
	const struct dms_label *l = &in->a->label;
	char name[128];
	size_t n;
	sectors_t total;
	int r;

	/* Data: the members' data areas, exactly as linear mode. Growing it first
	 * is harmless: the pool only uses the new length once it is reloaded. */
	struct dms_dm_target *dt = p->want[DMS_RC_TDATA];
	if ((r = dms_rc_linear_table(in, dt, &n, &total)) < 0)
		return r;
	int rd = dms_rc_ensure(in, p, DMS_RC_TDATA, dt, n, true);
	if (rd < 0)
		return rd;
	if (rd == 2) {
		struct dms_rc_action *a = &p->act[p->n - 1];
		snprintf(a->note, sizeof(a->note), "pool %s: thin data device reloaded, %u member(s), %" PRIu64
			 " bytes", l->pool_name, l->member_count, sectors_to_bytes(total));
		a->test_stop = DMS_FP("attach:data-reloaded");
	}

	/* Metadata: the active part of the reserved area on member 0. */
	struct dms_dm_target *mt = p->want[DMS_RC_TMETA];
	mt->start_sectors = 0;
	mt->length_sectors = bytes_to_sectors(l->thin_meta_active_bytes);
	mt->type = "linear";
	snprintf(mt->params, sizeof(mt->params), "%u:%u %" PRIu64, major(in->member_devnum[0]),
		 minor(in->member_devnum[0]), (uint64_t)bytes_to_sectors(l->thin_meta_offset_bytes));
	int rm = dms_rc_ensure(in, p, DMS_RC_TMETA, mt, 1, true);
	if (rm < 0)
		return rm;
	if (rm == 2)
		snprintf(p->act[p->n - 1].note, sizeof(p->act[0].note), "pool %s: thin metadata device grown to %"
			 PRIu64 " bytes", l->pool_name, l->thin_meta_active_bytes);
	if (rd == 1 || rm == 1)
		return 1;                /* the pool's table needs their device numbers */

	/* The pool, over both; a longer table grows it at resume. */
	struct dms_dm_target *pt = p->want[DMS_RC_TPOOL];
	dev_t md = in->dev[DMS_RC_TMETA].devnum, dd = in->dev[DMS_RC_TDATA].devnum;
	pt->start_sectors = 0;
	pt->length_sectors = total;
	pt->type = "thin-pool";
	r = dms_thin_pool_params(major(md), minor(md), major(dd), minor(dd),
				 low_water_blocks(in, sectors_to_bytes(total)), pt->params, sizeof(pt->params));
	if (r < 0)
		return r;
	int rp = dms_rc_ensure(in, p, DMS_RC_TPOOL, pt, 1, true);
	if (rp < 0)
		return rp;
	if (rp > 0) {
		struct dms_rc_action *a = &p->act[p->n - 1];
		if (rp == 1)
			snprintf(a->note, sizeof(a->note), "pool %s: thin pool activated, %u member(s), %" PRIu64
				 " data bytes, %" PRIu64 " metadata bytes, generation %" PRIu64, l->pool_name,
				 l->member_count, sectors_to_bytes(total), l->thin_meta_active_bytes, l->generation);
		else {
			snprintf(a->note, sizeof(a->note), "pool %s: thin pool reloaded, %u member(s), now %" PRIu64
				 " data bytes, generation %" PRIu64, l->pool_name, l->member_count,
				 sectors_to_bytes(total), l->generation);
			a->test_stop = DMS_FP("attach:reloaded");
		}
		return 1;                /* read the pool's status after the load */
	}

	/* Never put a filesystem read-write on a pool the kernel distrusts. */
	if (!in->pool_status_known)
		return 1;
	const struct dms_thin_pool_status *ps = &in->ps;
	if (ps->mode == DMS_THIN_FAIL || ps->mode == DMS_THIN_RO || ps->needs_check)
		return degraded(l, ps);
	if (ps->transaction_id == 0)
		return create_volume(l, p);
	if (ps->transaction_id != DMS_THIN_TRANSACTION_READY)
		return log_error_errno(EUCLEAN, "pool %s: thin pool transaction id is %" PRIu64 ", expected %d: "
				       "this metadata was changed by something else; refusing to activate",
				       l->pool_name, ps->transaction_id, DMS_THIN_TRANSACTION_READY);

	/* The thin volume: the filesystem's device, fixed size. */
	struct dms_dm_target *vt = p->want[DMS_RC_VOL];
	dev_t pd = in->dev[DMS_RC_TPOOL].devnum;
	vt->start_sectors = 0;
	vt->length_sectors = bytes_to_sectors(l->thin_virtual_bytes);
	vt->type = "thin";
	if ((r = dms_thin_volume_params(major(pd), minor(pd), vt->params, sizeof(vt->params))) < 0)
		return r;
	int rv = dms_rc_ensure(in, p, DMS_RC_VOL, vt, 1, false);
	if (rv < 0)
		return rv;
	if (rv == 1) {
		dms_rc_dm_name(l->pool_name, DMS_RC_VOL, name, sizeof(name));
		snprintf(p->act[p->n - 1].note, sizeof(p->act[0].note), "pool %s: activated /dev/mapper/%s (thin, %"
			 PRIu64 " virtual bytes over %" PRIu64 " data bytes)", l->pool_name, name,
			 l->thin_virtual_bytes, sectors_to_bytes(total));
		return 1;
	}
	return 0;
}

static bytes_t thin_fs_bytes(const struct dms_label *l)
{
	return l->thin_virtual_bytes;
}

static const enum dms_rc_role thin_roles[] = { DMS_RC_TDATA, DMS_RC_TMETA, DMS_RC_TPOOL, DMS_RC_VOL };

const struct dms_target_ops dms_target_thin = {
	.name = "thin",
	.roles = thin_roles,
	.nroles = 4,
	.plan_devices = thin_plan_devices,
	.fs_device_bytes = thin_fs_bytes,
	.grows_fs = false,
	.discard = true,
};
