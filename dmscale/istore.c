/* Instance-store NVMe disks (pure): classification and the blank-disk rule. */
#include "dmscale/istore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmscale/label.h"

/* Compare a model string with want: '_' counts as ' ' (udev's ID_MODEL),
 * trailing blanks are NVMe padding. */
static bool model_is(const char *model, const char *want)
{
	if (!model)
		return false;
	size_t n = strnlen(model, 128);
	while (n > 0 && (model[n - 1] == ' ' || model[n - 1] == '_' || model[n - 1] == '\n' || model[n - 1] == '\t'))
		n--;
	size_t w = strlen(want);
	if (n != w)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = model[i] == '_' ? ' ' : model[i];
		if (c != want[i])
			return false;
	}
	return true;
}

static bool vendor_is_amazon(const char *v)
{
	if (!v)
		return false;
	char *end;
	unsigned long x = strtoul(v, &end, 16);    /* "0x1d0f" or "1d0f" */
	while (*end == ' ' || *end == '\n')
		end++;
	return end != v && !*end && x == DMS_AMAZON_VENDOR_ID;
}

enum dms_disk_kind dms_disk_classify(const struct dms_disk_ident *id)
{
	char vol[DMS_VOLUME_ID_MAX];
	if (!id)
		return DMS_DISK_OTHER;
	if ((id->serial && dms_volume_id_from_serial(id->serial, vol) == 0) || model_is(id->model, DMS_EBS_MODEL))
		return DMS_DISK_EBS;
	if (model_is(id->model, DMS_ISTORE_MODEL) && vendor_is_amazon(id->vendor_id))
		return DMS_DISK_INSTANCE_STORE;
	return DMS_DISK_OTHER;
}

const char *dms_istore_refusal(const struct dms_istore_disk *d)
{
	if (!d)
		return "no disk";
	if (d->root)
		return "it is (or backs) the root filesystem";
	if (d->mounted)
		return "it is mounted";
	if (d->holders)
		return "it is in use by another device (dm/md/LVM holder)";
	if (d->size_bytes < DMS_MIN_DEVICE_BYTES)
		return "it is smaller than 1 GiB";
	if (d->label > 0)
		return "it carries a dmscale label";
	if (d->label == -ETIMEDOUT || d->label == -EBUSY)
		return "it does not answer (its label read timed out)";
	if (d->label < 0 && !dms_label_error_is_content(d->label))
		return "its label cannot be read (I/O error)";
	if (d->label < 0)
		return "it holds a damaged dmscale label";
	if (d->signature)
		return "it holds a signature";
	return NULL;
}
