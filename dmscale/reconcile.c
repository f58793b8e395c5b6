/* Reconcile plan (pure): labels, then the target's dm devices, then mount, grow, pending. */
#include "dmscale/reconcile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/failpoint.h"
#include "dmscale/log.h"
#include "dmscale/stripe.h"
#include "dmscale/target.h"

static const char *const role_suffix[DMS_RC_ROLES] = { "", "-tmeta", "-tdata", "-tpool" };

void dms_rc_dm_name(const char *pool, enum dms_rc_role role, char *out, size_t len)
{
	snprintf(out, len, "dmscale-%s%s", pool, role_suffix[role]);
}

void dms_rc_dm_uuid(const uint8_t pool_uuid[16], enum dms_rc_role role, char *out, size_t len)
{
	char u[37];
	dms_uuid_format(pool_uuid, u);
	snprintf(out, len, DMS_DM_UUID_PREFIX "%s%s", u, role_suffix[role]);
}

/* Compare two params strings word by word (blank runs are one separator). */
static bool params_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t')
			a++;
		while (*b == ' ' || *b == '\t')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		while (*a && *a != ' ' && *a != '\t' && *a == *b) {
			a++;
			b++;
		}
		bool ea = !*a || *a == ' ' || *a == '\t', eb = !*b || *b == ' ' || *b == '\t';
		if (!ea || !eb)
			return false;
	}
}

bool dms_rc_table_equal(const struct dms_rc_dev *live, const struct dms_dm_target *want, size_t n)
{
	if (!live->exists || live->count != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (live->tg[i].start_sectors != want[i].start_sectors ||
		    live->tg[i].length_sectors != want[i].length_sectors || strcmp(live->tg[i].type, want[i].type) ||
		    !params_equal(live->tg[i].params, want[i].params))
			return false;
	return true;
}

bool dms_rc_table_extends(const struct dms_rc_dev *live, const struct dms_dm_target *want, size_t n)
{
	if (!live->exists || live->count == 0 || live->count >= n)
		return false;
	for (size_t i = 0; i < live->count; i++)
		if (live->tg[i].start_sectors != want[i].start_sectors ||
		    live->tg[i].length_sectors != want[i].length_sectors || strcmp(live->tg[i].type, want[i].type) ||
		    !params_equal(live->tg[i].params, want[i].params))
			return false;
	return true;
}

static bool targets_equal(const struct dms_dm_target *a, const struct dms_dm_target *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].start_sectors != b[i].start_sectors || a[i].length_sectors != b[i].length_sectors ||
		    strcmp(a[i].type, b[i].type) || strcmp(a[i].params, b[i].params))
			return false;
	return true;
}

struct dms_rc_action *dms_rc_add(struct dms_rc_plan *p, enum dms_rc_kind kind)
{
	if (p->n >= DMS_RC_MAX_ACTIONS)
		return NULL;
	struct dms_rc_action *a = &p->act[p->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

int dms_rc_ensure(const struct dms_rc_input *in, struct dms_rc_plan *p, enum dms_rc_role role,
		  const struct dms_dm_target *want, size_t n, bool private_dev)
{
	const struct dms_label *l = &in->a->label;
	const struct dms_rc_dev *d = &in->dev[role];
	char name[128], uuid[96];
	sectors_t total = n ? want[n - 1].start_sectors + want[n - 1].length_sectors : 0;
	dms_rc_dm_name(l->pool_name, role, name, sizeof(name));
	dms_rc_dm_uuid(l->pool_uuid, role, uuid, sizeof(uuid));
	if (d->exists) {
		if (strcmp(d->uuid, uuid))
			return log_error_errno(EEXIST, "/dev/mapper/%s exists but belongs to something else (uuid %s, "
					       "expected %s); remove it or choose another --name", name, d->uuid,
					       uuid);
		if (d->size_sectors > total)
			return log_error_errno(EUCLEAN, "pool %s: live %s (%llu sectors) is longer than its labels "
					       "describe (%llu); refusing to shrink it", l->pool_name, name,
					       (unsigned long long)d->size_sectors, (unsigned long long)total);
		if (dms_rc_table_equal(d, want, n))
			return 0;
		if (in->loaded_count[role] == n && targets_equal(in->loaded[role], want, n)) {
			log_debug("%s: the kernel reports the table loaded by this run in another form; keeping it",
				  name);
			return 0;
		}
	}
	struct dms_rc_action *a = dms_rc_add(p, d->exists ? DMS_RC_RELOAD : DMS_RC_CREATE);
	if (!a)
		return -E2BIG;
	a->role = role;
	a->private_dev = private_dev;
	a->count = n;
	a->tg = p->want[role];
	if (a->tg != want)
		memcpy(a->tg, want, n * sizeof(*want));
	return d->exists ? 2 : 1;
}

int dms_rc_linear_table(const struct dms_rc_input *in, struct dms_dm_target *tg, size_t *n,
			sectors_t *total_sectors)
{
	const struct dms_label *l = &in->a->label;
	struct dms_table t;
	int r = dms_plan_linear(l, &t);
	if (r < 0)
		return log_error_errno(r, "pool %s: cannot plan the table: %m", l->pool_name);
	for (size_t i = 0; i < t.count; i++) {
		dev_t dev = in->member_devnum[t.seg[i].member_index];
		tg[i].start_sectors = t.seg[i].start_sectors;
		tg[i].length_sectors = t.seg[i].length_sectors;
		if (t.seg[i].stripes >= 2) {
			tg[i].type = "striped";
			r = dms_stripe_params(l, &t.seg[i], in->member_devnum, tg[i].params, sizeof(tg[i].params));
		} else {
			tg[i].type = "linear";
			r = dms_segment_params(&t.seg[i], major(dev), minor(dev), tg[i].params, sizeof(tg[i].params));
		}
		if (r < 0)
			return r;
	}
	*n = t.count;
	*total_sectors = t.total_sectors;
	return 0;
}

static int plan_labels(const struct dms_rc_input *in, struct dms_rc_plan *p)
{
	const struct dms_label *l = &in->a->label;
	if (in->labels_done)
		return 0;
	for (uint32_t i = 0; i < l->member_count; i++) {
		if (!in->a->stale[i] && !in->a->repair[i])
			continue;
		struct dms_rc_action *a = dms_rc_add(p, DMS_RC_WRITE_LABEL);
		if (!a)
			return -E2BIG;
		a->member = i;
		if (in->a->stale[i])
			snprintf(a->note, sizeof(a->note), "label brought to generation %" PRIu64
				 " (finishing an interrupted change)", l->generation);
		else
			snprintf(a->note, sizeof(a->note), "torn label copy rewritten (generation %" PRIu64 ")",
				 l->generation);
	}
	return 0;
}

static int plan_fs(const struct dms_rc_input *in, const struct dms_target_ops *t, struct dms_rc_plan *p)
{
	const struct dms_label *l = &in->a->label;
	const bytes_t size = t->fs_device_bytes(l);
	char node[160];
	struct dms_rc_action *a;
	dms_rc_dm_name(l->pool_name, DMS_RC_VOL, node, sizeof(node));
	const char *mp = in->mountpoint;

	if (!in->mounted && !in->params.do_mount) {
		log_info("pool %s: active but not mounted; run dmscale assemble to mount it", l->pool_name);
		return 0;
	}
	if (!in->mounted) {
		if (in->mountpoint_busy)
			return log_error_errno(EBUSY, "pool %s: %s is already a mount point (another pool or "
					       "filesystem is mounted there); refusing to mount /dev/mapper/%s over "
					       "it. Mount it elsewhere: dmscale assemble --name %s --mountpoint DIR",
					       l->pool_name, mp, node, l->pool_name);
		if (in->has_fs < 0) {
			p->more = true;          /* observe the device first */
			return 0;
		}
		/* Generation 1 is a pool as init (or a scratch recreate) wrote it:
		 * nothing was ever appended, so no filesystem can span a later member. */
		if (in->has_fs == 1 && in->mkfs_pending && l->generation == 1) {
			if (!(a = dms_rc_add(p, DMS_RC_MKFS)))
				return -E2BIG;
			a->size_bytes = size;
			a->backing_bytes = dms_label_data_bytes(l);
			snprintf(a->note, sizeof(a->note), "/dev/mapper/%s: pool %s: an mkfs was cut off before it "
				 "finished: running mkfs.%s again", node, l->pool_name, l->fs_type);
		} else if (in->has_fs == 0) {
			if (l->generation != 1)
				return log_error_errno(EUCLEAN, "/dev/mapper/%s: pool %s (generation %" PRIu64 ") "
						       "holds no filesystem; refusing to format a grown pool. "
						       "Inspect it by hand.", node, l->pool_name, l->generation);
			if (!(a = dms_rc_add(p, DMS_RC_MKFS)))
				return -E2BIG;
			a->size_bytes = size;
			a->backing_bytes = dms_label_data_bytes(l);
			snprintf(a->note, sizeof(a->note), "/dev/mapper/%s: pool %s has no filesystem yet (a new "
				 "pool, or an init cut off before mkfs): running mkfs.%s", node, l->pool_name,
				 l->fs_type);
		}
		if (!(a = dms_rc_add(p, DMS_RC_MOUNT)))
			return -E2BIG;
		snprintf(a->mountpoint, sizeof(a->mountpoint), "%s", mp);
		snprintf(a->note, sizeof(a->note), "pool %s: %s mounted at %s%s", l->pool_name, l->fs_type, mp,
			 t->discard ? " (online discard: deleted files return their blocks to the pool)" : "");
	} else {
		mp = in->mounted_at;
	}
	if (t->grows_fs) {
		if (!(a = dms_rc_add(p, DMS_RC_GROW_FS)))
			return -E2BIG;
		a->size_bytes = size;
		snprintf(a->mountpoint, sizeof(a->mountpoint), "%s", mp);
		a->test_stop = DMS_FP("attach:grown");
	}
	return 0;
}

int dms_reconcile_plan(const struct dms_rc_input *in, struct dms_rc_plan *p)
{
	memset(p, 0, offsetof(struct dms_rc_plan, want));
	if (!in || !in->a)
		return -EINVAL;
	const struct dms_label *l = &in->a->label;
	const struct dms_target_ops *t = dms_target_ops_for(l->target);
	if (!t)
		return log_error_errno(EINVAL, "pool %s: unknown target %u", l->pool_name, l->target);
	int r = plan_labels(in, p);
	if (r < 0)
		return r;
	r = t->plan_devices(in, p);
	if (r < 0)
		return r;
	if (r > 0) {
		p->more = true;
		return 0;
	}
	r = plan_fs(in, t, p);
	if (r < 0 || p->more)
		return r;
	for (uint32_t i = 0; i < l->member_count; i++) {
		if (!l->members[i].volume_id[0])
			continue;
		struct dms_rc_action *a = dms_rc_add(p, DMS_RC_UNPEND);
		if (!a)
			return -E2BIG;
		a->member = i;
	}
	return 0;
}

const struct dms_target_ops *dms_target_ops_for(uint32_t target)
{
	return target == DMS_TARGET_LINEAR ? &dms_target_linear : target == DMS_TARGET_THIN ? &dms_target_thin : NULL;
}
