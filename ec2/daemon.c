/* `dmscale daemon`. See daemon.h. */
#include "ec2/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dmscale/dm.h"
#include "dmscale/log.h"
#include "dmscale/metrics.h"
#include "dmscale/thin.h"
#include "dmscale/pending.h"
#include "dmscale/fs.h"
#include "ec2/resolve.h"
#include "dmscale/pool.h"
#include "dmscale/status.h"
#include "dmscale/units.h"
#include "ec2/config.h"
#include "ec2/ec2.h"
#include "ec2/policy.h"

static const char *const usage_daemon =
	"usage: dmscale daemon [--config FILE] [--once]\n"
	"\n"
	"Watch the pool's free space (statvfs every poll_interval_ms) and provision EBS volumes\n"
	"through the EC2 API when it runs low or fills faster than a volume can arrive; new\n"
	"volumes are appended by 'dmscale attach --udev'. Stops cleanly on SIGTERM/SIGINT.\n"
	"  --config FILE  JSON configuration (default " DMS_CONFIG_PATH ")\n"
	"  --once         one check (and at most one provisioning, waited for), then exit\n";

#define MAX_WAITS 8
#define MAX_RETRY_DELETE 16
#define POOL_REFRESH_IDLE_S 5.0    /* while the pool is not active/mounted */
#define STATE_WRITE_S 10.0
#define RETRY_DELETE_S 60.0
#define MAX_RECOVER_VOLUMES 128
#define THIN_SAFETY_S 5.0          /* thin: timer between dm events when nothing is in flight */
#define THIN_META_GROW_PERCENT 60  /* thin: grow metadata above this usage */
#define THIN_META_RETRY_S 30.0

struct wait_entry {
	char id[DMS_VOLUME_ID_MAX];
	double t0;              /* CreateVolume about to be sent (0: adopted at start) */
	double deadline;
	double create_to_attached_s;
	uint64_t size_gib;
	bytes_t fs_before;
};

struct daemon {
	struct dms_config cfg;
	struct policy_limits limits;
	struct ec2_client ec2;
	bool ec2_ready;
	bool recovered;
	double next_ec2_init;
	double ec2_init_backoff;

	/* the pool, refreshed by dms_status_collect outside the hot path */
	struct dms_status *st;
	bool pool_ready;        /* active and mounted at mountpoint */
	dev_t fs_dev;
	char mountpoint[1024];
	double next_pool_refresh;
	uint32_t attachments_in_use;

	/* per-tick state (no allocation) */
	struct fill_rate fr;
	bytes_t total, free_b, used;
	double attach_latency_s;     /* measured CreateVolume -> fs grown; 0 = none yet */
	double last_attach_s;        /* the same, of the last volume appended */

	/* in flight */
	struct wait_entry waits[MAX_WAITS];
	size_t n_waits;
	char cur_vol[DMS_VOLUME_ID_MAX];   /* provisioning in progress */
	const char *cur_step;              /* last step it reached, for the status */
	bool cur_deleted;                  /* its cleanup deleted the volume */
	double cur_t0;
	uint64_t cur_size;

	char retry_delete[MAX_RETRY_DELETE][DMS_VOLUME_ID_MAX];
	size_t n_retry_delete;
	double next_retry_delete;

	bool once;              /* --once: at most one provisioning */
	bool provisioned_once;

	/* provisioning failures back off */
	double next_provision;
	double provision_backoff;

	/* logged once per change */
	bool needed;
	double t_needed;
	enum policy_reason last_blocked;
	bool warned_unmounted;
	bool warned_no_ec2;

	/* for the state file / status */
	double next_state_write;
	char last_result[160];
	unsigned long provisioned, failed;
	double last_reaction_s;
	struct policy_decision last_decision;
	int metrics_err;             /* last metrics_textfile error, logged once */

	/* dm-thin pools: usage from the pool's status, wake-ups from its dm events */
	bool thin;
	char tpool[160];
	unsigned event_nr;
	enum dms_thin_mode thin_mode;
	double next_meta_grow;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until `until` (monotonic) or a stop signal, without the race between
 * checking the flag and sleeping: the signals are blocked outside ppoll. */
static void sleep_until(double until)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	double left = until - mono_s();
	if (!stop_requested && left > 0) {
		struct timespec ts = {.tv_sec = (time_t)left,
				      .tv_nsec = (long)((left - floor(left)) * 1e9)};
		(void)ppoll(NULL, 0, &ts, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void fmt_bytes(bytes_t b, char *out, size_t len)
{
	if (b >= GIB)
		snprintf(out, len, "%.2f GiB", (double)b / (double)GIB);
	else
		snprintf(out, len, "%.1f MiB", (double)b / (double)MIB);
}

/* ---- the pool -------------------------------------------------------------- */

static bool is_member(const struct daemon *d, const char *vol)
{
	for (uint32_t i = 0; i < d->st->member_count && i < DMS_MAX_MEMBERS; i++)
		if (!strcmp(d->st->members[i].volume_id, vol))
			return true;
	return false;
}

/* Re-read the pool (labels, dm, mount). Not per tick: at start, while the
 * pool is not ready, and when a volume was appended. */
static int refresh_pool(struct daemon *d)
{
	dms_status_release(d->st);   /* collect replaces st->daemon */
	int r = dms_status_collect(d->cfg.pool, d->st);
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
		fmt_bytes(d->st->fs_size_bytes, sz, sizeof(sz));
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
	d->next_pool_refresh = mono_s() + POOL_REFRESH_IDLE_S;
	return ready ? 0 : -ENODEV;
}

/* Thin: the filesystem is virtual; what fills is the pool's data device. */
static int sample_thin(struct daemon *d, double now)
{
	char type[32], params[512];
	struct dms_thin_pool_status ps;
	if (dms_dm_status(d->tpool, type, sizeof(type), params, sizeof(params), &d->event_nr) < 0 ||
	    strcmp(type, "thin-pool") || dms_thin_parse_pool_status(params, &ps) < 0) {
		log_warning("pool %s: cannot read the status of %s; waiting for the pool", d->cfg.pool, d->tpool);
		d->pool_ready = false;
		d->warned_unmounted = true;
		return -ENODEV;
	}
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

static void on_alarm(int sig)
{
	(void)sig;
}

/* Thin: sleep until the pool's next dm event (low water mark crossed, out of
 * space, mode change, a resume) or for at most wait_s; SIGTERM/SIGINT too. */
static void wait_thin_event(struct daemon *d, double wait_s)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	/* periodic, so a tick that lands just before the ioctl only costs one period */
	it.it_value.tv_sec = it.it_interval.tv_sec = (time_t)wait_s;
	it.it_value.tv_usec = it.it_interval.tv_usec = (suseconds_t)((wait_s - floor(wait_s)) * 1e6);
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = it.it_interval.tv_usec = 1000;
	setitimer(ITIMER_REAL, &it, NULL);
	int r = stop_requested ? -EINTR : dms_dm_wait_event(d->tpool, d->event_nr);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (r == 0)
		log_debug("pool %s: dm event on %s", d->cfg.pool, d->tpool);
	else if (r != -EINTR)
		sleep_until(mono_s() + wait_s);     /* pool gone: the tick notices */
}

/* statvfs + a device check that the mount is still ours. No allocation. */
static int sample(struct daemon *d, double now)
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

/* ---- the pending list, under the pool lock like `dmscale attach` ------------- */


/* Take vol out of the pending list so that udev can no longer claim it.
 * Returns 1 if it is (meanwhile) a member of the pool, 0 if not. */
static int unpend(struct daemon *d, const char *vol)
{
	int lock = dms_pool_lock(d->cfg.pool);
	int r = dms_pending_remove(NULL, d->cfg.pool, vol);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "pool %s: cannot remove %s from the pending list: %m", d->cfg.pool, vol);
	if (lock >= 0)
		close(lock);
	(void)refresh_pool(d);
	return is_member(d, vol) ? 1 : 0;
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
	d->next_retry_delete = mono_s() + RETRY_DELETE_S;
}

static void delete_volume(struct daemon *d, const char *vol, const char *why)
{
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

static void retry_deletes(struct daemon *d, double now)
{
	if (!d->n_retry_delete || now < d->next_retry_delete || !d->ec2_ready)
		return;
	size_t keep = 0;
	for (size_t i = 0; i < d->n_retry_delete; i++) {
		int r = ec2_cleanup_volume(&d->ec2, d->retry_delete[i], d->cfg.attach_timeout_s);
		if (r < 0)
			memmove(d->retry_delete[keep++], d->retry_delete[i], DMS_VOLUME_ID_MAX);
		else
			log_info("EC2: volume %s deleted on retry", d->retry_delete[i]);
	}
	d->n_retry_delete = keep;
	d->next_retry_delete = mono_s() + RETRY_DELETE_S;
}

/* ---- provisioning ---------------------------------------------------------- */

static int on_stage(void *ud, enum ec2_stage stage, const char *vol, const char *token, const char *dev)
{
	struct daemon *d = ud;
	int r;
	(void)token; /* not a secret, but not useful in the log either */
	switch (stage) {
	case EC2_STAGE_CREATING:
		if (stop_requested)
			return -ECANCELED;
		return 0;
	case EC2_STAGE_CREATED:
		snprintf(d->cur_vol, sizeof(d->cur_vol), "%s", vol);
		d->cur_step = "created";
		r = dms_pending_add(NULL, d->cfg.pool, vol);
		if (r < 0)
			return log_error_errno(r, "pool %s: cannot record volume %s as pending: %m", d->cfg.pool, vol);
		log_info("pool %s: volume %s (%llu GiB) available after %.1f s, recorded as pending", d->cfg.pool,
			 vol, (unsigned long long)d->cur_size, mono_s() - d->cur_t0);
		if (stop_requested)
			return -ECANCELED;
		return 0;
	case EC2_STAGE_ATTACHING:
		log_info("pool %s: volume %s attaching as %s", d->cfg.pool, vol, dev ? dev : "?");
		d->cur_step = "attaching";
		if (stop_requested)
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
		 * after this answer; keep it if it is already a member. */
		return unpend(d, vol);
	case EC2_STAGE_CLEANUP_FAILED:
		/* udev must not claim a volume on its way out; delete it later */
		(void)unpend(d, vol);
		remember_delete(d, vol);
		return 0;
	}
	return 0;
}

static double reason_backoff(int r)
{
	switch (-r) {
	case EDQUOT: return 300;   /* EC2 limit: not a loop */
	case EACCES: return 600;   /* permissions: someone has to fix the role */
	default: return 0;
	}
}

static void count_attachments(struct daemon *d)
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

static void provision(struct daemon *d, const struct policy_decision *dec, double now)
{
	char fr[32], th[32];
	fmt_bytes(d->free_b, fr, sizeof(fr));
	fmt_bytes(dec->threshold_bytes, th, sizeof(th));
	d->last_reaction_s = d->t_needed > 0 ? now - d->t_needed : 0;
	log_info("pool %s: provisioning a %llu GiB volume (%s: free %s, threshold %s, fill rate %.1f MiB/s, "
		 "time to full %.0f s, %.2f s after the condition arose)",
		 d->cfg.pool, (unsigned long long)dec->size_gib, policy_reason_name(dec->reason), fr, th,
		 fill_rate_bps(&d->fr) / (double)MIB, dec->time_to_full_s > 1e17 ? -1.0 : dec->time_to_full_s,
		 d->last_reaction_s);
	d->cur_vol[0] = '\0';
	d->cur_step = "creating";
	d->cur_deleted = false;
	d->cur_t0 = now;
	d->cur_size = dec->size_gib;
	char vol[EC2_ID_MAX];
	int r = ec2_provision_volume(&d->ec2, &d->cfg, dec->size_gib, vol);
	double t1 = mono_s();
	if (r < 0) {
		d->failed++;
		double bo = reason_backoff(r);
		if (!bo) {
			d->provision_backoff = d->provision_backoff ? fmin(d->provision_backoff * 2, 300) : 10;
			bo = d->provision_backoff;
		}
		d->next_provision = t1 + bo;
		if (d->cur_vol[0])
			snprintf(d->last_result, sizeof(d->last_result), "failed: %s (%s); %s %s, %s", strerror(-r),
				 d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-", d->cur_vol, d->cur_step,
				 d->cur_deleted ? "deleted" : is_member(d, d->cur_vol) ? "in the pool"
				 : "kept for a later delete");
		else
			snprintf(d->last_result, sizeof(d->last_result), "failed: %s (%s)", strerror(-r),
				 d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-");
		log_error_errno(r, "pool %s: provisioning %s failed after %.1f s: %m (EC2 %s); next attempt in %.0f s",
				d->cfg.pool, d->cur_vol[0] ? d->cur_vol : "a volume", t1 - now,
				d->ec2.last_error.code[0] ? d->ec2.last_error.code : "-", bo);
		d->cur_vol[0] = '\0';
		count_attachments(d);   /* a cleanup may have freed a slot */
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
	fmt_bytes(w->fs_before, a, sizeof(a));
	fmt_bytes(d->st->fs_size_bytes, b, sizeof(b));
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

static void check_waits(struct daemon *d, double now)
{
	for (size_t i = 0; i < d->n_waits;) {
		struct wait_entry *w = &d->waits[i];
		int c = dms_pending_contains(NULL, d->cfg.pool, w->id);
		if (c == 0) {
			(void)refresh_pool(d);
			if (is_member(d, w->id)) {
				appended(d, w, now);
			} else {
				log_warning("pool %s: volume %s left the pending list without joining the pool",
					    d->cfg.pool, w->id);
				delete_volume(d, w->id, "not in the pool");
			}
			drop_wait(d, i);
			continue;
		}
		if (now >= w->deadline) {
			log_error("pool %s: volume %s was not appended within %u s", d->cfg.pool, w->id,
				  d->cfg.attach_timeout_s);
			if (unpend(d, w->id) == 1) {
				appended(d, w, now);
			} else {
				d->failed++;
				snprintf(d->last_result, sizeof(d->last_result), "%s: device never appended", w->id);
				delete_volume(d, w->id, "never appended");
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
	w->deadline = mono_s() + d->cfg.attach_timeout_s;
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

static void recover(struct daemon *d)
{
	struct dms_pending *p = calloc(1, sizeof(*p));
	struct ec2_volume *vols = calloc(MAX_RECOVER_VOLUMES, sizeof(*vols));
	if (!p || !vols)
		goto out;
	(void)refresh_pool(d);
	int r = dms_pending_load(NULL, d->cfg.pool, p);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "pool %s: cannot read the pending list: %m", d->cfg.pool);
	for (size_t i = 0; r == 0 && i < p->count; i++) {
		const char *vol = p->ids[i];
		if (is_member(d, vol)) {
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
			(void)unpend(d, vol);
			delete_volume(d, vol, "interrupted provisioning");
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
		if (is_member(d, v->volume_id) || is_pending(p, v->volume_id))
			continue;
		if (!strcmp(v->state, "available") || !strcmp(v->state, "creating"))
			delete_volume(d, v->volume_id, "orphan of an interrupted provisioning");
		else if (!strcmp(v->state, "in-use") && attached_here(d, v))
			adopt_volume(d, v->volume_id);
	}
out:
	free(vols);
	free(p);
}

/* ---- state file for `dmscale status` --------------------------------------- */

/* The node_exporter textfile (metrics_textfile): what `dmscale status
 * --prometheus` shows, with the latest statvfs sample and this state. */
static void write_metrics(struct daemon *d, const char *state_json)
{
	if (!d->cfg.metrics_textfile[0])
		return;
	struct dms_fs_usage u;   /* fresher than the last dms_status_collect */
	if (d->pool_ready && dms_fs_usage(d->mountpoint, &u) == 0) {
		d->st->fs_size_bytes = u.size_bytes;
		d->st->fs_used_bytes = u.used_bytes;
		d->st->fs_free_bytes = u.free_bytes;
	}
	if (d->pool_ready && d->thin && d->total && d->st->pool.known) {   /* sample_thin's */
		d->st->pool.data_total_bytes = d->total;
		d->st->pool.data_used_bytes = d->used;
		snprintf(d->st->pool.mode, sizeof(d->st->pool.mode), "%s", dms_thin_mode_name(d->thin_mode));
	}
	(void)dms_pending_load(NULL, d->cfg.pool, &d->st->pending);
	int r = dms_metrics_write_textfile(d->cfg.metrics_textfile, d->st, state_json, !stop_requested);
	if (r == -ENOENT && r != d->metrics_err)
		log_debug("metrics %s: no such directory (node_exporter not installed?): not written",
			  d->cfg.metrics_textfile);
	else if (r < 0 && r != d->metrics_err)
		log_warning_errno(r, "metrics %s: cannot write: %m", d->cfg.metrics_textfile);
	d->metrics_err = r;
}

static void write_state(struct daemon *d, double now)
{
	char path[256], tmp[272], buf[2048];
	snprintf(path, sizeof(path), DMS_RUN_DIR "/%s.daemon.json", d->cfg.pool);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	const struct policy_decision *dec = &d->last_decision;
	int n = snprintf(buf, sizeof(buf),
			 "{\"pid\":%ld,\"pool\":\"%s\",\"mountpoint\":\"%s\",\"pool_ready\":%s,"
			 "\"ec2_ready\":%s,\"size_bytes\":%llu,\"free_bytes\":%llu,\"threshold_bytes\":%llu,"
			 "\"fill_rate_bps\":%.0f,\"time_to_full_s\":%.0f,\"attach_latency_s\":%.2f,"
			 "\"last_attach_s\":%.2f,\"last_create_to_attached_s\":%.2f,"
			 "\"needed\":%s,\"reason\":\"%s\",\"in_flight\":%zu,\"provisioned\":%lu,\"failed\":%lu,"
			 "\"api_calls\":%lu,\"retries\":%lu,\"throttled\":%lu,\"last_result\":\"%s\","
			 "\"last_error\":\"%s\"}\n",
			 (long)getpid(), d->cfg.pool, d->mountpoint, d->pool_ready ? "true" : "false",
			 d->ec2_ready ? "true" : "false", (unsigned long long)d->total,
			 (unsigned long long)d->free_b, (unsigned long long)dec->threshold_bytes,
			 fill_rate_bps(&d->fr), dec->time_to_full_s > 1e17 ? -1.0 : dec->time_to_full_s,
			 d->attach_latency_s, d->last_attach_s, d->ec2.last_attach_latency_s,
			 dec->needed ? "true" : "false", policy_reason_name(dec->reason),
			 d->n_waits, d->provisioned, d->failed, d->ec2.api_calls, d->ec2.retries, d->ec2.throttled,
			 d->last_result, d->ec2.last_error.code);
	d->next_state_write = now + STATE_WRITE_S;
	write_metrics(d, n >= 0 && (size_t)n < sizeof(buf) ? buf : "{}");
	if (n < 0 || (size_t)n >= sizeof(buf) || strpbrk(d->last_result, "\"\\") || strpbrk(d->mountpoint, "\"\\"))
		return;
	(void)mkdir(DMS_RUN_DIR, 0755);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	bool ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		(void)unlink(tmp);
}

/* ---- the loop --------------------------------------------------------------- */

static void try_ec2_init(struct daemon *d, double now)
{
	if (d->ec2_ready || now < d->next_ec2_init)
		return;
	int r = ec2_client_init(&d->ec2, &d->cfg);
	if (r < 0) {
		d->ec2_init_backoff = d->ec2_init_backoff ? fmin(d->ec2_init_backoff * 2, 60) : 2;
		d->next_ec2_init = mono_s() + d->ec2_init_backoff;
		if (!d->warned_no_ec2)
			log_error_errno(r, "EC2 client not ready: %m; retrying (every <= 60 s) while watching the pool");
		d->warned_no_ec2 = true;
		return;
	}
	d->ec2.on_stage = on_stage;
	d->ec2.stage_ud = d;
	d->ec2_ready = true;
	d->ec2_init_backoff = 0;
	if (d->warned_no_ec2)
		log_info("EC2 client ready");
	d->warned_no_ec2 = false;
	if (!d->recovered) {
		recover(d);
		d->recovered = true;
	}
	count_attachments(d);
}

static void tick(struct daemon *d)
{
	double now = mono_s();
	if (!d->pool_ready && now >= d->next_pool_refresh)
		(void)refresh_pool(d);
	try_ec2_init(d, now);
	retry_deletes(d, now);
	if (!d->pool_ready)
		return;
	now = mono_s();
	if (sample(d, now) < 0)
		return;
	check_waits(d, now);
	if (!d->pool_ready)
		return;

	struct policy_input in = {
		.total_bytes = d->total,
		.free_bytes = d->free_b,
		.fill_rate_bps = fill_rate_bps(&d->fr),
		.attach_latency_s = d->attach_latency_s,
		.n_volumes = d->st->member_count,
		.pool_gib = ((d->thin ? d->total : d->st->size_bytes) + GIB - 1) / GIB,
		.attachments_in_use = d->attachments_in_use,
		.in_flight = (uint32_t)d->n_waits,
	};
	struct policy_decision dec;
	if (policy_decide(&d->limits, &in, &dec) < 0)
		return;
	d->last_decision = dec;
	if (dec.needed != d->needed) {
		char fr[32], th[32];
		fmt_bytes(d->free_b, fr, sizeof(fr));
		fmt_bytes(dec.threshold_bytes, th, sizeof(th));
		if (dec.needed)
			log_info("pool %s: more space needed: free %s, threshold %s, fill rate %.1f MiB/s (%s)",
				 d->cfg.pool, fr, th, in.fill_rate_bps / (double)MIB, policy_reason_name(dec.reason));
		else
			log_info("pool %s: free space back to %s (threshold %s)", d->cfg.pool, fr, th);
		d->needed = dec.needed;
		d->t_needed = dec.needed ? now : 0;
		d->last_blocked = POLICY_NO_NEED;
		write_state(d, now);
	}
	if (dec.needed && !dec.provision && dec.reason != d->last_blocked) {
		if (dec.reason != POLICY_IN_FLIGHT)
			log_warning("pool %s: needs space but cannot provision: limit %s reached (%u volumes, %llu GiB, "
				    "%u attachments)", d->cfg.pool, policy_reason_name(dec.reason), in.n_volumes,
				    (unsigned long long)in.pool_gib, in.attachments_in_use);
		d->last_blocked = dec.reason;
	}
	if (dec.provision && !stop_requested) {
		if (!d->ec2_ready) {
			if (d->last_blocked != POLICY_NO_NEED + 100)
				log_warning("pool %s: needs a volume but the EC2 client is not ready", d->cfg.pool);
			d->last_blocked = POLICY_NO_NEED + 100;
		} else if (now >= d->next_provision && !(d->once && d->provisioned_once)) {
			d->provisioned_once = true;
			provision(d, &dec, now);
			d->last_blocked = POLICY_NO_NEED;
			write_state(d, mono_s());
		}
	}
	if (now >= d->next_state_write)
		write_state(d, now);
}

enum { OPT_CONFIG = 1000, OPT_ONCE, OPT_HELP };

int dms_cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, OPT_CONFIG},
		{"once", no_argument, NULL, OPT_ONCE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	bool once = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_ONCE: once = true; break;
		case 'h':
		case OPT_HELP: fputs(usage_daemon, stdout); return 0;
		default: fputs(usage_daemon, stderr); return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dmscale daemon: unexpected argument '%s'\n%s", argv[optind], usage_daemon);
		return -EINVAL;
	}

	struct daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return log_error_errno(ENOMEM, "daemon: out of memory");
	d->st = calloc(1, sizeof(*d->st));
	if (!d->st) {
		free(d);
		return log_error_errno(ENOMEM, "daemon: out of memory");
	}
	int r = dms_config_load(config, &d->cfg);
	if (r < 0) {
		free(d->st);
		free(d);
		return r;
	}
	d->once = once;
	policy_limits_from_config(&d->cfg, &d->limits);
	fill_rate_init(&d->fr, fmax(5.0, 5.0 * d->cfg.poll_interval_ms / 1000.0));
	snprintf(d->mountpoint, sizeof(d->mountpoint), "%s", d->cfg.mountpoint);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;      /* no SA_RESTART: interrupts the dm event wait */
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char th[32];
	fmt_bytes(d->cfg.min_free_bytes, th, sizeof(th));
	log_info("dmscale daemon %s: pool %s at %s, min free %s / %.0f %%, volumes %llu..%llu GiB %s, "
		 "at most %u volumes / %llu GiB", DMSCALE_VERSION, d->cfg.pool, d->cfg.mountpoint, th,
		 d->cfg.min_free_percent, (unsigned long long)d->cfg.min_volume_gib,
		 (unsigned long long)d->cfg.max_volume_gib, d->cfg.volume_type, d->cfg.max_volumes,
		 (unsigned long long)d->cfg.max_total_gib);
	(void)refresh_pool(d);
	try_ec2_init(d, mono_s());
	/* the client holds its own copy of the credentials */
	dms_config_wipe_secrets(&d->cfg);

	double period = d->cfg.poll_interval_ms / 1000.0;
	double next = mono_s();
	while (!stop_requested) {
		tick(d);
		if (once && d->n_waits == 0)
			break;
		if (d->thin && d->pool_ready) {
			wait_thin_event(d, d->n_waits || d->needed ? period : fmax(period, THIN_SAFETY_S));
			next = mono_s();
			continue;
		}
		next += period;
		double now = mono_s();
		if (next < now)      /* a provisioning took a while: no catch-up burst */
			next = now + period;
		sleep_until(next);
	}
	if (stop_requested)
		log_info("pool %s: stopping (%zu volume(s) still pending: left for the next start)", d->cfg.pool,
			 d->n_waits);
	write_state(d, mono_s());
	if (d->ec2_ready)
		ec2_client_free(&d->ec2);
	r = once && d->failed ? -EIO : 0;
	free(d->st);
	free(d);
	return r;
}
