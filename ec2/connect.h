/* Bringing the daemon's EC2 client up, and keeping it trying: every failed
 * initialisation (IMDS down, no role yet, ...) is retried with a backoff
 * (2 s doubling to 60 s) until it succeeds. The configuration's static
 * credentials (AWS_ACCESS_KEY_ID/...) stay in the connector's custody until
 * an initialisation succeeds: a failed attempt must not lose them, or every
 * later attempt would silently fall back to the instance role. Once the client
 * holds its own copy, the connector's copy is wiped. The initialisation itself
 * is injected, so the retry logic is tested without IMDS. */
#ifndef DMSCALE_EC2_CONNECT_H
#define DMSCALE_EC2_CONNECT_H
#include <stdbool.h>

#include "ec2/clock.h"
#include "ec2/config.h"

struct ec2_client;

typedef int (*ec2_init_fn)(struct ec2_client *c, const struct dms_config *cfg, const struct ec2_clock *clock);

struct ec2_connector {
	struct dms_config cfg;   /* a copy, secrets included, until the first success */
	ec2_init_fn init;        /* ec2_client_init unless a test injects one */
	const struct ec2_clock *clock;  /* the backoff runs from the end of a failed attempt; the
	                                   client it brings up runs on it too */
	bool ready;
	bool warned;             /* "not ready" logged once per outage */
	double next_try_s;
	double backoff_s;
	unsigned attempts;
};

/* Takes a copy of *cfg (and wipes the secrets of *cfg: the connector holds
 * them). init NULL: ec2_client_init; clock NULL: ec2_real_clock. */
void ec2_connector_init(struct ec2_connector *k, struct dms_config *cfg, ec2_init_fn init,
			const struct ec2_clock *clock);
/* Try to initialise *c if not ready and the backoff allows (now_s: monotonic).
 * Returns 1 when the client became ready in this call, 0 when nothing
 * changed (already ready, or waiting), or the init's -errno. */
int ec2_connector_try(struct ec2_connector *k, struct ec2_client *c, double now_s);
/* Wipe whatever secrets the connector still holds. */
void ec2_connector_free(struct ec2_connector *k);

#endif
