/* Per-pool state on this machine: the saved mountpoint, pool names, mount roots. */
#include "dmscale/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/label.h"
#include "dmscale/pending.h"
#include "dmscale/pool.h"

bool dms_pool_name_valid(const char *s)
{
	size_t n = s ? strnlen(s, DMS_POOL_NAME_MAX) : 0;
	if (n == 0 || n >= DMS_POOL_NAME_MAX || !strcmp(s, ".") || !strcmp(s, "..") || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

const char *dms_state_dir(void)
{
	const char *base = getenv("DMSCALE_STATE_DIR");
	return base && *base ? base : DMS_STATE_DIR;
}

static int state_path(const char *pool, const char *file, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s/%s", dms_state_dir(), pool, file) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

void dms_state_save_mountpoint(const char *pool, const char *mp)
{
	char path[512];
	mkdir(dms_state_dir(), 0755);
	snprintf(path, sizeof(path), "%s/%s", dms_state_dir(), pool);
	mkdir(path, 0755);
	if (state_path(pool, "mountpoint", path, sizeof(path)) < 0)
		return;
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "%s\n", mp);
		fflush(f);
		fsync(fileno(f));
		fclose(f);
	}
}

void dms_state_load_mountpoint(const char *pool, char *out, size_t len)
{
	char path[512];
	snprintf(out, len, "%s", DMS_DEFAULT_MOUNTPOINT);
	if (state_path(pool, "mountpoint", path, sizeof(path)) < 0)
		return;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	if (!out[0] || out[0] != '/')
		snprintf(out, len, "%s", DMS_DEFAULT_MOUNTPOINT);
	fclose(f);
}

bool dms_state_has_mountpoint(const char *pool)
{
	char path[512];
	return state_path(pool, "mountpoint", path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

int dms_state_mkfs_pending(const char *pool)
{
	char path[512];
	if (state_path(pool, "mkfs-pending", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (access(path, F_OK) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* fsync a directory: a created or removed name is durable. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int dms_state_set_mkfs_pending(const char *pool, bool on)
{
	char dir[512], path[600];
	int r;
	mkdir(dms_state_dir(), 0755);
	if (snprintf(dir, sizeof(dir), "%s/%s", dms_state_dir(), pool) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/mkfs-pending", dir);
	if (on) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return -errno;
		r = fsync(fd) < 0 ? -errno : 0;
		close(fd);
	} else {
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	}
	if (r == 0)
		r = sync_dir(dir);
	return r;
}

int dms_path_is_mountpoint(const char *path)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
#ifdef STATX_ATTR_MOUNT_ROOT
	if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
#endif
	/* Older kernels: a mount root sits on another device than its parent. */
	char parent[4200];
	struct stat a, b;
	if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return -errno;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}
