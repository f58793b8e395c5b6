#ifndef DMSCALE_PROBE_H
#define DMSCALE_PROBE_H
#include <stddef.h>
#include <sys/types.h>
/* libblkid: does the device hold any signature (filesystem, partition table,
 * LVM PV, RAID member, swap, ...)? 1 and a description in what[], 0 if blank,
 * -errno on error. The device is opened read-only. */
int dms_probe_signatures(const char *devnode, char *what, size_t whatlen);
/* Same, but refused (-ESTALE) unless the opened node is still block device
 * devnum (the one dms_device_inspect saw). */
int dms_probe_signatures_checked(const char *devnode, dev_t devnum, char *what, size_t whatlen);
#endif
