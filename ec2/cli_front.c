/* Glue of the command-line front (/usr/sbin/dmscale), built without libcurl,
 * libxml2 or OpenSSL: every process start under them costs the dynamic
 * loader about three times the work (docs/DESIGN.md, "Command-line front").
 * What needs the EC2 side, the daemon and a device name that only EC2 can
 * resolve, runs in the daemon's binary, the same command line exec'd. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/cli.h"
#include "dmscale/log.h"
#include "ec2/cli_defaults.h"

#ifndef DMS_EC2_BIN
#define DMS_EC2_BIN "/usr/libexec/dmscale/dmscale-ec2"
#endif

/* A node that exists is used as given; any other name (an EBS device name
 * such as /dev/xvdba, resolved through NVMe Identify data or the EC2 API)
 * is the EC2 side's: -EXDEV sends the command there. */
static int front_resolve(const char *requested, char *node, size_t len)
{
	struct stat st;
	if (stat(requested, &st) == 0 || errno != ENOENT) {
		if ((size_t)snprintf(node, len, "%s", requested) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -EXDEV;
}

static int front_delegate(char *const argv[])
{
	execv(DMS_EC2_BIN, argv);
	return log_error_errno(errno, "cannot run %s, which does what needs the EC2 side: %m; reinstall the "
			       "dmscale package", DMS_EC2_BIN);
}

const struct dms_cli_hooks dms_cli_hooks = {
	.resolve_device = front_resolve,
	.pool_defaults = dms_cli_pool_defaults,
	.delegate = front_delegate,
};
