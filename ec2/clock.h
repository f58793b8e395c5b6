/* The seams between the EC2 client's logic (retries, backoff, waits,
 * ClientToken) and the world: a clock (monotonic now, wall time for SigV4
 * and credential expiry, sleep) and a transport (send one signed request,
 * get its status and body). The daemon uses the real ones; a test or a fleet
 * simulator passes its own and runs the real retry code under simulated time,
 * without processes, sockets or sleeps. */
#ifndef DMSCALE_EC2_CLOCK_H
#define DMSCALE_EC2_CLOCK_H
#include <time.h>

#include "ec2/http.h"

struct ec2_clock {
	double (*mono_s)(void *ud);            /* monotonic seconds */
	time_t (*wall_s)(void *ud);            /* seconds since the epoch (UTC) */
	void (*sleep_ms)(void *ud, unsigned ms);
	void *ud;
};

/* CLOCK_MONOTONIC, time(), nanosleep (EINTR resumed). */
extern const struct ec2_clock ec2_real_clock;

struct ec2_transport {
	/* 0 when an HTTP response arrived (any status): *resp holds it, freed by
	 * the caller with http_response_free (so resp->body is malloc'd); else
	 * -errno as http_perform. */
	int (*send)(void *ud, const struct http_request *req, struct http_response *resp);
	void *ud;
};

/* The libcurl transport over *h. */
struct ec2_transport ec2_http_transport(struct http_client *h);

#endif
