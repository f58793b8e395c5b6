/* Block device adapter: identity, size, in-use checks, label I/O with libaio. */
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
};

#define DMS_LABEL_IO_TIMEOUT_MS 10000     /* one stuck EBS device must not hang boot */

/* Stat + size + volume id, without opening for write. */
int dms_device_inspect(const char *node, struct dms_device *d);
/* Open O_RDWR|O_EXCL|O_DIRECT (refused if mounted, a dm/md member, or held). */
int dms_device_open_excl(struct dms_device *d);
/* Open O_RDONLY|O_DIRECT (for reading labels of devices that may be in use). */
int dms_device_open_ro(struct dms_device *d);
void dms_device_close(struct dms_device *d);

/* Read both label copies and pick (see dms_label_pick). -ENODATA: no label. */
int dms_device_read_label(struct dms_device *d, struct dms_label *l, unsigned *copies_ok);
/* Write copy A then copy B, each O_DIRECT + O_DSYNC (FUA) and waited for. */
int dms_device_write_label(struct dms_device *d, const struct dms_label *l);
/* Write len_bytes (<= 1 MiB, 4 KiB aligned) of zeros at offset, durably. */
int dms_device_zero(struct dms_device *d, bytes_t offset_bytes, bytes_t len_bytes);

/* Checks for refusing a candidate. Each returns 1 (true), 0, or -errno. */
int dms_device_is_root_disk(const struct dms_device *d);
int dms_device_has_holders(const struct dms_device *d);   /* sysfs holders/, e.g. dm, md */
int dms_device_is_mounted(const struct dms_device *d);    /* /proc/self/mountinfo */

/* sysfs name of a devnum's whole disk ("nvme1n1"), for messages. */
int dms_devnum_to_node(dev_t devnum, char *out, size_t outlen);
#endif
