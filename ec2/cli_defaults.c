/* The pool's settings from the daemon's configuration file, for init, attach
 * and assemble: shared by both command-line binaries (cli_glue.c, cli_front.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/log.h"
#include "dmscale/units.h"
#include "ec2/cli_defaults.h"
#include "ec2/config.h"

/* Thin-pool sizing comes from the daemon's limits when a config exists (the pool
 * may grow up to max_total_gib; the kernel's low-water event should fire where
 * the daemon would provision). Only the file is read (not the AWS_* environment:
 * no credentials here); a missing one leaves the defaults, a broken one too,
 * with a warning that names the problem. The endpoint URLs are not checked
 * here: they are the daemon's, which checks them when it starts. */
void dms_cli_pool_defaults(struct dms_opts *o)
{
	struct dms_config *c = calloc(1, sizeof(*c));
	char err[256] = "", *text = NULL;
	size_t len = 0;
	if (!c)
		return;
	dms_config_defaults(c);
	const char *env = getenv("DMSCALE_CONFIG");
	const char *path = env && *env ? env : DMS_CONFIG_PATH;
	FILE *f = fopen(path, "re");
	if (f) {
		text = malloc(64 * KIB);
		if (text)
			len = fread(text, 1, 64 * KIB, f);
		if (!text || ferror(f) || len == 64 * KIB)
			snprintf(err, sizeof(err), "cannot read it");
		else if (dms_config_parse(text, len, c, err, sizeof(err)) == 0)
			(void)dms_config_validate_settings(c, err, sizeof(err));
		fclose(f);
		free(text);
	} else if (errno != ENOENT) {
		snprintf(err, sizeof(err), "cannot open it: %s", strerror(errno));
	}
	if (err[0]) {
		log_warning("%s: %s; thin pool sizing and low water mark use the defaults", path, err);
		dms_config_defaults(c);
	}
	o->max_data_bytes = c->max_total_gib * GIB;
	o->low_water_bytes = c->min_free_bytes;
	o->low_water_percent = c->min_free_percent;
	if (!o->instance_store_set)
		o->instance_store_off = !strcmp(c->instance_store, "off");
	o->no_scratch_recreate = !c->scratch_recreate;
	dms_config_wipe_secrets(c);
	free(c);
}

