/* Executor: observe the kernel through the host, plan, run the actions, repeat. */
#include "dmscale/exec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/log.h"
#include "dmscale/target.h"

#define MAX_ROUNDS 8       /* thin: devices, pool, volume creation, volume, mount */

static int observe(const struct dms_host *h, const struct dms_target_ops *t, struct dms_rc_input *in)
{
	const struct dms_label *l = &in->a->label;
	char name[160];
	int r;
	for (size_t i = 0; i < t->nroles; i++) {
		enum dms_rc_role role = t->roles[i];
		dms_rc_dm_name(l->pool_name, role, name, sizeof(name));
		if ((r = h->dm_get(h->ctx, name, &in->dev[role])) < 0)
			return log_error_errno(r, "pool %s: cannot read the live table of %s: %m", l->pool_name, name);
	}
	in->pool_status_known = false;
	if (l->target == DMS_TARGET_THIN && in->dev[DMS_RC_TPOOL].exists) {
		dms_rc_dm_name(l->pool_name, DMS_RC_TPOOL, name, sizeof(name));
		if ((r = h->thin_status(h->ctx, name, &in->ps)) < 0)
			return r;
		in->pool_status_known = true;
	}
	in->mounted = false;
	in->has_fs = -1;
	in->mountpoint_busy = false;
	const struct dms_rc_dev *vol = &in->dev[DMS_RC_VOL];
	if (!vol->exists)
		return 0;
	r = h->find_mount(h->ctx, vol->devnum, in->mounted_at, sizeof(in->mounted_at));
	if (r < 0)
		return log_error_errno(r, "cannot read /proc/self/mountinfo: %m");
	in->mounted = r == 1;
	if (in->mounted || !in->params.do_mount)
		return 0;
	dms_rc_dm_name(l->pool_name, DMS_RC_VOL, name, sizeof(name));
	char node[200];
	snprintf(node, sizeof(node), "/dev/mapper/%s", name);
	if ((r = h->has_fs(h->ctx, node)) < 0)
		return r;
	in->has_fs = r;
	if ((r = h->mkfs_pending(h->ctx, l->pool_name)) < 0)
		return r;
	in->mkfs_pending = r == 1;
	if ((r = h->mountpoint_busy(h->ctx, in->mountpoint)) < 0)
		return log_error_errno(r, "%s: cannot tell whether something is mounted there: %m", in->mountpoint);
	in->mountpoint_busy = r == 1;
	return 0;
}

static int grow_fs(const struct dms_host *h, const struct dms_label *l, const struct dms_rc_action *a)
{
	struct dms_fs_usage before, after;
	bool grown = false;
	int ub = h->fs_usage(h->ctx, a->mountpoint, &before);
	int r = h->grow_fs(h->ctx, l->fs_type, a->mountpoint, a->size_bytes, &grown);
	if (r < 0)
		return r;
	if (ub == 0 && h->fs_usage(h->ctx, a->mountpoint, &after) == 0 && after.size_bytes != before.size_bytes)
		log_info("pool %s: %s at %s grown online %llu -> %llu bytes", l->pool_name, l->fs_type, a->mountpoint,
			 (unsigned long long)before.size_bytes, (unsigned long long)after.size_bytes);
	return 0;
}

static int run_action(const struct dms_host *h, struct dms_rc_input *in, const struct dms_target_ops *t,
		      const struct dms_device *const members[], const struct dms_rc_action *a)
{
	const struct dms_label *l = &in->a->label;
	char name[160], uuid[96], node[200];
	int r = 0;
	dms_rc_dm_name(l->pool_name, DMS_RC_VOL, name, sizeof(name));
	snprintf(node, sizeof(node), "/dev/mapper/%s", name);
	dms_rc_dm_name(l->pool_name, a->role, name, sizeof(name));

	switch (a->kind) {
	case DMS_RC_WRITE_LABEL: {
		struct dms_label ml;
		const struct dms_device *d = members[a->member];
		dms_label_for_member(&in->a->label, a->member, &ml);
		if ((r = h->write_label(h->ctx, d, &ml)) < 0)
			return r;
		log_notice("%s (%s): %s", d->node, d->volume_id[0] ? d->volume_id : "-", a->note);
		break;
	}
	case DMS_RC_CREATE:
		dms_rc_dm_uuid(l->pool_uuid, a->role, uuid, sizeof(uuid));
		r = h->dm_create(h->ctx, name, uuid, a->tg, a->count, a->private_dev);
		break;
	case DMS_RC_RELOAD:
		r = h->dm_reload(h->ctx, name, a->tg, a->count, a->private_dev, a->append);
		break;
	case DMS_RC_MESSAGE:
		r = h->dm_message(h->ctx, name, a->msg);
		if (r < 0 && a->retry_after[0]) {
			log_info("pool %s: '%s' failed: an interrupted creation left it; '%s' and again", l->pool_name,
				 a->msg, a->retry_after);
			r = h->dm_message(h->ctx, name, a->retry_after);
			if (r == 0)
				r = h->dm_message(h->ctx, name, a->msg);
		}
		if (r < 0)
			return log_error_errno(EIO, "pool %s: cannot create the thin volume in %s ('%s' failed, see "
					       "dmesg)", l->pool_name, name, a->msg);
		break;
	case DMS_RC_MKFS:
		log_info("%s", a->note);
		if ((r = h->set_mkfs_pending(h->ctx, l->pool_name, true)) < 0 ||
		    (r = h->mkfs(h->ctx, l->fs_type, node, a->backing_bytes, !t->grows_fs)) < 0)
			return r;
		/* Cleared before the mount: once mounted, data may be written. */
		return h->set_mkfs_pending(h->ctx, l->pool_name, false);
	case DMS_RC_MOUNT:
		if ((r = h->mount(h->ctx, l->fs_type, node, a->mountpoint, t->discard)) < 0)
			return r;
		h->save_mountpoint(h->ctx, l->pool_name, a->mountpoint);
		break;
	case DMS_RC_GROW_FS:
		r = grow_fs(h, l, a);
		break;
	case DMS_RC_UNPEND:
		(void)h->unpend(h->ctx, l->pool_name, l->members[a->member].volume_id);
		return 0;
	}
	if (r < 0)
		return r;
	if (a->kind == DMS_RC_CREATE || a->kind == DMS_RC_RELOAD) {
		in->loaded_count[a->role] = a->count;
		memcpy(in->loaded[a->role], a->tg, a->count * sizeof(*a->tg));
	}
	if (a->note[0] && a->kind != DMS_RC_WRITE_LABEL)
		log_info("%s", a->note);
	if (a->test_stop && h->test_stop)
		h->test_stop(h->ctx, a->test_stop);
	return 0;
}

int dms_reconcile_run(const struct dms_host *h, const struct dms_assembly *a,
		      const struct dms_device *const members[], const struct dms_pool_params *pp)
{
	const struct dms_label *l = &a->label;
	const struct dms_target_ops *t = dms_target_ops_for(l->target);
	if (!t)
		return log_error_errno(EINVAL, "pool %s: unknown target %u", l->pool_name, l->target);
	int r;
	if (l->target == DMS_TARGET_THIN && (r = h->kmod(h->ctx, "dm_thin_pool")) < 0)
		return r;
	struct dms_rc_input *in = calloc(1, sizeof(*in));
	struct dms_rc_plan *p = calloc(1, sizeof(*p));
	r = -ENOMEM;
	if (!in || !p)
		goto out;
	in->a = a;
	in->params = *pp;
	for (uint32_t i = 0; i < l->member_count; i++)
		in->member_devnum[i] = members[i]->devnum;
	if (pp->mountpoint)
		snprintf(in->mountpoint, sizeof(in->mountpoint), "%s", pp->mountpoint);
	else
		h->load_mountpoint(h->ctx, l->pool_name, in->mountpoint, sizeof(in->mountpoint));
	for (int round = 0; round < MAX_ROUNDS; round++) {
		if ((r = observe(h, t, in)) < 0)
			goto out;
		if ((r = dms_reconcile_plan(in, p)) < 0)
			goto out;
		for (size_t i = 0; i < p->n; i++)
			if ((r = run_action(h, in, t, members, &p->act[i])) < 0)
				goto out;
		in->labels_done = true;
		if (!p->more)
			goto out;
	}
	r = log_error_errno(ELOOP, "pool %s: the devices did not converge after %d rounds; see dmesg and "
			    "'dmsetup table'", l->pool_name, MAX_ROUNDS);
out:
	/* After the filesystem grew (GROW_FS ran in the same round as the reload). */
	if (h->udev_flush)
		h->udev_flush(h->ctx);
	free(p);
	free(in);
	return r;
}
