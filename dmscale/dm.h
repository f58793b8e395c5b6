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
	const char *type;         /* "linear" */
	char params[128];
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
/* Load the new table into the inactive slot and resume: the kernel swaps it in
 * atomically (I/O is only held for the swap). */
int dms_dm_reload(const char *name, const struct dms_dm_target *t, size_t n);
/* Does the live table equal t[0..n)? 1 yes, 0 no, -errno. */
int dms_dm_table_equals(const char *name, const struct dms_dm_target *t, size_t n);
/* Member devices (deps) of the live table. */
int dms_dm_deps(const char *name, dev_t *out, size_t max, size_t *count);
int dms_dm_remove(const char *name);
#endif
