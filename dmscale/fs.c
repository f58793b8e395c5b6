/* Filesystem adapter: mkfs (fixed argv, no shell), mount(2), online growth
 * through the kernel's own ioctls, statvfs; the mount table via mountinfo.c. */
#include "dmscale/fs.h"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/meminfo.h"
#include "dmscale/mkfs_argv.h"
#include "dmscale/mountinfo.h"

/* ext4 online resize (fs/ext4/ext4.h, stable ABI). */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)

/* xfs (xfs_fs.h, stable ABI); defined here to avoid a build dependency on xfslibs-dev. */
struct xfs_fsop_geom {
	uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize, imaxpct;
	uint64_t datablocks, rtblocks, rtextents, logstart;
	unsigned char uuid[16];
	uint32_t sunit, swidth;
	int32_t version;
	uint32_t flags, logsectsize, rtsectsize, dirblocksize, logsunit, sick, checked;
	uint64_t reserved[17];
};
struct xfs_growfs_data {
	uint64_t newblocks;
	uint32_t imaxpct;
};
#define XFS_IOC_FSGEOMETRY   _IOR('X', 126, struct xfs_fsop_geom)
#define XFS_IOC_FSGROWFSDATA _IOW('X', 110, struct xfs_growfs_data)
_Static_assert(sizeof(struct xfs_fsop_geom) == 256, "xfs_fsop_geom ABI");
_Static_assert(sizeof(struct xfs_growfs_data) == 16, "xfs_growfs_data ABI");

extern char **environ;

bool dms_fs_type_supported(const char *t)
{
	return !strcmp(t, "ext4") || !strcmp(t, "xfs") || !strcmp(t, "btrfs");
}

int dms_run_argv(char *const argv[])
{
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	pid_t pid;
	int status;
	char path[256];
	int r = -ENOENT;

	/* Resolve argv[0] in a fixed PATH: the caller's environment never decides
	 * which program runs as root. */
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], argv[0]);
		if (access(path, X_OK) == 0) {
			r = 0;
			break;
		}
	}
	if (r < 0)
		return log_error_errno(ENOENT, "%s: program not found; install it (e.g. e2fsprogs, xfsprogs, "
				       "btrfs-progs)", argv[0]);
	r = posix_spawn(&pid, path, NULL, NULL, argv, env);
	if (r != 0)
		return log_error_errno(r, "%s: cannot start: %m", path);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return log_error_errno(errno, "%s: waitpid: %m", path);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int dms_fs_mkfs(const char *fstype, const char *devnode, bytes_t backing_bytes, bool fixed_size)
{
	char *argv[DMS_MKFS_ARGV_MAX + 1];
	char buf[64];
	int r = dms_mkfs_argv(fstype, devnode, backing_bytes, fixed_size, argv, buf, sizeof(buf));
	if (r == -EINVAL)
		return log_error_errno(EINVAL, "unsupported filesystem '%s': use ext4, xfs or btrfs", fstype);
	if (r < 0)
		return r;
	r = dms_run_argv(argv);
	if (r < 0)
		return r;
	if (r != 0)
		return log_error_errno(EIO, "%s: mkfs.%s failed with status %d", devnode, fstype, r);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int dms_fs_mount(const char *fstype, const char *devnode, const char *mountpoint, bool discard)
{
	int r = mkdir_p(mountpoint);
	if (r < 0)
		return log_error_errno(r, "%s: cannot create the mountpoint: %m", mountpoint);
	const char *data = !discard ? NULL : !strcmp(fstype, "btrfs") ? "discard=async" : "discard";
	if (mount(devnode, mountpoint, fstype, MS_NOATIME, data) < 0)
		return log_error_errno(errno, "%s: cannot mount %s (%s): %m; see dmesg", mountpoint, devnode, fstype);
	return 0;
}

int dms_fs_find_mount(dev_t devnum, char *mp, size_t mplen)
{
	return dms_mountinfo_find_devnum(NULL, devnum, mp, mplen);
}

int dms_fs_usage(const char *mountpoint, struct dms_fs_usage *u)
{
	struct statvfs sv;
	if (statvfs(mountpoint, &sv) < 0)
		return -errno;
	u->block_bytes = sv.f_frsize;
	u->size_bytes = (bytes_t)sv.f_blocks * sv.f_frsize;
	u->used_bytes = (bytes_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	u->free_bytes = (bytes_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

/* Commit ext4's journal (syncfs) before an online resize, when little of the
 * page cache is dirty. The resize otherwise stalled a concurrent writer for
 * 65-100 ms in every traced attach (the longest gap fell inside
 * EXT4_IOC_RESIZE_FS), against 16-29 ms, the idle noise, after a syncfs:
 * docs/DESIGN.md, "Writer stall of an ext4 grow". A syncfs also writes back
 * the dirty data, so with more than DMS_PRESYNC_MAX_DIRTY_BYTES dirty (in the
 * whole page cache) it is skipped: the grow must not wait for a flush. 16 MiB
 * bounds that wait near 0.1 s at an EBS volume's baseline throughput; at
 * 128 MiB a buffered writer's ~50 MiB of dirty pages added 0.1-0.4 s to the
 * resize step of every bench attach. Best effort: the resize runs either way. */
#define DMS_PRESYNC_MAX_DIRTY_BYTES (16 * MIB)

static void presync(int fd, const char *mountpoint)
{
	char text[8192];
	uint64_t dirty = 0;
	int mfd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n = mfd < 0 ? -1 : read(mfd, text, sizeof(text));
	int r = n < 0 ? -errno : dms_meminfo_dirty_bytes(text, (size_t)n, &dirty);
	if (mfd >= 0)
		close(mfd);
	if (r < 0) {
		(void)log_internal(LOG_LVL_DEBUG, r, "/proc/meminfo: cannot tell the dirty page cache (%m); no syncfs "
				   "before the resize");
		return;
	}
	if (dirty > DMS_PRESYNC_MAX_DIRTY_BYTES) {
		log_debug("%llu MiB of page cache dirty: no syncfs before the resize of %s",
			  (unsigned long long)(dirty / MIB), mountpoint);
		return;
	}
	if (syncfs(fd) < 0)
		(void)log_warning_errno(errno, "%s: syncfs before the online resize failed: %m; resizing anyway (see "
				  "dmesg for the device's write errors)", mountpoint);
}

int dms_fs_grow(const char *fstype, const char *mountpoint, bytes_t device_bytes, bool *grown)
{
	int r = 0;
	*grown = false;
	int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open the mounted filesystem: %m", mountpoint);

	if (!strcmp(fstype, "ext4")) {
		struct statvfs sv;
		if (fstatvfs(fd, &sv) < 0) {
			r = log_error_errno(errno, "%s: statvfs: %m", mountpoint);
			goto out;
		}
		uint64_t blocks = device_bytes / sv.f_bsize;
		/* f_blocks excludes metadata overhead, so it cannot tell "already full
		 * size"; the kernel returns 0 at once when blocks == its count. */
		presync(fd, mountpoint);
		if (ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks) < 0) {
			r = log_error_errno(errno, "%s: ext4 online resize to %llu blocks failed: %m; see dmesg",
					    mountpoint, (unsigned long long)blocks);
			goto out;
		}
		*grown = true;
	} else if (!strcmp(fstype, "xfs")) {
		struct xfs_fsop_geom g;
		memset(&g, 0, sizeof(g));
		if (ioctl(fd, XFS_IOC_FSGEOMETRY, &g) < 0) {
			r = log_error_errno(errno, "%s: xfs geometry: %m", mountpoint);
			goto out;
		}
		uint64_t blocks = device_bytes / g.blocksize;
		if (blocks <= g.datablocks)
			goto out;
		struct xfs_growfs_data in = { .newblocks = blocks, .imaxpct = g.imaxpct };
		if (ioctl(fd, XFS_IOC_FSGROWFSDATA, &in) < 0) {
			r = log_error_errno(errno, "%s: xfs growfs to %llu blocks failed: %m; see dmesg",
					    mountpoint, (unsigned long long)blocks);
			goto out;
		}
		*grown = true;
	} else if (!strcmp(fstype, "btrfs")) {
		struct btrfs_ioctl_vol_args va;
		memset(&va, 0, sizeof(va));
		snprintf(va.name, sizeof(va.name), "1:max");
		if (ioctl(fd, BTRFS_IOC_RESIZE, &va) < 0) {
			r = log_error_errno(errno, "%s: btrfs resize 1:max failed: %m; see dmesg", mountpoint);
			goto out;
		}
		*grown = true;
	} else {
		r = log_error_errno(EINVAL, "%s: unsupported filesystem '%s'", mountpoint, fstype);
	}
out:
	close(fd);
	return r;
}
