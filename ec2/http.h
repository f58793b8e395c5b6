/* Thin libcurl adapter: one reusable handle, TLS verification always on,
 * connect + total timeouts, response body capped. No shell, no CURLOPT_AWS_SIGV4.
 * Request headers may carry secrets: they are never logged. */
#ifndef DMSCALE_EC2_HTTP_H
#define DMSCALE_EC2_HTTP_H
#include <stddef.h>

#define HTTP_MAX_BODY_BYTES (8u << 20)

struct http_client {
	void *curl;           /* CURL * */
	long timeout_ms;
	long connect_timeout_ms;
};

struct http_request {
	const char *method;   /* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers; /* "Name: value" lines */
	size_t n_headers;
	const char *body;
	size_t body_len;
};

struct http_response {
	long status;
	char *body;           /* NUL-terminated, malloc'd */
	size_t len;
};

int http_client_init(struct http_client *c, long timeout_ms);
void http_client_free(struct http_client *c);
/* 0 when an HTTP response arrived (any status), else -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -EPROTO (TLS), -EFBIG (body too large), -EIO. */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_free(struct http_response *r);

/* Pure: split "http[s]://host[:port][/...]" into the Host header value
 * ("host" or "host:port" as curl sends it) and whether it is https. */
int http_url_host(const char *url, char *host, size_t hostlen, int *is_https);

#endif
