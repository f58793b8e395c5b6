/* The daemon's volumes: provisioning through the EC2 client (its stage
 * callback keeps the pending list), the waits for `dmscale attach --udev` to
 * append them, deletions (only on a DMS_DELETE verdict, see decide.h) and
 * their retries, and the start-up recovery of an interrupted run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/fs.h"
#include "dmscale/pending.h"
#include "dmscale/pool.h"
#include "dmscale/status.h"
#include "ec2/daemon_priv.h"
#include "ec2/resolve.h"

/* Take vol out of the pending list so that udev can no longer claim it
 * (under the pool lock: an attach in progress finishes first), then decide
 * whether to keep it: a member, or anything short of "certainly not ours". */
static enum dms_keep_verdict unpend(struct daemon *d, const char *vol)
{
	int lock = dms_pool_lock(d->cfg.pool);
	int r = dms_pending_remove(NULL, d->cfg.pool, vol);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "pool %s: cannot remove %s from the pending list: %m", d->cfg.pool, vol);
	if (lock >= 0)
		close(lock);
	return daemon_keep_or_delete(d, vol);
}

/* ---- cleanup ---------------------------------------------------------------- */

static void remember_delete(struct daemon *d, const char *vol)
{
	for (size_t i = 0; i < d->n_retry_delete; i++)
		if (!strcmp(d->retry_delete[i], vol))
			return;
	if (d->n_retry_delete == MAX_RETRY_DELETE) {
		log_error("EC2: volume %s could not be deleted and the retry list is full; delete it by hand", vol);
		return;
	}
	snprintf(d->retry_delete[d->n_retry_delete++], DMS_VOLUME_ID_MAX, "%s", vol);
	d->next_retry_delete = daemon_mono_s() + RETRY_DELETE_S;
}

/* Delete vol, whose keep-or-delete verdict v is DMS_DELETE; any other verdict
 * keeps it (logged by daemon_keep_or_delete). */
static void delete_volume(struct daemon *d, const char *vol, const char *why, enum dms_keep_verdict v)
{
	if (v != DMS_DELETE)
		return;
	if (!d->ec2_ready) {
		remember_delete(d, vol);
		return;
	}
	log_info("EC2: deleting volume %s (%s)", vol, why);
	int r = ec2_cleanup_volume(&d->ec2, vol, d->cfg.attach_timeout_s);
	if (r < 0) {
		log_error_errno(r, "EC2: could not delete volume %s now: %m; retrying in %.0f s", vol, RETRY_DELETE_S);
		remember_delete(d, vol);
	}
}

void daemon_retry_deletes(struct daemon *d, double now)
{
	if (!d->n_retry_delete || now < d->next_retry_delete || !d->ec2_ready)
		return;
	size_t keep = 0;
	for (size_t i = 0; i < d->n_retry_delete; i++) {
		/* decided earlier; decided again, since a volume may have joined meanwhile */
		enum dms_keep_verdict v = daemon_keep_or_delete(d, d->retry_delete[i]);
		if (v == DMS_KEEP_MEMBER || v == DMS_KEEP_LABELLED) {
			log_info("EC2: volume %s is no longer to be deleted: %s", d->retry_delete[i],
				 dms_keep_verdict_name(v));
			continue;
		}
		int r = v == DMS_DELETE ? ec2_cleanup_volume(&d->ec2, d->retry_delete[i], d->cfg.attach_timeout_s)
					 : -EAGAIN;
		if (r < 0)
			memmove(d->retry_delete[keep++], d->retry_delete[i], DMS_VOLUME_ID_MAX);
		else
			log_info("EC2: volume %s deleted on retry", d->retry_delete[i]);
	}
	d->n_retry_delete = keep;
	d->next_retry_delete = daemon_mono_s() + RETRY_DELETE_S;
}

/* ---- provisioning ---------------------------------------------------------- */

int daemon_on_stage(void *ud, enum ec2_stage stage, const char *vol, const char *token, const char *dev)
{
	struct daemon *d = ud;
	int r;
	(void)token; /* not a secret, but not useful in the log either */
	switch (stage) {
	case EC2_STAGE_CREATING:
		if (daemon_stop_requested)
			return -ECANCELED;
		return 0;
	case EC2_STAGE_CREATED:
		snprintf(d->cur_vol, sizeof(d->cur_vol), "%s", vol);
		d->cur_step = "created";
		r = dms_pending_add(NULL, d->cfg.pool, vol);
		if (r < 0)
			return log_error_errno(r, "pool %s: cannot record volume %s as pending: %m", d->cfg.pool, vol);
		log_info("pool %s: volume %s (%llu GiB) available after %.1f s, recorded as pending", d->cfg.pool,
			 vol, (unsigned long long)d->cur_size, daemon_mono_s() - d->cur_t0);
		if (daemon_stop_requested)
			return -ECANCELED;
		return 0;
	case EC2_STAGE_ATTACHING:
		log_info("pool %s: volume %s attaching as %s", d->cfg.pool, vol, dev ? dev : "?");
		d->cur_step = "attaching";
		if (daemon_stop_requested)
			return -ECANCELED;
		return 0;
	case EC2_STAGE_ATTACHED:
		return 0;
	case EC2_STAGE_DELETED:
		d->cur_deleted = true;
		r = dms_pending_remove(NULL, d->cfg.pool, vol);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "pool %s: cannot remove %s from the pending list: %m", d->cfg.pool, vol);
		log_info("pool %s: volume %s deleted after the failed provisioning, no longer pending", d->cfg.pool,
			 vol);
		return 0;
	case EC2_STAGE_CLEANUP_CHECK:
		/* Out of pending under the pool lock first, so udev cannot claim it
		 * after this answer; keep it unless it is certainly not ours. */
		d->cur_verdict = unpend(d, vol);
		return d->cur_verdict == DMS_DELETE ? 0 : 1;
	case EC2_STAGE_CLEANUP_FAILED:
		/* udev must not claim a volume on its way out; delete it later */
		if (unpend(d, vol) == DMS_DELETE)
			remember_delete(d, vol);
		return 0;
	}
	return 0;
}

void daemon_count_attachments(struct daemon *d)
{
	struct ec2_bdm b[64];
	size_t n = 0;
	if (ec2_list_block_devices(&d->ec2, b, 64, &n) < 0)
		return;
	uint32_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = b[i].device_name;
		if (!strncmp(s, "/dev/", 5))
			s += 5;
		if (!strncmp(s, "xvdb", 4) || !strncmp(s, "sdb", 3))
			used++;
	}
	d->attachments_in_use = used;
}

void daemon_provision(struct daemon *d, const struct policy_decision *dec, double now)
{
	char fr[32], th[32];
	daemon_fmt_bytes(d->free_b, fr, sizeof(fr));
	daemon_fmt_bytes(dec->threshold_bytes, th, sizeof(th));
	d->last_reaction_s = d->t_needed > 0 ? now - d->t_needed : 0;
	log_info("pool %s: provisioning a %llu GiB volume (%s: free %s, threshold %s, fill rate %.1f MiB/s, "
		 "time to full %.0f s, %.2f s after the condition arose)",
		 d->cfg.pool, (unsigned long long)dec->size_gib, policy_reason_name(dec->reason), fr, th,
		 fill_rate_bps(&d->fr) / (double)MIB, dec->time_to_full_s > 1e17 ? -1.0 : dec->time_to_full_s,
		 d->last_reaction_s);
	d->cur_vol[0] = '\0';
	d->cur_step = "creating";
	d->cur_deleted = false;
	d->cur_verdict = DMS_DELETE;
	d->cur_t0 = now;
	d->cur_size = dec->size_gib;
	char vol[EC2_ID_MAX];
	int r = ec2_provision_volume(&d->ec2, &d->cfg, dec->size_gib, vol);
	double t1 = daemon_mono_s();
	if (r < 0) {
		d->failed++;
		double bo = dms_provision_backoff_s(r, &d->provision_backoff);
		d->next_provision = t1 + bo;
		if (d->cur_vol[0])
			snprintf(d->last_result, sizeof(d->last_result), "failed: %s (%s); %s %s, %s", strerror(-r),
				 d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-", d->cur_vol, d->cur_step,
				 d->cur_deleted ? "deleted" : d->cur_verdict == DMS_KEEP_MEMBER ? "in the pool"
				 : d->cur_verdict == DMS_DELETE ? "kept for a later delete" : "kept");
		else
			snprintf(d->last_result, sizeof(d->last_result), "failed: %s (%s)", strerror(-r),
				 d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-");
		log_error_errno(r, "pool %s: provisioning %s failed after %.1f s: %m (EC2 %s); next attempt in %.0f s",
				d->cfg.pool, d->cur_vol[0] ? d->cur_vol : "a volume", t1 - now,
				d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-", bo);
		d->cur_vol[0] = '\0';
		daemon_count_attachments(d);   /* a cleanup may have freed a slot */
		return;
	}
	d->provision_backoff = 0;
	d->provisioned++;
	d->attachments_in_use++;
	log_info("pool %s: volume %s (%llu GiB) attached as %s %.1f s after CreateVolume; waiting for the device "
		 "to be appended", d->cfg.pool, vol, (unsigned long long)dec->size_gib, d->ec2.last_device,
		 d->ec2.last_attach_latency_s);
	snprintf(d->last_result, sizeof(d->last_result), "%s attached, waiting for the append", vol);
	if (d->n_waits < MAX_WAITS) {
		struct wait_entry *w = &d->waits[d->n_waits++];
		memset(w, 0, sizeof(*w));
		snprintf(w->id, sizeof(w->id), "%s", vol);
		w->t0 = now;
		w->deadline = t1 + d->cfg.attach_timeout_s;
		w->create_to_attached_s = d->ec2.last_attach_latency_s;
		w->size_gib = dec->size_gib;
		w->fs_before = d->total;
	}
	d->cur_vol[0] = '\0';
}

static void drop_wait(struct daemon *d, size_t i)
{
	memmove(&d->waits[i], &d->waits[i + 1], (d->n_waits - i - 1) * sizeof(d->waits[0]));
	d->n_waits--;
}

static void ensure_delete_on_termination(struct daemon *d, const struct ec2_volume *v);

static void appended(struct daemon *d, struct wait_entry *w, double now)
{
	char a[32], b[32];
	daemon_fmt_bytes(w->fs_before, a, sizeof(a));
	daemon_fmt_bytes(d->st->fs_size_bytes, b, sizeof(b));
	if (w->t0 > 0) {
		double lat = now - w->t0;
		d->attach_latency_s = d->attach_latency_s > 0 ? 0.5 * d->attach_latency_s + 0.5 * lat : lat;
		d->last_attach_s = lat;
		log_info("pool %s: volume %s appended, filesystem %s -> %s, %u members; latency %.1f s "
			 "(CreateVolume -> attached %.1f s, -> grown %.1f s)",
			 d->cfg.pool, w->id, a, b, d->st->member_count, lat, w->create_to_attached_s, lat);
		snprintf(d->last_result, sizeof(d->last_result), "%s appended in %.1f s", w->id, lat);
	} else {
		struct ec2_volume v;
		log_info("pool %s: volume %s (adopted at start) appended, filesystem %s, %u members", d->cfg.pool,
			 w->id, b, d->st->member_count);
		if (d->ec2_ready && ec2_describe_volume(&d->ec2, w->id, &v) == 0)
			ensure_delete_on_termination(d, &v);
		snprintf(d->last_result, sizeof(d->last_result), "%s appended", w->id);
	}
}

void daemon_check_waits(struct daemon *d, double now)
{
	for (size_t i = 0; i < d->n_waits;) {
		struct wait_entry *w = &d->waits[i];
		int c = dms_pending_contains(NULL, d->cfg.pool, w->id);
		if (c == 0) {
			enum dms_keep_verdict v = daemon_keep_or_delete(d, w->id);
			if (v == DMS_KEEP_MEMBER) {
				appended(d, w, now);
			} else {
				log_warning("pool %s: volume %s left the pending list without joining the pool",
					    d->cfg.pool, w->id);
				delete_volume(d, w->id, "not in the pool", v);
			}
			drop_wait(d, i);
			continue;
		}
		if (now >= w->deadline) {
			log_error("pool %s: volume %s was not appended within %u s", d->cfg.pool, w->id,
				  d->cfg.attach_timeout_s);
			enum dms_keep_verdict v = unpend(d, w->id);
			if (v == DMS_KEEP_MEMBER) {
				appended(d, w, now);
			} else {
				d->failed++;
				snprintf(d->last_result, sizeof(d->last_result), "%s: device never appended", w->id);
				delete_volume(d, w->id, "never appended", v);
			}
			drop_wait(d, i);
			continue;
		}
		i++;
	}
}

/* ---- start-up recovery ----------------------------------------------------- */

static bool is_pending(const struct dms_pending *p, const char *vol)
{
	for (size_t i = 0; i < p->count; i++)
		if (!strcmp(p->ids[i], vol))
			return true;
	return false;
}

static const struct ec2_attachment *attached_here(const struct daemon *d, const struct ec2_volume *v)
{
	for (size_t i = 0; i < v->n_attachments; i++)
		if (!strcmp(v->attachments[i].instance_id, d->ec2.instance_id))
			return &v->attachments[i];
	return NULL;
}

/* A run killed between AttachVolume and ModifyInstanceAttribute leaves the
 * volume attached without DeleteOnTermination: it would outlive the instance
 * (a leak) even once appended. Set it (verified) for our attached volumes. */
static void ensure_delete_on_termination(struct daemon *d, const struct ec2_volume *v)
{
	const struct ec2_attachment *a = attached_here(d, v);
	if (!a || a->delete_on_termination || strcmp(a->state, "attached") || !a->device[0])
		return;
	int r = ec2_set_delete_on_termination(&d->ec2, v->volume_id, a->device);
	if (r < 0)
		log_error_errno(r, "pool %s: volume %s is attached as %s without DeleteOnTermination and "
				"setting it failed: %m; it would outlive the instance", d->cfg.pool, v->volume_id,
				a->device);
	else
		log_info("pool %s: volume %s attached as %s by an interrupted provisioning: DeleteOnTermination "
			 "set", d->cfg.pool, v->volume_id, a->device);
}

static void adopt(struct daemon *d, const char *vol)
{
	if (d->n_waits == MAX_WAITS)
		return;
	struct wait_entry *w = &d->waits[d->n_waits++];
	memset(w, 0, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "%s", vol);
	w->deadline = daemon_mono_s() + d->cfg.attach_timeout_s;
	w->fs_before = d->total;
}

/* Pending volumes left by an earlier run, and volumes of this instance's pool
 * that are neither members nor pending (a run killed between CreateVolume and
 * recording the id). */
/* A volume of ours attached here but neither a member nor pending (a daemon
 * killed after AttachVolume whose device appeared before it was recorded):
 * record it as pending and hand its device to the shipped attach unit, the
 * same path udev takes. The daemon itself writes no block device. */
static void adopt_volume(struct daemon *d, const char *vol)
{
	char node[64], unit[96];
	int r = dms_pending_add(NULL, d->cfg.pool, vol);
	if (r < 0) {
		log_error_errno(r, "pool %s: cannot record volume %s as pending: %m", d->cfg.pool, vol);
		return;
	}
	if (dms_nvme_node_by_volume_id(vol, node, sizeof(node)) < 0) {
		log_info("pool %s: volume %s is attached here but its device is not visible yet; recorded as "
			 "pending, udev will append it", d->cfg.pool, vol);
		return;
	}
	const char *name = node + strlen("/dev/");
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return;
	snprintf(unit, sizeof(unit), "dmscale-attach@%s.service", name);
	char *argv[] = { "systemctl", "start", "--no-block", unit, NULL };
	r = dms_run_argv(argv);
	if (r != 0)
		log_error("pool %s: volume %s (%s) is attached here but not in the pool; starting %s failed "
			  "(status %d): run 'dmscale attach %s'", d->cfg.pool, vol, node, unit, r, node);
	else
		log_notice("pool %s: volume %s (%s) was attached here but not in the pool (interrupted "
			   "provisioning): adopting it through %s", d->cfg.pool, vol, node, unit);
}

void daemon_recover(struct daemon *d)
{
	struct dms_pending *p = calloc(1, sizeof(*p));
	struct ec2_volume *vols = calloc(MAX_RECOVER_VOLUMES, sizeof(*vols));
	if (!p || !vols)
		goto out;
	(void)daemon_refresh_pool(d);
	int r = dms_pending_load(NULL, d->cfg.pool, p);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "pool %s: cannot read the pending list: %m", d->cfg.pool);
	for (size_t i = 0; r == 0 && i < p->count; i++) {
		const char *vol = p->ids[i];
		if (dms_membership_from_status(d->st, d->collect_r, vol) == DMS_MEMBERSHIP_MEMBER) {
			(void)dms_pending_remove(NULL, d->cfg.pool, vol);
			continue;
		}
		struct ec2_volume v;
		int e = ec2_describe_volume(&d->ec2, vol, &v);
		if (e == -ENOENT) {
			log_info("pool %s: pending volume %s no longer exists; dropping it", d->cfg.pool, vol);
			(void)dms_pending_remove(NULL, d->cfg.pool, vol);
		} else if (e == 0 && (!strcmp(v.state, "available") || !strcmp(v.state, "creating"))) {
			log_info("pool %s: pending volume %s is %s (provisioning was interrupted)", d->cfg.pool, vol,
				 v.state);
			delete_volume(d, vol, "interrupted provisioning", unpend(d, vol));
		} else if (e == 0 && !strcmp(v.state, "in-use") && !attached_here(d, &v)) {
			log_warning("pool %s: pending volume %s is attached elsewhere; dropping it", d->cfg.pool, vol);
			(void)dms_pending_remove(NULL, d->cfg.pool, vol);
		} else {
			log_info("pool %s: volume %s is pending (%s): waiting up to %u s for it to be appended",
				 d->cfg.pool, vol, e == 0 ? v.state : "state unknown", d->cfg.attach_timeout_s);
			adopt(d, vol);
		}
	}
	size_t n = 0;
	r = ec2_find_pool_volumes(&d->ec2, d->cfg.pool, vols, MAX_RECOVER_VOLUMES, &n);
	if (r < 0 && r != -ENOSPC) {
		log_warning_errno(r, "pool %s: cannot list the pool's volumes by tag: %m", d->cfg.pool);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ec2_volume *v = &vols[i];
		if (strcmp(v->tag_instance, d->ec2.instance_id))
			continue;
		ensure_delete_on_termination(d, v);
		if (dms_membership_from_status(d->st, d->collect_r, v->volume_id) == DMS_MEMBERSHIP_MEMBER ||
		    is_pending(p, v->volume_id))
			continue;
		if (!strcmp(v->state, "available") || !strcmp(v->state, "creating"))
			delete_volume(d, v->volume_id, "orphan of an interrupted provisioning",
				      daemon_keep_or_delete(d, v->volume_id));
		else if (!strcmp(v->state, "in-use") && attached_here(d, v))
			adopt_volume(d, v->volume_id);
	}
out:
	free(vols);
	free(p);
}

