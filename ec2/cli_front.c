/* Glue of the command-line front (/usr/sbin/dmscale), built without libcurl,
 * libxml2 or OpenSSL: every process start under them costs the dynamic
 * loader about three times the work (docs/DESIGN.md, "Command-line front").
 * What needs the EC2 side, the daemon and a device name that only EC2 can
 * resolve, runs in the daemon's binary, the same command line exec'd. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "dmscale/cli.h"
#include "dmscale/log.h"
#include "ec2/cli_defaults.h"
#include "ec2/resolve.h"

#ifndef DMS_EC2_BIN
#define DMS_EC2_BIN "/usr/libexec/dmscale/dmscale-ec2"
#endif

static int front_delegate(char *const argv[])
{
	execv(DMS_EC2_BIN, argv);
	return log_error_errno(errno, "cannot run %s, which does what needs the EC2 side: %m; reinstall the "
			       "dmscale package", DMS_EC2_BIN);
}

const struct dms_cli_hooks dms_cli_hooks = {
	.resolve_device = dms_resolve_local,      /* -EXDEV: an EBS name, dmscale-ec2's */
	.pool_defaults = dms_cli_pool_defaults,
	.delegate = front_delegate,
};
