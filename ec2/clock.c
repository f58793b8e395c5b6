/* The real clock and transport of the EC2 client. See clock.h. */
#include "ec2/clock.h"

#include <errno.h>

static double real_mono_s(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static time_t real_wall_s(void *ud)
{
	(void)ud;
	return time(NULL);
}

static void real_sleep_ms(void *ud, unsigned ms)
{
	(void)ud;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const struct ec2_clock ec2_real_clock = {real_mono_s, real_wall_s, real_sleep_ms, NULL};

static int http_send(void *ud, const struct http_request *req, struct http_response *resp)
{
	return http_perform(ud, req, resp);
}

struct ec2_transport ec2_http_transport(struct http_client *h)
{
	return (struct ec2_transport){http_send, h};
}
