/* libcurl adapter. See http.h. */
#include "ec2/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

int http_url_host(const char *url, char *host, size_t hostlen, int *is_https)
{
	if (!url)
		return -EINVAL;
	const char *p;
	int https;
	if (!strncmp(url, "https://", 8)) {
		p = url + 8;
		https = 1;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
		https = 0;
	} else {
		return -EINVAL;
	}
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n >= hostlen || memchr(p, '@', n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	/* curl omits the default port from Host:, so must we (it is signed) */
	const char *dflt = https ? ":443" : ":80";
	size_t dl = strlen(dflt);
	if (n > dl && !strcmp(host + n - dl, dflt) && host[0] != '[')
		host[n - dl] = '\0';
	if (is_https)
		*is_https = https;
	return 0;
}

int http_client_init(struct http_client *c, long timeout_ms)
{
	static int global_done;
	memset(c, 0, sizeof(*c));
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global_done = 1;
	}
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
