/* The mount table, read through libmount (/proc/self/mountinfo, or a file). */
#ifndef DMSCALE_MOUNTINFO_H
#define DMSCALE_MOUNTINFO_H
#include <stddef.h>
#include <sys/types.h>

/* One mount, as libmount decoded it (escapes such as \040 undone). The
 * strings live until the callback returns. */
struct dms_mount_entry {
	dev_t devnum;              /* st_dev of the mounted filesystem (0:N for virtual ones) */
	const char *target;        /* mount point */
	const char *source;        /* "" when none */
	const char *fstype;        /* "" when none */
	const char *root;          /* root of the mount within its filesystem */
};

/* Return 0 to go on, anything else to stop (that value is returned). */
typedef int (*dms_mount_fn)(const struct dms_mount_entry *m, void *userdata);

/* Call fn for every mount, in table order. path NULL: /proc/self/mountinfo.
 * 0 at the end, fn's non-zero value, or -errno when the table cannot be read. */
int dms_mountinfo_foreach(const char *path, dms_mount_fn fn, void *userdata);

/* The first mount of devnum: its st_dev, or (btrfs reports an anonymous st_dev)
 * a source that resolves to the device node /dev/block/MAJ:MIN resolves to.
 * 1 and the mount point in mp, 0 when not mounted, -ENAMETOOLONG when mp is too
 * small, -errno. */
int dms_mountinfo_find_devnum(const char *path, dev_t devnum, char *mp, size_t mplen);

/* What is mounted at `target` now: the topmost of the mounts stacked there
 * (the last in table order). target is canonicalized (realpath) when it
 * exists. 1 with its devnum (and source, if source_len), 0 when nothing is
 * mounted there, -errno. Before mounting a pool, a caller can refuse a
 * mountpoint that already holds a filesystem of another device. */
int dms_mountinfo_find_target(const char *path, const char *target, dev_t *devnum, char *source,
			      size_t source_len);
#endif
