/* The daemon's state object: DMS_RUN_DIR/<pool>.daemon.json, read back by
 * `dmscale status` (the "daemon" object of its JSON) and by metrics.c. Its
 * keys and their JSON types are an interface: they do not change. */
#ifndef DMSCALE_EC2_STATE_H
#define DMSCALE_EC2_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dms_daemon_state {
	long pid;
	const char *pool, *mountpoint;
	bool pool_ready, ec2_ready;
	uint64_t size_bytes, free_bytes, threshold_bytes;
	double fill_rate_bps;              /* written as an integer */
	double time_to_full_s;             /* an integer; -1 for "never" (> 1e17) */
	double attach_latency_s, last_attach_s, last_create_to_attached_s;  /* reals, 2 decimals */
	bool needed;
	const char *reason;
	size_t in_flight;
	unsigned long provisioned, failed, api_calls, retries, throttled;
	const char *last_result;
	const char *last_error;            /* the last EC2 error code ("" none) */
};

/* Pure (jansson): the object as one line of JSON text ending in "\n",
 * malloc'd (free()). Strings are escaped as JSON requires; bytes that are not
 * UTF-8 become '?'. NULL on allocation failure. */
char *dms_daemon_state_json(const struct dms_daemon_state *s);

#endif
