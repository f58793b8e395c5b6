/* Attach: append one device to a pool. Reads only what the append needs (the
 * live table's members and the candidate; a full scan when anything is off),
 * writes the labels in crash-safe batches (docs/FORMAT.md §5.3), converges,
 * and logs the duration of each step (steps.h). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/device.h"
#include "dmscale/failpoint.h"
#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/plan.h"
#include "dmscale/pool.h"
#include "dmscale/pool_api.h"
#include "dmscale/pool_priv.h"
#include "dmscale/scan.h"
#include "dmscale/state.h"
#include "dmscale/steps.h"
#include "dmscale/thin.h"
#include "dmscale/uuid.h"

/* An append in progress: set before the first label write, cleared once the
 * pool converged. While it is there (an attach died half-way, and the labels
 * may name a generation the live table does not have), the next attach reads
 * every disk. Under /run: a reboot clears it, and the boot's assembly reads
 * every disk anyway. */
static void appending_path(const char *pool, char *out, size_t len)
{
	snprintf(out, len, DMS_RUN_DIR "/%s.appending", pool);
}

static int appending_set(const char *pool)
{
	char path[300];
	appending_path(pool, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot record the append in progress: %m", path);
	close(fd);
	return 0;
}

static void appending_clear(const char *pool)
{
	char path[300];
	appending_path(pool, path, sizeof(path));
	(void)unlink(path);
}

static bool appending(const char *pool)
{
	char path[300];
	appending_path(pool, path, sizeof(path));
	return access(path, F_OK) == 0 || errno != ENOENT;
}

bool dms_attach_live_view(const struct dms_scan *s, const char *pool, size_t ndeps, dev_t cand,
			   struct dms_assembly *a)
{
	if (s->unreadable || s->n != ndeps || dms_scan_find(s, cand) >= 0)
		return false;
	if (dms_plan_assembly(s->found, s->n, pool, NULL, a) < 0 || a->label.member_count != ndeps ||
	    a->newest_generation != a->generation)
		return false;
	for (uint32_t i = 0; i < ndeps; i++)
		if (a->stale[i] || a->repair[i])
			return false;
	return true;
}

/* The view an append needs: the members of the live data table and the
 * candidate, read in one submit. 1: complete (dms_attach_live_view); 0: use
 * the full scan; -errno. */
static int view_open_live(const char *pool, const struct dms_device *cand, struct pool_view *v)
{
	dev_t devs[DMS_MAX_MEMBERS + 1];
	size_t n = 0;
	v->s = dms_scan_new();
	v->a = calloc(1, sizeof(*v->a));
	if (!v->s || !v->a)
		return -ENOMEM;
	if (appending(pool) || dms_pool_live_deps(pool, devs, DMS_MAX_MEMBERS, &n) < 0 || n == 0)
		return 0;
	devs[n] = cand->devnum;
	int r = dms_scan_devnums(v->s, devs, n + 1, n);       /* the members' fds stay open for their labels */
	if (r < 0)
		return r;
	return dms_attach_live_view(v->s, pool, n, cand->devnum, v->a) ? 1 : 0;
}

/* The fast view, or else the full scan (dms_pool_view_open). */
static int view_open_for_append(const char *pool, const struct dms_device *cand, struct pool_view *v)
{
	int r = view_open_live(pool, cand, v);
	if (r != 0)
		return r < 0 ? r : 0;
	log_debug("pool %s: reading every disk's label (no live table, or it does not match its labels)", pool);
	dms_pool_view_close(v);
	return dms_pool_view_open(pool, v);
}

static int new_member(const struct dms_device *d, struct dms_member *m)
{
	memset(m, 0, sizeof(*m));
	dms_uuid_generate(m->uuid);
	snprintf(m->volume_id, sizeof(m->volume_id), "%s", d->volume_id);
	int r = dms_member_layout(d->size_bytes, 0, m);
	if (r < 0)
		return log_error_errno(r, "%s: cannot lay out a member on %llu bytes: %m", d->node,
				       (unsigned long long)d->size_bytes);
	return 0;
}

/* The labels of next for its old members (all but the last), in two batches:
 * copy A on every old member, then copy B (docs/FORMAT.md §5.3). */
static int write_old_labels(struct dms_scan *s, struct dms_assembly *a, const struct dms_label *next)
{
	const uint32_t n = next->member_count - 1;
	struct dms_label *ls = calloc(n ? n : 1, sizeof(*ls));
	struct dms_device *devs[DMS_MAX_MEMBERS];
	int r = 0;
	if (!ls)
		return log_error_errno(ENOMEM, "out of memory");
	/* One checked writable fd per member for both batches, through a private
	 * node: no udev "change" and blkid re-probe per member (device.h). */
	for (uint32_t i = 0; i < n && r == 0; i++) {
		dms_label_for_member(next, i, &ls[i]);
		devs[i] = &s->dev[a->member_found[i]];
		r = dms_device_open_checked(devs[i], DMS_DEV_RW | DMS_DEV_QUIET);
	}
	uint64_t t = dms_steps_now_ns();
	if (r == 0)
		r = dms_device_write_labels(devs, ls, n, 0);
	dms_steps_add(DMS_STEP_WRITE_OLD_A, t);
	if (r == 0)
		dms_failpoint(DMS_FP("attach:first-old-labelled"));
	t = dms_steps_now_ns();
	if (r == 0)
		r = dms_device_write_labels(devs, ls, n, 1);
	dms_steps_add(DMS_STEP_WRITE_OLD_B, t);
	for (uint32_t i = 0; r == 0 && i < n; i++)
		a->stale[i] = a->repair[i] = 0;
	for (uint32_t i = 0; i < n; i++)
		dms_device_close(&s->dev[a->member_found[i]]);
	free(ls);
	return r;
}

/* Append d to the pool planned in a (under the lock), then converge. */
static int append_member(struct dms_scan *s, struct dms_assembly *a, struct dms_device *d, const char *pool,
			 const struct dms_pool_params *pp)
{
	struct dms_member m;
	struct dms_label *next = calloc(1, sizeof(*next));
	struct dms_label *ml = calloc(1, sizeof(*ml));
	int r = -ENOMEM;
	if (!next || !ml)
		goto out;
	if (s->n >= DMS_MAX_SCAN) {
		r = log_error_errno(ENOSPC, "pool %s: more than %d labelled devices on this system; cannot add %s",
				    pool, DMS_MAX_SCAN, d->node);
		goto out;
	}
	if ((r = new_member(d, &m)) < 0)
		goto out;
	r = dms_plan_append(&a->label, &m, next);
	if (r < 0) {
		r = log_error_errno(r, "pool %s: cannot add another member (limit %d): %m", pool, DMS_MAX_MEMBERS);
		goto out;
	}
	if (next->target == DMS_TARGET_THIN)   /* metadata sized for the larger pool */
		next->thin_meta_active_bytes = dms_thin_meta_active_for(dms_label_data_bytes(next),
									next->thin_meta_bytes,
									next->thin_meta_active_bytes);
	/* Crash-safe order (docs/FORMAT.md §5.3): the new member's label first
	 * (through the exclusive fd check_candidate validated), then the old
	 * members (copy A of all, then copy B of all), then the table, then the
	 * filesystem. */
	dms_label_for_member(next, next->member_count - 1, ml);
	if ((r = appending_set(pool)) < 0)
		goto out;
	uint64_t t = dms_steps_now_ns();
	r = dms_device_write_label(d, ml);
	dms_steps_add(DMS_STEP_WRITE_NEW, t);
	if (r < 0)
		goto out;
	log_info("%s (%s): labelled as member %u of pool %s, generation %llu, %llu data bytes", d->node,
		 d->volume_id[0] ? d->volume_id : "-", ml->member_index, pool, (unsigned long long)next->generation,
		 (unsigned long long)m.data_bytes);
	dms_failpoint(DMS_FP("attach:new-labelled"));
	/* Rescan-free: the assembly for `next` is the old one plus this device. */
	a->member_found[next->member_count - 1] = s->n;
	if ((r = dms_scan_add(s, d, ml, 3)) < 0)
		goto out;
	s->dev[s->n - 1].fd = -1;       /* the fd stays d's, closed below */
	s->dev[s->n - 1].fd_mode = 0;
	a->label = *next;
	a->generation = next->generation;
	if ((r = write_old_labels(s, a, next)) < 0)
		goto out;
	a->stale[next->member_count - 1] = a->repair[next->member_count - 1] = 0;
	dms_failpoint(DMS_FP("attach:all-labelled"));
	dms_device_close(d);            /* before dm claims it */
	r = dms_pool_reconcile(s, a, pp);
	if (r == 0)
		appending_clear(pool);
	if (r == 0) {
		char what[700];
		snprintf(what, sizeof(what), "attach %s: pool %s member %u of %u", d->node, pool, ml->member_index + 1,
			 next->member_count);
		dms_steps_end(what);
	}
out:
	free(ml);
	free(next);
	return r;
}

static int cmd_attach(const struct dms_opts *o, const char *device);

/* Timed (steps.h): an append logs one line with each step's duration. */
int dms_cmd_attach(const struct dms_opts *o, const char *device)
{
	dms_steps_begin();
	int r = cmd_attach(o, device);
	dms_steps_end(NULL);            /* no append: no line */
	return r;
}

static int cmd_attach(const struct dms_opts *o, const char *device)
{
	struct dms_device d;
	struct dms_label cur;
	unsigned ok;
	char pool[256];
	int r;

	if ((r = dms_pool_setup_kernel()) < 0)
		return r;
	if ((r = dms_device_inspect(device, &d)) < 0)
		return o->udev ? 0 : r;   /* udev: the device may already be gone */
	r = dms_device_read_label(&d, &cur, &ok);
	if (r == 0) {
		/* Already a member of some pool: converge that pool (finishes an
		 * interrupted attach; a device already in the pool changes nothing). */
		if (!o->udev && strcmp(cur.pool_name, o->name))
			return log_error_errno(EEXIST, "%s: member of another pool, '%s'; refusing", device,
					       cur.pool_name);
		log_info("%s: carries a label of pool %s (member %u, generation %llu)", device, cur.pool_name,
			 cur.member_index, (unsigned long long)cur.generation);
		/* ... unless the volume is still pending: an append that got its
		 * table reloaded but failed later (the grow, the unpend) is
		 * finished here. */
		if (o->udev && dms_pool_live_has(cur.pool_name, d.devnum) &&
		    !(d.volume_id[0] && dms_pending_contains(NULL, cur.pool_name, d.volume_id) == 1)) {
			/* Boot: every member's coldplug event lands here once the pool is
			 * assembled; a full scan each would make boot O(members^2). */
			log_info("pool %s: %s is already in the live table; nothing to do", cur.pool_name, device);
			return 0;
		}
		/* udev touches only a pool this machine created or mounted before: a
		 * pool from elsewhere (a restored snapshot, a volume attached for
		 * forensics) is left exactly as it is: not activated, no label
		 * repaired, never mounted. */
		if (o->udev && !dms_state_has_mountpoint(cur.pool_name)) {
			log_notice("%s: member of pool %s, which was never mounted on this machine: left untouched; to use "
				   "it, run 'dmscale assemble --name %s --mountpoint DIR'", device, cur.pool_name,
				   cur.pool_name);
			return 0;
		}
		const struct dms_pool_params pp = dms_pool_params_of(o, NULL, true);
		r = dms_pool_assemble_one(cur.pool_name, &pp);
		if (r == -ENODEV && o->udev) {
			log_info("pool %s: waiting for its other members", cur.pool_name);
			return 0;
		}
		/* Asked by name: the device must now be in the pool, not merely
		 * carry a label that the pool's assembly had to ignore. */
		if (r == 0 && !o->udev && !dms_pool_live_has(cur.pool_name, d.devnum))
			return log_error_errno(EINVAL, "%s: its label names it member %u of pool %s, but the pool does not "
					       "use it (see the warnings above); refusing. Nothing was written to it",
					       device, cur.member_index, cur.pool_name);
		return r;
	}
	if (r != -ENODATA && !o->force)
		return dms_device_label_refusal(&d, r, "repair or --force");

	if (o->udev) {
		if (!d.volume_id[0] || !dms_pending_pool_of(d.volume_id, pool, sizeof(pool))) {
			log_debug("%s: not expected by any pool; leaving it alone", device);
			return 0;
		}
		log_info("%s: volume %s is pending for pool %s: claiming it", device, d.volume_id, pool);
	} else {
		snprintf(pool, sizeof(pool), "%s", o->name);
	}

	uint64_t t = dms_steps_now_ns();
	int lock = dms_pool_lock(pool);
	dms_steps_add(DMS_STEP_LOCK, t);
	if (lock < 0)
		return lock;
	/* The daemon may have given up on the volume meanwhile (it unpends under this lock). */
	if (o->udev && dms_pending_contains(NULL, pool, d.volume_id) != 1) {
		log_info("%s: volume %s is no longer pending for pool %s; leaving it alone", device, d.volume_id, pool);
		dms_pool_unlock(lock);
		return 0;
	}
	struct pool_view v;
	const struct dms_pool_params pp = dms_pool_params_of(o, NULL, false);
	t = dms_steps_now_ns();
	r = view_open_for_append(pool, &d, &v);
	dms_steps_add(DMS_STEP_READ, t);
	if (r == -ENOENT)
		r = log_error_errno(ENOENT, "pool %s does not exist on this system; create it with 'dmscale init'",
				    pool);
	else if (r == 0 && dms_scan_find(v.s, d.devnum) >= 0)
		r = 0;                  /* labelled meanwhile by a concurrent attach */
	else if (r == 0) {
		t = dms_steps_now_ns();
		r = dms_pool_check_candidate(&d, o->force);
		dms_steps_add(DMS_STEP_CHECK, t);
		if (r == 0)
			r = append_member(v.s, v.a, &d, pool, &pp);
	}
	dms_device_close(&d);
	dms_pool_view_close(&v);
	dms_pool_unlock(lock);
	return r;
}
