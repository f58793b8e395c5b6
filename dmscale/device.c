/* Block device adapter: identity (libudev), size, in-use checks, and label
 * I/O through libaio with a timeout so that one stuck volume cannot hang us. */
#include "dmscale/device.h"

#include <dirent.h>
#include <fcntl.h>
#include <libaio.h>
#include <libudev.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmscale/log.h"

#define LABEL_AREA_BYTES (DMS_LABEL_COPY_B_OFFSET + DMS_LABEL_COPY_BYTES)
#define DIRECT_ALIGN 4096

static void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep)))

static void read_volume_id(dev_t devnum, char out[DMS_VOLUME_ID_MAX])
{
	out[0] = '\0';
	struct udev *udev = udev_new();
	if (!udev)
		return;
	struct udev_device *dev = udev_device_new_from_devnum(udev, 'b', devnum);
	if (dev) {
		const char *serial = udev_device_get_property_value(dev, "ID_SERIAL_SHORT");
		if (!serial) {
			/* udev database not populated yet: ask sysfs (NVMe controller attribute). */
			struct udev_device *parent = udev_device_get_parent(dev);
			if (parent)
				serial = udev_device_get_sysattr_value(parent, "serial");
		}
		if (serial && dms_volume_id_from_serial(serial, out) < 0)
			out[0] = '\0';
		udev_device_unref(dev);
	}
	udev_unref(udev);
}

int dms_device_inspect(const char *node, struct dms_device *d)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (snprintf(d->node, sizeof(d->node), "%s", node) >= (int)sizeof(d->node))
		return log_error_errno(ENAMETOOLONG, "%s: device path too long", node);
	if (stat(node, &st) < 0)
		return log_error_errno(errno, "%s: cannot stat device: %m; check the path", node);
	if (!S_ISBLK(st.st_mode))
		return log_error_errno(ENOTBLK, "%s: not a block device; give a disk such as /dev/nvme1n1", node);
	d->devnum = st.st_rdev;

	int fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		/* Unprivileged (status): sysfs tells the size in 512-byte sectors. */
		char path[128];
		unsigned long long sectors = 0;
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/size", major(d->devnum), minor(d->devnum));
		FILE *f = fopen(path, "re");
		int ok = f && fscanf(f, "%llu", &sectors) == 1;
		if (f)
			fclose(f);
		if (!ok)
			return log_error_errno(EACCES, "%s: cannot read the device size without root", node);
		d->size_bytes = sectors_to_bytes(sectors);
		read_volume_id(d->devnum, d->volume_id);
		return 0;
	}
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open: %m", node);
	uint64_t size = 0;
	int r = ioctl(fd, BLKGETSIZE64, &size);
	int saved = errno;
	close(fd);
	if (r < 0)
		return log_error_errno(saved, "%s: cannot read the device size: %m", node);
	d->size_bytes = size;
	read_volume_id(d->devnum, d->volume_id);
	return 0;
}

static int device_open(struct dms_device *d, int flags)
{
	if (d->fd >= 0)
		return 0;
	d->fd = open(d->node, flags | O_DIRECT | O_CLOEXEC);
	if (d->fd < 0) {
		int err = errno;
		if (err == EBUSY)
			return log_error_errno(err, "%s: device is in use (mounted, or held by device-mapper/md); "
					       "refusing to touch it", d->node);
		return log_error_errno(err, "%s: cannot open: %m", d->node);
	}
	return 0;
}

int dms_device_open_excl(struct dms_device *d) { return device_open(d, O_RDWR | O_EXCL | O_DSYNC); }
int dms_device_open_ro(struct dms_device *d) { return device_open(d, O_RDONLY); }

void dms_device_close(struct dms_device *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* One pread/pwrite through libaio, waited for at most timeout_ms. */
static int aio_rw(int fd, int write, void *buf, size_t len, off_t off, int timeout_ms, const char *node)
{
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	int r = io_setup(1, &ctx);
	if (r < 0)
		return log_error_errno(-r, "%s: io_setup failed: %m", node);
	if (write) {
		io_prep_pwrite(&cb, fd, buf, len, off);
		cb.aio_rw_flags = RWF_DSYNC;   /* FUA: the label is durable when this returns */
	} else {
		io_prep_pread(&cb, fd, buf, len, off);
	}
	r = io_submit(ctx, 1, cbs);
	if (r != 1) {
		r = log_error_errno(r < 0 ? -r : EIO, "%s: cannot submit label %s: %m", node, write ? "write" : "read");
		io_destroy(ctx);
		return r;
	}
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
	r = io_getevents(ctx, 1, 1, &ev, &ts);
	if (r != 1) {
		/* The device is stuck. io_destroy() would wait for the I/O, so leave the
		 * context behind: better one leaked context than a hung boot. */
		io_cancel(ctx, &cb, &ev);
		return log_error_errno(ETIMEDOUT, "%s: label %s did not complete within %d ms; "
				       "the volume is not responding (check its EBS status)",
				       node, write ? "write" : "read", timeout_ms);
	}
	io_destroy(ctx);
	long res = (long)ev.res;
	if (res < 0)
		return log_error_errno((int)-res, "%s: label %s failed: %m", node, write ? "write" : "read");
	if ((size_t)res != len)
		return log_error_errno(EIO, "%s: short label %s (%ld of %zu bytes)", node,
				       write ? "write" : "read", res, len);
	return 0;
}

int dms_device_read_label(struct dms_device *d, struct dms_label *l, unsigned *copies_ok)
{
	_cleanup_free_ uint8_t *buf = NULL;
	int opened_here = d->fd < 0;
	int r;

	if (d->size_bytes < LABEL_AREA_BYTES)
		return -ENODATA;
	if (opened_here && (r = dms_device_open_ro(d)) < 0)
		return r;
	if (posix_memalign((void **)&buf, DIRECT_ALIGN, LABEL_AREA_BYTES)) {
		r = log_error_errno(ENOMEM, "out of memory");
		goto out;
	}
	r = aio_rw(d->fd, 0, buf, LABEL_AREA_BYTES, 0, DMS_LABEL_IO_TIMEOUT_MS, d->node);
	if (r < 0)
		goto out;
	r = dms_label_pick(buf + DMS_LABEL_COPY_A_OFFSET, DMS_LABEL_COPY_BYTES,
			   buf + DMS_LABEL_COPY_B_OFFSET, DMS_LABEL_COPY_BYTES, l, copies_ok);
out:
	if (opened_here)
		dms_device_close(d);
	return r;
}

int dms_device_write_label(struct dms_device *d, const struct dms_label *l)
{
	_cleanup_free_ uint8_t *buf = NULL;
	int fd = -1, r;

	if (posix_memalign((void **)&buf, DIRECT_ALIGN, DMS_LABEL_COPY_BYTES))
		return log_error_errno(ENOMEM, "out of memory");
	/* Members already in a live table are held by dm, so no O_EXCL here; the
	 * label area is outside every table segment. */
	fd = open(d->node, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open to write the label: %m", d->node);
	for (unsigned copy = 0; copy < 2; copy++) {
		r = dms_label_encode(l, copy, buf, DMS_LABEL_COPY_BYTES);
		if (r < 0) {
			log_error_errno(r, "%s: refusing to write an invalid label (generation %llu): %m",
					d->node, (unsigned long long)l->generation);
			goto out;
		}
		r = aio_rw(fd, 1, buf, DMS_LABEL_COPY_BYTES,
			   copy ? DMS_LABEL_COPY_B_OFFSET : DMS_LABEL_COPY_A_OFFSET,
			   DMS_LABEL_IO_TIMEOUT_MS, d->node);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

int dms_device_zero(struct dms_device *d, bytes_t offset_bytes, bytes_t len_bytes)
{
	_cleanup_free_ uint8_t *buf = NULL;
	if (offset_bytes % DIRECT_ALIGN || len_bytes % DIRECT_ALIGN || len_bytes > MIB)
		return -EINVAL;
	if (posix_memalign((void **)&buf, DIRECT_ALIGN, len_bytes))
		return log_error_errno(ENOMEM, "out of memory");
	memset(buf, 0, len_bytes);
	int fd = open(d->node, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open to write: %m", d->node);
	int r = aio_rw(fd, 1, buf, len_bytes, (off_t)offset_bytes, DMS_LABEL_IO_TIMEOUT_MS, d->node);
	close(fd);
	return r;
}

/* --- in-use checks ------------------------------------------------------ */

static int sysfs_whole_disk(dev_t devnum, dev_t *whole)
{
	char path[128], link[512];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(devnum), minor(devnum));
	if (access(path, F_OK) < 0) {
		*whole = devnum;
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(devnum), minor(devnum));
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	unsigned ma, mi;
	int ok = fscanf(f, "%u:%u", &ma, &mi) == 2;
	fclose(f);
	(void)link;
	if (!ok)
		return -EIO;
	*whole = makedev(ma, mi);
	return 0;
}

/* Does `devnum` (a whole disk) back `top`, directly or through slaves? */
static int backs(dev_t top, dev_t disk, int depth)
{
	dev_t w;
	if (depth > 8)
		return 0;
	if (sysfs_whole_disk(top, &w) == 0 && w == disk)
		return 1;
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/slaves", major(top), minor(top));
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		char dp[512];
		snprintf(dp, sizeof(dp), "%s/%s/dev", path, de->d_name);
		FILE *f = fopen(dp, "re");
		unsigned ma, mi;
		if (f && fscanf(f, "%u:%u", &ma, &mi) == 2)
			found = backs(makedev(ma, mi), disk, depth + 1);
		if (f)
			fclose(f);
	}
	closedir(dir);
	return found;
}

int dms_device_is_root_disk(const struct dms_device *d)
{
	struct stat st;
	if (stat("/", &st) < 0)
		return -errno;
	return backs(st.st_dev, d->devnum, 0);
}

static int dir_nonempty(const char *path)
{
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	struct dirent *de;
	int n = 0;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n > 0;
}

int dms_device_has_holders(const struct dms_device *d)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", major(d->devnum), minor(d->devnum));
	return dir_nonempty(path);
}

int dms_device_is_mounted(const struct dms_device *d)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned id, parent, ma, mi;
		if (sscanf(line, "%u %u %u:%u", &id, &parent, &ma, &mi) != 4)
			continue;
		dev_t w;
		if (ma == 0)
			continue;
		if (sysfs_whole_disk(makedev(ma, mi), &w) == 0 && w == d->devnum)
			found = 1;
	}
	fclose(f);
	return found;
}

int dms_devnum_to_node(dev_t devnum, char *out, size_t outlen)
{
	char path[128], link[512];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(devnum), minor(devnum));
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	const char *base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (snprintf(out, outlen, "/dev/%s", base) >= (int)outlen)
		return -ENAMETOOLONG;
	return 0;
}
