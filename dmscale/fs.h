/* Filesystem adapter: mkfs (fixed argv, no shell), mount(2), online growth
 * through the kernel's own ioctls, statvfs. */
#ifndef DMSCALE_FS_H
#define DMSCALE_FS_H
#include <stdbool.h>
#include <sys/types.h>
#include "dmscale/units.h"

struct dms_fs_usage {
	bytes_t size_bytes;
	bytes_t used_bytes;
	bytes_t free_bytes;      /* available to unprivileged writers */
	bytes_t block_bytes;
};

bool dms_fs_type_supported(const char *fstype);
/* fixed_size: the device never grows (a thin volume at its virtual size);
 * backing_bytes: the real data space under it (sizes its journal or log). */
int dms_fs_mkfs(const char *fstype, const char *devnode, bytes_t backing_bytes, bool fixed_size);
/* discard: online discard (btrfs: discard=async), so deleted files unmap thin blocks. */
int dms_fs_mount(const char *fstype, const char *devnode, const char *mountpoint, bool discard);
/* Is devnum mounted? If so copy the first mountpoint into mp. 1/0/-errno. */
int dms_fs_find_mount(dev_t devnum, char *mp, size_t mplen);
/* Grow the filesystem mounted at mountpoint to fill device_bytes. Idempotent:
 * 0 and *grown=false when it already fills the device. */
int dms_fs_grow(const char *fstype, const char *mountpoint, bytes_t device_bytes, bool *grown);
int dms_fs_usage(const char *mountpoint, struct dms_fs_usage *u);
/* Run argv (argv[0] looked up in a fixed PATH), wait; returns exit status or -errno. */
int dms_run_argv(char *const argv[]);
#endif
