/* What the command line takes from outside the core (the EC2 side, glue/). */
#ifndef DMSCALE_CLI_H
#define DMSCALE_CLI_H
#include <stddef.h>
#include "dmscale/pool.h"

struct dms_cli_hooks {
	/* init and attach DEVICE: an EBS device name (/dev/xvdba) to its node;
	 * 0 or -errno (logged). */
	int (*resolve_device)(const char *requested, char *node, size_t len);
	/* init, attach, assemble: thin sizing and low water mark from the
	 * daemon's configuration; a missing or broken one leaves the defaults. */
	void (*pool_defaults)(struct dms_opts *o);
	/* The command-line front only (ec2/cli_front.c): run the whole command
	 * line in the daemon's binary (exec). Returns only on failure, -errno
	 * (logged). Its resolve_device returns -EXDEV for a name it leaves to it. */
	int (*delegate)(char *const argv[]);
};

/* Defined by ec2/cli_glue.c (dmscale-ec2) or ec2/cli_front.c (dmscale). */
extern const struct dms_cli_hooks dms_cli_hooks __attribute__((weak));
#endif
