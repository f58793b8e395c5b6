/* Per-pool state on this machine: the pool lock, the saved mountpoint, names. */
#ifndef DMSCALE_STATE_H
#define DMSCALE_STATE_H
#include <stdbool.h>
#include <stddef.h>

/* Pool names: 1-47 of [A-Za-z0-9_.-], not "." or "..", not starting with '-'
 * (the label's rule, docs/FORMAT.md §2.3). */
bool dms_pool_name_valid(const char *s);
/* $DMSCALE_STATE_DIR, or DMS_STATE_DIR. */
const char *dms_state_dir(void);
void dms_state_save_mountpoint(const char *pool, const char *mp);
/* The saved mountpoint, or DMS_DEFAULT_MOUNTPOINT. */
void dms_state_load_mountpoint(const char *pool, char *out, size_t len);
/* Was this pool mounted on this machine (a saved mountpoint)? */
bool dms_state_has_mountpoint(const char *pool);
/* The "mkfs in progress" mark of a pool: 1/0/-errno; set or clear it durably. */
int dms_state_mkfs_pending(const char *pool);
int dms_state_set_mkfs_pending(const char *pool, bool on);
/* Is path the root of a mount (something is mounted there)? 1/0/-errno;
 * a path that does not exist is not. */
int dms_path_is_mountpoint(const char *path);
#endif
