/* Daemon config: defaults, every type error names its key, env overrides,
 * cross-field validation, file loading, and secrets never logged. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/units.h"
#include "ec2/config.h"

static struct dms_config cfg; /* large: keep off the stack */
static char err[512];

#define PARSE(s) dms_config_parse(s, strlen(s), &cfg, err, sizeof(err))

static void test_defaults(void **state)
{
	(void)state;
	dms_config_defaults(&cfg);
	assert_string_equal(cfg.pool, "scratch");
	assert_string_equal(cfg.mountpoint, "/var/lib/docker");
	assert_int_equal(cfg.poll_interval_ms, 1000);
	assert_int_equal(cfg.min_free_bytes, 10 * GIB);
	assert_int_equal(cfg.initial_volume_gib, 150);
	assert_string_equal(cfg.volume_type, "gp3");
	assert_string_equal(cfg.imds_endpoint, "http://169.254.169.254");
	assert_string_equal(cfg.metrics_textfile, "/var/lib/prometheus/node-exporter/dmscale.prom");
	assert_false(cfg.has_static_creds);
	assert_int_equal(dms_config_validate(&cfg, err, sizeof(err)), 0);
	/* empty object keeps defaults */
	assert_int_equal(PARSE("{}"), 0);
	assert_int_equal(cfg.max_volumes, 24);
}

static void test_full(void **state)
{
	(void)state;
	dms_config_defaults(&cfg);
	const char *j = "{\"pool\":\"scratch\",\"mountpoint\":\"/mnt/s\",\"poll_interval_ms\":500,"
		"\"min_free_bytes\":21474836480,\"min_free_percent\":12.5,\"initial_volume_gib\":200,"
		"\"min_volume_gib\":100,\"max_volume_gib\":2000,\"max_volumes\":10,\"max_total_gib\":10000,"
		"\"max_attachments\":20,\"fill_horizon_s\":900,\"growth_percent\":50,\"safety_factor\":2,"
		"\"volume_type\":\"io2\",\"iops\":8000,\"throughput_mibps\":0,\"encrypted\":true,"
		"\"kms_key_id\":\"alias/x\",\"tags\":{\"team\":\"ci\",\"cost\":\"42\"},\"attach_timeout_s\":60,"
		"\"api_timeout_ms\":5000,\"imds_endpoint\":\"http://127.0.0.1:9001\","
		"\"ec2_endpoint\":\"http://127.0.0.1:9002\",\"region\":\"eu-west-1\"}";
	assert_int_equal(PARSE(j), 0);
	assert_string_equal(cfg.pool, "scratch");
	assert_int_equal(cfg.min_free_bytes, 20 * GIB);
	assert_true(cfg.min_free_percent == 12.5);
	assert_true(cfg.safety_factor == 2.0);
	assert_int_equal(cfg.iops, 8000);
	assert_true(cfg.encrypted);
	assert_int_equal(cfg.n_tags, 2);
	assert_string_equal(cfg.tags[0].key, "team");
	assert_string_equal(cfg.tags[1].value, "42");
	assert_string_equal(cfg.region, "eu-west-1");
	assert_int_equal(dms_config_validate(&cfg, err, sizeof(err)), 0);
}

struct bad {
	const char *json;
	const char *must_contain;
};

static void test_errors_name_the_key(void **state)
{
	(void)state;
	const struct bad bad[] = {
		{"{\"pol\":\"x\"}", "unknown key \"pol\""},
		{"{\"iops\":\"3000\"}", "\"iops\": expected an integer"},
		{"{\"iops\":3000.5}", "\"iops\": expected an integer"},
		{"{\"iops\":-1}", "\"iops\": -1 out of range"},
		{"{\"poll_interval_ms\":99999999999999}", "\"poll_interval_ms\""},
		{"{\"max_volume_gib\":16385}", "\"max_volume_gib\""},
		{"{\"encrypted\":\"yes\"}", "\"encrypted\": expected true or false"},
		{"{\"encrypted\":1}", "\"encrypted\""},
		{"{\"min_free_percent\":101}", "\"min_free_percent\""},
		{"{\"min_free_percent\":\"5\"}", "\"min_free_percent\": expected a number"},
		{"{\"pool\":5}", "\"pool\": expected a string"},
		{"{\"pool\":null}", "\"pool\": expected a string"},
		{"{\"region\":\"a\\nb\"}", "\"region\": control characters"},
		{"{\"region\":\"a\\u0000b\"}", "not allowed"}, /* jansson refuses NUL */
		{"{\"volume_type\":\"gp3gp3gp3gp3gp3gp3\"}", "\"volume_type\": longer than"},
		{"{\"tags\":[1]}", "\"tags\": expected an object"},
		{"{\"tags\":{\"a\":1}}", "\"tags.a\": expected a string"},
		{"{\"tags\":{\"aws:x\":\"1\"}}", "invalid tag key \"aws:x\""},
		{"{\"tags\":{\"dmscale:pool\":\"1\"}}", "invalid tag key"},
		{"{\"tags\":{\"\":\"1\"}}", "invalid tag key"},
		{"[]", "expected a JSON object"},
		{"{\"pool\":\"a\",\"pool\":\"b\"}", "duplicate"},
		{"{", "line 1"},
		{"", "line"},
		{"{\"a\":1} trailing", "line"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dms_config_defaults(&cfg);
		err[0] = '\0';
		int r = PARSE(bad[i].json);
		if (r != -EINVAL || !strstr(err, bad[i].must_contain))
			fprintf(stderr, "case %zu %s: r=%d err=%s\n", i, bad[i].json, r, err);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, bad[i].must_contain));
	}
}

static void test_validate(void **state)
{
	(void)state;
	const struct bad bad[] = {
		{"{\"volume_type\":\"gp4\"}", "\"volume_type\""},
		{"{\"min_volume_gib\":500,\"max_volume_gib\":100,\"initial_volume_gib\":100}", "\"min_volume_gib\""},
		{"{\"initial_volume_gib\":20}", "\"initial_volume_gib\""},
		{"{\"kms_key_id\":\"k\"}", "\"kms_key_id\": requires"},
		{"{\"volume_type\":\"gp2\",\"throughput_mibps\":200}", "\"throughput_mibps\""},
		{"{\"volume_type\":\"io1\"}", "\"iops\": required"},
		{"{\"volume_type\":\"st1\",\"iops\":100}", "\"iops\": only valid"},
		{"{\"ec2_endpoint\":\"ftp://x\"}", "\"ec2_endpoint\""},
		{"{\"imds_endpoint\":\"\"}", "\"imds_endpoint\""},
		{"{\"pool\":\"a/b\"}", "\"pool\""},
		{"{\"mountpoint\":\"rel\"}", "\"mountpoint\""},
		{"{\"max_total_gib\":10}", "\"max_total_gib\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dms_config_defaults(&cfg);
		assert_int_equal(PARSE(bad[i].json), 0);
		err[0] = '\0';
		int r = dms_config_validate(&cfg, err, sizeof(err));
		if (r != -EINVAL || !strstr(err, bad[i].must_contain))
			fprintf(stderr, "case %zu: r=%d err=%s\n", i, r, err);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, bad[i].must_contain));
	}
}

static void test_metrics_textfile(void **state)
{
	(void)state;
	static const char *const good[] = { "", "/run/m/dmscale-scratch.prom", "/a.prom",
					     "/var/lib/node_exporter/textfile_collector/x.y.prom" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char j[256];
		snprintf(j, sizeof(j), "{\"metrics_textfile\":\"%s\"}", good[i]);
		dms_config_defaults(&cfg);
		assert_int_equal(PARSE(j), 0);
		assert_string_equal(cfg.metrics_textfile, good[i]);
		assert_int_equal(dms_config_validate(&cfg, err, sizeof(err)), 0);
	}
	static const char *const bad[] = { "rel/x.prom", "x.prom", "/var/lib/x.txt", "/var/lib/x.prom.tmp",
					   "/var/lib/.prom", "/.prom", "/var/lib/x.prom/", "/var/lib/xprom", " /x.prom" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char j[256];
		snprintf(j, sizeof(j), "{\"metrics_textfile\":\"%s\"}", bad[i]);
		dms_config_defaults(&cfg);
		assert_int_equal(PARSE(j), 0);
		err[0] = '\0';
		int r = dms_config_validate(&cfg, err, sizeof(err));
		if (r != -EINVAL)
			fprintf(stderr, "case %zu %s: accepted\n", i, bad[i]);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, "\"metrics_textfile\": must be an absolute path ending in \".prom\""));
	}
	/* type, control characters and length are checked when parsing */
	dms_config_defaults(&cfg);
	assert_int_equal(PARSE("{\"metrics_textfile\":false}"), -EINVAL);
	assert_non_null(strstr(err, "\"metrics_textfile\": expected a string"));
	assert_int_equal(PARSE("{\"metrics_textfile\":\"/a\\nb.prom\"}"), -EINVAL);
	assert_non_null(strstr(err, "\"metrics_textfile\": control characters"));
	char j[400] = "{\"metrics_textfile\":\"/";
	memset(j + strlen(j), 'a', 260);
	strcat(j, ".prom\"}");
	assert_int_equal(PARSE(j), -EINVAL);
	assert_non_null(strstr(err, "\"metrics_textfile\": longer than 255 bytes"));
	/* a failed parse leaves the default */
	assert_string_equal(cfg.metrics_textfile, DMS_METRICS_TEXTFILE_DEFAULT);
}

static const char *fake_env_vals[16][2];
static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < 16 && fake_env_vals[i][0]; i++)
		if (!strcmp(fake_env_vals[i][0], name))
			return fake_env_vals[i][1];
	return NULL;
}

static void set_env(const char *const (*kv)[2], size_t n)
{
	memset(fake_env_vals, 0, sizeof(fake_env_vals));
	for (size_t i = 0; i < n; i++) {
		fake_env_vals[i][0] = kv[i][0];
		fake_env_vals[i][1] = kv[i][1];
	}
}

static void test_env(void **state)
{
	(void)state;
	dms_config_defaults(&cfg);
	assert_int_equal(PARSE("{\"region\":\"us-west-2\",\"ec2_endpoint\":\"https://file\"}"), 0);
	const char *const env[][2] = {
		{"AWS_REGION", "eu-central-1"},
		{"AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:8001"},
		{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8002"},
		{"AWS_ACCESS_KEY_ID", "AKIDSECRETISH"},
		{"AWS_SECRET_ACCESS_KEY", "verysecretkey"},
		{"AWS_SESSION_TOKEN", "sessiontoken"},
	};
	set_env(env, 6);
	assert_int_equal(dms_config_apply_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.region, "eu-central-1");
	assert_string_equal(cfg.ec2_endpoint, "http://127.0.0.1:8001");
	assert_string_equal(cfg.imds_endpoint, "http://127.0.0.1:8002");
	assert_true(cfg.has_static_creds);
	assert_string_equal(cfg.session_token, "sessiontoken");
	dms_config_wipe_secrets(&cfg);
	assert_false(cfg.has_static_creds);
	assert_string_equal(cfg.secret_access_key, "");

	/* fallbacks */
	dms_config_defaults(&cfg);
	const char *const env2[][2] = {{"AWS_DEFAULT_REGION", "ap-south-1"}, {"AWS_ENDPOINT_URL", "http://x"}};
	set_env(env2, 2);
	assert_int_equal(dms_config_apply_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.region, "ap-south-1");
	assert_string_equal(cfg.ec2_endpoint, "http://x");
	assert_false(cfg.has_static_creds);

	/* half credentials is an error, and the message does not echo the value */
	dms_config_defaults(&cfg);
	const char *const env3[][2] = {{"AWS_ACCESS_KEY_ID", "AKIDLEAKCHECK"}};
	set_env(env3, 1);
	assert_int_equal(dms_config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "AKIDLEAKCHECK"));
	const char *const env4[][2] = {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "bad\nsecret"}};
	set_env(env4, 2);
	assert_int_equal(dms_config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "secret\n"));
	char longregion[64];
	memset(longregion, 'r', 63);
	longregion[63] = '\0';
	const char *const env5[][2] = {{"AWS_REGION", longregion}};
	set_env(env5, 1);
	assert_int_equal(dms_config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AWS_REGION"));
}

static char logbuf[8192];
static void sink(int level, const char *line, void *ud)
{
	(void)level;
	(void)ud;
	strncat(logbuf, line, sizeof(logbuf) - strlen(logbuf) - 2);
	strcat(logbuf, "\n");
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/dmscale-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *j = "{\"pool\":\"p1\",\"iops\":\"x\"}";
	assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
	close(fd);
	log_set_sink(sink, NULL);
	logbuf[0] = '\0';
	assert_int_equal(dms_config_load(path, &cfg), -EINVAL);
	assert_non_null(strstr(logbuf, "\"iops\""));
	assert_non_null(strstr(logbuf, path));

	FILE *f = fopen(path, "w");
	fputs("{\"pool\":\"p1\",\"region\":\"us-east-1\"}", f);
	fclose(f);
	setenv("AWS_ACCESS_KEY_ID", "AKIDNEVERLOGGED", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SECRETNEVERLOGGED", 1);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	logbuf[0] = '\0';
	assert_int_equal(dms_config_load(path, &cfg), 0);
	assert_string_equal(cfg.pool, "p1");
	assert_true(cfg.has_static_creds);
	assert_null(strstr(logbuf, "NEVERLOGGED"));
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unlink(path);
	/* explicit missing file is an error */
	assert_int_equal(dms_config_load(path, &cfg), -ENOENT);
	log_set_sink(NULL, NULL);
	dms_config_wipe_secrets(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors_name_the_key),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_metrics_textfile),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
