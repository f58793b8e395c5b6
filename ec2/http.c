/* libcurl adapter and endpoint URL checks. See http.h. */
#include "ec2/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ec2/secmem.h"

/* Plain HTTP stays on this host or its own link: loopback, or an IPv4
 * link-local address (169.254.0.0/16, never forwarded by a router: on EC2
 * the instance's own Nitro services, IMDS among them; in the test bed QEMU's
 * user network), or for IMDS its IPv6 address. */
static bool plain_http_ok(const char *host, enum http_endpoint_kind kind)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		uint32_t a = ntohl(a4.s_addr);
		return (a >> 24) == 127 || (a >> 16) == ((169u << 8) | 254u);
	}
	size_t n = strlen(host);
	if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= 64)
		return false;
	char v6[64];
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	if (inet_pton(AF_INET6, v6, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	static const uint8_t imds6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
	return kind == HTTP_ENDPOINT_IMDS && !memcmp(a6.s6_addr, imds6, 16);
}

int http_endpoint_parse(const char *url, enum http_endpoint_kind kind, struct http_endpoint *out, char *msg,
			size_t msglen)
{
	memset(out, 0, sizeof(*out));
	if (!url || !*url || strlen(url) >= sizeof(out->url)) {
		if (msg && msglen)
			snprintf(msg, msglen, "\"%.300s\": not an http(s) URL", url ? url : "");
		return -EINVAL;
	}
	CURLU *u = curl_url();
	if (!u)
		return -ENOMEM;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *query = NULL,
	     *frag = NULL, *path = NULL, *zone = NULL;
	int r = -EINVAL;
	const char *why = "not an http(s) URL";
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	(void)curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
	(void)curl_url_get(u, CURLUPART_USER, &user, 0);
	(void)curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	(void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	(void)curl_url_get(u, CURLUPART_ZONEID, &zone, 0);
	bool https = !strcmp(scheme, "https");
	if ((!https && strcmp(scheme, "http")) || !*host)
		goto out;
	if (user || pass || query || frag || zone) {
		why = "user info, query, fragment or zone id in the URL";
		goto out;
	}
	if (kind == HTTP_ENDPOINT_EC2 && strcmp(path, "/")) {
		why = "the EC2 endpoint takes no path (requests are signed for \"/\")";
		goto out;
	}
	for (const char *p = host; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			goto out;
	if (!https && !plain_http_ok(host, kind)) {
		r = -EPERM;
		why = "plain http:// only to loopback or a link-local address (169.254.0.0/16); use https://";
		goto out;
	}
	/* what curl sends as Host: (the default port omitted); it is signed */
	int n = snprintf(out->host, sizeof(out->host), "%s%s%s", host, port ? ":" : "", port ? port : "");
	size_t pl = strlen(path);
	while (pl > 1 && path[pl - 1] == '/')
		path[--pl] = '\0';
	int m = snprintf(out->url, sizeof(out->url), "%s://%s%s", scheme, out->host, pl > 1 ? path : "");
	if (n < 0 || (size_t)n >= sizeof(out->host) || m < 0 || (size_t)m >= sizeof(out->url))
		goto out;
	out->https = https;
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_free(query);
	curl_free(frag);
	curl_free(path);
	curl_free(zone);
	curl_url_cleanup(u);
	if (r < 0) {
		memset(out, 0, sizeof(*out));
		if (msg && msglen)
			snprintf(msg, msglen, "\"%.300s\": %s", url, why);
	}
	return r;
}

int http_client_init(struct http_client *c, long timeout_ms)
{
	memset(c, 0, sizeof(*c));
	/* libcurl initialised with wipe-on-free allocators (it holds tokens) */
	if (dms_secmem_install() < 0)
		return -EIO;
	c->curl = curl_easy_init();
	if (!c->curl)
		return -ENOMEM;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 15000;
	c->connect_timeout_ms = c->timeout_ms < 3000 ? c->timeout_ms : 3000;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

struct sink {
	char *buf;
	size_t len, cap;
	int too_big;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->len + n > HTTP_MAX_BODY_BYTES) {
		s->too_big = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t ncap = s->cap ? s->cap : 4096;
		while (ncap < s->len + n + 1)
			ncap *= 2;
		char *nb = realloc(s->buf, ncap);
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE: return -EPROTO;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: return -ECONNRESET;
	default: return -EIO;
	}
}

int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!c->curl || !req->url || !req->method)
		return -EINVAL;
	CURL *h = c->curl;
	curl_easy_reset(h);
	struct curl_slist *hl = NULL;
	for (size_t i = 0; i < req->n_headers; i++) {
		struct curl_slist *n = curl_slist_append(hl, req->headers[i]);
		if (!n) {
			curl_slist_free_all(hl);
			return -ENOMEM;
		}
		hl = n;
	}
	/* no "Expect: 100-continue" round trip, no default Accept */
	struct curl_slist *n = curl_slist_append(hl, "Expect:");
	if (n)
		hl = n;
	struct sink s = {0};
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* IMDS and EC2 are reached directly */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "dmscale");
	if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(req->method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	CURLcode rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		if (s.buf)
			explicit_bzero(s.buf, s.len);
		free(s.buf);
		return s.too_big ? -EFBIG : map_curl(rc);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!s.buf) {
		s.buf = calloc(1, 1);
		if (!s.buf)
			return -ENOMEM;
	}
	resp->body = s.buf;
	resp->len = s.len;
	return 0;
}

void http_response_free(struct http_response *r)
{
	if (r->body)
		explicit_bzero(r->body, r->len); /* may hold credentials (IMDS) */
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
