/* One atomic-write helper (see atomicfile.h). */
#include "dmscale/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/log.h"

int dms_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int dms_atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[4096], tmp[4096 + 16];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int r;

	if (!*base)
		return log_error_errno(EINVAL, "%s: not a file name", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return log_error_errno(ENAMETOOLONG, "%s: path too long", path);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(tmp))
		return log_error_errno(ENAMETOOLONG, "%s: path too long", path);

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot create a temporary file in %s: %m", path, dir);
	if (fchmod(fd, mode) < 0)
		r = -errno;
	else
		r = dms_write_all(fd, data, len);
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		int saved = r;
		unlink(tmp);
		return log_error_errno(-saved, "%s: cannot replace the file: %m", path);
	}
	/* The rename is durable only once the directory is. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return log_error_errno(errno, "%s: cannot open the directory to make the update durable: %m", dir);
	r = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	if (r < 0)
		return log_error_errno(-r, "%s: cannot sync the directory: %m", dir);
	return 0;
}
