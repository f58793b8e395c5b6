/* The real host: the executor's operations over device.c, dm.c, fs.c, pending.c. */
#include "dmscale/host.h"

#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/failpoint.h"
#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/pool_api.h"
#include "dmscale/probe.h"
#include "dmscale/state.h"
#include "dmscale/steps.h"
#include "kmod-helpers/kmod.h"

static int h_kmod(void *ctx, const char *module)
{
	return dms_kmod_ensure(module);
}

static int h_dm_get(void *ctx, const char *name, struct dms_rc_dev *out)
{
	struct dms_dm_info info;
	memset(out, 0, offsetof(struct dms_rc_dev, tg));
	int r = dms_dm_info(name, &info);
	if (r < 0 || !info.exists)
		return r;
	out->exists = true;
	out->devnum = info.devnum;
	out->size_sectors = info.size_sectors;
	snprintf(out->uuid, sizeof(out->uuid), "%s", info.uuid);
	r = dms_dm_table(name, out->tg, DMS_MAX_MEMBERS, &out->count);
	if (r == -ENODEV) {              /* removed meanwhile */
		memset(out, 0, offsetof(struct dms_rc_dev, tg));
		return 0;
	}
	return r;
}

static int h_dm_create(void *ctx, const char *name, const char *uuid, const struct dms_dm_target *t, size_t n,
		       bool private_dev)
{
	return dms_dm_create_flags(name, uuid, t, n, private_dev);
}

static int h_dm_reload(void *ctx, const char *name, const struct dms_dm_target *t, size_t n, bool private_dev,
		       bool append)
{
	if (append && !private_dev)
		return dms_dm_reload_append(name, t, n);
	if (private_dev)        /* udev_flush waits, after the filesystem grew */
		return dms_dm_reload_private_deferred(name, t, n);
	return dms_dm_reload_flags(name, t, n, private_dev);
}

static void h_udev_flush(void *ctx)
{
	dms_dm_udev_wait_deferred();
}

static int h_dm_message(void *ctx, const char *name, const char *msg)
{
	return dms_dm_message(name, msg);
}

static int h_thin_status(void *ctx, const char *name, struct dms_thin_pool_status *ps)
{
	int r = dms_thin_status_read(name, ps, NULL);
	if (r == -EPROTO)
		return log_error_errno(EPROTO, "%s: unexpected thin-pool status (see 'dmsetup status %s')", name, name);
	if (r < 0)
		return log_error_errno(r, "cannot read the status of %s: %m", name);
	return 0;
}

static int h_write_label(void *ctx, const struct dms_device *d, const struct dms_label *l)
{
	/* The node must still be the device the labels were read from (a detach
	 * and another attach may have reused the name since the scan). */
	struct dms_device now;
	int r = dms_device_inspect(d->node, &now);
	if (r < 0)
		return r;
	if (now.devnum != d->devnum)
		return log_error_errno(ESTALE, "%s: is another device than the one scanned (%u:%u, now %u:%u); "
				       "not writing its label. Run the command again", d->node, major(d->devnum),
				       minor(d->devnum), major(now.devnum), minor(now.devnum));
	return dms_device_write_label(&now, l);
}

static int h_find_mount(void *ctx, dev_t devnum, char *mp, size_t len)
{
	return dms_fs_find_mount(devnum, mp, len);
}

static int h_mountpoint_busy(void *ctx, const char *path)
{
	return dms_path_is_mountpoint(path);
}

static int h_has_fs(void *ctx, const char *node)
{
	char what[128];
	return dms_probe_signatures(node, what, sizeof(what));
}

static int h_mkfs(void *ctx, const char *fstype, const char *node, bytes_t backing_bytes, bool fixed_size)
{
	return dms_fs_mkfs(fstype, node, backing_bytes, fixed_size);
}

static int h_mount(void *ctx, const char *fstype, const char *node, const char *mp, bool discard)
{
	return dms_fs_mount(fstype, node, mp, discard);
}

static int h_grow_fs(void *ctx, const char *fstype, const char *mp, bytes_t size_bytes, bool *grown)
{
	uint64_t t = dms_steps_now_ns();
	int r = dms_fs_grow(fstype, mp, size_bytes, grown);
	dms_steps_add(DMS_STEP_RESIZE, t);
	return r;
}

static int h_fs_usage(void *ctx, const char *mp, struct dms_fs_usage *u)
{
	return dms_fs_usage(mp, u);
}

static int h_unpend(void *ctx, const char *pool, const char *volume_id)
{
	uint64_t t = dms_steps_now_ns();
	int r = dms_pending_remove(NULL, pool, volume_id);
	dms_steps_add(DMS_STEP_UNPEND, t);
	return r;
}

static int h_mkfs_pending(void *ctx, const char *pool)
{
	int r = dms_state_mkfs_pending(pool);
	return r < 0 ? log_error_errno(r, "pool %s: cannot read its state under %s: %m", pool, dms_state_dir()) : r;
}

static int h_set_mkfs_pending(void *ctx, const char *pool, bool on)
{
	int r = dms_state_set_mkfs_pending(pool, on);
	return r < 0 ? log_error_errno(r, "pool %s: cannot record the mkfs under %s: %m", pool, dms_state_dir()) : 0;
}

static void h_load_mountpoint(void *ctx, const char *pool, char *out, size_t len)
{
	dms_state_load_mountpoint(pool, out, len);
}

static void h_save_mountpoint(void *ctx, const char *pool, const char *mp)
{
	dms_state_save_mountpoint(pool, mp);
}

#ifdef DMS_TESTING
static void h_failpoint(void *ctx, const char *name)
{
	dms_failpoint(name);
}
#endif

const struct dms_host dms_host_real = {
	.ctx = NULL,
	.kmod = h_kmod,
	.dm_get = h_dm_get,
	.dm_create = h_dm_create,
	.dm_reload = h_dm_reload,
	.udev_flush = h_udev_flush,
	.dm_message = h_dm_message,
	.thin_status = h_thin_status,
	.write_label = h_write_label,
	.find_mount = h_find_mount,
	.mountpoint_busy = h_mountpoint_busy,
	.has_fs = h_has_fs,
	.mkfs = h_mkfs,
	.mount = h_mount,
	.grow_fs = h_grow_fs,
	.fs_usage = h_fs_usage,
	.unpend = h_unpend,
	.mkfs_pending = h_mkfs_pending,
	.set_mkfs_pending = h_set_mkfs_pending,
	.load_mountpoint = h_load_mountpoint,
	.save_mountpoint = h_save_mountpoint,
#ifdef DMS_TESTING
	.test_stop = h_failpoint,
#endif
};
