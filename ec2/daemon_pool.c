/* The daemon's view of its pool: re-reading it (labels, dm, mount), sampling
 * its free space (statvfs, or the thin pool's data usage), waiting for its dm
 * events, and the two witnesses of the keep-or-delete decision (decide.h):
 * membership and the volume's own label. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include "dmscale/device.h"
#include "dmscale/dm.h"
#include "dmscale/log.h"
#include "dmscale/pool.h"
#include "dmscale/status.h"
#include "dmscale/pool_api.h"
#include "ec2/daemon_priv.h"
#include "ec2/resolve.h"

/* Re-read the pool (labels, dm, mount). Not per tick: at start, while the
 * pool is not ready, and when a volume was appended. */
int daemon_refresh_pool(struct daemon *d)
{
	dms_status_release(d->st);   /* collect replaces st->daemon */
	int r = dms_status_collect(d->cfg.pool, d->st);
	d->collect_r = r;
	bool ready = r == 0 && !strcmp(d->st->state, "active") && d->st->fs_mounted;
	struct stat sb;
	if (ready) {
		if (strcmp(d->st->mountpoint, d->cfg.mountpoint) && !d->warned_unmounted)
			log_warning("pool %s is mounted at %s, not at the configured %s: watching %s", d->cfg.pool,
				    d->st->mountpoint, d->cfg.mountpoint, d->st->mountpoint);
		snprintf(d->mountpoint, sizeof(d->mountpoint), "%s", d->st->mountpoint);
		if (stat(d->mountpoint, &sb) < 0)
			ready = false;
		else
			d->fs_dev = sb.st_dev;
	}
	if (ready && !d->pool_ready) {
		char sz[32];
		daemon_fmt_bytes(d->st->fs_size_bytes, sz, sizeof(sz));
		log_info("pool %s: watching %s (%s, %u member(s)) every %u ms", d->cfg.pool, d->mountpoint, sz,
			 d->st->member_count, d->cfg.poll_interval_ms);
		d->warned_unmounted = false;
	} else if (!ready && (d->pool_ready || !d->warned_unmounted)) {
		log_warning("pool %s: not active and mounted (%s); waiting for it", d->cfg.pool,
			    r < 0 ? strerror(-r) : d->st->state);
		d->warned_unmounted = true;
	}
	bool thin = ready && !strcmp(d->st->target, "thin");
	if (thin && !d->thin)
		log_info("pool %s: thin pool: provisioning follows its data usage; woken by its dm events "
			 "(low water mark %llu bytes) and every %.0f s", d->cfg.pool,
			 (unsigned long long)d->st->pool.low_water_mark_bytes, THIN_SAFETY_S);
	d->thin = thin;
	snprintf(d->tpool, sizeof(d->tpool), "dmscale-%s-tpool", d->cfg.pool);
	d->pool_ready = ready;
	d->next_pool_refresh = daemon_mono_s() + POOL_REFRESH_IDLE_S;
	return ready ? 0 : -ENODEV;
}

/* Log a change of the thin pool's mode (once per change). */
static void note_thin_mode(struct daemon *d, const struct dms_thin_pool_status *ps_in)
{
	const struct dms_thin_pool_status ps = *ps_in;
	if (ps.mode != d->thin_mode) {
		if (ps.mode == DMS_THIN_OUT_OF_DATA)
			log_warning("pool %s: thin pool out of data space: writes are queued (up to the kernel's "
				    "no_space_timeout) until a volume is appended", d->cfg.pool);
		else if (ps.mode == DMS_THIN_RO || ps.mode == DMS_THIN_FAIL)
			log_error("pool %s: thin pool is %s: the kernel stopped trusting its metadata; run "
				  "'dmscale assemble' after a reboot for repair instructions", d->cfg.pool,
				  dms_thin_mode_name(ps.mode));
		else
			log_info("pool %s: thin pool back to %s", d->cfg.pool, dms_thin_mode_name(ps.mode));
		d->thin_mode = ps.mode;
	}
}

/* While the EC2 client waits (the attachment poll), the pool may run out of
 * data space: say so when it happens, not after the append. Mode only: no
 * sampling, no metadata growth from inside a wait. */
void daemon_thin_note_mode(struct daemon *d)
{
	struct dms_thin_pool_status ps;
	unsigned ev = d->event_nr;
	if (d->thin && d->pool_ready && dms_thin_status_read(d->tpool, &ps, &ev) == 0)
		note_thin_mode(d, &ps);
}

/* Thin: the filesystem is virtual; what fills is the pool's data device. */
static int sample_thin(struct daemon *d, double now)
{
	struct dms_thin_pool_status ps;
	if (dms_thin_status_read(d->tpool, &ps, &d->event_nr) < 0) {
		log_warning("pool %s: cannot read the status of %s; waiting for the pool", d->cfg.pool, d->tpool);
		d->pool_ready = false;
		d->warned_unmounted = true;
		return -ENODEV;
	}
	note_thin_mode(d, &ps);
	d->total = ps.data_total_blocks * DMS_THIN_BLOCK_BYTES;
	d->used = ps.data_used_blocks * DMS_THIN_BLOCK_BYTES;
	d->free_b = d->total - d->used;
	fill_rate_update(&d->fr, now, d->used);
	if (ps.meta_total_blocks && ps.meta_used_blocks * 100 > ps.meta_total_blocks * THIN_META_GROW_PERCENT &&
	    now >= d->next_meta_grow && ps.mode == DMS_THIN_RW) {
		log_info("pool %s: thin metadata %llu%% used", d->cfg.pool,
			 (unsigned long long)(ps.meta_used_blocks * 100 / ps.meta_total_blocks));
		if (dms_pool_thin_grow_metadata(d->cfg.pool) < 0)
			d->next_meta_grow = now + THIN_META_RETRY_S;
	}
	return 0;
}

/* Thin: sleep until the pool's next dm event (low water mark crossed, out of
 * space, mode change, a resume) or for at most wait_s; SIGTERM/SIGINT too. */
void daemon_wait_thin_event(struct daemon *d, double wait_s)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	/* periodic, so a tick that lands just before the ioctl only costs one period */
	it.it_value.tv_sec = it.it_interval.tv_sec = (time_t)wait_s;
	it.it_value.tv_usec = it.it_interval.tv_usec = (suseconds_t)((wait_s - floor(wait_s)) * 1e6);
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = it.it_interval.tv_usec = 1000;
	setitimer(ITIMER_REAL, &it, NULL);
	int r = daemon_stop_requested ? -EINTR : dms_dm_wait_event(d->tpool, d->event_nr);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (r == 0)
		log_debug("pool %s: dm event on %s", d->cfg.pool, d->tpool);
	else if (r != -EINTR)
		daemon_sleep_until(daemon_mono_s() + wait_s);     /* pool gone: the tick notices */
}

/* statvfs + a device check that the mount is still ours. No allocation. */
int daemon_sample(struct daemon *d, double now)
{
	struct statvfs sv;
	struct stat sb;
	if (statvfs(d->mountpoint, &sv) < 0 || stat(d->mountpoint, &sb) < 0 || sb.st_dev != d->fs_dev) {
		if (d->pool_ready)
			log_warning("pool %s: %s is no longer its mounted filesystem", d->cfg.pool, d->mountpoint);
		d->pool_ready = false;
		d->warned_unmounted = true;
		return -ENODEV;
	}
	if (d->thin)
		return sample_thin(d, now);
	d->total = (bytes_t)sv.f_blocks * sv.f_frsize;
	d->free_b = (bytes_t)sv.f_bavail * sv.f_frsize;
	d->used = d->total - (bytes_t)sv.f_bfree * sv.f_frsize;
	fill_rate_update(&d->fr, now, d->used);
	return 0;
}

/* ---- keep or delete ---------------------------------------------------------- */

enum dms_vol_membership daemon_status_membership(void *ud, const char *pool, const char *volume_id)
{
	/* The core's answer, from a fresh read of every label: any read or
	 * planning error is UNKNOWN, and UNKNOWN keeps the volume. */
	struct daemon *d = ud;
	/* The caller is deciding about a volume it just saw appended or not:
	 * its own view of the pool (size, member count, limits) follows. */
	(void)daemon_refresh_pool(d);
	struct dms_pool_query *q = calloc(1, sizeof(*q));
	if (!q)
		return DMS_MEMBERSHIP_UNKNOWN;
	(void)dms_pool_query(pool, q);
	enum dms_membership m = dms_pool_membership(q, volume_id);
	free(q);
	return m == DMS_MEMBER_YES ? DMS_MEMBERSHIP_MEMBER :
	       m == DMS_MEMBER_NO ? DMS_MEMBERSHIP_NOT_MEMBER : DMS_MEMBERSHIP_UNKNOWN;
}

/* What the volume's own label says, read from its device on this instance. */
enum dms_volume_label daemon_read_volume_label(const char *vol, char pool[DMS_POOL_NAME_MAX])
{
	char node[64];
	int r = dms_nvme_node_by_volume_id(vol, node, sizeof(node));
	if (r == -ENOENT)
		return DMS_VOLUME_LABEL_NO_DEVICE;
	if (r < 0)
		return DMS_VOLUME_LABEL_UNKNOWN;
	struct dms_device dev;
	if (dms_device_inspect(node, &dev) < 0 || strcmp(dev.volume_id, vol) || dms_device_open_ro(&dev) < 0)
		return DMS_VOLUME_LABEL_UNKNOWN;
	struct dms_label *l = calloc(1, sizeof(*l));
	unsigned copies = 0;
	r = l ? dms_device_read_label(&dev, l, &copies) : -ENOMEM;
	dms_device_close(&dev);
	enum dms_volume_label v = DMS_VOLUME_LABEL_UNKNOWN;
	if (r == -ENODATA) {
		v = DMS_VOLUME_LABEL_BLANK;
	} else if (r == 0) {
		v = DMS_VOLUME_LABEL_POOL;
		snprintf(pool, DMS_POOL_NAME_MAX, "%s", l->pool_name);
	}
	free(l);
	return v;
}

enum dms_keep_verdict daemon_keep_or_delete(struct daemon *d, const char *vol)
{
	struct dms_keep_input in;
	memset(&in, 0, sizeof(in));
	in.membership = d->membership(d->membership_ud, d->cfg.pool, vol);
	if (in.membership == DMS_MEMBERSHIP_NOT_MEMBER)
		in.label = d->read_label(vol, in.label_pool);
	enum dms_keep_verdict v = dms_keep_decide(&in);
	if (v == DMS_KEEP_LABELLED)
		log_error("pool %s: volume %s is not in the pool's member list, but its own label names pool %s: "
			  "not deleting it (an interrupted attach, or another pool's volume); check 'dmscale status' "
			  "and delete it by hand only if it holds nothing", d->cfg.pool, vol, in.label_pool);
	else if (v == DMS_KEEP_UNKNOWN || v == DMS_KEEP_LABEL_UNREADABLE)
		log_warning("pool %s: volume %s: %s; keeping it (never deleted on a guess)", d->cfg.pool, vol,
			    dms_keep_verdict_name(v));
	return v;
}
