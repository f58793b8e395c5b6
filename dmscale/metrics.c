/* Prometheus text exposition format 0.0.4 of a pool (see metrics.h).
 *
 * The formatting is pure (it only writes to the FILE *); the one adapter,
 * dms_metrics_write_textfile, is at the end. Every sample has the label
 * pool="NAME"; label values are escaped (\\ \" \n) and invalid UTF-8 is
 * replaced by U+FFFD; no timestamps (node_exporter's textfile collector
 * refuses them). A family without samples is left out entirely.
 *
 * family                                         type     extra labels / when
 * dmscale_pool_info                              gauge    target, fs_type, uuid, dm_device, mountpoint (1)
 * dmscale_pool_state                             gauge    state: active, inactive, degraded (1 current, 0 others)
 * dmscale_pool_generation                        gauge    when known (root)
 * dmscale_pool_size_bytes                        gauge
 * dmscale_pool_members                           gauge
 * dmscale_pool_pending_volumes                   gauge
 * dmscale_pool_pending_volume_info               gauge    volume_id (1), one per pending volume
 * dmscale_filesystem_mounted                     gauge
 * dmscale_filesystem_{size,used,free}_bytes      gauge    when mounted
 * dmscale_member_present                         gauge    member, volume_id, device
 * dmscale_member_size_bytes                      gauge    member, volume_id, device
 * dmscale_member_data_bytes                      gauge    member, volume_id, device; when from labels
 * dmscale_member_kind_info                       gauge    member, volume_id, device, kind, striped (1); labels
 * dmscale_pool_stripe_{members,chunk_bytes}      gauge    when the first tier is a dm-stripe
 * dmscale_thin_pool_virtual_bytes                gauge    thin pool status known
 * dmscale_thin_pool_data_{used,size}_bytes       gauge    thin pool status known
 * dmscale_thin_pool_metadata_{used,size}_bytes   gauge    thin pool status known
 * dmscale_thin_pool_low_water_mark_bytes         gauge    thin pool status known
 * dmscale_thin_pool_mode                         gauge    mode: rw, ro, out_of_data_space, fail
 * dmscale_thin_pool_needs_check                  gauge    thin pool status known
 * dmscale_daemon_up                              gauge    always
 * dmscale_daemon_{pool_ready,ec2_ready}          gauge    daemon state present (each key when present)
 * dmscale_daemon_space_needed                    gauge    these 5: while the daemon watches the pool
 * dmscale_daemon_policy_reason_info              gauge    reason (1)
 * dmscale_daemon_threshold_bytes                 gauge
 * dmscale_daemon_fill_rate_bytes_per_second      gauge
 * dmscale_daemon_time_to_full_seconds            gauge    +Inf when not filling
 * dmscale_daemon_attach_latency_seconds          gauge    smoothed, what the policy plans with
 * dmscale_daemon_last_attach_duration_seconds    gauge    stage: attached, appended; once measured
 * dmscale_daemon_volumes_in_flight               gauge
 * dmscale_daemon_volumes_provisioned_total       counter
 * dmscale_daemon_provisioning_failures_total     counter
 * dmscale_daemon_ec2_api_calls_total             counter
 * dmscale_daemon_ec2_api_retries_total           counter
 * dmscale_daemon_ec2_api_throttled_total         counter
 * dmscale_daemon_last_ec2_error_info             gauge    code (1); when there was one
 */
#include "dmscale/metrics.h"
#include "dmscale/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- output ------------------------------------------------------------------ */

struct out {
	FILE *f;
	const char *pool;
	const char *name, *type, *help;   /* the current family */
	bool header;                      /* its # HELP and # TYPE are written */
};

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)   /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A label value (quote: escape '"' too) or HELP text, escaped per the format. */
static void put_escaped(FILE *f, const char *str, bool quote)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t n = utf8_seq(s);
		if (!n) {
			fputs("\xef\xbf\xbd", f);
			s++;
		} else if (*s == '\\') {
			fputs("\\\\", f);
			s++;
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else if (*s == '"' && quote) {
			fputs("\\\"", f);
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	o->name = name;
	o->type = type;
	o->help = help;
	o->header = false;
}

#define END ((const char *)NULL)   /* ends the label pairs (a typed NULL: varargs) */

/* One sample of the current family: pool="…" then the label name/value
 * pairs, terminated by END. */
static void vsample(struct out *o, const char *value, va_list ap)
{
	if (!o->header) {
		fprintf(o->f, "# HELP %s ", o->name);
		put_escaped(o->f, o->help, false);
		fprintf(o->f, "\n# TYPE %s %s\n", o->name, o->type);
		o->header = true;
	}
	fprintf(o->f, "%s{pool=\"", o->name);
	put_escaped(o->f, o->pool, true);
	fputc('"', o->f);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		fprintf(o->f, ",%s=\"", k);
		put_escaped(o->f, v ? v : "", true);
		fputc('"', o->f);
	}
	fprintf(o->f, "} %s\n", value);
}

static void sample_u(struct out *o, uint64_t v, ...)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	va_list ap;
	va_start(ap, v);
	vsample(o, buf, ap);
	va_end(ap);
}

static void sample_d(struct out *o, double v, ...)
{
	char buf[40];
	if (isnan(v))
		snprintf(buf, sizeof(buf), "NaN");
	else if (isinf(v))
		snprintf(buf, sizeof(buf), "%s", v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(buf, sizeof(buf), "%.15g", v);
	va_list ap;
	va_start(ap, v);
	vsample(o, buf, ap);
	va_end(ap);
}

/* An enum as a gauge per possible value: 1 for `cur`, 0 for the others; a
 * current value outside the list gets its own sample. */
static void enum_gauge(struct out *o, const char *label, const char *const *values, size_t n, const char *cur)
{
	bool listed = false;
	for (size_t i = 0; i < n; i++) {
		bool is = !strcmp(values[i], cur);
		listed |= is;
		sample_u(o, is, label, values[i], END);
	}
	if (!listed && cur[0])
		sample_u(o, 1, label, cur, END);
}

/* ---- the pool ------------------------------------------------------------------ */

static void print_pool(struct out *o, const struct dms_status *st)
{
	static const char *const states[] = { "active", "growing", "inactive", "degraded" };
	family(o, "dmscale_pool_info", "gauge",
	       "Pool identity: device-mapper target (linear or thin), filesystem type, pool uuid, "
	       "device and mount point; always 1.");
	sample_u(o, 1, "target", st->target, "fs_type", st->fs_type, "uuid", st->uuid, "dm_device", st->dm_device,
		 "mountpoint", st->mountpoint, END);
	family(o, "dmscale_pool_state", "gauge", "Pool state: 1 for the current one, 0 for the others.");
	enum_gauge(o, "state", states, sizeof(states) / sizeof(states[0]), st->state);
	family(o, "dmscale_pool_generation", "gauge",
	       "Generation of the pool's labels, incremented by every append (reading it needs root).");
	if (st->generation)
		sample_u(o, st->generation, END);
	family(o, "dmscale_pool_size_bytes", "gauge",
	       "Size of the pool's device-mapper device (0 when not active).");
	sample_u(o, st->size_bytes, END);
	family(o, "dmscale_pool_members", "gauge",
	       "Member volumes of the pool (from the labels as root, else from sysfs).");
	sample_u(o, st->member_count, END);

	size_t npend = st->pending.count < DMS_MAX_MEMBERS ? st->pending.count : DMS_MAX_MEMBERS;
	family(o, "dmscale_pool_pending_volumes", "gauge",
	       "Volumes created for the pool by the daemon and not appended yet.");
	sample_u(o, npend, END);
	family(o, "dmscale_pool_pending_volume_info", "gauge",
	       "A volume created for the pool by the daemon and not appended yet; always 1.");
	for (size_t i = 0; i < npend; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = !strcmp(st->pending.ids[i], st->pending.ids[j]);
		if (!dup)
			sample_u(o, 1, "volume_id", st->pending.ids[i], END);
	}

	family(o, "dmscale_filesystem_mounted", "gauge", "1 if the pool's filesystem is mounted, else 0.");
	sample_u(o, st->fs_mounted, END);
	if (st->fs_mounted) {
		family(o, "dmscale_filesystem_size_bytes", "gauge",
		       "Size of the pool's filesystem (statvfs f_blocks * f_frsize).");
		sample_u(o, st->fs_size_bytes, END);
		family(o, "dmscale_filesystem_used_bytes", "gauge",
		       "Used bytes of the pool's filesystem ((f_blocks - f_bfree) * f_frsize).");
		sample_u(o, st->fs_used_bytes, END);
		family(o, "dmscale_filesystem_free_bytes", "gauge",
		       "Free bytes of the pool's filesystem available to unprivileged users (f_bavail * f_frsize); "
		       "what the daemon compares with its threshold.");
		sample_u(o, st->fs_free_bytes, END);
	}
}

static void print_members(struct out *o, const struct dms_status *st)
{
	uint32_t n = st->member_count < DMS_MAX_MEMBERS ? st->member_count : DMS_MAX_MEMBERS;
	char idx[16];
#define EACH_MEMBER(body)                                                                       \
	for (uint32_t i = 0; i < n; i++) {                                                      \
		const struct dms_status_member *m = &st->members[i];                            \
		snprintf(idx, sizeof(idx), "%u", m->index);                                     \
		body;                                                                           \
	}
#define MEMBER_LABELS "member", idx, "volume_id", m->volume_id, "device", m->device, END
	family(o, "dmscale_member_present", "gauge",
	       "1 if the member's device was found, 0 if it is missing.");
	EACH_MEMBER(sample_u(o, m->device[0] != '\0', MEMBER_LABELS));
	family(o, "dmscale_member_size_bytes", "gauge", "Size of the member's block device.");
	EACH_MEMBER(sample_u(o, m->size_bytes, MEMBER_LABELS));
	family(o, "dmscale_member_data_bytes", "gauge",
	       "Bytes of the member mapped into the pool (from its label; needs root).");
	EACH_MEMBER(if (m->have_layout) sample_u(o, m->data_bytes, MEMBER_LABELS));
	family(o, "dmscale_member_kind_info", "gauge",
	       "Kind of the member (ebs or instance-store) and whether it is in the first tier's stripe (from "
	       "its label; needs root); always 1.");
	EACH_MEMBER(if (m->kind[0]) sample_u(o, 1, "member", idx, "volume_id", m->volume_id, "device", m->device,
					      "kind", m->kind, "striped", m->striped ? "1" : "0", END));
	family(o, "dmscale_pool_stripe_members", "gauge",
	       "Instance-store members striped as the pool's first tier (absent: no stripe).");
	if (st->stripe_count)
		sample_u(o, st->stripe_count, END);
	family(o, "dmscale_pool_stripe_chunk_bytes", "gauge", "Chunk size of the first tier's stripe.");
	if (st->stripe_count)
		sample_u(o, st->stripe_chunk_bytes, END);
#undef MEMBER_LABELS
#undef EACH_MEMBER
}

static void print_thin(struct out *o, const struct dms_status *st)
{
	static const char *const modes[] = { "rw", "ro", "out_of_data_space", "fail" };
	const struct dms_status_thin *t = &st->pool;
	if (!t->known)
		return;
	family(o, "dmscale_thin_pool_virtual_bytes", "gauge",
	       "Size of the thin volume (the filesystem's device).");
	sample_u(o, t->virtual_bytes, END);
	family(o, "dmscale_thin_pool_data_used_bytes", "gauge", "Data space of the thin pool in use.");
	sample_u(o, t->data_used_bytes, END);
	family(o, "dmscale_thin_pool_data_size_bytes", "gauge", "Data space of the thin pool.");
	sample_u(o, t->data_total_bytes, END);
	family(o, "dmscale_thin_pool_metadata_used_bytes", "gauge", "Metadata space of the thin pool in use.");
	sample_u(o, t->metadata_used_bytes, END);
	family(o, "dmscale_thin_pool_metadata_size_bytes", "gauge", "Metadata space of the thin pool.");
	sample_u(o, t->metadata_total_bytes, END);
	family(o, "dmscale_thin_pool_low_water_mark_bytes", "gauge",
	       "Free data space below which the kernel raises a dm event.");
	sample_u(o, t->low_water_mark_bytes, END);
	family(o, "dmscale_thin_pool_mode", "gauge", "Thin pool mode: 1 for the current one, 0 for the others.");
	enum_gauge(o, "mode", modes, sizeof(modes) / sizeof(modes[0]), t->mode);
	family(o, "dmscale_thin_pool_needs_check", "gauge", "1 if the thin pool metadata needs a check (thin_check).");
	sample_u(o, t->needs_check, END);
}

/* ---- the daemon's view (its state file, a JSON object) ------------------------- */

/* A number or a boolean (as 0/1) of the daemon's state. */
static bool jval(const json_t *o, const char *key, double *v)
{
	const json_t *x = json_object_get(o, key);
	if (json_is_number(x))
		*v = json_number_value(x);
	else if (json_is_boolean(x))
		*v = json_is_true(x);
	else
		return false;
	return isfinite(*v);
}

struct dkey {
	const char *key, *name, *type, *help;
	bool policy;     /* the policy's view: only while the daemon watches the pool */
};

static const struct dkey dkeys[] = {
	{ "pool_ready", "dmscale_daemon_pool_ready", "gauge",
	  "1 if the daemon sees the pool active and mounted, else 0.", false },
	{ "ec2_ready", "dmscale_daemon_ec2_ready", "gauge", "1 if the daemon's EC2 client is ready, else 0.", false },
	{ "needed", "dmscale_daemon_space_needed", "gauge",
	  "1 if the daemon's policy wants more space (free below the threshold or filling too fast).", true },
	{ "threshold_bytes", "dmscale_daemon_threshold_bytes", "gauge",
	  "Free bytes (of the filesystem; of the data space for a thin pool) below which the daemon "
	  "provisions a volume.", true },
	{ "fill_rate_bps", "dmscale_daemon_fill_rate_bytes_per_second", "gauge",
	  "Smoothed rate at which the pool fills (its filesystem; the data space for a thin pool).", true },
	{ "time_to_full_s", "dmscale_daemon_time_to_full_seconds", "gauge",
	  "Seconds until the pool is full at the current fill rate (+Inf when not filling).", true },
	{ "attach_latency_s", "dmscale_daemon_attach_latency_seconds", "gauge",
	  "Smoothed seconds from CreateVolume to the filesystem grown that the policy plans with "
	  "(0 until measured).", false },
	{ "in_flight", "dmscale_daemon_volumes_in_flight", "gauge",
	  "Volumes attached by the daemon and waiting to be appended.", false },
	{ "provisioned", "dmscale_daemon_volumes_provisioned_total", "counter",
	  "Volumes the daemon created and attached since it started.", false },
	{ "failed", "dmscale_daemon_provisioning_failures_total", "counter",
	  "Provisionings that failed (or whose volume was never appended) since the daemon started.", false },
	{ "api_calls", "dmscale_daemon_ec2_api_calls_total", "counter",
	  "EC2 API requests sent since the daemon started, retries included.", false },
	{ "retries", "dmscale_daemon_ec2_api_retries_total", "counter",
	  "EC2 API requests retried since the daemon started.", false },
	{ "throttled", "dmscale_daemon_ec2_api_throttled_total", "counter",
	  "EC2 API responses that were throttling errors since the daemon started.", false },
};

static void print_daemon(struct out *o, const struct dms_status *st)
{
	const json_t *dj = st->daemon;
	double v;
	family(o, "dmscale_daemon_up", "gauge",
	       "1 if the provisioning daemon of the pool is running, else 0 (the daemon_* metrics below "
	       "are its last state).");
	sample_u(o, dj && st->daemon_running, END);
	if (!json_is_object(dj))
		return;
	const char *reason = json_string_value(json_object_get(dj, "reason"));
	const char *err = json_string_value(json_object_get(dj, "last_error"));
	/* Not watching (pool not active and mounted): no decision to show, the
	 * zeros of one never made would read as "full now". */
	bool watching = !json_is_false(json_object_get(dj, "pool_ready"));
	for (size_t i = 0; i < sizeof(dkeys) / sizeof(dkeys[0]); i++) {
		const struct dkey *k = &dkeys[i];
		if ((k->policy && !watching) || !jval(dj, k->key, &v))
			continue;
		if (!strcmp(k->key, "time_to_full_s") && !(v >= 0))
			v = INFINITY;              /* the daemon writes -1 for "never" */
		if (!strcmp(k->type, "counter") && v < 0)
			continue;
		family(o, k->name, k->type, k->help);
		sample_d(o, v, END);
		if (!strcmp(k->key, "needed") && reason && reason[0]) {
			family(o, "dmscale_daemon_policy_reason_info", "gauge",
			       "Why the daemon's policy decided as it did (the reason of its last decision); always 1.");
			sample_u(o, 1, "reason", reason, END);
		}
	}
	static const struct { const char *key, *stage; } stages[] = {
		{ "last_create_to_attached_s", "attached" },
		{ "last_attach_s", "appended" },
	};
	family(o, "dmscale_daemon_last_attach_duration_seconds", "gauge",
	       "Seconds from CreateVolume to the stage of the last volume the daemon added: attached by EC2, "
	       "or appended with the filesystem grown.");
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (jval(dj, stages[i].key, &v) && v > 0)
			sample_d(o, v, "stage", stages[i].stage, END);
	family(o, "dmscale_daemon_last_ec2_error_info", "gauge",
	       "Code of the last EC2 API error the daemon got; always 1.");
	if (err && err[0])
		sample_u(o, 1, "code", err, END);
}

int dms_status_print_prometheus(const struct dms_status *st, FILE *f)
{
	if (!st || !f)
		return -EINVAL;
	struct out o = { .f = f, .pool = st->name };
	print_pool(&o, st);
	print_members(&o, st);
	print_thin(&o, st);
	print_daemon(&o, st);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int dms_metrics_format(const struct dms_status *st, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	FILE *f = open_memstream(text, len);
	if (!f)
		return -ENOMEM;
	int r = dms_status_print_prometheus(st, f);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(*text);
		*text = NULL;
		*len = 0;
	}
	return r;
}

/* ---- adapter: the node_exporter textfile ----------------------------------------- */

static int write_atomic(const char *path, const char *tmp, const char *text, size_t len)
{
	/* O_EXCL|O_NOFOLLOW: a planted file or symlink at tmp is never written
	 * through (the directory may belong to node_exporter's user). */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(tmp, flags, 0644);
	if (fd < 0 && errno == EEXIST) {          /* left by an earlier process with our pid */
		if (unlink(tmp) < 0 && errno != ENOENT)
			return -errno;
		fd = open(tmp, flags, 0644);
	}
	if (fd < 0)
		return -errno;
	int r = fchmod(fd, 0644) < 0 ? -errno : 0;   /* readable by node_exporter whatever the umask */
	if (!r)
		r = dms_write_all(fd, text, len);
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		(void)unlink(tmp);
	return r;
}

int dms_metrics_write_textfile(const char *path, const struct dms_status *st, const char *daemon_json,
			       bool daemon_running)
{
	char tmp[PATH_MAX];
	if (!path || path[0] != '/' || !st)
		return -EINVAL;
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;

	struct dms_status *copy = NULL;
	if (daemon_json) {
		copy = malloc(sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, st, sizeof(*copy));
		json_t *j = json_loads(daemon_json, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(j)) {          /* still say whether it runs */
			json_decref(j);
			j = json_object();
		}
		copy->daemon = j;
		copy->daemon_running = daemon_running;
		st = copy;
	}
	char *text = NULL;
	size_t len = 0;
	int r = dms_metrics_format(st, &text, &len);
	if (copy) {
		json_decref((json_t *)copy->daemon);
		free(copy);
	}
	if (r == 0)
		r = write_atomic(path, tmp, text, len);
	free(text);
	return r;
}
