/* IMDSv2 client. See imds.h. */
#include "ec2/imds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dmscale/log.h"

/* ---- pure ---- */
int imds_parse_iso8601(const char *s, time_t *out)
{
	if (!s)
		return -EBADMSG;
	int Y, M, D, h, m, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
		return -EBADMSG;
	const char *p = s + n;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EBADMSG;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") && strcmp(p, "+00:00"))
		return -EBADMSG;
	if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 ||
	    h < 0 || m < 0 || sec < 0)
		return -EBADMSG;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EBADMSG;
	*out = t;
	return 0;
}

static int copy_field(json_t *o, const char *key, char *dst, size_t size, bool required)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		dst[0] = '\0';
		return required ? -EBADMSG : 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n != strlen(s) || (required && n == 0))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return -EBADMSG;
	if (n >= size)
		return -E2BIG;
	memcpy(dst, s, n + 1);
	return 0;
}

int imds_parse_credentials(const char *json, size_t len, time_t now, struct aws_credentials *out)
{
	memset(out, 0, sizeof(*out));
	json_error_t e;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
	if (!root)
		return -EBADMSG;
	int r = 0;
	json_t *code = json_object_get(root, "Code");
	if (!json_is_object(root) || (code && (!json_is_string(code) || strcmp(json_string_value(code), "Success"))))
		r = -EBADMSG;
	if (!r)
		r = copy_field(root, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id), true);
	if (!r)
		r = copy_field(root, "SecretAccessKey", out->secret_access_key, sizeof(out->secret_access_key), true);
	if (!r)
		r = copy_field(root, "Token", out->session_token, sizeof(out->session_token), false);
	if (!r) {
		json_t *exp = json_object_get(root, "Expiration");
		if (!json_is_string(exp) || imds_parse_iso8601(json_string_value(exp), &out->expiration) < 0)
			r = -EBADMSG;
	}
	json_decref(root);
	if (r)
		aws_credentials_wipe(out);
	else
		out->fetched_at = now;
	return r;
}

int imds_parse_role_name(const char *body, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	while (n < len && body[n] != '\n' && body[n] != '\r')
		n++;
	if (n == 0 || n > 64 || n >= outlen)
		return n == 0 ? -EBADMSG : -E2BIG;
	for (size_t i = 0; i < n; i++) {
		char c = body[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("+=,.@_-", c))))   /* strchr finds the NUL too */
			return -EBADMSG;
	}
	memcpy(out, body, n);
	out[n] = '\0';
	return 0;
}

int imds_parse_value(const char *body, size_t len, char *out, size_t outlen)
{
	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
		len--;
	while (len && (*body == ' ' || *body == '\n')) {
		body++;
		len--;
	}
	if (len == 0)
		return -EBADMSG;
	if (len >= outlen)
		return -E2BIG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)body[i] < 0x21 || (unsigned char)body[i] >= 0x7f)
			return -EBADMSG;
	memcpy(out, body, len);
	out[len] = '\0';
	return 0;
}

bool aws_credentials_need_refresh(const struct aws_credentials *c, time_t now)
{
	if (!c->access_key_id[0])
		return true;
	if (c->expiration == 0)
		return false; /* static */
	time_t life = c->expiration - c->fetched_at;
	time_t margin = life > 0 ? life / 2 : 0;
	if (margin > 300)
		margin = 300;
	return now >= c->expiration - margin;
}

void aws_credentials_wipe(struct aws_credentials *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* ---- adapter ---- */
static time_t default_now(void) { return time(NULL); }

int imds_client_init(struct imds_client *c, const char *endpoint, long timeout_ms)
{
	memset(c, 0, sizeof(*c));
	const char *ep = endpoint && *endpoint ? endpoint : IMDS_DEFAULT_ENDPOINT;
	struct http_endpoint e;
	char msg[400];
	int r = http_endpoint_parse(ep, HTTP_ENDPOINT_IMDS, &e, msg, sizeof(msg));
	if (r < 0)
		return log_error_errno(-r, "IMDS endpoint %s", msg);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", e.url);
	c->token_ttl_s = IMDS_TOKEN_TTL_S;
	c->now = default_now;
	/* IMDS answers locally: keep its timeout short */
	return http_client_init(&c->http, timeout_ms > 0 && timeout_ms < 5000 ? timeout_ms : 5000);
}

void imds_client_free(struct imds_client *c)
{
	http_client_free(&c->http);
	explicit_bzero(c->token, sizeof(c->token));
	c->token_expires = 0;
}

static int fetch_token(struct imds_client *c)
{
	char url[300], ttl[80];
	snprintf(url, sizeof(url), "%s/latest/api/token", c->endpoint);
	snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %u", c->token_ttl_s);
	const char *hdrs[] = {ttl};
	struct http_request req = {.method = "PUT", .url = url, .headers = hdrs, .n_headers = 1};
	struct http_response resp;
	time_t t0 = c->now();
	int r = http_perform(&c->http, &req, &resp);
	if (r < 0)
		return log_error_errno(r, "IMDS %s: token request failed: %m", c->endpoint);
	if (resp.status != 200) {
		long st = resp.status;
		http_response_free(&resp);
		return log_error_errno(st == 403 ? EACCES : EIO, "IMDS %s: token request returned HTTP %ld",
				       c->endpoint, st);
	}
	r = imds_parse_value(resp.body, resp.len, c->token, sizeof(c->token));
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(EBADMSG, "IMDS %s: malformed token response", c->endpoint);
	c->token_expires = t0 + (time_t)c->token_ttl_s;
	return 0;
}

static bool token_valid(const struct imds_client *c)
{
	time_t margin = c->token_ttl_s / 10;
	if (margin > 300)
		margin = 300;
	return c->token_expires && c->now() < c->token_expires - margin;
}

/* GET; on success *resp holds the body (caller frees). */
static int imds_fetch(struct imds_client *c, const char *path, struct http_response *resp)
{
	char url[512];
	int n = snprintf(url, sizeof(url), "%s/latest/meta-data/%s", c->endpoint, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -EINVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!token_valid(c)) {
			int r = fetch_token(c);
			if (r < 0)
				return r;
		}
		char hdr[IMDS_TOKEN_MAX + 40];
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", c->token);
		const char *hdrs[] = {hdr};
		struct http_request req = {.method = "GET", .url = url, .headers = hdrs, .n_headers = 1};
		int r = http_perform(&c->http, &req, resp);
		explicit_bzero(hdr, sizeof(hdr));
		if (r < 0)
			return log_error_errno(r, "IMDS GET %s failed: %m", path);
		if (resp->status == 401 && attempt == 0) {
			/* token expired or rotated server-side: fetch a new one */
			http_response_free(resp);
			c->token_expires = 0;
			continue;
		}
		if (resp->status != 200) {
			long st = resp->status;
			http_response_free(resp);
			return log_error_errno(st == 404 ? ENOENT : EIO, "IMDS GET %s returned HTTP %ld", path, st);
		}
		return 0;
	}
	return -EACCES;
}

int imds_get(struct imds_client *c, const char *path, char *out, size_t outlen)
{
	struct http_response resp;
	int r = imds_fetch(c, path, &resp);
	if (r < 0)
		return r;
	r = imds_parse_value(resp.body, resp.len, out, outlen);
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(r, "IMDS %s: malformed value", path);
	return 0;
}

int imds_get_instance_id(struct imds_client *c, char *out, size_t outlen)
{
	return imds_get(c, "instance-id", out, outlen);
}

int imds_get_region(struct imds_client *c, char *out, size_t outlen)
{
	return imds_get(c, "placement/region", out, outlen);
}

int imds_get_availability_zone(struct imds_client *c, char *out, size_t outlen)
{
	return imds_get(c, "placement/availability-zone", out, outlen);
}

int imds_get_role_credentials(struct imds_client *c, struct aws_credentials *out)
{
	struct http_response resp;
	char role[80], path[160];
	int r = imds_fetch(c, "iam/security-credentials/", &resp);
	if (r < 0)
		return r;
	r = imds_parse_role_name(resp.body, resp.len, role, sizeof(role));
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(r, "IMDS: no usable IAM role attached to the instance");
	snprintf(path, sizeof(path), "iam/security-credentials/%s", role);
	r = imds_fetch(c, path, &resp);
	if (r < 0)
		return r;
	r = imds_parse_credentials(resp.body, resp.len, c->now(), out);
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(r, "IMDS: malformed credentials for role %s", role);
	log_debug("IMDS: credentials for role %s expire at %lld", role, (long long)out->expiration);
	return 0;
}
