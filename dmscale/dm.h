/* device-mapper adapter (libdevmapper): create, reload+resume, query. */
#ifndef DMSCALE_DM_H
#define DMSCALE_DM_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/units.h"

#define DMS_DM_UUID_PREFIX "DMSCALE-"

struct dms_dm_target {
	sectors_t start_sectors;
	sectors_t length_sectors;
	const char *type;         /* "linear" | "striped" | thin types */
	char params[256];         /* a stripe over DMS_MAX_STRIPE members fits */
};

/* One target of a live table, as the kernel reports it. */
struct dms_dm_live_target {
	sectors_t start_sectors, length_sectors;
	char type[16];
	char params[256];
};

struct dms_dm_info {
	bool exists;
	bool suspended;
	dev_t devnum;
	sectors_t size_sectors;
	unsigned target_count;
	unsigned event_nr;
	char uuid[129];
};

int dms_dm_info(const char *name, struct dms_dm_info *info);
/* Create and activate `name` with the table, and wait for udev to make /dev/mapper/name. */
int dms_dm_create(const char *name, const char *uuid, const struct dms_dm_target *t, size_t n);
/* Same; a private device gets no udev disk/other rules (internal layers), and
 * its udev wait is deferred to dms_dm_udev_wait_deferred(): the thin pool's
 * -tmeta, -tdata and -tpool are referenced by device number (nothing opens
 * their /dev/mapper node), so udev handles them while the next layers are
 * created, instead of one wait after another. */
int dms_dm_create_flags(const char *name, const char *uuid, const struct dms_dm_target *t, size_t n,
			bool private_dev);
/* Load the new table into the inactive slot and resume: the kernel swaps it in
 * atomically (I/O is only held for the swap). */
int dms_dm_reload(const char *name, const struct dms_dm_target *t, size_t n);
/* Same; a private device keeps its udev flags (no disk/other rules) at the
 * resume. When the resume fails, the new table is cleared and the device
 * resumed with its old table (as LVM does): it is never left suspended. */
int dms_dm_reload_flags(const char *name, const struct dms_dm_target *t, size_t n, bool private_dev);
/* Same, for an append to a linear table (the live table is a prefix of the
 * new one): the resume skips the filesystem freeze (dm_task_skip_lockfs; the
 * suspend still drains in-flight I/O), and its udev wait is deferred to
 * dms_dm_udev_wait_deferred() so the filesystem grows first (docs/DESIGN.md,
 * "No freeze for a linear append"). */
int dms_dm_reload_append(const char *name, const struct dms_dm_target *t, size_t n);
/* dms_dm_reload_flags(private_dev = true) with the udev wait deferred like
 * dms_dm_reload_append's: a thin pool's internal devices (-tdata, -tpool) are
 * referenced by device number, so nothing after their resume needs udev. */
int dms_dm_reload_private_deferred(const char *name, const struct dms_dm_target *t, size_t n);
/* Wait for udev on every deferred resume (no-op when none). */
void dms_dm_udev_wait_deferred(void);
/* The reload steps over an interface, so their order is unit-tested. */
struct dms_dm_reload_ops {
	void *ctx;
	int (*load)(void *ctx);                 /* the new table into the inactive slot */
	int (*resume)(void *ctx);               /* swap it in (suspend + resume) */
	int (*clear)(void *ctx);                /* drop the inactive table */
};
int dms_dm_reload_steps(const char *name, const struct dms_dm_reload_ops *o);
/* The live table: up to max targets into out, *count set. -ENODEV if absent. */
int dms_dm_table(const char *name, struct dms_dm_live_target *out, size_t max, size_t *count);
/* Member devices (deps) of the live table. */
int dms_dm_deps(const char *name, dev_t *out, size_t max, size_t *count);
int dms_dm_remove(const char *name);
/* Send a target message to sector 0 (thin-pool: "create_thin 0", ...). -EIO if
 * the target refused it (the kernel logs why). */
int dms_dm_message(const char *name, const char *msg);
/* Status line of the first target: type ("thin-pool") and params; the event
 * counter. -ENODEV if the device does not exist, -ENODATA if it has no table. */
int dms_dm_status(const char *name, char *type_out, size_t type_len, char *params_out, size_t params_len,
		  unsigned *event_nr);
/* Same for the live table's first target. */
int dms_dm_table_first(const char *name, char *type_out, size_t type_len, char *params_out, size_t params_len);
/* Wait until the device's event counter differs from event_nr (thin-pool: low
 * water mark crossed, out of space, mode change; any table resume). Returns
 * at once if it already differs; -EINTR if a signal interrupted the wait. */
int dms_dm_wait_event(const char *name, unsigned event_nr);
#endif
