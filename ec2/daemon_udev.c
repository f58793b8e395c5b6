/* The daemon's in-process attach: a udev monitor (block disks, add) and the
 * append, through dms_cmd_attach, of the volumes the daemon waits for. */
#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dmscale/device.h"
#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/pool.h"
#include "ec2/clock.h"
#include "ec2/daemon_priv.h"

#define MAX_ADDS 16     /* disks handled per drain; more wait for the next one */

int daemon_udev_open(struct daemon *d)
{
	d->udev = udev_new();
	d->udev_mon = d->udev ? udev_monitor_new_from_netlink(d->udev, "udev") : NULL;
	if (!d->udev_mon || udev_monitor_filter_add_match_subsystem_devtype(d->udev_mon, "block", "disk") < 0 ||
	    udev_monitor_enable_receiving(d->udev_mon) < 0) {
		daemon_udev_close(d);
		return log_warning_errno(EIO, "pool %s: cannot watch udev block events; new volumes are appended "
					 "by dmscale-attach@ only", d->cfg.pool);
	}
	return 0;
}

void daemon_udev_close(struct daemon *d)
{
	if (d->udev_mon)
		udev_monitor_unref(d->udev_mon);
	if (d->udev)
		udev_unref(d->udev);
	d->udev_mon = NULL;
	d->udev = NULL;
}

int daemon_udev_fd(const struct daemon *d)
{
	return d->udev_mon ? udev_monitor_get_fd(d->udev_mon) : -1;
}

/* The same append as `dmscale attach --udev DEV` with the CLI's pool
 * defaults from this daemon's configuration (ec2/cli_glue.c reads the same
 * file): under the pool lock, so it never races dmscale-attach@DEV, which
 * then finds the device in the live table (or no longer pending) and
 * returns at once. */
static void attach_one(struct daemon *d, const char *node)
{
	struct dms_device dev;
	if (dms_device_inspect(node, &dev) < 0 || !dev.volume_id[0] ||
	    dms_pending_contains(NULL, d->cfg.pool, dev.volume_id) != 1)
		return;         /* not a volume this daemon waits for */
	struct dms_opts o = {
		.name = d->cfg.pool, .fstype = DMS_DEFAULT_FS, .target = DMS_TARGET_LINEAR, .udev = true,
		.max_data_bytes = d->cfg.max_total_gib * GIB, .low_water_bytes = d->cfg.min_free_bytes,
		.low_water_percent = d->cfg.min_free_percent,
	};
	log_info("pool %s: volume %s appeared as %s: appending it in the daemon", d->cfg.pool, dev.volume_id, node);
	int r = dms_cmd_attach(&o, node);
	if (r < 0)
		log_warning_errno(r, "pool %s: the daemon's append of %s failed (%m); dmscale-attach@ and the next "
				  "tick see to it", d->cfg.pool, node);
}

void daemon_udev_attach(struct daemon *d)
{
	char nodes[MAX_ADDS][256];
	size_t n = 0;
	if (!d->udev_mon)
		return;
	struct udev_device *u;
	while ((u = udev_monitor_receive_device(d->udev_mon))) {
		const char *action = udev_device_get_action(u), *node = udev_device_get_devnode(u);
		if (action && !strcmp(action, "add") && node && n < MAX_ADDS)
			snprintf(nodes[n++], sizeof(nodes[0]), "%s", node);
		udev_device_unref(u);
	}
	for (size_t i = 0; i < n && !daemon_stop_requested; i++)
		attach_one(d, nodes[i]);
}

/* The EC2 client's clock: real time, but its waits (the attachment poll,
 * backoffs) append a disk that appears meanwhile: the device shows up while
 * the daemon still polls DescribeVolumes for "attached". */
static double clk_mono(void *ud)
{
	return daemon_mono_s();
}

static time_t clk_wall(void *ud)
{
	return time(NULL);
}

static void clk_sleep(void *ud, unsigned ms)
{
	struct daemon *d = ud;
	double until = daemon_mono_s() + ms / 1e3;
	daemon_thin_note_mode(d);
	while (!daemon_stop_requested && daemon_sleep_until_fd(until, daemon_udev_fd(d)) == 1) {
		daemon_thin_note_mode(d);
		daemon_udev_attach(d);
	}
	double left = until - daemon_mono_s();   /* a signal, or a stop: the wait is still owed */
	if (left > 0)
		ec2_real_clock.sleep_ms(NULL, (unsigned)(left * 1e3) + 1);
}

const struct ec2_clock *daemon_udev_clock(struct daemon *d)
{
	d->clock = (struct ec2_clock){ clk_mono, clk_wall, clk_sleep, d };
	return &d->clock;
}
