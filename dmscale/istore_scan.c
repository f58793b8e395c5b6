/* Instance-store NVMe disks: the libudev adapter of istore.c (identify data
 * from the udev database, so a udev rule can override it; sysfs when udev has
 * not written it), and the blank-disk checks of each one found. */
#include "dmscale/istore.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/device.h"
#include "dmscale/log.h"
#include "dmscale/probe.h"
#include "dmscale/udev_disks.h"

static const char *attr_up(struct udev_device *dev, const char *subsystem, const char *attr)
{
	struct udev_device *p = udev_device_get_parent_with_subsystem_devtype(dev, subsystem, NULL);
	return p ? udev_device_get_sysattr_value(p, attr) : NULL;
}

/* Fill the checks of dms_istore_refusal for the disk at node. */
static int inspect(const char *node, struct dms_istore_disk *o)
{
	struct dms_device d;
	int r = dms_device_inspect(node, &d);
	if (r < 0)
		return r;
	snprintf(o->node, sizeof(o->node), "%s", node);
	o->devnum = d.devnum;
	o->size_bytes = d.size_bytes;
	if ((r = dms_device_is_root_disk(&d)) < 0 || (o->root = r))
		return r < 0 ? r : 0;
	if ((r = dms_device_is_mounted(&d)) < 0 || (o->mounted = r))
		return r < 0 ? r : 0;
	if ((r = dms_device_has_holders(&d)) < 0 || (o->holders = r))
		return r < 0 ? r : 0;
	struct dms_label *l = calloc(1, sizeof(*l));
	unsigned ok;
	if (!l)
		return -ENOMEM;
	r = dms_device_read_label(&d, l, &ok);
	free(l);
	o->label = r == 0 ? 1 : r == -ENODATA ? 0 : r;
	if (o->label)
		return 0;
	r = dms_probe_signatures_checked(node, d.devnum, o->what, sizeof(o->what));
	if (r < 0)
		return r;
	o->signature = r;
	return 0;
}

/* One disk of dms_istore_scan: an instance-store NVMe disk is inspected and listed. */
static void istore_disk(struct udev_device *ud, const char *node, const char *sys, void *ctx)
{
	struct dms_istore_list *out = ctx;
	if (strncmp(sys, "nvme", 4))
		return;
	/* Its rules have not run (a rule may still set its model), or its udev
	 * database has no model yet: every NVMe disk gets ID_MODEL from udev's
	 * own persistent-storage rules, so a record without one is not final. */
	if (!udev_device_get_is_initialized(ud) || !udev_device_get_property_value(ud, "ID_MODEL")) {
		/* the kernel's identify data already tells an EBS volume (its
		 * serial, its model): no rule makes one instance storage */
		const struct dms_disk_ident kernel = { .model = attr_up(ud, "nvme", "model"),
						       .serial = attr_up(ud, "nvme", "serial"),
						       .vendor_id = attr_up(ud, "pci", "vendor") };
		if (dms_disk_classify(&kernel) == DMS_DISK_EBS)
			return;
		out->uninitialized++;
		log_debug("%s: not yet probed by udev", node);
		return;
	}
	struct dms_disk_ident id = {
		.model = udev_device_get_property_value(ud, "ID_MODEL"),
		.vendor_id = udev_device_get_property_value(ud, "ID_VENDOR_ID"),
		.serial = udev_device_get_property_value(ud, "ID_SERIAL_SHORT"),
	};
	if (!id.model)
		id.model = attr_up(ud, "nvme", "model");
	if (!id.serial)
		id.serial = attr_up(ud, "nvme", "serial");
	if (!id.vendor_id)
		id.vendor_id = attr_up(ud, "pci", "vendor");
	if (dms_disk_classify(&id) != DMS_DISK_INSTANCE_STORE)
		return;
	if (out->n >= DMS_ISTORE_MAX) {
		log_warning("%s: more than %d instance-store disks; ignoring it", node, DMS_ISTORE_MAX);
		return;
	}
	int q = inspect(node, &out->disk[out->n]);
	if (q < 0)
		log_warning("%s: instance-store disk, but it cannot be inspected (%s); not using it", node,
			    strerror(-q));
	else
		out->n++;
}

int dms_istore_scan(struct dms_istore_list *out)
{
	memset(out, 0, sizeof(*out));
	int r = dms_udev_disks_foreach(istore_disk, out);
	if (r < 0)
		return r;
	/* udev lists disks in sysfs order; sort by name for a stable stripe order */
	for (size_t i = 1; i < out->n; i++)
		for (size_t j = i; j > 0 && strcmp(out->disk[j - 1].node, out->disk[j].node) > 0; j--) {
			struct dms_istore_disk t = out->disk[j];
			out->disk[j] = out->disk[j - 1];
			out->disk[j - 1] = t;
		}
	return 0;
}
