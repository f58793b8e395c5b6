/* AWS Signature Version 4 signer on libcrypto (HMAC-SHA256). Pure: the time is
 * passed in, nothing is read from the environment, nothing is logged.
 *
 * Two layers:
 *  - sigv4_sign(): the generic algorithm (canonical request, string to sign,
 *    Authorization), enough to run the official AWS test suite;
 *  - sigv4_sign_form_post(): what the EC2 client needs — a POST of an
 *    application/x-www-form-urlencoded body to "/", with an optional session
 *    token that is signed (x-amz-security-token is part of SignedHeaders). */
#ifndef DMSCALE_EC2_SIGV4_H
#define DMSCALE_EC2_SIGV4_H
#include <stddef.h>
#include <time.h>

struct sigv4_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when not using temporary credentials */
};

struct sigv4_header {
	const char *name;  /* any case; canonicalised to lower case */
	const char *value; /* trimmed, inner runs of spaces collapsed when signed */
};

struct sigv4_request {
	const char *method;          /* "POST" */
	const char *path;            /* raw path, e.g. "/"; URI-encoded per segment, not normalised */
	const char *query;           /* raw query without '?', or NULL; may be percent-encoded already */
	const struct sigv4_header *headers; /* must include host and x-amz-date */
	size_t n_headers;
	const void *payload;
	size_t payload_len;
};

struct sigv4_result {
	char *canonical_request;  /* malloc'd */
	char *string_to_sign;     /* malloc'd */
	char *authorization;      /* malloc'd: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
};

/* Generic signer. If creds->session_token is set and the request has no
 * x-amz-security-token header, the token is added as a signed header.
 * Returns 0, -EINVAL (bad input), -ENOMEM, -EIO (libcrypto failure). */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_creds *creds,
	       const char *region, const char *service, time_t now, struct sigv4_result *out);
void sigv4_result_free(struct sigv4_result *r);

/* "20150830T123600Z" (buffer of at least 17 bytes). Returns 0 or -EINVAL. */
int sigv4_amz_date(time_t t, char *out, size_t outlen);

/* Lower-case hex SHA-256 of data (out: 65 bytes). */
int sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* URI-encode per SigV4 (unreserved A-Z a-z 0-9 - _ . ~ kept, everything else
 * %XX upper case; '/' kept when keep_slash). Returns the length written
 * (excluding NUL), or -ENOSPC. */
long sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t outlen);

/* Headers for a signed form POST to "/", as complete "Name: value" lines
 * ready for libcurl. The strings are malloc'd and wiped on free because the
 * token line carries the session token. */
#define SIGV4_MAX_HEADER_LINES 5
struct sigv4_signed_headers {
	char *lines[SIGV4_MAX_HEADER_LINES];
	size_t n;
};

int sigv4_sign_form_post(const struct sigv4_creds *creds, const char *region, const char *service,
			 const char *host_header, const char *body, size_t body_len, time_t now,
			 struct sigv4_signed_headers *out);
void sigv4_signed_headers_free(struct sigv4_signed_headers *h);

#define SIGV4_FORM_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

#endif
