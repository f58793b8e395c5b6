/* init over instance storage: a new pool whose first tier is the blank
 * instance-store disks (striped when there are two or more), then the EBS
 * device named on the command line. */
#include "dmscale/pool_tier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmscale/istore.h"
#include "dmscale/latewait.h"
#include "dmscale/log.h"
#include "dmscale/scan.h"
#include "dmscale/state.h"
#include "dmscale/steps.h"
#include "dmscale/stripe.h"
#include "dmscale/uuid.h"

int dms_plan_init_tiered(const struct dms_tier_spec *spec, struct dms_label *l)
{
	if (!spec || !l || !spec->name || !spec->fstype || spec->nis < 1 || spec->nis > DMS_MAX_STRIPE)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->generation = 1;
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = spec->now_unix;
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", spec->name);
	snprintf(l->fs_type, sizeof(l->fs_type), "%s", spec->fstype);
	memcpy(l->pool_uuid, spec->pool_uuid, 16);
	int r;
	for (uint32_t i = 0; i < spec->nis; i++) {
		struct dms_member *m = &l->members[i];
		if ((r = dms_member_layout(spec->is_bytes[i], 0, m)) < 0)
			return r;
		memcpy(m->uuid, spec->is_uuid[i], 16);
		m->kind = DMS_KIND_INSTANCE_STORE;
	}
	l->member_count = spec->nis;
	if ((r = dms_stripe_layout(l, spec->nis, spec->chunk_bytes)) < 0)
		return r;
	struct dms_member *e = &l->members[l->member_count];
	if ((r = dms_member_layout(spec->ebs_bytes, 0, e)) < 0)
		return r;
	memcpy(e->uuid, spec->ebs_uuid, 16);
	snprintf(e->volume_id, sizeof(e->volume_id), "%s", spec->ebs_volume_id ? spec->ebs_volume_id : "");
	e->kind = DMS_KIND_EBS;
	l->member_count++;
	l->version = DMS_LABEL_VERSION_2;
	dms_label_for_member(l, 0, l);
	return dms_label_validate(l);
}

static uint64_t mono_ms(void) { return dms_steps_now_ns() / 1000000u; }

/* init also runs early at boot (cloud-init's bootcmd, a unit): an NVMe disk
 * udev has not probed yet may be instance storage, and a disk left out now
 * stays out of the stripe for the pool's life. Scan until udev has probed
 * every NVMe disk of unknown kind, rescanning on each udev block event, for
 * at most DMS_ISTORE_PROBE_WAIT_MS; then go on with what is there. */
static int scan_probed(struct dms_istore_list *is)
{
	struct dms_block_watch *w = NULL;
	(void)dms_block_watch_open(&w);        /* before the scan: no event is missed */
	const uint64_t t0 = mono_ms();
	int r;
	for (bool told = false;; told = true) {
		if ((r = dms_istore_scan(is)) < 0 || !is->uninitialized)
			break;
		const uint64_t elapsed_ms = mono_ms() - t0;
		if (elapsed_ms >= DMS_ISTORE_PROBE_WAIT_MS) {
			log_warning("%zu NVMe disk(s) still not probed by udev after %u s: choosing the instance-store "
				    "disks without them (any of them that is instance storage is not used by this pool)",
				    is->uninitialized, DMS_ISTORE_PROBE_WAIT_MS / 1000u);
			break;
		}
		if (!told)
			log_info("%zu NVMe disk(s) not yet probed by udev: waiting up to %u s for them before choosing "
				 "the instance-store disks", is->uninitialized, DMS_ISTORE_PROBE_WAIT_MS / 1000u);
		(void)dms_block_watch_wait(w, (int)dms_wait_next_ms(elapsed_ms, DMS_ISTORE_PROBE_WAIT_MS));
	}
	dms_block_watch_close(w);
	return r;
}

int dms_pool_create_tiered(const struct dms_opts *o, struct dms_device *ebs)
{
	static struct dms_istore_list is;
	static struct dms_device dev[DMS_MAX_STRIPE + 1];
	struct dms_tier_spec spec = { .name = o->name, .fstype = o->fstype, .now_unix = (uint64_t)time(NULL),
				      .ebs_bytes = ebs->size_bytes, .ebs_volume_id = ebs->volume_id,
				      .chunk_bytes = DMS_STRIPE_CHUNK_BYTES };
	/* thin does not use instance storage (below): no wait for it */
	int r = o->target == DMS_TARGET_THIN ? dms_istore_scan(&is) : scan_probed(&is);
	if (r < 0)
		return r;
	uint32_t n = 0;
	for (size_t i = 0; i < is.n; i++) {
		const char *why = dms_istore_refusal(&is.disk[i]);
		if (is.disk[i].devnum == ebs->devnum)
			continue;
		if (why) {
			log_notice("%s: instance-store disk left alone: %s%s%s", is.disk[i].node, why,
				   is.disk[i].signature ? ": " : "", is.disk[i].signature ? is.disk[i].what : "");
			continue;
		}
		if (n == DMS_MAX_STRIPE) {
			log_warning("%s: more than %d instance-store disks; this one is left out", is.disk[i].node,
				    DMS_MAX_STRIPE);
			continue;
		}
		if ((r = dms_device_inspect(is.disk[i].node, &dev[n])) < 0)
			return r;
		if (dev[n].devnum != is.disk[i].devnum)
			return log_error_errno(ESTALE, "%s: changed while it was inspected; run init again",
					       is.disk[i].node);
		spec.is_bytes[n] = dev[n].size_bytes;
		dms_uuid_generate(spec.is_uuid[n]);
		n++;
	}
	if (n == 0) {
		log_debug("no blank instance-store disk: the pool starts on %s alone", ebs->node);
		return 1;
	}
	if (o->target == DMS_TARGET_THIN) {
		log_notice("%u instance-store disk(s) found, but --target thin keeps its metadata on the first "
			   "member: instance storage is used with --target linear only; not using it", n);
		return 1;
	}
	spec.nis = n;
	dms_uuid_generate(spec.pool_uuid);
	dms_uuid_generate(spec.ebs_uuid);
	struct dms_label *l = calloc(1, sizeof(*l));
	struct dms_label *ls = calloc(n + 1, sizeof(*ls));
	struct dms_device *devs[DMS_MAX_STRIPE + 1];
	uint32_t opened = 0;
	r = -ENOMEM;
	if (!l || !ls)
		goto out;
	if ((r = dms_plan_init_tiered(&spec, l)) < 0) {
		r = log_error_errno(r, "pool %s: cannot lay out the instance-store tier: %m", o->name);
		goto out;
	}
	/* the last "not in use" check; the labels go through these fds */
	for (; opened < n; opened++)
		if ((r = dms_device_open_excl(&dev[opened])) < 0)
			goto out;
	for (uint32_t i = 0; i < n; i++)
		devs[i] = &dev[i];
	devs[n] = ebs;
	for (uint32_t i = 0; i <= n; i++)
		dms_label_for_member(l, i, &ls[i]);
	/* Before any label: no stale filesystem may be taken for an interrupted mkfs. */
	for (uint32_t i = 0; i <= n; i++)
		if ((r = dms_device_zero(devs[i], l->members[i].data_offset_bytes, MIB)) < 0)
			goto out;
	/* Every device is blank: copy B of all, then copy A of all. A crash
	 * leaves each device blank (copy A has no magic) or labelled with the
	 * whole generation-1 table, never a damaged label (FORMAT.md §5.3). */
	if ((r = dms_device_write_labels(devs, ls, n + 1, 1)) < 0 ||
	    (r = dms_device_write_labels(devs, ls, n + 1, 0)) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		log_info("%s (instance store): labelled as member %u of new pool %s, %llu data bytes", dev[i].node, i,
			 o->name, (unsigned long long)l->members[i].data_bytes);
	log_info("%s (%s): labelled as member %u of new pool %s, %llu data bytes", ebs->node,
		 ebs->volume_id[0] ? ebs->volume_id : "-", n, o->name, (unsigned long long)l->members[n].data_bytes);
	if (l->stripe_count)
		log_info("pool %s: first tier striped over %u instance-store disks, %llu KiB chunks, %llu bytes",
			 o->name, l->stripe_count, (unsigned long long)(l->stripe_chunk_bytes / KIB),
			 (unsigned long long)(l->members[0].data_bytes * l->stripe_count));
	dms_state_save_mountpoint(o->name, o->mountpoint ? o->mountpoint : DMS_DEFAULT_MOUNTPOINT);
	r = 0;
out:
	for (uint32_t i = 0; i < opened; i++)
		dms_device_close(&dev[i]);
	free(ls);
	free(l);
	return r;
}
