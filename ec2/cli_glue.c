/* Glue between the command line and the EC2 side in the daemon's binary
 * (dmscale-ec2): device names resolved through NVMe Identify data or the EC2
 * API, and the pool's settings from the configuration. The core (dmscale/)
 * never includes ec2/. */
#include "dmscale/cli.h"
#include "ec2/cli_defaults.h"
#include "ec2/resolve.h"

const struct dms_cli_hooks dms_cli_hooks = {
	.resolve_device = dms_resolve_device,
	.pool_defaults = dms_cli_pool_defaults,
};
