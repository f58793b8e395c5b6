/* Endpoint URLs (ec2/http.c http_endpoint_parse, libcurl's URL API): plain
 * http:// only to loopback or link-local (the VM test bed's EC2 simulator
 * at http://169.254.170.10:8080 included), the Host header as curl sends it,
 * no user info / query / fragment; and the config refuses the rest by key. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "ec2/config.h"
#include "ec2/http.h"
#include "ec2/sigv4.h"

static int parse(const char *url, enum http_endpoint_kind k, struct http_endpoint *e)
{
	char msg[400];
	return http_endpoint_parse(url, k, e, msg, sizeof(msg));
}

static void test_plain_http_rule(void **state)
{
	(void)state;
	struct http_endpoint e;
	static const char *const ok[] = {
		"http://127.0.0.1:9001", "http://127.3.4.5", "http://localhost:8080", "http://LOCALHOST",
		"http://[::1]:8080", "http://169.254.169.254", "http://169.254.170.10:8080", "http://169.254.0.1",
		"https://ec2.eu-west-1.amazonaws.com", "https://10.0.0.1", "https://vpce-1.ec2.example.com:8443",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(ok[i], HTTP_ENDPOINT_EC2, &e), 0);
		assert_int_equal(parse(ok[i], HTTP_ENDPOINT_IMDS, &e), 0);
	}
	static const char *const refused[] = {
		"http://ec2.eu-west-1.amazonaws.com", "http://10.0.0.1", "http://192.168.1.1:8080",
		"http://169.255.0.1", "http://168.254.1.1", "http://127.0.0.1.evil.example",
		"http://localhost.evil.example", "http://[2001:db8::1]", "http://[::ffff:10.0.0.1]",
		"http://8.8.8.8", "http://[fd00:ec2::254]",
	};
	char msg[400];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (!strcmp(refused[i], "http://[fd00:ec2::254]"))
			continue;
		assert_int_equal(http_endpoint_parse(refused[i], HTTP_ENDPOINT_EC2, &e, msg, sizeof(msg)), -EPERM);
		assert_non_null(strstr(msg, "plain http://"));
		assert_int_equal(parse(refused[i], HTTP_ENDPOINT_IMDS, &e), -EPERM);
	}
	/* IMDS's IPv6 address: IMDS only */
	assert_int_equal(parse("http://[fd00:ec2::254]", HTTP_ENDPOINT_IMDS, &e), 0);
	assert_int_equal(parse("http://[fd00:ec2::254]", HTTP_ENDPOINT_EC2, &e), -EPERM);
	/* numeric forms are normalised by libcurl before the check: 127.1 is loopback,
	 * 0x0a000001 is 10.0.0.1 */
	assert_int_equal(parse("http://127.1:9000", HTTP_ENDPOINT_EC2, &e), 0);
	assert_string_equal(e.host, "127.0.0.1:9000");
	assert_int_equal(parse("http://0x0a000001/", HTTP_ENDPOINT_EC2, &e), -EPERM);
}

static void test_not_urls(void **state)
{
	(void)state;
	struct http_endpoint e;
	static const char *const bad[] = {
		"", "ftp://x", "file:///etc/passwd", "http://user@127.0.0.1", "http://u:p@127.0.0.1",
		"https://host/?Action=x", "https://host/#frag", "http://x y", "127.0.0.1:80", "https://",
		"http://[fe80::1%25eth0]/", "https://ec2.example.com/prefix",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], HTTP_ENDPOINT_EC2, &e), -EINVAL);
	assert_int_equal(parse(NULL, HTTP_ENDPOINT_EC2, &e), -EINVAL);
	/* IMDS may have a path prefix (requests go to <url>/latest/...) */
	assert_int_equal(parse("http://127.0.0.1:9/imds/", HTTP_ENDPOINT_IMDS, &e), 0);
	assert_string_equal(e.url, "http://127.0.0.1:9/imds");
}

static void test_host_header(void **state)
{
	(void)state;
	struct http_endpoint e;
	assert_int_equal(parse("https://ec2.us-east-1.amazonaws.com:443/", HTTP_ENDPOINT_EC2, &e), 0);
	assert_string_equal(e.host, "ec2.us-east-1.amazonaws.com");   /* default port omitted, as curl does */
	assert_string_equal(e.url, "https://ec2.us-east-1.amazonaws.com");
	assert_true(e.https);
	assert_int_equal(parse("http://169.254.170.10:8080", HTTP_ENDPOINT_EC2, &e), 0);
	assert_string_equal(e.host, "169.254.170.10:8080");
	assert_false(e.https);
	assert_int_equal(parse("http://[::1]:80", HTTP_ENDPOINT_EC2, &e), 0);
	assert_string_equal(e.host, "[::1]");
	assert_int_equal(parse("HTTPS://EC2.example.COM:8443", HTTP_ENDPOINT_EC2, &e), 0);
	assert_string_equal(e.url, "https://EC2.example.COM:8443");
}

static const char *const *fake_env;
static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; fake_env && fake_env[i]; i += 2)
		if (!strcmp(fake_env[i], name))
			return fake_env[i + 1];
	return NULL;
}

static void test_config_keys(void **state)
{
	(void)state;
	struct dms_config c;
	char err[512];
	dms_config_defaults(&c);
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), 0);   /* IMDS default */
	snprintf(c.ec2_endpoint, sizeof(c.ec2_endpoint), "http://169.254.170.10:8080");   /* the VM test bed */
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), 0);
	snprintf(c.ec2_endpoint, sizeof(c.ec2_endpoint), "http://ec2.internal.example:8080");
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key \"ec2_endpoint\""));
	assert_non_null(strstr(err, "https://"));
	snprintf(c.ec2_endpoint, sizeof(c.ec2_endpoint), "https://ec2.internal.example:8080");
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), 0);
	snprintf(c.imds_endpoint, sizeof(c.imds_endpoint), "http://10.1.2.3");
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key \"imds_endpoint\""));
	/* from the environment (AWS_ENDPOINT_URL_EC2) too: checked after it is applied */
	dms_config_defaults(&c);
	static const char *const env[] = {"AWS_ENDPOINT_URL_EC2", "http://203.0.113.9", NULL};
	fake_env = env;
	assert_int_equal(dms_config_apply_env(&c, fake_getenv, err, sizeof(err)), 0);
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ec2_endpoint"));
	fake_env = NULL;
}

/* Form values are escaped by sigv4_uri_encode, kept over curl_easy_escape
 * because it is pure (no allocation per value, no handle) and is the very
 * encoder the AWS SigV4 suite proves for canonical queries. The two agree
 * on every byte. */
static void test_form_escape_matches_curl(void **state)
{
	(void)state;
	char in[2], out[8];
	for (int c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		assert_int_equal(sigv4_uri_encode(in, 1, 0, out, sizeof(out)) > 0, 1);
		char *ce = curl_easy_escape(NULL, in, 1);
		assert_non_null(ce);
		assert_string_equal(out, ce);
		curl_free(ce);
	}
	const char *s = "TagSpecification.1.Tag.1.Value=a b&c/d~e_f-g.h=ü";
	char buf[256];
	assert_true(sigv4_uri_encode(s, strlen(s), 0, buf, sizeof(buf)) > 0);
	char *ce = curl_easy_escape(NULL, s, 0);
	assert_string_equal(buf, ce);
	curl_free(ce);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_http_rule),
		cmocka_unit_test(test_not_urls),
		cmocka_unit_test(test_host_header),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_form_escape_matches_curl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
