/* The host interface of the executor: every system call the reconcile of a
 * pool makes goes through these operations (host_real.c: the kernel; the unit
 * tests: a fake that records calls and injects failures). */
#ifndef DMSCALE_HOST_H
#define DMSCALE_HOST_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/device.h"
#include "dmscale/dm.h"
#include "dmscale/fs.h"
#include "dmscale/reconcile.h"
#include "dmscale/thin.h"

struct dms_host {
	void *ctx;
	int (*kmod)(void *ctx, const char *module);
	/* dm: the live device (exists=false when absent), create, reload, message */
	int (*dm_get)(void *ctx, const char *name, struct dms_rc_dev *out);
	int (*dm_create)(void *ctx, const char *name, const char *uuid, const struct dms_dm_target *t, size_t n,
			 bool private_dev);
	/* append: the live table is a prefix of t (linear append): no freeze, the
	 * udev wait deferred to udev_flush */
	int (*dm_reload)(void *ctx, const char *name, const struct dms_dm_target *t, size_t n, bool private_dev,
			 bool append);
	/* wait for udev on the deferred dm events (optional; after the fs grew) */
	void (*udev_flush)(void *ctx);
	int (*dm_message)(void *ctx, const char *name, const char *msg);
	int (*thin_status)(void *ctx, const char *name, struct dms_thin_pool_status *ps);
	/* device I/O */
	int (*write_label)(void *ctx, const struct dms_device *d, const struct dms_label *l);
	/* filesystem: 1/0/-errno for the questions */
	int (*find_mount)(void *ctx, dev_t devnum, char *mp, size_t len);
	int (*mountpoint_busy)(void *ctx, const char *path);
	int (*has_fs)(void *ctx, const char *node);
	/* backing_bytes: the real data space (a thin volume is larger): journal/log sizing */
	int (*mkfs)(void *ctx, const char *fstype, const char *node, bytes_t backing_bytes, bool fixed_size);
	int (*mount)(void *ctx, const char *fstype, const char *node, const char *mp, bool discard);
	int (*grow_fs)(void *ctx, const char *fstype, const char *mp, bytes_t size_bytes, bool *grown);
	int (*fs_usage)(void *ctx, const char *mp, struct dms_fs_usage *u);
	/* state: an mkfs in progress (set before, cleared after: an mkfs cut off
	 * is run again instead of mounting what it left), pending list, mountpoint */
	int (*mkfs_pending)(void *ctx, const char *pool);
	int (*set_mkfs_pending)(void *ctx, const char *pool, bool on);
	int (*unpend)(void *ctx, const char *pool, const char *volume_id);
	void (*load_mountpoint)(void *ctx, const char *pool, char *out, size_t len);
	void (*save_mountpoint)(void *ctx, const char *pool, const char *mp);
	/* test builds: stop at a named step */
	void (*test_stop)(void *ctx, const char *name);   /* test builds only */
};

/* The kernel, devices and files of this machine. */
extern const struct dms_host dms_host_real;
#endif
