/* Glue between the command line and the EC2 side: device name resolution and
 * the daemon's configuration. The core (dmscale/) never includes ec2/. */
#include <stdlib.h>

#include "dmscale/cli.h"
#include "dmscale/log.h"
#include "ec2/config.h"
#include "ec2/resolve.h"

/* Thin-pool sizing comes from the daemon's limits when a config exists (the pool
 * may grow up to max_total_gib; the kernel's low-water event should fire where
 * the daemon would provision). A missing or broken config leaves the defaults;
 * its errors are shown at debug level (the daemon reports them). */
static void pool_defaults(struct dms_opts *o)
{
	struct dms_config *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	const char *path = getenv("DMSCALE_CONFIG");
	int saved = log_get_level();
	if (saved < LOG_LVL_DEBUG)
		log_set_level(LOG_LVL_ERR - 1);
	if (dms_config_load(path && *path ? path : NULL, c) < 0)
		dms_config_defaults(c);
	log_set_level(saved);
	o->max_data_bytes = c->max_total_gib * GIB;
	o->low_water_bytes = c->min_free_bytes;
	o->low_water_percent = c->min_free_percent;
	free(c);
}

const struct dms_cli_hooks dms_cli_hooks = {
	.resolve_device = dms_resolve_device,
	.pool_defaults = pool_defaults,
};
