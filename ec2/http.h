/* Thin libcurl adapter: one reusable handle, TLS verification always on,
 * connect + total timeouts, response body capped. No shell, no CURLOPT_AWS_SIGV4.
 * Request headers may carry secrets: they are never logged. */
#ifndef DMSCALE_EC2_HTTP_H
#define DMSCALE_EC2_HTTP_H
#include <stdbool.h>
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

enum http_endpoint_kind { HTTP_ENDPOINT_EC2, HTTP_ENDPOINT_IMDS };

struct http_endpoint {
	char url[256];    /* normalised by libcurl: scheme://host[:port][/path], no trailing '/' */
	char host[256];   /* the Host header curl sends ("host" or "host:port"; [v6]) */
	bool https;
};

/* Pure (libcurl's URL API, no I/O): parse an endpoint URL. http or https, no
 * user info, query, fragment or IPv6 zone; the EC2 endpoint has no path (its
 * requests are signed for "/"). Plain http:// only to loopback (127.0.0.0/8,
 * ::1, localhost) or IPv4 link-local (169.254.0.0/16), and for IMDS also
 * [fd00:ec2::254]. Returns 0, -EINVAL (not such a URL) or -EPERM (plain http
 * to another host), with a message naming the URL in msg. */
int http_endpoint_parse(const char *url, enum http_endpoint_kind kind, struct http_endpoint *out, char *msg,
			size_t msglen);

#endif
