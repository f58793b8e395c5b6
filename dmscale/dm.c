/* device-mapper through libdevmapper, with udev cookies so callers never race
 * /dev/mapper nodes and nothing hangs when run from a udev-triggered unit. */
#include "dmscale/dm.h"

#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/log.h"
#include "dmscale/steps.h"

static struct dm_task *task_named(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);
	if (!dmt)
		return NULL;
	if (!dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

static int add_targets(struct dm_task *dmt, const struct dms_dm_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!dm_task_add_target(dmt, t[i].start_sectors, t[i].length_sectors, t[i].type, t[i].params))
			return -ENOMEM;
	return 0;
}

int dms_dm_info(const char *name, struct dms_dm_info *info)
{
	struct dm_info di;
	int r = 0;

	memset(info, 0, sizeof(*info));
	/* DM_DEVICE_INFO tolerates a missing device; TABLE would fail with ENXIO. */
	struct dm_task *dmt = task_named(DM_DEVICE_INFO, name);
	if (!dmt)
		return log_error_errno(ENOMEM, "dm: cannot create task for %s", name);
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &di)) {
		dm_task_destroy(dmt);
		return log_error_errno(EIO, "dm: cannot query %s; is dm_mod loaded and are you root?", name);
	}
	dm_task_destroy(dmt);
	if (!di.exists)
		return 0;
	dmt = task_named(DM_DEVICE_TABLE, name);
	if (!dmt)
		return log_error_errno(ENOMEM, "dm: cannot create task for %s", name);
	if (!dm_task_run(dmt)) {
		r = log_error_errno(EIO, "dm: cannot query %s; is dm_mod loaded and are you root?", name);
		goto out;
	}
	if (!dm_task_get_info(dmt, &di)) {
		r = log_error_errno(EIO, "dm: no info for %s", name);
		goto out;
	}
	if (!di.exists)
		goto out;
	info->exists = true;
	info->suspended = di.suspended;
	info->devnum = makedev(di.major, di.minor);
	info->target_count = di.target_count;
	info->event_nr = di.event_nr;
	const char *uuid = dm_task_get_uuid(dmt);
	if (uuid)
		snprintf(info->uuid, sizeof(info->uuid), "%s", uuid);
	void *next = NULL;
	uint64_t start, length;
	char *type, *params;
	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (type)
			info->size_sectors = start + length;
	} while (next);
out:
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_create(const char *name, const char *uuid, const struct dms_dm_target *t, size_t n)
{
	return dms_dm_create_flags(name, uuid, t, n, false);
}

/* Cookies of tasks whose udev wait was deferred (dms_dm_reload_append, a
 * private device's create or reload). */
#define MAX_DEFERRED 8
static uint32_t deferred[MAX_DEFERRED];
static size_t ndeferred;

static void udev_wait_timed(uint32_t cookie)
{
	uint64_t t = dms_steps_now_ns();
	(void)dm_udev_wait(cookie);
	dms_steps_add(DMS_STEP_UDEV, t);
}

void dms_dm_udev_wait_deferred(void)
{
	for (size_t i = 0; i < ndeferred; i++)
		udev_wait_timed(deferred[i]);
	ndeferred = 0;
}

/* Run a task with a udev cookie and wait for udev: /dev/mapper nodes exist
 * (or are gone) when this returns, unless `defer` (and a slot is free): then
 * dms_dm_udev_wait_deferred() waits. `step`: the step its run is timed as
 * (DMS_STEP_COUNT: none). 0 or -EIO. */
static int run_cookie_step(struct dm_task *dmt, uint16_t flags, bool defer, enum dms_step step)
{
	uint32_t cookie = 0;
	if (!dm_task_set_cookie(dmt, &cookie, flags))
		return -EIO;
	uint64_t t = dms_steps_now_ns();
	int r = dm_task_run(dmt) ? 0 : -EIO;
	dms_steps_add(step, t);
	if (defer && ndeferred < MAX_DEFERRED)
		deferred[ndeferred++] = cookie;
	else
		udev_wait_timed(cookie);
	return r;
}

static int run_cookie(struct dm_task *dmt, uint16_t flags)
{
	return run_cookie_step(dmt, flags, false, DMS_STEP_COUNT);
}

int dms_dm_create_flags(const char *name, const char *uuid, const struct dms_dm_target *t, size_t n,
			bool private_dev)
{
	/* Private (internal) devices, like LVM's -tpool/-tdata/-tmeta: udev makes
	 * the node but runs no disk/other rules (no blkid probe, no dmscale attach). */
	uint16_t flags = private_dev ? DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG : 0;
	int r = 0;
	struct dm_task *dmt = task_named(DM_DEVICE_CREATE, name);
	if (!dmt)
		return log_error_errno(ENOMEM, "dm: cannot create task for %s", name);
	if (!dm_task_set_uuid(dmt, uuid) || add_targets(dmt, t, n) < 0)
		r = log_error_errno(ENOMEM, "dm: cannot build the table of %s", name);
	else if (run_cookie_step(dmt, flags, private_dev, DMS_STEP_COUNT) < 0)
		r = log_error_errno(EIO, "dm: creating %s failed (see the kernel log: dmesg); "
				    "is a device of that name already there?", name);
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_reload_steps(const char *name, const struct dms_dm_reload_ops *o)
{
	if (o->load(o->ctx) < 0)
		return log_error_errno(EIO, "dm: loading the new table of %s failed (see dmesg); "
				       "the live table is unchanged", name);
	if (o->resume(o->ctx) == 0)
		return 0;
	/* The resume suspends, swaps and resumes; it may have stopped half-way
	 * with the device suspended, which hangs every writer. Drop the new
	 * table and resume the old one, as LVM does. */
	log_error("dm: resuming %s with its new table failed (see dmesg); resuming it with its old table", name);
	(void)o->clear(o->ctx);
	if (o->resume(o->ctx) < 0)
		return log_error_errno(EIO, "dm: %s stays suspended: its I/O is held. Run 'dmsetup resume %s' "
				       "(see dmesg for why the resume failed)", name, name);
	return -EIO;
}

struct reload_ctx {
	const char *name;
	const struct dms_dm_target *t;
	size_t n;
	uint16_t flags;
	bool append;            /* skip_lockfs */
	bool defer;             /* udev wait deferred (dms_dm_udev_wait_deferred) */
};

static int reload_load(void *c)
{
	struct reload_ctx *x = c;
	struct dm_task *dmt = task_named(DM_DEVICE_RELOAD, x->name);
	if (!dmt)
		return -ENOMEM;
	uint64_t t = dms_steps_now_ns();
	int r = add_targets(dmt, x->t, x->n) < 0 || !dm_task_run(dmt) ? -EIO : 0;
	dms_steps_add(DMS_STEP_LOAD, t);
	dm_task_destroy(dmt);
	return r;
}

/* One task by name with a udev cookie (resume, remove), waited for. */
static int run_with_cookie(int type, const char *name, uint16_t flags)
{
	struct dm_task *dmt = task_named(type, name);
	if (!dmt)
		return -ENOMEM;
	int r = run_cookie(dmt, flags);
	dm_task_destroy(dmt);
	return r;
}

static int reload_resume(void *c)
{
	struct reload_ctx *x = c;
	struct dm_task *dmt = task_named(DM_DEVICE_RESUME, x->name);
	if (!dmt)
		return -ENOMEM;
	int r = 0;
	/* The old targets stay as they are: the filesystem on top needs no
	 * freeze (sync + journal checkpoint) for the kernel to swap tables. */
	if (x->append && !dm_task_skip_lockfs(dmt))
		r = -ENOMEM;
	if (r == 0)
		r = run_cookie_step(dmt, x->flags, x->defer, DMS_STEP_RESUME);
	dm_task_destroy(dmt);
	return r;
}

static int reload_clear(void *c)
{
	struct reload_ctx *x = c;
	struct dm_task *dmt = task_named(DM_DEVICE_CLEAR, x->name);
	if (!dmt)
		return -ENOMEM;
	int r = dm_task_run(dmt) ? 0 : -EIO;
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_reload_flags(const char *name, const struct dms_dm_target *t, size_t n, bool private_dev)
{
	struct reload_ctx x = {
		.name = name, .t = t, .n = n,
		.flags = private_dev ? DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG : 0,
	};
	const struct dms_dm_reload_ops o = { &x, reload_load, reload_resume, reload_clear };
	return dms_dm_reload_steps(name, &o);
}

int dms_dm_reload_append(const char *name, const struct dms_dm_target *t, size_t n)
{
	struct reload_ctx x = { .name = name, .t = t, .n = n, .flags = 0, .append = true, .defer = true };
	const struct dms_dm_reload_ops o = { &x, reload_load, reload_resume, reload_clear };
	return dms_dm_reload_steps(name, &o);
}

int dms_dm_reload_private_deferred(const char *name, const struct dms_dm_target *t, size_t n)
{
	struct reload_ctx x = {
		.name = name, .t = t, .n = n, .defer = true,
		.flags = DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG,
	};
	const struct dms_dm_reload_ops o = { &x, reload_load, reload_resume, reload_clear };
	return dms_dm_reload_steps(name, &o);
}

int dms_dm_reload(const char *name, const struct dms_dm_target *t, size_t n)
{
	return dms_dm_reload_flags(name, t, n, false);
}

int dms_dm_table(const char *name, struct dms_dm_live_target *out, size_t max, size_t *count)
{
	int r = 0;
	struct dm_info di;
	*count = 0;
	struct dm_task *dmt = task_named(DM_DEVICE_TABLE, name);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &di)) {
		r = -EIO;
		goto out;
	}
	if (!di.exists) {
		r = -ENODEV;
		goto out;
	}
	void *next = NULL;
	uint64_t start, length;
	char *type, *params;
	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (!type)
			break;
		if (*count >= max) {
			r = -E2BIG;
			goto out;
		}
		struct dms_dm_live_target *o = &out[(*count)++];
		o->start_sectors = start;
		o->length_sectors = length;
		snprintf(o->type, sizeof(o->type), "%s", type);
		snprintf(o->params, sizeof(o->params), "%s", params ? params : "");
	} while (next);
out:
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_deps(const char *name, dev_t *out, size_t max, size_t *count)
{
	int r = 0;
	struct dm_task *dmt = task_named(DM_DEVICE_DEPS, name);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt)) {
		r = -EIO;
		goto out;
	}
	struct dm_deps *deps = dm_task_get_deps(dmt);
	if (!deps) {
		r = -EIO;
		goto out;
	}
	*count = 0;
	for (uint32_t i = 0; i < deps->count && *count < max; i++)
		out[(*count)++] = (dev_t)deps->device[i];
out:
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_remove(const char *name)
{
	if (run_with_cookie(DM_DEVICE_REMOVE, name, 0) < 0)
		return log_error_errno(EBUSY, "dm: cannot remove %s (in use?)", name);
	return 0;
}

int dms_dm_message(const char *name, const char *msg)
{
	int r = 0;
	struct dm_task *dmt = task_named(DM_DEVICE_TARGET_MSG, name);
	if (!dmt)
		return log_error_errno(ENOMEM, "dm: cannot create task for %s", name);
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
		r = log_error_errno(ENOMEM, "dm: cannot build message '%s' for %s", msg, name);
		goto out;
	}
	if (!dm_task_run(dmt))
		r = -EIO;           /* the caller decides whether this is an error */
out:
	dm_task_destroy(dmt);
	return r;
}

static int first_target(int task, const char *name, char *type_out, size_t type_len, char *params_out,
			size_t params_len, unsigned *event_nr)
{
	int r = -ENODEV;
	struct dm_info di;
	struct dm_task *dmt = task_named(task, name);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &di)) {
		r = -EIO;
		goto out;
	}
	if (!di.exists)
		goto out;
	if (event_nr)
		*event_nr = di.event_nr;
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	(void)dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	if (!type) {
		r = -ENODATA;       /* no live table */
		goto out;
	}
	snprintf(type_out, type_len, "%s", type);
	snprintf(params_out, params_len, "%s", params ? params : "");
	r = 0;
out:
	dm_task_destroy(dmt);
	return r;
}

int dms_dm_status(const char *name, char *type_out, size_t type_len, char *params_out, size_t params_len,
		  unsigned *event_nr)
{
	return first_target(DM_DEVICE_STATUS, name, type_out, type_len, params_out, params_len, event_nr);
}

int dms_dm_table_first(const char *name, char *type_out, size_t type_len, char *params_out, size_t params_len)
{
	return first_target(DM_DEVICE_TABLE, name, type_out, type_len, params_out, params_len, NULL);
}

int dms_dm_wait_event(const char *name, unsigned event_nr)
{
	/* The raw DM_DEV_WAIT ioctl rather than libdevmapper's WAITEVENT task:
	 * the wait is meant to be interrupted by the caller's timer signal, and
	 * libdevmapper would log every EINTR as a failed ioctl. */
	struct dm_ioctl io;
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&io, 0, sizeof(io));
	io.version[0] = DM_VERSION_MAJOR;
	io.data_size = sizeof(io);
	io.data_start = sizeof(io);
	io.event_nr = event_nr;
	snprintf(io.name, sizeof(io.name), "%s", name);
	int r = ioctl(fd, DM_DEV_WAIT, &io) < 0 ? -errno : 0;
	close(fd);
	return r;
}
