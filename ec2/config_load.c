/* The daemon's configuration loaded and checked in full: the file, the
 * environment, every setting, and the endpoint URLs by libcurl's URL parser
 * (http.c). Kept apart from config.c so that the command-line front, which
 * reads only the pool's settings, is built without libcurl. See config.h. */
#include "ec2/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dmscale/credentials.h"
#include "dmscale/log.h"
#include "ec2/http.h"

/* An endpoint URL by the rules of http_endpoint_parse (https, or plain http
 * to loopback or link-local only). */
static int check_endpoint(const char *key, const char *url, enum http_endpoint_kind kind, char *err, size_t errlen)
{
	struct http_endpoint e;
	char msg[400];
	if (http_endpoint_parse(url, kind, &e, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "key \"%s\": %s", key, msg);
		return -EINVAL;
	}
	return 0;
}

int dms_config_validate(const struct dms_config *c, char *err, size_t errlen)
{
	int r = dms_config_validate_settings(c, err, errlen);
	if (r < 0)
		return r;
	if (c->ec2_endpoint[0] && check_endpoint("ec2_endpoint", c->ec2_endpoint, HTTP_ENDPOINT_EC2, err, errlen) < 0)
		return -EINVAL;
	return check_endpoint("imds_endpoint", c->imds_endpoint, HTTP_ENDPOINT_IMDS, err, errlen);
}

int dms_config_load(const char *path, struct dms_config *c)
{
	char err[512] = "";
	const char *p = path ? path : DMS_CONFIG_PATH;
	dms_config_defaults(c);
	FILE *f = fopen(p, "re");
	if (!f) {
		int e = errno;
		if (!(e == ENOENT && !path))
			return log_error_errno(e, "config %s: cannot open: %m", p);
		log_info("config %s: not found, using defaults", p);
	} else {
		char *buf = NULL;
		size_t cap = 0, n = 0;
		int r = 0;
		for (;;) {
			if (n + 4096 > cap) {
				if (cap >= (1u << 20)) {
					r = -EFBIG;
					break;
				}
				cap = cap ? cap * 2 : 8192;
				char *nb = realloc(buf, cap);
				if (!nb) {
					r = -ENOMEM;
					break;
				}
				buf = nb;
			}
			size_t got = fread(buf + n, 1, cap - n, f);
			n += got;
			if (!got)
				break;
		}
		if (!r && ferror(f))
			r = -EIO;
		fclose(f);
		if (r) {
			free(buf);
			return log_error_errno(r, "config %s: cannot read: %m", p);
		}
		r = dms_config_parse(buf ? buf : "", n, c, err, sizeof(err));
		free(buf);
		if (r)
			return log_error_errno(r, "config %s: %s", p, err);
	}
	/* Environment first, else systemd credentials of the same name; the
	 * credential copies are wiped as soon as they are in the config. */
	int r = dms_config_apply_env(c, dms_credential_getenv, err, sizeof(err));
	dms_credential_wipe();
	if (r < 0 || dms_config_validate(c, err, sizeof(err)) < 0) {
		dms_config_wipe_secrets(c);
		return log_error_errno(EINVAL, "config %s: %s", p, err);
	}
	return 0;
}
