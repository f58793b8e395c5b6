/* The daemon's state object (ec2/state.c): strings from the outside (the
 * EC2 error code, the mountpoint, the last result) are escaped, so the file
 * always parses; the keys, their order and their JSON types are those of the
 * former snprintf format, which `dmscale status` and metrics.c read. */
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dmscale/metrics.h"
#include "dmscale/status.h"
#include "ec2/state.h"

/* key and jansson type, in the order the daemon always wrote them */
static const struct {
	const char *key;
	json_type type;
} schema[] = {
	{"pid", JSON_INTEGER}, {"pool", JSON_STRING}, {"mountpoint", JSON_STRING},
	{"pool_ready", JSON_TRUE}, {"ec2_ready", JSON_FALSE}, {"size_bytes", JSON_INTEGER},
	{"free_bytes", JSON_INTEGER}, {"threshold_bytes", JSON_INTEGER}, {"fill_rate_bps", JSON_INTEGER},
	{"time_to_full_s", JSON_INTEGER}, {"attach_latency_s", JSON_REAL}, {"last_attach_s", JSON_REAL},
	{"last_create_to_attached_s", JSON_REAL}, {"needed", JSON_TRUE}, {"reason", JSON_STRING},
	{"in_flight", JSON_INTEGER}, {"provisioned", JSON_INTEGER}, {"failed", JSON_INTEGER},
	{"api_calls", JSON_INTEGER}, {"retries", JSON_INTEGER}, {"throttled", JSON_INTEGER},
	{"last_result", JSON_STRING}, {"last_error", JSON_STRING},
};

static const char *const nasty_code = "Bad\"Code\\with\nnewline\tand \x01 control";
static const char *const nasty_result = "failed: I/O error (\"quoted\"); vol-0123 \\ kept";
static const char *const nasty_mount = "/var/lib/do\"ck\\er\n";

static struct dms_daemon_state sample(void)
{
	return (struct dms_daemon_state){
		.pid = 4242, .pool = "scratch", .mountpoint = nasty_mount, .pool_ready = true, .ec2_ready = false,
		.size_bytes = 17179869184ull, .free_bytes = 1073741824ull, .threshold_bytes = 536870912ull,
		.fill_rate_bps = 1234567.8, .time_to_full_s = 1e18, .attach_latency_s = 12.345,
		.last_attach_s = 0, .last_create_to_attached_s = 3.5, .needed = true, .reason = "low-free",
		.in_flight = 1, .provisioned = 2, .failed = 3, .api_calls = 40, .retries = 5, .throttled = 6,
		.last_result = nasty_result, .last_error = nasty_code,
	};
}

static void test_escaped_and_parseable(void **state)
{
	(void)state;
	struct dms_daemon_state s = sample();
	char *text = dms_daemon_state_json(&s);
	assert_non_null(text);
	size_t n = strlen(text);
	assert_true(n > 2 && text[n - 1] == '\n' && !memchr(text, '\n', n - 1));   /* one line */
	json_error_t e;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "last_error")), nasty_code);
	assert_string_equal(json_string_value(json_object_get(o, "last_result")), nasty_result);
	assert_string_equal(json_string_value(json_object_get(o, "mountpoint")), nasty_mount);
	assert_int_equal(json_integer_value(json_object_get(o, "time_to_full_s")), -1);
	assert_int_equal(json_integer_value(json_object_get(o, "fill_rate_bps")), 1234568);
	assert_true(json_real_value(json_object_get(o, "attach_latency_s")) == 12.35);
	assert_int_equal(json_integer_value(json_object_get(o, "size_bytes")), 17179869184ll);
	json_decref(o);
	free(text);
}

static void test_schema_unchanged(void **state)
{
	(void)state;
	struct dms_daemon_state s = sample();
	char *text = dms_daemon_state_json(&s);
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), sizeof(schema) / sizeof(schema[0]));
	/* same order as before: walk the text */
	const char *p = text;
	for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\":", schema[i].key);
		const char *q = strstr(p, quoted);
		assert_non_null(q);
		p = q + strlen(quoted);
		json_t *v = json_object_get(o, schema[i].key);
		assert_non_null(v);
		assert_int_equal(json_typeof(v), schema[i].type);
	}
	json_decref(o);
	free(text);

	/* a finite time to full is an integer too; invalid UTF-8 does not lose the key */
	s.time_to_full_s = 42.4;
	s.mountpoint = "/mnt/\xff\xfe";
	text = dms_daemon_state_json(&s);
	o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "time_to_full_s")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "mountpoint")), "/mnt/??");
	json_decref(o);
	free(text);
}

/* metrics.c reads the object: the error code reaches the exposition as a
 * label value, escaped by Prometheus rules. */
static void test_metrics_read_it(void **state)
{
	(void)state;
	struct dms_daemon_state s = sample();
	char *text = dms_daemon_state_json(&s);
	struct dms_status *st = calloc(1, sizeof(*st));
	assert_non_null(st);
	strcpy(st->name, "scratch");
	st->daemon = json_loads(text, 0, NULL);
	st->daemon_running = true;
	assert_non_null(st->daemon);
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(dms_metrics_format(st, &out, &len), 0);
	assert_non_null(strstr(out, "dmscale_daemon_last_ec2_error_info{"));
	assert_non_null(strstr(out, "code=\"Bad\\\"Code\\\\with\\nnewline"));
	assert_non_null(strstr(out, "dmscale_daemon_ec2_api_calls_total{pool=\"scratch\"} 40"));
	free(out);
	dms_status_release(st);
	free(st);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaped_and_parseable),
		cmocka_unit_test(test_schema_unchanged),
		cmocka_unit_test(test_metrics_read_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
