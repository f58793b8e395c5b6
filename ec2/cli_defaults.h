/* The pool's settings from the daemon's configuration file (cli_defaults.c). */
#ifndef DMSCALE_EC2_CLI_DEFAULTS_H
#define DMSCALE_EC2_CLI_DEFAULTS_H
#include "dmscale/pool.h"

/* Thin sizing, low water mark, instance storage and scratch recreation from
 * DMSCALE_CONFIG or DMS_CONFIG_PATH; a missing file leaves the defaults, a
 * broken one too, with a warning. */
void dms_cli_pool_defaults(struct dms_opts *o);
#endif
