/* The pending list: volume ids the provisioning daemon created for a pool and
 * that `dmscale attach --udev` may claim when they appear. One file per pool:
 * <state_dir>/<pool>/pending, one volume id per line, replaced atomically
 * (write temp + fsync + rename + fsync dir) under an flock on the file's
 * directory lock. Default state_dir: DMS_STATE_DIR. */
#ifndef DMSCALE_PENDING_H
#define DMSCALE_PENDING_H
#include <stddef.h>
#include "dmscale/label.h"

#define DMS_STATE_DIR "/var/lib/dmscale"
#define DMS_RUN_DIR   "/run/dmscale"

struct dms_pending {
	size_t count;
	char ids[DMS_MAX_MEMBERS][DMS_VOLUME_ID_MAX];
};

/* Pure: parse/format the file contents. Lines that are not "vol-<hex>" are an error (-EINVAL). */
int dms_pending_parse(const char *text, size_t len, struct dms_pending *p);
int dms_pending_format(const struct dms_pending *p, char *out, size_t outlen);

/* Adapters (state_dir NULL => DMS_STATE_DIR, or $DMSCALE_STATE_DIR if set). */
int dms_pending_load(const char *state_dir, const char *pool, struct dms_pending *p);
int dms_pending_add(const char *state_dir, const char *pool, const char *volume_id);
int dms_pending_remove(const char *state_dir, const char *pool, const char *volume_id);
int dms_pending_contains(const char *state_dir, const char *pool, const char *volume_id); /* 1/0/-errno */
#endif
