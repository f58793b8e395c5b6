/* Pool orchestration: init, attach, assemble, status (adapters + pure core). */
#ifndef DMSCALE_POOL_H
#define DMSCALE_POOL_H
#include <stdbool.h>

#define DMS_DEFAULT_NAME       "scratch"
#define DMS_DEFAULT_MOUNTPOINT "/var/lib/docker"
#define DMS_DEFAULT_FS         "ext4"

struct dms_opts {
	const char *name;          /* pool name */
	const char *mountpoint;    /* NULL: saved one, else default */
	const char *fstype;
	bool force;
	bool udev;
	bool all;
	bool json;
};

int dms_cmd_init(const struct dms_opts *o, const char *device);
int dms_cmd_attach(const struct dms_opts *o, const char *device);
int dms_cmd_assemble(const struct dms_opts *o);
int dms_cmd_status(const struct dms_opts *o);

/* Serialise changes to one pool (flock on /run/dmscale/NAME.lock): attach,
 * assemble, init and the daemon's pending-list decisions. Returns an fd or -errno. */
int dms_pool_lock(const char *pool);
void dms_pool_unlock(int fd);

/* Test-only: stop at a named step (env DMSCALE_FAILPOINT or the file
 * /run/dmscale/failpoint.arm) so a test can cut the power there. */
void dms_failpoint(const char *name);
#endif
