/* Block device adapter: identity, size, in-use checks, label I/O with libaio.
 *
 * How a command writes labels (one checked open per device, one submit per
 * batch, one udev "change" per device per command):
 *   1. dms_device_inspect() each device; dms_device_read_labels() on all of
 *      them at once (one submit; devices without an fd are opened read-only
 *      and closed again, which triggers no udev event).
 *   2. The new device: dms_device_open_checked(d, DMS_DEV_RW | DMS_DEV_EXCL)
 *      is both the "not in use" check (O_EXCL) and the fd its labels go
 *      through; keep it open. Old members, held by dm: DMS_DEV_RW.
 *   3. dms_device_write_labels() per crash-safe batch: {new} copy A, {new}
 *      copy B, {old members} copy A, {old members} copy B; stop at the first
 *      error.
 *   4. dms_device_close() each device once, at the end: every close of a
 *      writable block fd makes udev re-run blkid on the disk. A long-lived
 *      process (the daemon) may keep members open across attaches.
 * dms_device_write_label/zero/read_label remain for single-device callers. */
#ifndef DMSCALE_DEVICE_H
#define DMSCALE_DEVICE_H
#include <stdbool.h>
#include <sys/types.h>
#include "dmscale/label.h"

struct dms_device {
	char node[256];                       /* /dev/nvme1n1 (as opened) */
	dev_t devnum;
	bytes_t size_bytes;
	char volume_id[DMS_VOLUME_ID_MAX];    /* "" if not an EBS volume */
	int fd;                               /* -1 when closed */
	int fd_mode;                          /* DMS_DEV_* flags fd was opened with */
};

/* Open modes (dms_device_open_checked). */
#define DMS_DEV_RO   0x0                  /* O_RDONLY|O_DIRECT */
#define DMS_DEV_RW   0x1                  /* O_RDWR|O_DIRECT|O_DSYNC: label writes go through it */
#define DMS_DEV_EXCL 0x2                  /* O_EXCL: refused if mounted, a dm/md member, or held */
/* With DMS_DEV_RW, for members already in the live table: open through a
 * private node of the same device number (made and unlinked at once under
 * DMS_PRIVATE_NODE_DIR), not d->node. udev watches d->node's inode: closing
 * a writable fd on it makes udev send a "change" and re-run blkid on the
 * disk, N times per attach for N members. A label rewrite changes nothing
 * blkid reports (dmscale labels are no signature blkid knows), so udev's view
 * of the member stays right without that event. Falls back to d->node when
 * the node cannot be made. */
#define DMS_DEV_QUIET 0x4
#define DMS_PRIVATE_NODE_DIR "/dev/.dmscale"

#define DMS_LABEL_IO_TIMEOUT_MS 10000     /* one stuck EBS device must not hang boot */

/* Stat + size + volume id, without opening for write. */
int dms_device_inspect(const char *node, struct dms_device *d);
/* dms_device_inspect for a device known by its number (a member of a live
 * table), with one open: the fd, opened with `mode` and checked to be devnum,
 * answers the size and stays open in d->fd, so the label read and writes that
 * follow reuse it (an append: DMS_DEV_RW | DMS_DEV_QUIET). node names the
 * device in messages, and is opened when a private node cannot be made. */
int dms_device_inspect_open(const char *node, dev_t devnum, int mode, struct dms_device *d);
/* Open d->node with `mode` (DMS_DEV_*) into d->fd, and verify that the node
 * still is the device inspected: the opened fd's st_rdev must equal d->devnum
 * (-ESTALE otherwise: the name now points at another disk). An fd already open
 * with at least `mode` is kept; a weaker one is reopened. */
int dms_device_open_checked(struct dms_device *d, int mode);
/* dms_device_open_checked(d, DMS_DEV_RW | DMS_DEV_EXCL). The fd stays open:
 * write the labels through it (dms_device_write_label) before closing it. */
int dms_device_open_excl(struct dms_device *d);
/* dms_device_open_checked(d, DMS_DEV_RO) (labels of devices that may be in use). */
int dms_device_open_ro(struct dms_device *d);
/* Closing a writable fd makes udev re-probe the disk ("change" + blkid): close
 * each device once, after its last write of the command. */
void dms_device_close(struct dms_device *d);

/* Read both label copies and pick (see dms_label_pick). -ENODATA: no label. */
int dms_device_read_label(struct dms_device *d, struct dms_label *l, unsigned *copies_ok);
/* A command that needs d's label refuses d because reading it failed with r
 * (neither 0 nor -ENODATA): logs why and returns r. -EBUSY, when another
 * dmscale process has an I/O to d stuck past its deadline (stuck.h), says so
 * (which process, since when, what to do); a timeout or another read error
 * says the device did not answer or could not be read (never "damaged", and
 * never advises <fix>); a label of a newer version says to upgrade; only the
 * contents errors of dms_label_error_is_content are a damaged label
 * ("refusing (<fix>)"). */
int dms_device_label_refusal(const struct dms_device *d, int r, const char *fix);
/* Read the label areas of n devices in ONE submit and wait for all of them.
 * Devices without an open fd are opened read-only (checked) and closed again.
 * results[i]: 0, -ENODATA (no label, too small), -ETIMEDOUT, -EBUSY (an older
 * I/O to it is still stuck), -errno. Returns 0, or -ENOMEM. */
int dms_device_read_labels(struct dms_device *const *devs, size_t n, struct dms_label *labels,
			   unsigned *copies_ok, int *results);
/* Write copy A then copy B, each O_DIRECT + O_DSYNC (FUA) and waited for.
 * Through d->fd when it is open DMS_DEV_RW (no reopen, no close); otherwise
 * through a checked fd opened and closed here. */
int dms_device_write_label(struct dms_device *d, const struct dms_label *l);
/* One batch: copy `copy` (0 = A, 1 = B) of labels[i] onto devs[i], for all i,
 * in one submit, all FUA, waited for. Every label is encoded (and refused if
 * invalid) before anything is written. Same fd rule as dms_device_write_label.
 * 0 when every write completed; else the first error (some may have landed). */
int dms_device_write_labels(struct dms_device *const *devs, const struct dms_label *labels, size_t n,
			    unsigned copy);
/* Write len_bytes (<= 1 MiB, 4 KiB aligned) of zeros at offset, durably
 * (same fd rule as dms_device_write_label). */
int dms_device_zero(struct dms_device *d, bytes_t offset_bytes, bytes_t len_bytes);

/* Checks for refusing a candidate. Each returns 1 (true), 0, or -errno. */
int dms_device_is_root_disk(const struct dms_device *d);
int dms_device_has_holders(const struct dms_device *d);   /* sysfs holders/, e.g. dm, md */
int dms_device_is_mounted(const struct dms_device *d);    /* /proc/self/mountinfo */
/* Same, against a mountinfo file (tests; NULL: /proc/self/mountinfo). */
int dms_device_is_mounted_in(const struct dms_device *d, const char *mountinfo_path);

/* "/dev/NAME" of a devnum (libblkid), for messages. */
int dms_devnum_to_node(dev_t devnum, char *out, size_t outlen);
#endif
