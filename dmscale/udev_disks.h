/* The whole disks of this machine as libudev lists them: the one enumeration
 * behind the label scan (scan.c) and the instance-store scan (istore_scan.c). */
#ifndef DMSCALE_UDEV_DISKS_H
#define DMSCALE_UDEV_DISKS_H

struct udev_device;

/* One disk: its udev device (valid during the call only), its node
 * ("/dev/nvme1n1") and its kernel name ("nvme1n1"), both non-NULL. */
typedef void (*dms_udev_disk_fn)(struct udev_device *ud, const char *node, const char *sysname, void *ctx);

/* Call fn for every block device of DEVTYPE "disk" that has a node and a
 * name, in udev's (sysfs) order. 0, or -ENOMEM (logged) when libudev cannot
 * create its context or enumeration. */
int dms_udev_disks_foreach(dms_udev_disk_fn fn, void *ctx);
#endif
