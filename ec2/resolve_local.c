/* The device the operator named, as far as it resolves without the EC2 side:
 * an existing node, or an EBS device name left to resolve.c. See resolve.h. */
#include "ec2/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dmscale/log.h"

int dms_resolve_local(const char *requested, char *out, size_t outlen)
{
	struct stat st;
	if (stat(requested, &st) == 0 || errno != ENOENT) {
		if ((size_t)snprintf(out, outlen, "%s", requested) >= outlen)
			return -ENAMETOOLONG;
		return 0;
	}
	const char *base = strncmp(requested, "/dev/", 5) ? requested : requested + 5;
	if (strncmp(base, "xvd", 3) && strncmp(base, "sd", 2))
		return log_error_errno(ENOENT, "%s: no such device", requested);
	return -EXDEV;
}
