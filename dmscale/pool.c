/* Pool commands: init, attach, assemble and thin metadata growth. The state of
 * a pool lives in its members' labels; every command converges the system
 * towards that state (exec.c), so a step interrupted by a crash is finished by
 * the next attach or assemble. */
#include "dmscale/pool.h"
#include "dmscale/pool_api.h"
#include "dmscale/pool_priv.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmscale/device.h"
#include "dmscale/dm.h"
#include "dmscale/exec.h"
#include "dmscale/failpoint.h"
#include "dmscale/fs.h"
#include "dmscale/latewait.h"
#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/plan.h"
#include "dmscale/pool_recreate.h"
#include "dmscale/pool_tier.h"
#include "dmscale/probe.h"
#include "dmscale/reconcile.h"
#include "dmscale/scan.h"
#include "dmscale/state.h"
#include "dmscale/thin.h"
#include "dmscale/uuid.h"
#include "kmod-helpers/kmod.h"

struct dms_pool_params dms_pool_params_of(const struct dms_opts *o, const char *mountpoint, bool do_mount)
{
	struct dms_pool_params p = { .mountpoint = mountpoint, .do_mount = do_mount };
	/* lost instance storage is settled by assemble/init, never by a udev event */
	if (o && do_mount && !o->udev)
		p.scratch = o->no_scratch_recreate ? DMS_SCRATCH_REFUSE : DMS_SCRATCH_RECREATE;
	if (o && (o->low_water_bytes || o->low_water_percent > 0)) {
		p.low_water_set = true;
		p.low_water_bytes = o->low_water_bytes;
		p.low_water_percent = o->low_water_percent;
	}
	return p;
}

/* Converge the system to a complete assembly from the scan. */
int dms_pool_reconcile(const struct dms_scan *s, const struct dms_assembly *a, const struct dms_pool_params *pp)
{
	const struct dms_device *members[DMS_MAX_MEMBERS];
	for (uint32_t i = 0; i < a->label.member_count; i++)
		members[i] = &s->dev[a->member_found[i]];
	return dms_reconcile_run(&dms_host_real, a, members, pp);
}

/* Refuse anything that is not a blank, unused, big enough, non-root disk. */
int dms_pool_check_candidate(struct dms_device *d, bool force)
{
	char what[128];
	int r;

	if ((r = dms_device_is_root_disk(d)) != 0)
		return r < 0 ? r : log_error_errno(EPERM, "%s: this is (or backs) the root filesystem; refusing", d->node);
	if ((r = dms_device_is_mounted(d)) != 0)
		return r < 0 ? r : log_error_errno(EBUSY, "%s: mounted; refusing to touch it", d->node);
	if ((r = dms_device_has_holders(d)) != 0)
		return r < 0 ? r : log_error_errno(EBUSY, "%s: in use by another device (dm/md/LVM holder); refusing",
						   d->node);
	if (d->size_bytes < DMS_MIN_DEVICE_BYTES)
		return log_error_errno(ERANGE, "%s: too small (%llu bytes); dmscale needs at least %llu bytes",
				       d->node, (unsigned long long)d->size_bytes,
				       (unsigned long long)DMS_MIN_DEVICE_BYTES);
	r = dms_probe_signatures(d->node, what, sizeof(what));
	if (r < 0)
		return r;
	if (r == 1 && !force)
		return log_error_errno(EEXIST, "%s: holds %s; refusing to overwrite it. Use --force only if its "
				       "data is disposable", d->node, what);
	/* O_EXCL is the last "not in use" check, and the fd it gives stays open:
	 * the new labels (and init's zeroing) go through the fd that was
	 * validated, never a reopen by name. The caller closes it before dm
	 * claims the device. */
	return dms_device_open_excl(d);
}

int dms_pool_setup_kernel(void)
{
	return dms_kmod_ensure("dm_mod");
}

/* Scan and plan `pool`: 0, or the planning error (logged; -ENOENT is not). */
int dms_pool_view_open(const char *pool, struct pool_view *v)
{
	v->s = dms_scan_new();
	v->a = calloc(1, sizeof(*v->a));
	if (!v->s || !v->a)
		return -ENOMEM;
	int r = dms_scan_labels(v->s);
	return r < 0 ? r : dms_scan_plan_pool(v->s, pool, v->a);
}

/* view_open for assemble: between the scan and the plan, a pool whose
 * instance storage was lost is recreated (or refused) per pp->scratch. */
static int view_open_assemble(const char *pool, struct pool_view *v, const struct dms_pool_params *pp)
{
	v->s = dms_scan_new();
	v->a = calloc(1, sizeof(*v->a));
	if (!v->s || !v->a)
		return -ENOMEM;
	int r = dms_scan_labels(v->s);
	if (r == 0 && pp->scratch != DMS_SCRATCH_IGNORE) {
		int q = dms_pool_recreate(pool, v->s, pp);
		if (q < 0)
			return q;
		if (q == 0)
			r = dms_scan_labels(v->s);      /* read back what the recreate wrote */
	}
	return r < 0 ? r : dms_scan_plan_pool(v->s, pool, v->a);
}

void dms_pool_view_close(struct pool_view *v)
{
	dms_scan_close_fds(v->s);
	free(v->a);
	free(v->s);
}

int dms_pool_assemble_one(const char *pool, const struct dms_pool_params *pp)
{
	struct pool_view v;
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return lock;
	int r = view_open_assemble(pool, &v, pp);
	if (r == -ENOENT)
		r = log_error_errno(ENOENT, "pool %s: no member found on this system", pool);
	if (r == 0)
		r = dms_pool_reconcile(v.s, v.a, pp);
	dms_pool_view_close(&v);
	dms_pool_unlock(lock);
	return r;
}

/* Write the label of a new pool on d (zeroing what must not survive first). */
static int create_pool(const struct dms_opts *o, struct dms_device *d)
{
	struct dms_init_spec spec = {
		.name = o->name, .fstype = o->fstype, .target = (uint32_t)o->target,
		.virtual_bytes = o->virtual_bytes, .max_data_bytes = o->max_data_bytes,
		.device_bytes = d->size_bytes, .volume_id = d->volume_id, .now_unix = (uint64_t)time(NULL),
	};
	struct dms_zero_range zero[DMS_INIT_MAX_ZERO];
	size_t nzero;
	int r;
	dms_uuid_generate(spec.pool_uuid);
	dms_uuid_generate(spec.member_uuid);
	struct dms_label *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = dms_plan_init(&spec, l, zero, &nzero);
	if (r == -ERANGE && o->target == DMS_TARGET_THIN) {
		r = log_error_errno(ERANGE, "%s: too small for a thin pool's metadata area (%llu bytes)", d->node,
				    (unsigned long long)d->size_bytes);
		goto out;
	}
	if (r < 0) {
		r = log_error_errno(r, "%s: cannot lay out a member on %llu bytes: %m", d->node,
				    (unsigned long long)d->size_bytes);
		goto out;
	}
	if (l->target == DMS_TARGET_THIN) {
		if (l->thin_virtual_bytes < l->members[0].data_bytes)
			log_warning("pool %s: the thin volume (%llu bytes) is smaller than the first member's data "
				    "area (%llu bytes); it can never use more", o->name,
				    (unsigned long long)l->thin_virtual_bytes,
				    (unsigned long long)l->members[0].data_bytes);
		log_info("%s: thin pool layout: %llu metadata bytes reserved (%llu in use), %llu data bytes, "
			 "%llu virtual bytes, %llu KiB blocks", d->node, (unsigned long long)l->thin_meta_bytes,
			 (unsigned long long)l->thin_meta_active_bytes, (unsigned long long)l->members[0].data_bytes,
			 (unsigned long long)l->thin_virtual_bytes, (unsigned long long)(DMS_THIN_BLOCK_BYTES / KIB));
	}
	/* Before the label exists, so an interrupted init never activates a pool
	 * over stale bytes of a --force'd device. */
	for (size_t i = 0; i < nzero; i++)
		if ((r = dms_device_zero(d, zero[i].offset_bytes, zero[i].length_bytes)) < 0)
			goto out;
	r = dms_device_write_label(d, l);
	if (r < 0)
		goto out;
	log_info("%s (%s): labelled as member 0 of new pool %s, %llu data bytes", d->node,
		 d->volume_id[0] ? d->volume_id : "-", o->name, (unsigned long long)l->members[0].data_bytes);
	/* A pool of this machine: it has a saved mountpoint (udev mounts only those). */
	dms_state_save_mountpoint(o->name, o->mountpoint ? o->mountpoint : DMS_DEFAULT_MOUNTPOINT);
	dms_failpoint(DMS_FP("init:labelled"));
out:
	free(l);
	return r;
}

int dms_cmd_init(const struct dms_opts *o, const char *device)
{
	struct dms_device d;
	struct dms_label cur;
	unsigned ok;
	int r;

	if (!dms_pool_name_valid(o->name))
		return log_error_errno(EINVAL, "invalid pool name '%s': use 1-%d of [A-Za-z0-9_.-]", o->name,
				       DMS_POOL_NAME_MAX - 1);
	if (!dms_fs_type_supported(o->fstype))
		return log_error_errno(EINVAL, "unsupported filesystem '%s': use ext4, xfs or btrfs", o->fstype);
	if ((r = dms_pool_setup_kernel()) < 0)
		return r;
	if ((r = dms_device_inspect(device, &d)) < 0)
		return r;
	const struct dms_pool_params pp = dms_pool_params_of(o, o->mountpoint, true);
	r = dms_device_read_label(&d, &cur, &ok);
	if (r == 0) {
		if (strcmp(cur.pool_name, o->name) && !o->force)
			return log_error_errno(EEXIST, "%s: member %u of another pool, '%s'; refusing. Use "
					       "--name %s to assemble it", device, cur.member_index, cur.pool_name,
					       cur.pool_name);
		if (!strcmp(cur.pool_name, o->name)) {
			log_info("%s: already member %u of pool %s (generation %llu): reassembling, not formatting",
				 device, cur.member_index, cur.pool_name, (unsigned long long)cur.generation);
			return dms_pool_assemble_one(o->name, &pp);
		}
	} else if (r != -ENODATA && !o->force) {
		return dms_device_label_refusal(&d, r, "use --force to overwrite");
	}

	int lock = dms_pool_lock(o->name);
	if (lock < 0)
		return lock;
	char dmname[128];
	struct dms_dm_info info;
	dms_rc_dm_name(o->name, DMS_RC_VOL, dmname, sizeof(dmname));
	r = dms_dm_info(dmname, &info);
	if (r == 0 && info.exists)
		r = log_error_errno(EEXIST, "pool %s is already active as /dev/mapper/%s and %s is not a member; "
				    "use 'dmscale attach %s' to add it", o->name, dmname, device, device);
	if (r == 0)
		r = dms_pool_check_candidate(&d, o->force);
	if (r == 0 && !o->instance_store_off)
		r = dms_pool_create_tiered(o, &d);     /* 1: no instance storage */
	else if (r == 0)
		r = 1;
	if (r == 1)
		r = create_pool(o, &d);
	dms_device_close(&d);       /* before dm claims it */
	dms_pool_unlock(lock);
	if (r < 0)
		return r;
	/* Activation, mkfs and mount are the same path as a reboot's reassembly. */
	return dms_pool_assemble_one(o->name, &pp);
}

int dms_pool_thin_grow_metadata_with(const char *pool, const struct dms_pool_params *pp)
{
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return lock;
	struct pool_view v;
	int r = dms_pool_view_open(pool, &v);
	struct dms_scan *s = v.s;
	struct dms_assembly *a = v.a;
	if (r < 0)
		goto out;
	struct dms_label *l = &a->label;
	if (l->target != DMS_TARGET_THIN) {
		r = -EINVAL;
		goto out;
	}
	bytes_t next = dms_thin_meta_grow(l->thin_meta_active_bytes, l->thin_meta_bytes);
	if (next == l->thin_meta_active_bytes) {
		r = log_error_errno(ENOSPC, "pool %s: thin metadata is running full and already uses its whole "
				    "reserved area (%llu bytes); stop adding data or the pool will go read-only",
				    pool, (unsigned long long)l->thin_meta_bytes);
		goto out;
	}
	log_info("pool %s: growing the thin metadata device %llu -> %llu bytes (generation %llu)", pool,
		 (unsigned long long)l->thin_meta_active_bytes, (unsigned long long)next,
		 (unsigned long long)l->generation + 1);
	l->thin_meta_active_bytes = next;
	l->generation++;
	a->generation = l->generation;
	/* Any subset of labels at the new generation assembles to it (the member
	 * list is unchanged), so the order does not matter for crash safety. */
	for (uint32_t i = 0; i < l->member_count; i++) {
		struct dms_label *ml = &s->found[a->member_found[i]].label;
		dms_label_for_member(l, i, ml);
		if ((r = dms_device_write_label(&s->dev[a->member_found[i]], ml)) < 0)
			goto out;
		a->stale[i] = a->repair[i] = 0;
	}
	r = dms_pool_reconcile(s, a, pp);
out:
	dms_pool_view_close(&v);
	dms_pool_unlock(lock);
	return r;
}

int dms_pool_thin_grow_metadata(const char *pool)
{
	/* No low water mark given: the reload keeps the live pool's. */
	const struct dms_pool_params pp = { .do_mount = false };
	return dms_pool_thin_grow_metadata_with(pool, &pp);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Every pool named by a label on this machine; 0 or -errno. */
static int pool_names(char (*names)[DMS_POOL_NAME_MAX], size_t *nn)
{
	struct dms_scan *s = dms_scan_new();
	if (!s)
		return -ENOMEM;
	int r = dms_scan_labels(s);
	*nn = 0;
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		size_t j;
		for (j = 0; j < *nn && strcmp(names[j], s->found[i].label.pool_name); j++)
			;
		if (j == *nn)
			snprintf(names[(*nn)++], DMS_POOL_NAME_MAX, "%s", s->found[i].label.pool_name);
	}
	free(s);
	return r;
}

/* Assemble the pools of names[] whose last result (res[]) is not yet 0; a
 * pool of another machine is tried once (res 1: not tried yet) and never fails
 * the command (its result is recorded as 0). may_wait: the members' wait is
 * not over, so a recreate may still wait for instance-store disks. */
static void assemble_round(const struct dms_opts *o, char (*names)[DMS_POOL_NAME_MAX], size_t nn, int *res,
			   bool may_wait)
{
	struct dms_pool_params one = dms_pool_params_of(o, o->mountpoint, true);
	struct dms_pool_params all = dms_pool_params_of(o, NULL, true);
	one.istore_may_wait = all.istore_may_wait = may_wait;
	if (!o->all) {
		res[0] = dms_pool_assemble_one(o->name, &one);
		return;
	}
	/* This machine's pools first: a pool from elsewhere (a restored snapshot,
	 * a volume attached for forensics) would take their default mountpoint,
	 * and then they would be refused (never mounted over). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < nn; j++) {
			if (res[j] == 0 || dms_state_has_mountpoint(names[j]) != (pass == 0))
				continue;
			int q = dms_pool_assemble_one(names[j], &all);
			if (q < 0 && pass == 1) {   /* never fail this machine's boot */
				log_warning("pool %s (never mounted on this machine) was not assembled; this does not "
					    "fail the command", names[j]);
				q = 0;
			}
			res[j] = q;
		}
}

int dms_cmd_assemble(const struct dms_opts *o)
{
	if (dms_pool_setup_kernel() < 0)
		return -ENOENT;
	static char names[DMS_MAX_SCAN][DMS_POOL_NAME_MAX];
	static int res[DMS_MAX_SCAN];
	size_t nn = 1;
	/* Watch udev before the first scan: a member arriving between the scan
	 * and the wait is not missed (without a watch, the wait polls). */
	struct dms_block_watch *w = NULL;
	if (o->wait_members_s > 0)
		(void)dms_block_watch_open(&w);
	if (o->all) {
		int r = pool_names(names, &nn);
		if (r < 0) {
			dms_block_watch_close(w);
			return r;
		}
		if (nn == 0)
			log_info("no dmscale pool found on this system");
	}
	for (size_t j = 0; j < nn; j++)
		res[j] = 1;
	const uint64_t t0 = now_ms(), limit_ms = (uint64_t)o->wait_members_s * 1000u;
	bool told = false;
	for (;;) {
		/* the round's start decides: a round begun inside the wait is
		 * followed by one more once it is over (the recreate then runs) */
		const uint64_t elapsed_ms = now_ms() - t0;
		assemble_round(o, names, nn, res, elapsed_ms < limit_ms);
		enum dms_wait_verdict v = dms_wait_verdict(res, nn, elapsed_ms, limit_ms);
		if (v != DMS_WAIT_AGAIN)
			break;
		if (!told)
			log_info("a pool is missing members (above); waiting up to %u s for them to appear",
				 o->wait_members_s);
		told = true;
		/* Rescan on a udev block event, or after the poll period. */
		(void)dms_block_watch_wait(w, (int)dms_wait_next_ms(now_ms() - t0, limit_ms));
	}
	dms_block_watch_close(w);
	int ret = 0;
	for (size_t j = 0; j < nn; j++)
		if (res[j] < 0) {
			if ((res[j] == -ENODEV || res[j] == -ENOENT) && told)
				log_error("pool %s is still incomplete after waiting %u s for its members (missing "
					  "volumes named above)", o->all ? names[j] : o->name, o->wait_members_s);
			if (!ret)
				ret = res[j];
		}
	return ret;
}
