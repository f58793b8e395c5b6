/* IMDSv2: pure parsers (credentials JSON, role name, timestamps, values),
 * credential refresh rule, and the HTTP adapter against a scripted local
 * server (forked): token PUT with TTL header, token reuse and re-fetch before
 * expiry, 401 → new token, errors; no secret ever reaches the log. */
#include "tests/unit/unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "ec2/imds.h"

#define P(s) s, strlen(s)

static void test_parse_credentials(void **state)
{
	(void)state;
	struct aws_credentials c;
	const char *j = "{\"Code\":\"Success\",\"LastUpdated\":\"2025-11-25T13:00:00Z\",\"Type\":\"AWS-HMAC\","
			"\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"secret/+=\",\"Token\":\"tok+/=\","
			"\"Expiration\":\"2025-11-25T19:00:00Z\"}";
	assert_int_equal(imds_parse_credentials(P(j), 1000, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
	assert_string_equal(c.secret_access_key, "secret/+=");
	assert_string_equal(c.session_token, "tok+/=");
	assert_int_equal(c.expiration, 1764097200);
	assert_int_equal(c.fetched_at, 1000);

	const char *bad[] = {
		"", "{", "[]", "null",
		"{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"A\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"tomorrow\"}",
		"{\"AccessKeyId\":5,\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\\r\\nX\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
		"{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(imds_parse_credentials(P(bad[i]), 0, &c), -EBADMSG);
		assert_string_equal(c.secret_access_key, ""); /* wiped */
	}
	/* oversized token is refused, not truncated */
	char *big = malloc(10000);
	int n = snprintf(big, 10000, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2025-11-25T19:00:00Z\",\"Token\":\"");
	memset(big + n, 'T', 5000);
	strcpy(big + n + 5000, "\"}");
	assert_int_equal(imds_parse_credentials(P(big), 0, &c), -E2BIG);
	free(big);
}

static void test_parse_misc(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(imds_parse_iso8601("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(imds_parse_iso8601("2025-11-25T19:00:00.123Z", &t), 0);
	assert_int_equal(t, 1764097200);
	assert_int_equal(imds_parse_iso8601("2025-11-25T19:00:00+00:00", &t), 0);
	assert_int_equal(imds_parse_iso8601("2025-11-25T19:00:00", &t), -EBADMSG);
	assert_int_equal(imds_parse_iso8601("2025-13-25T19:00:00Z", &t), -EBADMSG);
	assert_int_equal(imds_parse_iso8601("2025-11-25 19:00:00Z", &t), -EBADMSG);
	assert_int_equal(imds_parse_iso8601("2025-11-25T19:00:00.Z", &t), -EBADMSG);
	assert_int_equal(imds_parse_iso8601(NULL, &t), -EBADMSG);

	char out[64];
	assert_int_equal(imds_parse_role_name(P("my-role\n"), out, sizeof(out)), 0);
	assert_string_equal(out, "my-role");
	assert_int_equal(imds_parse_role_name(P("first\nsecond\n"), out, sizeof(out)), 0);
	assert_string_equal(out, "first");
	assert_int_equal(imds_parse_role_name(P(""), out, sizeof(out)), -EBADMSG);
	assert_int_equal(imds_parse_role_name("ro\0le\n", 6, out, sizeof(out)), -EBADMSG);   /* a NUL is no role character */
	assert_int_equal(imds_parse_role_name(P("../etc"), out, sizeof(out)), -EBADMSG);
	assert_int_equal(imds_parse_role_name(P("a b"), out, sizeof(out)), -EBADMSG);
	assert_int_equal(imds_parse_role_name(P("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"), out, sizeof(out)), -E2BIG);

	assert_int_equal(imds_parse_value(P("i-0123456789abcdef0\n"), out, sizeof(out)), 0);
	assert_string_equal(out, "i-0123456789abcdef0");
	assert_int_equal(imds_parse_value(P("\n"), out, sizeof(out)), -EBADMSG);
	assert_int_equal(imds_parse_value(P("a\x01"), out, sizeof(out)), -EBADMSG);
	assert_int_equal(imds_parse_value(P("abcdef"), out, 4), -E2BIG);
}

static void test_refresh_rule(void **state)
{
	(void)state;
	struct aws_credentials c = {0};
	assert_true(aws_credentials_need_refresh(&c, 0)); /* empty */
	snprintf(c.access_key_id, sizeof(c.access_key_id), "A");
	c.fetched_at = 1000;
	c.expiration = 1000 + 6 * 3600;
	assert_false(aws_credentials_need_refresh(&c, 1000));
	assert_false(aws_credentials_need_refresh(&c, c.expiration - 301));
	assert_true(aws_credentials_need_refresh(&c, c.expiration - 300));
	/* short-lived: half the lifetime */
	c.expiration = 1000 + 60;
	assert_false(aws_credentials_need_refresh(&c, 1029));
	assert_true(aws_credentials_need_refresh(&c, 1030));
	c.expiration = 0; /* static */
	assert_false(aws_credentials_need_refresh(&c, 1 << 30));
	aws_credentials_wipe(&c);
	assert_string_equal(c.access_key_id, "");
}

/* ---- scripted server ---- */
static const char *SECRET = "SUPERSECRETKEYVALUE";
static const char *SESSION = "SESSIONTOKENVALUE";
static const char *IMDSTOK = "IMDSTOKENVALUE";

enum mode { M_NORMAL, M_401_ONCE, M_NO_TOKEN };

static void serve(int lfd, int logfd, enum mode mode)
{
	int tokens = 0, got401 = 0;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(0);
		char buf[8192];
		size_t n = 0;
		ssize_t r;
		while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
			n += (size_t)r;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		buf[n] = '\0';
		char method[8] = "", path[256] = "";
		sscanf(buf, "%7s %255s", method, path);
		const char *tok = strstr(buf, "X-aws-ec2-metadata-token: ");
		char tokv[64] = "";
		if (tok)
			sscanf(tok + 26, "%63[^\r]", tokv);
		const char *ttl = strstr(buf, "X-aws-ec2-metadata-token-ttl-seconds: ");
		dprintf(logfd, "%s %s ttl=%d tok=%s\n", method, path, ttl ? atoi(ttl + 38) : -1, tokv);
		int status = 200;
		char body[1024] = "";
		if (!strcmp(method, "PUT") && !strcmp(path, "/latest/api/token")) {
			if (mode == M_NO_TOKEN)
				status = 403;
			else
				snprintf(body, sizeof(body), "%s%d", IMDSTOK, ++tokens);
		} else if (strncmp(tokv, IMDSTOK, strlen(IMDSTOK))) {
			status = 401;
		} else if (mode == M_401_ONCE && !got401) {
			got401 = 1;
			status = 401;
		} else if (!strcmp(path, "/latest/meta-data/instance-id")) {
			snprintf(body, sizeof(body), "i-0123456789abcdef0");
		} else if (!strcmp(path, "/latest/meta-data/placement/region")) {
			snprintf(body, sizeof(body), "us-east-1");
		} else if (!strcmp(path, "/latest/meta-data/iam/security-credentials/")) {
			snprintf(body, sizeof(body), "dmscale-role");
		} else if (!strcmp(path, "/latest/meta-data/iam/security-credentials/dmscale-role")) {
			snprintf(body, sizeof(body),
				 "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"%s\","
				 "\"Token\":\"%s\",\"Expiration\":\"2099-01-01T00:00:00Z\"}", SECRET, SESSION);
		} else {
			status = 404;
		}
		char resp[2048];
		int len = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
				   status, strlen(body), body);
		if (write(fd, resp, (size_t)len) < 0)
			_exit(1);
		close(fd);
	}
}

struct server {
	pid_t pid;
	int logfd;
	char logpath[64];
	char url[64];
};

static void server_start(struct server *s, enum mode mode)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	socklen_t al = sizeof(a);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(s->logpath, sizeof(s->logpath), "/tmp/dmscale-imds-XXXXXX");
	s->logfd = mkstemp(s->logpath);
	assert_true(s->logfd >= 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0)
		serve(lfd, s->logfd, mode);
	close(lfd);
}

static char *server_stop(struct server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	static char log[8192];
	ssize_t n = pread(s->logfd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(s->logfd);
	unlink(s->logpath);
	return log;
}

static time_t fake_now_v;
static time_t fake_now(void) { return fake_now_v; }

static char logbuf[16384];
static void sink(int level, const char *line, void *ud)
{
	(void)level;
	(void)ud;
	strncat(logbuf, line, sizeof(logbuf) - strlen(logbuf) - 2);
	strcat(logbuf, "\n");
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_client(void **state)
{
	(void)state;
	struct server s = {0};
	server_start(&s, M_NORMAL);
	log_set_sink(sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
	logbuf[0] = '\0';
	struct imds_client c;
	assert_int_equal(imds_client_init(&c, s.url, 2000), 0);
	c.now = fake_now;
	fake_now_v = 1000000;
	char v[64];
	assert_int_equal(imds_get_instance_id(&c, v, sizeof(v)), 0);
	assert_string_equal(v, "i-0123456789abcdef0");
	assert_int_equal(imds_get_region(&c, v, sizeof(v)), 0);
	assert_string_equal(v, "us-east-1");
	/* still within the token lifetime: reused */
	fake_now_v += IMDS_TOKEN_TTL_S / 2;
	struct aws_credentials cr;
	assert_int_equal(imds_get_role_credentials(&c, &cr), 0);
	assert_string_equal(cr.secret_access_key, SECRET);
	assert_string_equal(cr.session_token, SESSION);
	/* close to expiry: re-fetched */
	fake_now_v += IMDS_TOKEN_TTL_S / 2 - 10;
	assert_int_equal(imds_get_region(&c, v, sizeof(v)), 0);
	/* unknown path: -ENOENT */
	assert_int_equal(imds_get(&c, "nope", v, sizeof(v)), -ENOENT);
	imds_client_free(&c);
	aws_credentials_wipe(&cr);
	char *log = server_stop(&s);
	assert_int_equal(count(log, "PUT /latest/api/token ttl=21600"), 2);
	assert_int_equal(count(log, "tok=IMDSTOKENVALUE1"), 4);
	assert_int_equal(count(log, "tok=IMDSTOKENVALUE2"), 2);
	/* no secret, token or IMDS token in the log */
	assert_null(strstr(logbuf, SECRET));
	assert_null(strstr(logbuf, SESSION));
	assert_null(strstr(logbuf, IMDSTOK));
	assert_non_null(strstr(logbuf, "dmscale-role")); /* the debug line did happen */
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
}

static void test_client_errors(void **state)
{
	(void)state;
	struct server s = {0};
	log_set_sink(sink, NULL);
	server_start(&s, M_401_ONCE);
	struct imds_client c;
	char v[64];
	assert_int_equal(imds_client_init(&c, s.url, 2000), 0);
	assert_int_equal(imds_get_instance_id(&c, v, sizeof(v)), 0); /* 401 → new token → ok */
	imds_client_free(&c);
	char *log = server_stop(&s);
	assert_int_equal(count(log, "PUT /latest/api/token"), 2);

	server_start(&s, M_NO_TOKEN);
	assert_int_equal(imds_client_init(&c, s.url, 2000), 0);
	assert_int_equal(imds_get_instance_id(&c, v, sizeof(v)), -EACCES);
	imds_client_free(&c);
	server_stop(&s);

	/* nothing listening */
	assert_int_equal(imds_client_init(&c, "http://127.0.0.1:1", 500), 0);
	assert_true(imds_get_instance_id(&c, v, sizeof(v)) < 0);
	imds_client_free(&c);
	/* bad endpoints */
	assert_int_equal(imds_client_init(&c, "file:///etc/passwd", 500), -EINVAL);
	assert_int_equal(imds_client_init(&c, "http://user@host", 500), -EINVAL);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_credentials),
		cmocka_unit_test(test_parse_misc),
		cmocka_unit_test(test_refresh_rule),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_client_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
