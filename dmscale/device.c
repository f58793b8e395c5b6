/* Block device adapter: identity (libudev), size, in-use checks (libblkid,
 * libmount), and label I/O in batches through aio.c, with a deadline so that
 * one stuck volume cannot hang us. */
#include "dmscale/device.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <libudev.h>
#include <stdint.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dmscale/aio.h"
#include "dmscale/log.h"
#include "dmscale/mountinfo.h"
#include "dmscale/stuck.h"

#define LABEL_AREA_BYTES (DMS_LABEL_COPY_B_OFFSET + DMS_LABEL_COPY_BYTES)
#define DIRECT_ALIGN 4096

/* The NVMe controller's serial from sysfs, the attribute udev copies into
 * ID_SERIAL_SHORT: one small read, where a libudev lookup walks the sysfs path
 * one component at a time (about 50 syscalls per device, the larger part of
 * an attach's read step at 26 members). false when the device has no serial
 * attribute (not NVMe, a partition). */
static bool sysfs_serial(dev_t devnum, char *out, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/device/serial", major(devnum), minor(devnum));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = '\0';
	return true;
}

static void read_volume_id(dev_t devnum, char out[DMS_VOLUME_ID_MAX])
{
	char serial[80];
	out[0] = '\0';
	if (sysfs_serial(devnum, serial, sizeof(serial))) {
		if (dms_volume_id_from_serial(serial, out) < 0)
			out[0] = '\0';
		return;
	}
	/* no serial attribute (the parent's, when it has one, was read above):
	 * what udev recorded */
	struct udev *udev = udev_new();
	if (!udev)
		return;
	struct udev_device *dev = udev_device_new_from_devnum(udev, 'b', devnum);
	if (dev) {
		const char *id = udev_device_get_property_value(dev, "ID_SERIAL_SHORT");
		if (id && dms_volume_id_from_serial(id, out) < 0)
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
	struct stat fst;
	if (fstat(fd, &fst) < 0 || fst.st_rdev != d->devnum) {
		close(fd);
		return log_error_errno(ESTALE, "%s: the device changed while it was inspected; run the command "
				       "again", node);
	}
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

/* Open devnum through a private node (DMS_DEV_QUIET), unlinked at once:
 * the fd stays valid, and no path udev watches ever sees its close. -errno
 * when the node cannot be made (the caller then opens the public node). */
static int open_private(dev_t devnum, int flags)
{
	char path[96];
	(void)mkdir(DMS_PRIVATE_NODE_DIR, 0700);
	snprintf(path, sizeof(path), DMS_PRIVATE_NODE_DIR "/%ld.%u.%u", (long)getpid(), major(devnum), minor(devnum));
	(void)unlink(path);             /* left by a process that died between mknod and unlink */
	if (mknod(path, S_IFBLK | 0600, devnum) < 0)
		return -errno;
	int fd = open(path, flags);
	int err = errno;
	(void)unlink(path);
	return fd < 0 ? -err : fd;
}

/* Open node with mode and check that it still is devnum. 0 and *fd, or -errno. */
static int open_verified(const char *node, dev_t devnum, int mode, int *fd)
{
	int flags = O_DIRECT | O_CLOEXEC | ((mode & DMS_DEV_RW) ? O_RDWR | O_DSYNC : O_RDONLY) |
		    ((mode & DMS_DEV_EXCL) ? O_EXCL : 0);
	struct stat st;

	*fd = (mode & DMS_DEV_QUIET) ? open_private(devnum, flags) : -1;
	if (*fd < 0)
		*fd = open(node, flags);
	if (*fd < 0) {
		int err = errno;
		if (err == EBUSY)
			return log_error_errno(err, "%s: device is in use (mounted, or held by device-mapper/md); "
					       "refusing to touch it", node);
		return log_error_errno(err, "%s: cannot open: %m", node);
	}
	if (fstat(*fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != devnum) {
		int err = errno;
		bool blk = err == 0 || S_ISBLK(st.st_mode);
		close(*fd);
		*fd = -1;
		if (!blk)
			return log_error_errno(ENOTBLK, "%s: no longer a block device; refusing to touch it", node);
		return log_error_errno(ESTALE, "%s: now names device %u:%u, not the %u:%u inspected (the disk was "
				       "replaced or renamed); refusing to touch it, run the command again",
				       node, major(st.st_rdev), minor(st.st_rdev), major(devnum), minor(devnum));
	}
	return 0;
}

int dms_device_inspect_open(const char *node, dev_t devnum, int mode, struct dms_device *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (snprintf(d->node, sizeof(d->node), "%s", node) >= (int)sizeof(d->node))
		return log_error_errno(ENAMETOOLONG, "%s: device path too long", node);
	d->devnum = devnum;
	int fd;
	int r = open_verified(node, devnum, mode, &fd);
	if (r < 0)
		return r;
	uint64_t size = 0;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		int err = errno;
		close(fd);
		return log_error_errno(err, "%s: cannot read the device size: %m", node);
	}
	d->size_bytes = size;
	d->fd = fd;
	d->fd_mode = mode;
	read_volume_id(devnum, d->volume_id);
	return 0;
}

int dms_device_open_checked(struct dms_device *d, int mode)
{
	if (d->fd >= 0 && (d->fd_mode & mode) == mode)
		return 0;
	dms_device_close(d);
	int r = open_verified(d->node, d->devnum, mode, &d->fd);
	if (r < 0)
		return r;
	d->fd_mode = mode;
	return 0;
}

int dms_device_open_excl(struct dms_device *d) { return dms_device_open_checked(d, DMS_DEV_RW | DMS_DEV_EXCL); }
int dms_device_open_ro(struct dms_device *d) { return dms_device_open_checked(d, DMS_DEV_RO); }

void dms_device_close(struct dms_device *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->fd_mode = 0;
}

/* The result of request i of a batch as 0 or -errno, with a message. */
static int io_result(const struct dms_aio_batch *b, size_t i, size_t len, const char *what, const char *node)
{
	long res = dms_aio_batch_result(b, i);
	if (res == -ETIMEDOUT || res == -EBUSY)
		return (int)res;          /* aio.c said which device and why */
	if (res < 0)
		return log_error_errno((int)-res, "%s: %s failed: %m", node, what);
	if ((size_t)res != len)
		return log_error_errno(EIO, "%s: short %s (%ld of %zu bytes)", node, what, res, len);
	return 0;
}

/* Each device's two copies are read as far as any valid label reaches
 * (DMS_LABEL_READ_BYTES of each 64 KiB copy; FORMAT.md §2: a reader never
 * reads beyond label_len), two requests per device in one submit. */
#define READ_DEVS_PER_BATCH (DMS_AIO_BATCH_MAX / 2)

static int read_chunk(struct dms_device *const *devs, size_t n, struct dms_label *labels, unsigned *copies_ok,
		      int *results)
{
	static const bytes_t copy_off[2] = { DMS_LABEL_COPY_A_OFFSET, DMS_LABEL_COPY_B_OFFSET };
	struct dms_aio_batch *b = dms_aio_batch_new();
	bool opened[READ_DEVS_PER_BATCH] = { false };
	size_t slot[READ_DEVS_PER_BATCH];
	if (!b)
		return log_error_errno(ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct dms_device *d = devs[i];
		slot[i] = SIZE_MAX;
		copies_ok[i] = 0;
		results[i] = -ENODATA;
		if (d->size_bytes < LABEL_AREA_BYTES)
			continue;
		int r = 0;
		if (d->fd < 0) {
			if ((r = dms_device_open_ro(d)) < 0) {
				results[i] = r;
				continue;
			}
			opened[i] = true;
		}
		size_t first = dms_aio_batch_count(b);
		for (unsigned c = 0; c < 2 && r == 0; c++)
			if (!dms_aio_batch_add(b, d->fd, DMS_AIO_READ, copy_off[c], DMS_LABEL_READ_BYTES, d->node))
				r = log_error_errno(errno, "%s: cannot queue the label read: %m", d->node);
		if (r < 0)
			results[i] = r;
		else
			slot[i] = first;
	}
	(void)dms_aio_batch_run(b, DMS_LABEL_IO_TIMEOUT_MS);
	for (size_t i = 0; i < n; i++) {
		if (slot[i] == SIZE_MAX)
			continue;
		results[i] = io_result(b, slot[i], DMS_LABEL_READ_BYTES, "label read (copy A)", devs[i]->node);
		if (results[i] == 0)
			results[i] = io_result(b, slot[i] + 1, DMS_LABEL_READ_BYTES, "label read (copy B)",
					       devs[i]->node);
		if (results[i] < 0)
			continue;
		results[i] = dms_label_pick(dms_aio_batch_buf(b, slot[i]), DMS_LABEL_READ_BYTES,
					    dms_aio_batch_buf(b, slot[i] + 1), DMS_LABEL_READ_BYTES, &labels[i],
					    &copies_ok[i]);
	}
	dms_aio_batch_free(b);
	for (size_t i = 0; i < n; i++)
		if (opened[i])
			dms_device_close(devs[i]);
	return 0;
}

int dms_device_read_labels(struct dms_device *const *devs, size_t n, struct dms_label *labels,
			   unsigned *copies_ok, int *results)
{
	for (size_t off = 0; off < n; off += READ_DEVS_PER_BATCH) {
		size_t k = n - off < READ_DEVS_PER_BATCH ? n - off : READ_DEVS_PER_BATCH;
		int r = read_chunk(devs + off, k, labels + off, copies_ok + off, results + off);
		if (r < 0)
			return r;
	}
	return 0;
}

int dms_device_read_label(struct dms_device *d, struct dms_label *l, unsigned *copies_ok)
{
	int result = -EIO;
	int r = dms_device_read_labels(&d, 1, l, copies_ok, &result);
	return r < 0 ? r : result;
}

int dms_device_label_refusal(const struct dms_device *d, int r, const char *fix)
{
	if (r == -EPROTONOSUPPORT)
		return log_error_errno(-r, "%s: holds a dmscale label of a newer format than dmscale %s reads; refusing, "
				       "nothing was written. Use it with a newer dmscale", d->node, DMSCALE_VERSION);
	if (dms_label_error_is_content(r))
		return log_error_errno(-r, "%s: holds a damaged dmscale label (%m); refusing (%s)", d->node, fix);
	if (r == -ETIMEDOUT)
		return log_error_errno(ETIMEDOUT, "%s: its label read got no answer within %d s: the device is not "
				       "answering (its label is not known to be damaged); refusing, nothing was "
				       "written. Check the volume (dmesg, its EBS status) and run the command again "
				       "once it answers", d->node, DMS_LABEL_IO_TIMEOUT_MS / 1000);
	if (r != -EBUSY)
		return log_error_errno(-r, "%s: its label cannot be read (%m; it is not known to be damaged); refusing, "
				       "nothing was written. Check the device (dmesg, the volume's EBS status) and "
				       "run the command again", d->node);
	/* aio.c sent it no I/O: a request to it is stuck past its deadline (stuck.h) */
	struct stat st = { 0 };
	dev_t key_dev = d->devnum;
	ino_t key_ino = 0;
	if (d->fd >= 0 && fstat(d->fd, &st) == 0)
		dms_stuck_key(&st, &key_dev, &key_ino);
	time_t since = 0;
	struct tm tm;
	char when[32] = "an unknown time";
	pid_t owner = dms_stuck_owner(key_dev, key_ino, &since);
	if (owner <= 0)
		return log_error_errno(EBUSY, "%s: its label cannot be read: an I/O to it is stuck past its deadline "
				       "(see above), so dmscale sends it no more; refusing. Run the command again "
				       "once the device answers", d->node);
	if (since > 0 && gmtime_r(&since, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return log_error_errno(EBUSY, "%s: its I/O is stuck: a request of dmscale process %d to it has been in "
			       "flight past its deadline since %s, so no dmscale command reads or writes it "
			       "(its label is not known to be damaged); refusing. Wait for the device to answer, "
			       "or check it (the volume's EBS status, the instance's hypervisor); the quarantine "
			       "(a marker in " DMS_STUCK_DIR ") ends when process %d exits", d->node, (int)owner,
			       when, (int)owner);
}

/* The fd to write d through: d->fd when it is writable, else a checked
 * one opened here (*tmp_fd, to close after the batch). */
static int write_fd(struct dms_device *d, int *fd, int *tmp_fd)
{
	*tmp_fd = -1;
	if (d->fd >= 0 && (d->fd_mode & DMS_DEV_RW)) {
		*fd = d->fd;
		return 0;
	}
	/* Members already in a live table are held by dm, so no O_EXCL here; the
	 * label area is outside every table segment. */
	int r = open_verified(d->node, d->devnum, DMS_DEV_RW, tmp_fd);
	*fd = *tmp_fd;
	return r;
}

int dms_device_write_labels(struct dms_device *const *devs, const struct dms_label *labels, size_t n,
			    unsigned copy)
{
	if (copy > 1 || n > DMS_AIO_BATCH_MAX)
		return -EINVAL;
	int tmp[DMS_AIO_BATCH_MAX];
	size_t opened = 0;
	int r = 0;
	struct dms_aio_batch *b = dms_aio_batch_new();
	if (!b)
		return log_error_errno(ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !r; i++) {
		int fd;
		r = write_fd(devs[i], &fd, &tmp[opened]);
		if (tmp[opened] >= 0)
			opened++;
		if (r < 0)
			break;
		uint8_t *buf = dms_aio_batch_add(b, fd, DMS_AIO_WRITE_FUA,
						 copy ? DMS_LABEL_COPY_B_OFFSET : DMS_LABEL_COPY_A_OFFSET,
						 DMS_LABEL_COPY_BYTES, devs[i]->node);
		if (!buf) {
			r = log_error_errno(errno, "%s: cannot queue the label write: %m", devs[i]->node);
			break;
		}
		r = dms_label_encode(&labels[i], copy, buf, DMS_LABEL_COPY_BYTES);
		if (r < 0)
			log_error_errno(r, "%s: refusing to write an invalid label (generation %llu): %m",
					devs[i]->node, (unsigned long long)labels[i].generation);
	}
	if (!r) {
		(void)dms_aio_batch_run(b, DMS_LABEL_IO_TIMEOUT_MS);
		for (size_t i = 0; i < n; i++) {
			int e = io_result(b, i, DMS_LABEL_COPY_BYTES, copy ? "label write (copy B)" :
					  "label write (copy A)", devs[i]->node);
			if (e < 0 && !r)
				r = e;
		}
	}
	dms_aio_batch_free(b);
	for (size_t i = 0; i < opened; i++)
		close(tmp[i]);
	return r;
}

int dms_device_write_label(struct dms_device *d, const struct dms_label *l)
{
	int fd, tmp, r = write_fd(d, &fd, &tmp);
	if (r < 0)
		return r;
	/* The batch helpers reopen through d: lend them this fd for the call. */
	struct dms_device w = *d;
	w.fd = fd;
	w.fd_mode = DMS_DEV_RW;
	struct dms_device *dev[1] = { &w };
	for (unsigned copy = 0; copy < 2 && !r; copy++)
		r = dms_device_write_labels(dev, l, 1, copy);
	if (tmp >= 0)
		close(tmp);
	return r;
}

int dms_device_zero(struct dms_device *d, bytes_t offset_bytes, bytes_t len_bytes)
{
	if (offset_bytes % DIRECT_ALIGN || len_bytes % DIRECT_ALIGN || len_bytes > MIB || !len_bytes)
		return -EINVAL;
	int fd, tmp, r = write_fd(d, &fd, &tmp);
	if (r < 0)
		return r;
	struct dms_aio_batch *b = dms_aio_batch_new();
	if (!b)
		r = log_error_errno(ENOMEM, "out of memory");
	else if (!dms_aio_batch_add(b, fd, DMS_AIO_WRITE_FUA, offset_bytes, len_bytes, d->node))
		r = log_error_errno(errno, "%s: cannot queue the write: %m", d->node);
	else {
		(void)dms_aio_batch_run(b, DMS_LABEL_IO_TIMEOUT_MS);
		r = io_result(b, 0, len_bytes, "zeroing write", d->node);
	}
	dms_aio_batch_free(b);
	if (tmp >= 0)
		close(tmp);
	return r;
}

/* --- in-use checks ------------------------------------------------------ */

/* The whole disk a devnum belongs to (itself for a whole disk, or when
 * libblkid cannot tell: a devnum that sysfs does not know). */
static dev_t whole_disk(dev_t devnum)
{
	dev_t whole = 0;
	if (blkid_devno_to_wholedisk(devnum, NULL, 0, &whole) < 0 || !whole)
		return devnum;
	return whole;
}

/* Does `devnum` (a whole disk) back `top`, directly or through slaves? */
static int backs(dev_t top, dev_t disk, int depth)
{
	if (depth > 8)
		return 0;
	if (whole_disk(top) == disk)
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

static int mounted_on_disk(const struct dms_mount_entry *m, void *userdata)
{
	const struct dms_device *d = userdata;
	if (major(m->devnum) == 0)   /* virtual filesystems (and btrfs' anonymous st_dev) */
		return 0;
	return whole_disk(m->devnum) == d->devnum;
}

int dms_device_is_mounted_in(const struct dms_device *d, const char *mountinfo_path)
{
	return dms_mountinfo_foreach(mountinfo_path, mounted_on_disk, (void *)d);
}

int dms_device_is_mounted(const struct dms_device *d) { return dms_device_is_mounted_in(d, NULL); }

int dms_devnum_to_node(dev_t devnum, char *out, size_t outlen)
{
	char *name = blkid_devno_to_devname(devnum);
	if (!name)
		return -ENODEV;
	int n = snprintf(out, outlen, "%s", name);
	free(name);
	return n >= (int)outlen ? -ENAMETOOLONG : 0;
}
