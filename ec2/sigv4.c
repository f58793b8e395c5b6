/* AWS SigV4 signer. See sigv4.h. */
#include "ec2/sigv4.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- small growable string ---- */
struct sb {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_reserve(struct sb *b, size_t extra)
{
	if (b->err)
		return;
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + extra + 1) {
		if (ncap > SIZE_MAX / 2) {
			b->err = -ENOMEM;
			return;
		}
		ncap *= 2;
	}
	char *np = realloc(b->p, ncap);
	if (!np) {
		b->err = -ENOMEM;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void sb_addn(struct sb *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s) { sb_addn(b, s, strlen(s)); }
static void sb_addc(struct sb *b, char c) { sb_addn(b, &c, 1); }

static void sb_wipe_free(struct sb *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- helpers ---- */
static const char HEX[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexl[in[i] >> 4];
		out[2 * i + 1] = hexl[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

long sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			if (o + 1 >= outlen)
				return -ENOSPC;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				return -ENOSPC;
			out[o++] = '%';
			out[o++] = HEX[c >> 4];
			out[o++] = HEX[c & 15];
		}
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
	return (long)o;
}

static void sb_add_encoded(struct sb *b, const char *s, size_t n, int keep_slash)
{
	if (n > (SIZE_MAX - 1) / 3) {
		b->err = -ENOMEM;
		return;
	}
	sb_reserve(b, 3 * n);
	if (b->err)
		return;
	long w = sigv4_uri_encode(s, n, keep_slash, b->p + b->len, b->cap - b->len);
	if (w < 0) {
		b->err = (int)w;
		return;
	}
	b->len += (size_t)w;
}

int sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	to_hex(md, 32, out);
	return 0;
}

static int hmac(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32])
{
	unsigned int olen = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &olen) || olen != 32)
		return -EIO;
	return 0;
}

int sigv4_amz_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || outlen < 17)
		return -EINVAL;
	if (strftime(out, outlen, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EINVAL;
	return 0;
}

/* ---- canonical query ---- */
struct qpair {
	char *k, *v; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* Percent-decode (libcurl's decoder: invalid escapes are kept literally),
 * then encode the SigV4 way. */
static char *encode_dup(const char *raw, size_t n)
{
	int dn = 0;
	if (n > INT_MAX / 4)
		return NULL;
	char *dec = n ? curl_easy_unescape(NULL, raw, (int)n, &dn) : NULL;
	if (n && !dec)
		return NULL;
	struct sb b = {0};
	sb_add_encoded(&b, dec ? dec : "", (size_t)dn, 0);
	sb_addn(&b, "", 0);
	curl_free(dec);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static int canonical_query(const char *q, struct sb *out)
{
	if (!q || !*q)
		return 0;
	size_t n = 1;
	for (const char *p = q; *p; p++)
		n += *p == '&';
	struct qpair *v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t cnt = 0;
	int r = 0;
	const char *p = q;
	while (*p || p == q) {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		if (plen > 0) {
			const char *eq = memchr(p, '=', plen);
			size_t klen = eq ? (size_t)(eq - p) : plen;
			v[cnt].k = encode_dup(p, klen);
			v[cnt].v = eq ? encode_dup(eq + 1, plen - klen - 1) : strdup("");
			cnt++;
			if (!v[cnt - 1].k || !v[cnt - 1].v) {
				r = -ENOMEM;
				break;
			}
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	if (!r) {
		qsort(v, cnt, sizeof(*v), qpair_cmp);
		for (size_t i = 0; i < cnt; i++) {
			if (i)
				sb_addc(out, '&');
			sb_add(out, v[i].k);
			sb_addc(out, '=');
			sb_add(out, v[i].v);
		}
	}
	for (size_t i = 0; i < cnt; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
	return r;
}

/* ---- canonical headers ---- */
struct chdr {
	char *name;  /* lower case */
	char *value; /* trimmed, collapsed */
	size_t idx;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static char *normalize_value(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(n + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	int pending_space = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			pending_space = j > 0;
			continue;
		}
		if (pending_space)
			o[j++] = ' ';
		pending_space = 0;
		o[j++] = c;
	}
	o[j] = '\0';
	return o;
}

static int valid_header_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ':' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_creds *creds,
	       const char *region, const char *service, time_t now, struct sigv4_result *out)
{
	if (!req || !creds || !out || !region || !service || !req->method || !req->path ||
	    !creds->access_key_id || !creds->secret_access_key || !*creds->access_key_id ||
	    !*creds->secret_access_key || (req->n_headers && !req->headers) ||
	    (req->payload_len && !req->payload) || !*region || !*service)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	/* Credential scope pieces must not contain '/' or control characters. */
	if (strpbrk(region, "/ \r\n") || strpbrk(service, "/ \r\n") ||
	    strpbrk(creds->access_key_id, "/ ,\r\n"))
		return -EINVAL;

	char amz_date[17], date8[9];
	if (sigv4_amz_date(now, amz_date, sizeof(amz_date)) < 0)
		return -EINVAL;
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';

	int has_token = creds->session_token && *creds->session_token;
	size_t nh = req->n_headers + 1;
	struct chdr *h = calloc(nh, sizeof(*h));
	if (!h)
		return -ENOMEM;
	struct sb creq = {0}, sts = {0}, auth = {0}, signed_h = {0};
	int r = 0;
	size_t cnt = 0;
	int saw_token = 0, saw_host = 0, saw_date = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *src = &req->headers[i];
		if (!valid_header_name(src->name) || !src->value) {
			r = -EINVAL;
			goto out;
		}
		h[cnt].name = strdup(src->name);
		h[cnt].value = normalize_value(src->value);
		h[cnt].idx = i;
		cnt++;
		if (!h[cnt - 1].name || !h[cnt - 1].value) {
			r = -ENOMEM;
			goto out;
		}
		for (char *c = h[cnt - 1].name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		saw_token |= !strcmp(h[cnt - 1].name, "x-amz-security-token");
		saw_host |= !strcmp(h[cnt - 1].name, "host");
		saw_date |= !strcmp(h[cnt - 1].name, "x-amz-date");
	}
	if (!saw_host || !saw_date) {
		r = -EINVAL;
		goto out;
	}
	if (has_token && !saw_token) {
		h[cnt].name = strdup("x-amz-security-token");
		h[cnt].value = normalize_value(creds->session_token);
		h[cnt].idx = cnt;
		cnt++;
		if (!h[cnt - 1].name || !h[cnt - 1].value) {
			r = -ENOMEM;
			goto out;
		}
	}
	qsort(h, cnt, sizeof(*h), chdr_cmp);

	/* canonical request */
	sb_add(&creq, req->method);
	sb_addc(&creq, '\n');
	sb_add_encoded(&creq, req->path, strlen(req->path), 1);
	sb_addc(&creq, '\n');
	r = canonical_query(req->query, &creq);
	if (r)
		goto out;
	sb_addc(&creq, '\n');
	for (size_t i = 0; i < cnt; i++) {
		if (i && !strcmp(h[i].name, h[i - 1].name)) {
			/* duplicate header: values joined with ',' in request order */
			creq.len--; /* drop '\n' */
			sb_addc(&creq, ',');
			sb_add(&creq, h[i].value);
			sb_addc(&creq, '\n');
			continue;
		}
		if (signed_h.len)
			sb_addc(&signed_h, ';');
		sb_add(&signed_h, h[i].name);
		sb_add(&creq, h[i].name);
		sb_addc(&creq, ':');
		sb_add(&creq, h[i].value);
		sb_addc(&creq, '\n');
	}
	sb_addc(&creq, '\n');
	sb_add(&creq, signed_h.p ? signed_h.p : "");
	sb_addc(&creq, '\n');
	char hash[65];
	if ((r = sigv4_sha256_hex(req->payload, req->payload_len, hash)) < 0)
		goto out;
	sb_add(&creq, hash);
	if (creq.err || signed_h.err) {
		r = -ENOMEM;
		goto out;
	}

	/* string to sign */
	if ((r = sigv4_sha256_hex(creq.p, creq.len, hash)) < 0)
		goto out;
	sb_add(&sts, "AWS4-HMAC-SHA256\n");
	sb_add(&sts, amz_date);
	sb_addc(&sts, '\n');
	char scope[256];
	int sl = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date8, region, service);
	if (sl < 0 || (size_t)sl >= sizeof(scope)) {
		r = -EINVAL;
		goto out;
	}
	sb_add(&sts, scope);
	sb_addc(&sts, '\n');
	sb_add(&sts, hash);
	if (sts.err) {
		r = -ENOMEM;
		goto out;
	}

	/* signing key: HMAC chain, wiped afterwards */
	{
		struct sb k = {0};
		unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
		char sighex[65];
		sb_add(&k, "AWS4");
		sb_add(&k, creds->secret_access_key);
		if (k.err)
			r = -ENOMEM;
		if (!r)
			r = hmac(k.p, k.len, date8, 8, k1);
		if (!r)
			r = hmac(k1, 32, region, strlen(region), k2);
		if (!r)
			r = hmac(k2, 32, service, strlen(service), k3);
		if (!r)
			r = hmac(k3, 32, "aws4_request", 12, k4);
		if (!r)
			r = hmac(k4, 32, sts.p, sts.len, sig);
		sb_wipe_free(&k);
		OPENSSL_cleanse(k1, 32);
		OPENSSL_cleanse(k2, 32);
		OPENSSL_cleanse(k3, 32);
		OPENSSL_cleanse(k4, 32);
		if (r)
			goto out;
		to_hex(sig, 32, sighex);
		sb_add(&auth, "AWS4-HMAC-SHA256 Credential=");
		sb_add(&auth, creds->access_key_id);
		sb_addc(&auth, '/');
		sb_add(&auth, scope);
		sb_add(&auth, ", SignedHeaders=");
		sb_add(&auth, signed_h.p);
		sb_add(&auth, ", Signature=");
		sb_add(&auth, sighex);
		if (auth.err) {
			r = -ENOMEM;
			goto out;
		}
	}
	out->canonical_request = creq.p;
	out->string_to_sign = sts.p;
	out->authorization = auth.p;
	creq.p = sts.p = auth.p = NULL;
out:
	for (size_t i = 0; i < cnt; i++) {
		if (h[i].value)
			OPENSSL_cleanse(h[i].value, strlen(h[i].value));
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	sb_wipe_free(&creq);
	sb_wipe_free(&sts);
	sb_wipe_free(&auth);
	sb_wipe_free(&signed_h);
	return r;
}

void sigv4_result_free(struct sigv4_result *r)
{
	if (!r)
		return;
	char **v[] = {&r->canonical_request, &r->string_to_sign, &r->authorization};
	for (size_t i = 0; i < 3; i++) {
		if (*v[i])
			OPENSSL_cleanse(*v[i], strlen(*v[i]));
		free(*v[i]);
		*v[i] = NULL;
	}
}

static char *line_dup(const char *name, const char *value)
{
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s: %s", name, value);
	return s;
}

int sigv4_sign_form_post(const struct sigv4_creds *creds, const char *region, const char *service,
			 const char *host_header, const char *body, size_t body_len, time_t now,
			 struct sigv4_signed_headers *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!creds || !host_header || !*host_header || strpbrk(host_header, "\r\n") ||
	    (creds->session_token && strpbrk(creds->session_token, "\r\n")))
		return -EINVAL;
	char amz_date[17];
	if (sigv4_amz_date(now, amz_date, sizeof(amz_date)) < 0)
		return -EINVAL;
	struct sigv4_header hs[] = {
		{"Content-Type", SIGV4_FORM_CONTENT_TYPE},
		{"Host", host_header},
		{"X-Amz-Date", amz_date},
	};
	struct sigv4_request req = {
		.method = "POST", .path = "/", .query = NULL,
		.headers = hs, .n_headers = 3, .payload = body, .payload_len = body_len,
	};
	struct sigv4_result res;
	int r = sigv4_sign(&req, creds, region, service, now, &res);
	if (r < 0)
		return r;
	out->lines[out->n++] = line_dup("Content-Type", SIGV4_FORM_CONTENT_TYPE);
	out->lines[out->n++] = line_dup("Host", host_header);
	out->lines[out->n++] = line_dup("X-Amz-Date", amz_date);
	if (creds->session_token && *creds->session_token)
		out->lines[out->n++] = line_dup("X-Amz-Security-Token", creds->session_token);
	out->lines[out->n++] = line_dup("Authorization", res.authorization);
	sigv4_result_free(&res);
	for (size_t i = 0; i < out->n; i++)
		if (!out->lines[i]) {
			sigv4_signed_headers_free(out);
			return -ENOMEM;
		}
	return 0;
}

void sigv4_signed_headers_free(struct sigv4_signed_headers *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		if (h->lines[i])
			OPENSSL_cleanse(h->lines[i], strlen(h->lines[i]));
		free(h->lines[i]);
		h->lines[i] = NULL;
	}
	h->n = 0;
}
