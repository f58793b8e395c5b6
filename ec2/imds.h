/* EC2 Instance Metadata Service v2: session token (PUT /latest/api/token with
 * X-aws-ec2-metadata-token-ttl-seconds, re-fetched before it expires), then
 * GETs with X-aws-ec2-metadata-token. Role credentials from
 * iam/security-credentials/<role> (JSON), refreshed before Expiration.
 * Parsing is pure (imds_parse_*); imds_client_* is the HTTP adapter.
 * Secrets (token, keys) are never logged and are wiped when dropped. */
#ifndef DMSCALE_EC2_IMDS_H
#define DMSCALE_EC2_IMDS_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ec2/http.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_S 21600
#define IMDS_TOKEN_MAX 512
#define AWS_TOKEN_MAX 4096

struct aws_credentials {
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[AWS_TOKEN_MAX]; /* "" for static keys without a token */
	time_t expiration;                 /* 0 = never (static) */
	time_t fetched_at;
};

/* Pure parsers. All return 0 or -EBADMSG (malformed), -E2BIG (field too long). */
/* {"Code":"Success","AccessKeyId":…,"SecretAccessKey":…,"Token":…,"Expiration":"2025-01-01T00:00:00Z"} */
int imds_parse_credentials(const char *json, size_t len, time_t now, struct aws_credentials *out);
/* First line of iam/security-credentials/ ([A-Za-z0-9+=,.@_-]{1,64}). */
int imds_parse_role_name(const char *body, size_t len, char *out, size_t outlen);
/* "2025-11-25T14:00:00Z" (optionally with fractional seconds) -> time_t UTC. */
int imds_parse_iso8601(const char *s, time_t *out);
/* Metadata value (instance-id, region, az): trimmed, printable, non-empty. */
int imds_parse_value(const char *body, size_t len, char *out, size_t outlen);

/* Refresh when less than min(5 min, half the lifetime) is left. */
bool aws_credentials_need_refresh(const struct aws_credentials *c, time_t now);
void aws_credentials_wipe(struct aws_credentials *c);

struct imds_client {
	struct http_client http;
	char endpoint[256];
	char token[IMDS_TOKEN_MAX];
	time_t token_expires;   /* 0 = no token */
	unsigned token_ttl_s;
	time_t (*now)(void);    /* injectable clock, defaults to time() */
};

int imds_client_init(struct imds_client *c, const char *endpoint, long timeout_ms);
void imds_client_free(struct imds_client *c);
/* GET /latest/meta-data/<path> into out (trimmed). Fetches/refreshes the
 * token as needed; on 401 refetches the token once. */
int imds_get(struct imds_client *c, const char *path, char *out, size_t outlen);
int imds_get_instance_id(struct imds_client *c, char *out, size_t outlen);
int imds_get_region(struct imds_client *c, char *out, size_t outlen);
int imds_get_availability_zone(struct imds_client *c, char *out, size_t outlen);
int imds_get_role_credentials(struct imds_client *c, struct aws_credentials *out);

#endif
