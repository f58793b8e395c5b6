/* Fuzz the daemon configuration: dms_config_parse (JSON over the defaults),
 * dms_config_apply_env (AWS environment variables) and dms_config_validate.
 *
 * Input: the JSON document, optionally followed by a NUL byte and
 * "NAME=VALUE" lines that the harness serves as the environment. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "ec2/config.h"

#define MAX_ENV 16
static struct {
	size_t n;
	char *name[MAX_ENV], *value[MAX_ENV];
} env;

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < env.n; i++)
		if (!strcmp(env.name[i], name))
			return env.value[i];
	return NULL;
}

/* Split "A=x\nB=y" (already a private NUL-terminated copy) into env. */
static void load_env(char *s)
{
	env.n = 0;
	while (s && *s && env.n < MAX_ENV) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		char *eq = strchr(s, '=');
		if (eq) {
			*eq = '\0';
			env.name[env.n] = s;
			env.value[env.n] = eq + 1;
			env.n++;
		}
		s = nl ? nl + 1 : NULL;
	}
}

static void check_err(int r, const char *err, size_t errlen)
{
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r)
		FUZZ_ASSERT(fuzz_terminated(err, errlen) && err[0]);
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

#define STR_OK(f) FUZZ_ASSERT(fuzz_terminated(c->f, sizeof(c->f)) && printable(c->f))

/* After a successful parse every field is within its documented range. */
static void check_config(const struct dms_config *c)
{
	STR_OK(pool);
	STR_OK(mountpoint);
	STR_OK(volume_type);
	STR_OK(kms_key_id);
	STR_OK(imds_endpoint);
	STR_OK(ec2_endpoint);
	STR_OK(region);
	STR_OK(metrics_textfile);
	FUZZ_ASSERT(c->poll_interval_ms >= 100 && c->poll_interval_ms <= 60000);
	FUZZ_ASSERT(c->min_free_percent >= 0 && c->min_free_percent <= 100);
	FUZZ_ASSERT(c->safety_factor >= 1 && c->safety_factor <= 100);
	FUZZ_ASSERT(c->max_volume_gib >= 1 && c->max_volume_gib <= 16384);
	FUZZ_ASSERT(c->max_attachments >= 1 && c->max_attachments <= 26);
	FUZZ_ASSERT(c->max_volumes >= 1 && c->max_volumes <= 127);
	FUZZ_ASSERT(c->attach_timeout_s >= 5 && c->api_timeout_ms >= 100);
	FUZZ_ASSERT(c->n_tags <= DMS_CONFIG_MAX_TAGS);
	for (size_t i = 0; i < c->n_tags; i++) {
		STR_OK(tags[i].key);
		STR_OK(tags[i].value);
		FUZZ_ASSERT(c->tags[i].key[0] && strncmp(c->tags[i].key, "aws:", 4) &&
			    strncmp(c->tags[i].key, "dmscale:", 8));
	}
	FUZZ_ASSERT(!c->has_static_creds); /* never from the file */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* How often `needle` occurs in buf[0, len) (overlapping). */
static size_t occurrences(const char *buf, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	for (size_t i = 0; k && i + k <= len; i++)
		n += !memcmp(buf + i, needle, k);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dms_config cfg;
	struct dms_config *c = &cfg;
	char err[256];
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	char *json = (char *)fuzz_copy(data, json_len);
	char *envs = nul ? fuzz_cstr(nul + 1, size - json_len - 1) : NULL;

	dms_config_defaults(c);
	FUZZ_ASSERT(dms_config_validate(c, err, sizeof(err)) == 0);
	memset(err, 'x', sizeof(err));
	int r = dms_config_parse(json, json_len, c, err, sizeof(err));
	check_err(r, err, sizeof(err));
	if (r == 0) {
		check_config(c);
		load_env(envs);
		memset(err, 'x', sizeof(err));
		r = dms_config_apply_env(c, fake_getenv, err, sizeof(err));
		check_err(r, err, sizeof(err));
		if (r == 0) {
			STR_OK(region);
			STR_OK(ec2_endpoint);
			STR_OK(imds_endpoint);
			STR_OK(access_key_id);
			STR_OK(secret_access_key);
			STR_OK(session_token);
			FUZZ_ASSERT(c->has_static_creds == (c->access_key_id[0] && c->secret_access_key[0]));
		}
		memset(err, 'x', sizeof(err));
		r = dms_config_validate(c, err, sizeof(err));
		check_err(r, err, sizeof(err));
		/* no error message may carry a secret (unless the input repeats the
		 * secret inside another value, which the message may quote) */
		if (r && strlen(c->secret_access_key) >= 4 && occurrences((const char *)data, size, c->secret_access_key) == 1)
			FUZZ_ASSERT(!strstr(err, c->secret_access_key));
	}
	dms_config_wipe_secrets(c);
	FUZZ_ASSERT(!c->secret_access_key[0] && !c->session_token[0]);
	free(json);
	free(envs);
	return 0;
}
