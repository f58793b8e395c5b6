/* Instance-store NVMe disks (pure): classify a disk from its identify data and
 * udev properties, and decide whether one may join a pool. istore_scan.c is
 * the libudev adapter. */
#ifndef DMSCALE_ISTORE_H
#define DMSCALE_ISTORE_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/units.h"

#define DMS_ISTORE_MODEL     "Amazon EC2 NVMe Instance Storage"
#define DMS_EBS_MODEL        "Amazon Elastic Block Store"
#define DMS_AMAZON_VENDOR_ID 0x1d0fu

enum dms_disk_kind { DMS_DISK_OTHER = 0, DMS_DISK_EBS, DMS_DISK_INSTANCE_STORE };

/* What a disk says about itself. Any field may be NULL (unknown). */
struct dms_disk_ident {
	const char *model;      /* udev ID_MODEL, else the NVMe controller's sysfs "model" */
	const char *vendor_id;  /* udev ID_VENDOR_ID, else the PCI "vendor" ("0x1d0f") */
	const char *serial;     /* udev ID_SERIAL_SHORT, else the controller's "serial" */
};

/* EBS: the serial is an EBS volume serial, or the model is EBS's. Instance
 * store: the model is DMS_ISTORE_MODEL (udev may write '_' for ' ', trailing
 * blanks are padding) and the vendor is Amazon's, and the serial is not an EBS
 * one. Everything else: other. */
enum dms_disk_kind dms_disk_classify(const struct dms_disk_ident *id);

/* An instance-store disk as the adapter found it. */
struct dms_istore_disk {
	char node[64];
	dev_t devnum;
	bytes_t size_bytes;
	int root;               /* 1: the root disk (or backs it) */
	int mounted;            /* 1: some partition of it is mounted */
	int holders;            /* 1: held by dm/md/... */
	int signature;          /* 1: blkid finds a signature */
	int label;              /* 0: no dmscale label, 1: a valid one, < 0: a damaged one */
	char what[96];          /* the signature, when signature == 1 */
};

/* NULL when the disk may be used as a blank new member; else why not (for the
 * log): the root disk, in use, too small, a signature, a label. */
const char *dms_istore_refusal(const struct dms_istore_disk *d);

#define DMS_ISTORE_MAX 24
/* How long init waits for udev to probe NVMe disks of unknown kind before
 * choosing the instance-store tier without them (init early at boot). */
#define DMS_ISTORE_PROBE_WAIT_MS 30000u

struct dms_istore_list {
	size_t n;
	struct dms_istore_disk disk[DMS_ISTORE_MAX];
	size_t uninitialized;   /* NVMe disks udev has not probed yet (kind unknown; not EBS by the kernel's identify data) */
};

/* The instance-store disks of this machine (libudev), each with the checks of
 * dms_istore_refusal filled in. 0 or -errno. */
int dms_istore_scan(struct dms_istore_list *out);
#endif
