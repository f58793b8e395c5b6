/* Fuzz the IMDSv2 response parsers (ec2/imds.c): the role credentials JSON,
 * the role name listing, a metadata value (instance-id, region, az), the
 * session token (a metadata value of up to IMDS_TOKEN_MAX bytes) and the
 * ISO 8601 timestamps of Expiration. Every parser sees every input: they are
 * cheap, and a response body may reach any of them. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <time.h>

#include "ec2/imds.h"

#define T(s) fuzz_terminated((s), sizeof(s))

static int role_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("+=,.@_-", c));
}

static int graph_only(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static const uint8_t ZERO[sizeof(struct aws_credentials)];

static void credentials(const char *body, size_t len)
{
	static struct aws_credentials c;
	const time_t now = 1764090000;
	int r = imds_parse_credentials(body, len, now, &c);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -E2BIG);
	if (r) {
		/* nothing half-parsed is left behind, secrets included */
		FUZZ_ASSERT(!memcmp(&c, ZERO, sizeof(c)));
		return;
	}
	FUZZ_ASSERT(T(c.access_key_id) && T(c.secret_access_key) && T(c.session_token));
	FUZZ_ASSERT(c.access_key_id[0] && c.secret_access_key[0]);
	FUZZ_ASSERT(graph_only(c.access_key_id) && graph_only(c.secret_access_key) && graph_only(c.session_token));
	FUZZ_ASSERT(c.fetched_at == now);
	(void)aws_credentials_need_refresh(&c, now);
	(void)aws_credentials_need_refresh(&c, c.expiration);
	aws_credentials_wipe(&c);
	FUZZ_ASSERT(!memcmp(&c, ZERO, sizeof(c)));
}

static void role_name(const char *body, size_t len)
{
	char out[128];
	int r = imds_parse_role_name(body, len, out, sizeof(out));
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -E2BIG);
	if (r)
		return;
	size_t line = 0;
	while (line < len && body[line] != '\n' && body[line] != '\r')
		line++;
	/* a NUL byte is never a role character (found by this harness, fixed) */
	FUZZ_ASSERT(!memchr(body, '\0', line));
	/* the role name goes into a URL path: [A-Za-z0-9+=,.@_-]{1,64}, all of it */
	size_t n = strlen(out);
	FUZZ_ASSERT(n >= 1 && n <= 64);
	FUZZ_ASSERT(n <= len && !memcmp(out, body, n));
	FUZZ_ASSERT(n == len || body[n] == '\n' || body[n] == '\r');
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(role_char(out[i]));
	/* a small output buffer is refused, not overflowed */
	char small[4];
	r = imds_parse_role_name(body, len, small, sizeof(small));
	FUZZ_ASSERT(n < sizeof(small) ? r == 0 : r == -E2BIG);
}

static void value(const char *body, size_t len, size_t outlen)
{
	char *out = malloc(outlen);
	FUZZ_ASSERT(out);
	int r = imds_parse_value(body, len, out, outlen);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -E2BIG);
	if (r == 0) {
		size_t n = strnlen(out, outlen);
		FUZZ_ASSERT(n >= 1 && n < outlen && n <= len);
		FUZZ_ASSERT(graph_only(out)); /* goes into a header and into URLs */
	}
	free(out);
}

static void iso8601(const char *s)
{
	time_t t = 12345;
	int r = imds_parse_iso8601(s, &t);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r) {
		FUZZ_ASSERT(t == 12345); /* untouched on error */
		return;
	}
	FUZZ_ASSERT(t >= 0);
	/* formatting the result and parsing it again gives the same instant */
	struct tm tm;
	char back[64];
	FUZZ_ASSERT(gmtime_r(&t, &tm));
	if (tm.tm_year + 1900 > 9999)
		return; /* 9999-12-31T23:59:60Z rolls over into year 10000 */
	FUZZ_ASSERT(strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
	time_t t2 = 0;
	FUZZ_ASSERT(imds_parse_iso8601(back, &t2) == 0 && t2 == t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = (char *)fuzz_copy(data, size);
	credentials(body, size);
	role_name(body, size);
	value(body, size, 64);             /* instance-id, region, az */
	value(body, size, IMDS_TOKEN_MAX); /* the session token */
	free(body);
	char *s = fuzz_cstr(data, size);
	iso8601(s);
	free(s);
	return 0;
}
