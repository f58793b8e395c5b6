/* Pool commands: init, attach, assemble, thin metadata growth, the pool lock. */
#ifndef DMSCALE_POOL_H
#define DMSCALE_POOL_H
#include <stdbool.h>
#include "dmscale/units.h"

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
	bool prometheus;           /* status: Prometheus text exposition */
	int target;                /* init: DMS_TARGET_LINEAR (default) or DMS_TARGET_THIN */
	bytes_t virtual_bytes;     /* init --target thin: thin volume size (0: default) */
	bytes_t max_data_bytes;    /* thin: largest data size the pool may reach (metadata sizing) */
	bytes_t low_water_bytes;   /* thin: free data space below which the kernel signals … */
	double low_water_percent;  /* … or below this % of the data size, whichever is larger */
	unsigned wait_members_s;   /* assemble: wait up to this long for members the labels name */
	bool instance_store_off;   /* init: --instance-store off (config instance_store "off") */
	bool instance_store_set;   /* --instance-store given: it wins over the config */
	bool no_scratch_recreate;  /* assemble: config scratch_recreate false: refuse, never recreate */
};

int dms_cmd_init(const struct dms_opts *o, const char *device);
int dms_cmd_attach(const struct dms_opts *o, const char *device);
int dms_cmd_assemble(const struct dms_opts *o);

/* Thin pools: double the metadata device within its reserved area (a new
 * generation of labels, then a reload of tmeta and the pool). -ENOSPC when the
 * reserve is used up. */
int dms_pool_thin_grow_metadata(const char *pool);
/* Same with the pool's parameters (the daemon's low water mark); the plain
 * call keeps the low water mark of the live pool. */
struct dms_pool_params;
int dms_pool_thin_grow_metadata_with(const char *pool, const struct dms_pool_params *pp);

/* Serialise changes to one pool (flock on /run/dmscale/NAME.lock): attach,
 * assemble, init and the daemon's pending-list decisions. Returns an fd or -errno. */
int dms_pool_lock(const char *pool);
void dms_pool_unlock(int fd);

#endif
