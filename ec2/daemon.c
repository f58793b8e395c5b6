/* `dmscale daemon`: its command line and its loop (one tick: refresh,
 * sample, waits, policy, provisioning gate). See daemon.h and daemon_priv.h. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmscale/aio.h"
#include "dmscale/atomicfile.h"
#include "dmscale/log.h"
#include "dmscale/metrics.h"
#include "dmscale/pending.h"
#include "dmscale/fs.h"
#include "dmscale/status.h"
#include "ec2/daemon_priv.h"
#include "ec2/state.h"

static const char *const usage_daemon =
	"usage: dmscale daemon [--config FILE] [--once]\n"
	"\n"
	"Watch the pool's free space (statvfs every poll_interval_ms) and provision EBS volumes\n"
	"through the EC2 API when it runs low or fills faster than a volume can arrive; new\n"
	"volumes are appended by 'dmscale attach --udev'. Stops cleanly on SIGTERM/SIGINT.\n"
	"  --config FILE  JSON configuration (default " DMS_CONFIG_PATH ")\n"
	"  --once         one check (and at most one provisioning, waited for), then exit\n";

volatile sig_atomic_t daemon_stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	daemon_stop_requested = 1;
}

double daemon_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until `until` (monotonic) or a stop signal, without the race between
 * checking the flag and sleeping: the signals are blocked outside ppoll. */
int daemon_sleep_until_fd(double until, int fd)
{
	sigset_t block, old;
	int woke = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	double left = until - daemon_mono_s();
	if (!daemon_stop_requested && left > 0) {
		struct timespec ts = {.tv_sec = (time_t)left,
				      .tv_nsec = (long)((left - floor(left)) * 1e9)};
		struct pollfd p = { .fd = fd, .events = POLLIN };
		woke = ppoll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, &ts, &old) > 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return woke;
}

void daemon_sleep_until(double until)
{
	(void)daemon_sleep_until_fd(until, -1);
}

void daemon_fmt_bytes(bytes_t b, char *out, size_t len)
{
	if (b >= GIB)
		snprintf(out, len, "%.2f GiB", (double)b / (double)GIB);
	else
		snprintf(out, len, "%.1f MiB", (double)b / (double)MIB);
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
	int r = dms_metrics_write_textfile(d->cfg.metrics_textfile, d->st, state_json, !daemon_stop_requested);
	if (r == -ENOENT && r != d->metrics_err)
		log_debug("metrics %s: no such directory (node_exporter not installed?): not written",
			  d->cfg.metrics_textfile);
	else if (r < 0 && r != d->metrics_err)
		log_warning_errno(r, "metrics %s: cannot write: %m", d->cfg.metrics_textfile);
	d->metrics_err = r;
}

static void write_state(struct daemon *d, double now)
{
	char path[256];
	snprintf(path, sizeof(path), DMS_RUN_DIR "/%s.daemon.json", d->cfg.pool);
	const struct policy_decision *dec = &d->last_decision;
	struct dms_daemon_state s = {
		.pid = (long)getpid(), .pool = d->cfg.pool, .mountpoint = d->mountpoint,
		.pool_ready = d->pool_ready, .ec2_ready = d->ec2_ready, .size_bytes = d->total,
		.free_bytes = d->free_b, .threshold_bytes = dec->threshold_bytes,
		.fill_rate_bps = fill_rate_bps(&d->fr), .time_to_full_s = dec->time_to_full_s,
		.attach_latency_s = d->attach_latency_s, .last_attach_s = d->last_attach_s,
		.last_create_to_attached_s = d->ec2.last_attach_latency_s, .needed = dec->needed,
		.reason = policy_reason_name(dec->reason), .in_flight = d->n_waits, .provisioned = d->provisioned,
		.failed = d->failed, .api_calls = d->ec2.api_calls, .retries = d->ec2.retries,
		.throttled = d->ec2.throttled, .last_result = d->last_result, .last_error = d->ec2.last_error.code,
	};
	char *json = dms_daemon_state_json(&s);
	d->next_state_write = now + STATE_WRITE_S;
	write_metrics(d, json ? json : "{}");
	if (!json)
		return;
	(void)mkdir(DMS_RUN_DIR, 0755);
	(void)dms_atomic_write(path, json, strlen(json), 0644);   /* logs its own failure */
	free(json);
}

/* ---- the loop --------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

static void try_ec2_init(struct daemon *d, double now)
{
	if (ec2_connector_try(&d->conn, &d->ec2, now) != 1)
		return;
	d->ec2.on_stage = daemon_on_stage;
	d->ec2.stage_ud = d;
	d->ec2_ready = true;
	if (!d->recovered) {
		daemon_recover(d);
		d->recovered = true;
	}
	daemon_count_attachments(d);
}

static void tick(struct daemon *d)
{
	double now = daemon_mono_s();
	if (!d->pool_ready && now >= d->next_pool_refresh)
		(void)daemon_refresh_pool(d);
	try_ec2_init(d, now);
	daemon_retry_deletes(d, now);
	if (!d->pool_ready)
		return;
	now = daemon_mono_s();
	if (daemon_sample(d, now) < 0)
		return;
	daemon_check_waits(d, now);
	if (!d->pool_ready)
		return;

	struct policy_input in = {
		.total_bytes = d->total,
		.free_bytes = d->free_b,
		.fill_rate_bps = fill_rate_bps(&d->fr),
		.attach_latency_s = d->attach_latency_s,
		.n_volumes = dms_status_ebs_members(d->st),   /* max_volumes counts EBS volumes */
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
		daemon_fmt_bytes(d->free_b, fr, sizeof(fr));
		daemon_fmt_bytes(dec.threshold_bytes, th, sizeof(th));
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
	struct dms_provision_gate_input g = {
		.stopping = daemon_stop_requested, .ec2_ready = d->ec2_ready, .now_s = now,
		.next_provision_s = d->next_provision, .once = d->once, .provisioned_once = d->provisioned_once,
	};
	enum dms_provision_gate gate = dec.provision ? dms_provision_gate(&g) : DMS_GATE_STOPPING;
	if (gate == DMS_GATE_NO_EC2) {
		if (d->last_blocked != POLICY_NO_NEED + 100)
			log_warning("pool %s: needs a volume but the EC2 client is not ready", d->cfg.pool);
		d->last_blocked = POLICY_NO_NEED + 100;
	} else if (gate == DMS_GATE_GO) {
		d->provisioned_once = true;
		daemon_provision(d, &dec, now);
		d->last_blocked = POLICY_NO_NEED;
		write_state(d, daemon_mono_s());
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
	(void)daemon_udev_open(d);      /* before any volume can appear */
	ec2_connector_init(&d->conn, &d->cfg, NULL, daemon_udev_clock(d));   /* it holds the secrets from here on */
	d->membership = daemon_status_membership;
	d->membership_ud = d;
	d->read_label = daemon_read_volume_label;
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
	daemon_fmt_bytes(d->cfg.min_free_bytes, th, sizeof(th));
	log_info("dmscale daemon %s: pool %s at %s, min free %s / %.0f %%, volumes %llu..%llu GiB %s, "
		 "at most %u volumes / %llu GiB", DMSCALE_VERSION, d->cfg.pool, d->cfg.mountpoint, th,
		 d->cfg.min_free_percent, (unsigned long long)d->cfg.min_volume_gib,
		 (unsigned long long)d->cfg.max_volume_gib, d->cfg.volume_type, d->cfg.max_volumes,
		 (unsigned long long)d->cfg.max_total_gib);
	(void)daemon_refresh_pool(d);
	try_ec2_init(d, daemon_mono_s());

	double period = d->cfg.poll_interval_ms / 1000.0;
	double next = daemon_mono_s();
	while (!daemon_stop_requested) {
		daemon_udev_attach(d);
		tick(d);
		dms_aio_drop_cache();   /* an idle daemon keeps no I/O buffers */
		if (once && d->n_waits == 0)
			break;
		if (d->thin && d->pool_ready) {
			daemon_wait_thin_event(d, d->n_waits || d->needed ? period : fmax(period, THIN_SAFETY_S));
			next = daemon_mono_s();
			continue;
		}
		next += period;
		double now = daemon_mono_s();
		if (next < now)      /* a provisioning took a while: no catch-up burst */
			next = now + period;
		/* A disk appeared: append it now, then sleep on until the tick. */
		while (daemon_sleep_until_fd(next, daemon_udev_fd(d)) == 1 && !daemon_stop_requested)
			daemon_udev_attach(d);
	}
	if (daemon_stop_requested)
		log_info("pool %s: stopping (%zu volume(s) still pending: left for the next start)", d->cfg.pool,
			 d->n_waits);
	write_state(d, daemon_mono_s());
	daemon_udev_close(d);
	if (d->ec2_ready)
		ec2_client_free(&d->ec2);
	ec2_connector_free(&d->conn);
	r = once && d->failed ? -EIO : 0;
	dms_status_release(d->st);
	free(d->st);
	free(d);
	return r;
}
