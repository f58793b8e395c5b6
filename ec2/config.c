/* Daemon configuration: defaults, the JSON file, the AWS environment and the
 * checks of every setting but the endpoint URLs (config_load.c). See config.h. */
#include "ec2/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dmscale/credentials.h"
#include "dmscale/log.h"
#include "dmscale/units.h"
#include "ec2/names.h"

enum ktype { K_STR, K_U32, K_U64, K_DBL, K_BOOL, K_TAGS };

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	size_t size;     /* K_STR: buffer size */
	double min, max; /* numeric range */
};

#define O(f) offsetof(struct dms_config, f)
#define S(f) sizeof(((struct dms_config *)0)->f)
static const struct key keys[] = {
	{"pool", K_STR, O(pool), S(pool), 0, 0},
	{"mountpoint", K_STR, O(mountpoint), S(mountpoint), 0, 0},
	{"poll_interval_ms", K_U32, O(poll_interval_ms), 0, 100, 60000},
	{"min_free_bytes", K_U64, O(min_free_bytes), 0, 0, 1e18},
	{"min_free_percent", K_DBL, O(min_free_percent), 0, 0, 100},
	{"initial_volume_gib", K_U64, O(initial_volume_gib), 0, 1, 16384},
	{"min_volume_gib", K_U64, O(min_volume_gib), 0, 1, 16384},
	{"max_volume_gib", K_U64, O(max_volume_gib), 0, 1, 16384},
	{"max_volumes", K_U32, O(max_volumes), 0, 1, 127},
	{"max_total_gib", K_U64, O(max_total_gib), 0, 1, 16384.0 * 127},
	{"max_attachments", K_U32, O(max_attachments), 0, 1, 26},
	{"fill_horizon_s", K_U32, O(fill_horizon_s), 0, 1, 86400 * 7},
	{"growth_percent", K_U32, O(growth_percent), 0, 0, 1000},
	{"safety_factor", K_DBL, O(safety_factor), 0, 1, 100},
	{"min_lead_s", K_U32, O(min_lead_s), 0, 0, 3600},
	{"volume_type", K_STR, O(volume_type), S(volume_type), 0, 0},
	{"iops", K_U32, O(iops), 0, 0, 256000},
	{"throughput_mibps", K_U32, O(throughput_mibps), 0, 0, 4000},
	{"encrypted", K_BOOL, O(encrypted), 0, 0, 0},
	{"kms_key_id", K_STR, O(kms_key_id), S(kms_key_id), 0, 0},
	{"tags", K_TAGS, O(tags), 0, 0, 0},
	{"attach_timeout_s", K_U32, O(attach_timeout_s), 0, 5, 3600},
	{"api_timeout_ms", K_U32, O(api_timeout_ms), 0, 100, 120000},
	{"imds_endpoint", K_STR, O(imds_endpoint), S(imds_endpoint), 0, 0},
	{"ec2_endpoint", K_STR, O(ec2_endpoint), S(ec2_endpoint), 0, 0},
	{"region", K_STR, O(region), S(region), 0, 0},
	{"metrics_textfile", K_STR, O(metrics_textfile), S(metrics_textfile), 0, 0},
	{"instance_store", K_STR, O(instance_store), S(instance_store), 0, 0},
	{"scratch_recreate", K_BOOL, O(scratch_recreate), 0, 0, 0},
};
#undef O
#undef S

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void dms_config_defaults(struct dms_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pool, sizeof(c->pool), "scratch");
	snprintf(c->mountpoint, sizeof(c->mountpoint), "/var/lib/docker");
	c->poll_interval_ms = 1000;
	c->min_free_bytes = 10 * GIB;
	c->min_free_percent = 5;
	c->initial_volume_gib = 150;
	c->min_volume_gib = 25;
	c->max_volume_gib = 1500;
	c->max_volumes = 24;
	c->max_total_gib = 16384;
	c->max_attachments = 26;
	c->fill_horizon_s = 60;
	c->growth_percent = 15;
	c->safety_factor = 3;
	c->min_lead_s = 150;
	snprintf(c->volume_type, sizeof(c->volume_type), "gp3");
	c->attach_timeout_s = 300;
	c->api_timeout_ms = 15000;
	snprintf(c->imds_endpoint, sizeof(c->imds_endpoint), "http://169.254.169.254");
	snprintf(c->metrics_textfile, sizeof(c->metrics_textfile), "%s", DMS_METRICS_TEXTFILE_DEFAULT);
	snprintf(c->instance_store, sizeof(c->instance_store), "auto");
	c->scratch_recreate = true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int set_string(const char *name, json_t *v, char *dst, size_t size, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, "key \"%s\": expected a string", name);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n != strlen(s) || !printable(s))
		return fail(err, errlen, "key \"%s\": control characters or NUL in the string", name);
	if (n >= size)
		return fail(err, errlen, "key \"%s\": longer than %zu bytes", name, size - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

static int set_tags(json_t *v, struct dms_config *c, char *err, size_t errlen)
{
	if (!json_is_object(v))
		return fail(err, errlen, "key \"tags\": expected an object of string values");
	const char *k;
	json_t *val;
	c->n_tags = 0;
	json_object_foreach(v, k, val) {
		if (c->n_tags >= DMS_CONFIG_MAX_TAGS)
			return fail(err, errlen, "key \"tags\": more than %d tags", DMS_CONFIG_MAX_TAGS);
		if (!*k || strlen(k) >= sizeof(c->tags[0].key) || !printable(k) || !strncmp(k, "aws:", 4) ||
		    !strncmp(k, "dmscale:", 8))
			return fail(err, errlen, "key \"tags\": invalid tag key \"%.64s\" (1..127 characters, not aws:* or dmscale:*)", k);
		char name[160];
		snprintf(name, sizeof(name), "tags.%.127s", k);
		struct dms_config_tag *t = &c->tags[c->n_tags];
		int r = set_string(name, val, t->value, sizeof(t->value), err, errlen);
		if (r)
			return r;
		snprintf(t->key, sizeof(t->key), "%s", k);
		c->n_tags++;
	}
	return 0;
}

static int set_key(const struct key *k, json_t *v, struct dms_config *c, char *err, size_t errlen)
{
	char *base = (char *)c + k->off;
	switch (k->type) {
	case K_STR:
		return set_string(k->name, v, base, k->size, err, errlen);
	case K_BOOL:
		if (!json_is_boolean(v))
			return fail(err, errlen, "key \"%s\": expected true or false", k->name);
		bool b = json_is_true(v);
		memcpy(base, &b, sizeof(b));
		return 0;
	case K_TAGS:
		return set_tags(v, c, err, errlen);
	case K_DBL: {
		if (!json_is_number(v))
			return fail(err, errlen, "key \"%s\": expected a number", k->name);
		double d = json_number_value(v);
		if (!(d >= k->min && d <= k->max))
			return fail(err, errlen, "key \"%s\": %g out of range [%g, %g]", k->name, d, k->min, k->max);
		memcpy(base, &d, sizeof(d));
		return 0;
	}
	case K_U32:
	case K_U64: {
		if (!json_is_integer(v))
			return fail(err, errlen, "key \"%s\": expected an integer", k->name);
		json_int_t i = json_integer_value(v);
		if (i < 0 || (double)i < k->min || (double)i > k->max)
			return fail(err, errlen, "key \"%s\": %lld out of range [%.0f, %.0f]", k->name,
				    (long long)i, k->min, k->max);
		if (k->type == K_U32) {
			uint32_t u = (uint32_t)i;
			memcpy(base, &u, sizeof(u));
		} else {
			uint64_t u = (uint64_t)i;
			memcpy(base, &u, sizeof(u));
		}
		return 0;
	}
	}
	return -EINVAL;
}

int dms_config_parse(const char *json, size_t len, struct dms_config *c, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	int r = 0;
	if (!json_is_object(root)) {
		r = fail(err, errlen, "top level: expected a JSON object");
		goto out;
	}
	const char *name;
	json_t *v;
	json_object_foreach(root, name, v) {
		const struct key *k = NULL;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].name, name))
				k = &keys[i];
		if (!k) {
			r = fail(err, errlen, "unknown key \"%.64s\"", name);
			goto out;
		}
		if ((r = set_key(k, v, c, err, errlen)))
			goto out;
	}
out:
	json_decref(root);
	return r;
}

static const char *std_getenv(const char *n) { return getenv(n); }

int dms_config_apply_env(struct dms_config *c, const char *(*getenv_fn)(const char *), char *err,
			 size_t errlen)
{
	if (!getenv_fn)
		getenv_fn = std_getenv;
	struct {
		const char *var, *alt;
		char *dst;
		size_t size;
	} m[] = {
		{"AWS_REGION", "AWS_DEFAULT_REGION", c->region, sizeof(c->region)},
		{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", c->ec2_endpoint, sizeof(c->ec2_endpoint)},
		{"AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL, c->imds_endpoint, sizeof(c->imds_endpoint)},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		const char *var = m[i].var;
		const char *v = getenv_fn(var);
		if ((!v || !*v) && m[i].alt) {
			var = m[i].alt;
			v = getenv_fn(var);
		}
		if (!v || !*v)
			continue;
		if (strlen(v) >= m[i].size || !printable(v))
			return fail(err, errlen, "environment %s: invalid or longer than %zu bytes", var, m[i].size - 1);
		snprintf(m[i].dst, m[i].size, "%s", v);
	}
	const char *ak = getenv_fn("AWS_ACCESS_KEY_ID");
	const char *sk = getenv_fn("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv_fn("AWS_SESSION_TOKEN");
	if ((ak && *ak) != (sk && *sk))
		return fail(err, errlen, "environment AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
	if (ak && *ak) {
		/* never echo the values */
		if (strlen(ak) >= sizeof(c->access_key_id) || !printable(ak))
			return fail(err, errlen, "environment AWS_ACCESS_KEY_ID: invalid");
		if (strlen(sk) >= sizeof(c->secret_access_key) || !printable(sk))
			return fail(err, errlen, "environment AWS_SECRET_ACCESS_KEY: invalid");
		if (tok && (strlen(tok) >= sizeof(c->session_token) || !printable(tok)))
			return fail(err, errlen, "environment AWS_SESSION_TOKEN: invalid");
		snprintf(c->access_key_id, sizeof(c->access_key_id), "%s", ak);
		snprintf(c->secret_access_key, sizeof(c->secret_access_key), "%s", sk);
		snprintf(c->session_token, sizeof(c->session_token), "%s", tok ? tok : "");
		c->has_static_creds = true;
	}
	return 0;
}

int dms_config_validate_settings(const struct dms_config *c, char *err, size_t errlen)
{
	static const char *const types[] = {"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"};
	bool ok = false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		ok |= !strcmp(types[i], c->volume_type);
	if (!ok)
		return fail(err, errlen, "key \"volume_type\": \"%s\" is not one of gp2 gp3 io1 io2 st1 sc1 standard", c->volume_type);
	if (strcmp(c->instance_store, "auto") && strcmp(c->instance_store, "off"))
		return fail(err, errlen, "key \"instance_store\": \"%s\" is not auto or off", c->instance_store);
	if (!c->pool[0])
		return fail(err, errlen, "key \"pool\": must not be empty");
	if (!dms_valid_pool_name(c->pool))
		return fail(err, errlen, "key \"pool\": 1-47 of [A-Za-z0-9_.-], not \".\" or \"..\", not starting "
			    "with '-'");
	if (c->mountpoint[0] != '/')
		return fail(err, errlen, "key \"mountpoint\": must be an absolute path");
	if (c->min_volume_gib > c->max_volume_gib)
		return fail(err, errlen, "key \"min_volume_gib\": %llu is larger than max_volume_gib %llu",
			    (unsigned long long)c->min_volume_gib, (unsigned long long)c->max_volume_gib);
	if (c->initial_volume_gib < c->min_volume_gib || c->initial_volume_gib > c->max_volume_gib)
		return fail(err, errlen, "key \"initial_volume_gib\": must be within [min_volume_gib, max_volume_gib]");
	if (c->max_total_gib < c->min_volume_gib)
		return fail(err, errlen, "key \"max_total_gib\": smaller than min_volume_gib");
	if (c->kms_key_id[0] && !c->encrypted)
		return fail(err, errlen, "key \"kms_key_id\": requires \"encrypted\": true");
	if (c->throughput_mibps && strcmp(c->volume_type, "gp3"))
		return fail(err, errlen, "key \"throughput_mibps\": only valid with volume_type gp3");
	if (c->iops && strcmp(c->volume_type, "gp3") && strcmp(c->volume_type, "io1") && strcmp(c->volume_type, "io2"))
		return fail(err, errlen, "key \"iops\": only valid with volume_type gp3, io1 or io2");
	if (!strncmp(c->volume_type, "io", 2) && !c->iops)
		return fail(err, errlen, "key \"iops\": required with volume_type %s", c->volume_type);
	if (strpbrk(c->region, "/ "))
		return fail(err, errlen, "key \"region\": invalid");
	size_t mt = strlen(c->metrics_textfile);
	if (mt && (c->metrics_textfile[0] != '/' || mt < 7 || strcmp(c->metrics_textfile + mt - 5, ".prom") ||
		   c->metrics_textfile[mt - 6] == '/'))
		return fail(err, errlen, "key \"metrics_textfile\": must be an absolute path ending in \".prom\" "
			    "(node_exporter reads *.prom), or \"\" for none");
	return 0;
}

void dms_config_wipe_secrets(struct dms_config *c)
{
	explicit_bzero(c->access_key_id, sizeof(c->access_key_id));
	explicit_bzero(c->secret_access_key, sizeof(c->secret_access_key));
	explicit_bzero(c->session_token, sizeof(c->session_token));
	c->has_static_creds = false;
}
