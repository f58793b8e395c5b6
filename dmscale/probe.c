/* Signature probe (libblkid): is a device blank? */
#include "dmscale/probe.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmscale/log.h"

static int probe_fd(int fd, const char *devnode, char *what, size_t whatlen);

int dms_probe_signatures(const char *devnode, char *what, size_t whatlen)
{
	int fd = open(devnode, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open to probe: %m", devnode);
	return probe_fd(fd, devnode, what, whatlen);
}

int dms_probe_signatures_checked(const char *devnode, dev_t devnum, char *what, size_t whatlen)
{
	struct stat st;
	int fd = open(devnode, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open to probe: %m", devnode);
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != devnum) {
		close(fd);
		return log_error_errno(ESTALE, "%s: no longer the device %u:%u that was inspected (replaced or "
				       "renamed); refusing to touch it, run the command again", devnode,
				       major(devnum), minor(devnum));
	}
	return probe_fd(fd, devnode, what, whatlen);
}

/* Probe through fd, and close it. */
static int probe_fd(int fd, const char *devnode, char *what, size_t whatlen)
{
	int r;
	blkid_probe pr = blkid_new_probe();
	if (!pr) {
		close(fd);
		return log_error_errno(ENOMEM, "%s: cannot allocate a blkid probe", devnode);
	}
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
		r = log_error_errno(EIO, "%s: blkid cannot use the device", devnode);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);

	r = blkid_do_fullprobe(pr);
	if (r < 0) {
		r = log_error_errno(EIO, "%s: blkid probe failed", devnode);
		goto out;
	}
	if (r == 1) {           /* nothing found */
		r = 0;
		goto out;
	}
	const char *type = NULL, *pttype = NULL;
	blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
	blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
	if (type)
		snprintf(what, whatlen, "a %s signature", type);
	else if (pttype)
		snprintf(what, whatlen, "a %s partition table", pttype);
	else
		snprintf(what, whatlen, "an unknown signature");
	r = 1;
out:
	blkid_free_probe(pr);
	close(fd);
	return r;
}
