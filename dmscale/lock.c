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

/* How long a command waits for the pool lock before it gives up. */
#define DMS_LOCK_WAIT_S 120u
#define DMS_LOCK_POLL_MS 100u

int dms_pool_lock(const char *pool)
{
	char path[256];
	mkdir(DMS_RUN_DIR, 0755);
	snprintf(path, sizeof(path), DMS_RUN_DIR "/%s.lock", pool);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot create the pool lock: %m (are you root?)", path);
	/* Bounded: a command stuck on a hung device must never block every
	 * later command of the pool forever. */
	for (unsigned waited_ms = 0;; waited_ms += DMS_LOCK_POLL_MS) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		int e = errno;
		if (e != EWOULDBLOCK && e != EINTR) {
			close(fd);
			return log_error_errno(e, "%s: cannot take the pool lock: %m", path);
		}
		if (waited_ms >= DMS_LOCK_WAIT_S * 1000u) {
			close(fd);
			return log_error_errno(ETIMEDOUT, "pool %s: another dmscale command has held the pool lock (%s) for "
					       "%u s; it may be waiting on a device that does not answer (see dmesg and "
					       "'fuser %s'); try again later", pool, path, DMS_LOCK_WAIT_S, path);
		}
		if (waited_ms == 5000)
			log_notice("pool %s: waiting for another dmscale command to release the pool lock", pool);
		usleep(DMS_LOCK_POLL_MS * 1000);
	}
}

void dms_pool_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
