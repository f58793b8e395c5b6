/* The whole disks of this machine as libudev lists them (see udev_disks.h). */
#include "dmscale/udev_disks.h"

#include <errno.h>
#include <libudev.h>

#include "dmscale/log.h"

int dms_udev_disks_foreach(dms_udev_disk_fn fn, void *ctx)
{
	struct udev *udev = udev_new();
	if (!udev)
		return log_error_errno(ENOMEM, "libudev: cannot create a context");
	struct udev_enumerate *en = udev_enumerate_new(udev);
	if (!en) {
		udev_unref(udev);
		return log_error_errno(ENOMEM, "libudev: cannot enumerate block devices");
	}
	udev_enumerate_add_match_subsystem(en, "block");
	udev_enumerate_add_match_property(en, "DEVTYPE", "disk");
	udev_enumerate_scan_devices(en);
	struct udev_list_entry *e;
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
		struct udev_device *ud = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		if (!ud)
			continue;
		const char *node = udev_device_get_devnode(ud);
		const char *sys = udev_device_get_sysname(ud);
		if (node && sys)
			fn(ud, node, sys, ctx);
		udev_device_unref(ud);
	}
	udev_enumerate_unref(en);
	udev_unref(udev);
	return 0;
}
