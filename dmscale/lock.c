/* The pool lock: one flock per pool under /run/dmscale serialises its changes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/pool.h"

int dms_pool_lock(const char *pool)
{
	char path[256];
	mkdir(DMS_RUN_DIR, 0755);
	snprintf(path, sizeof(path), DMS_RUN_DIR "/%s.lock", pool);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot create the pool lock: %m (are you root?)", path);
	if (flock(fd, LOCK_EX) < 0) {
		int r = log_error_errno(errno, "%s: cannot take the pool lock: %m", path);
		close(fd);
		return r;
	}
	return fd;
}

void dms_pool_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
