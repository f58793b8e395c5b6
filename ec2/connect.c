/* The daemon's EC2 client bring-up with retries. See connect.h. */
#include "ec2/connect.h"

#include <string.h>

#include "dmscale/log.h"
#include "ec2/decide.h"
#include "ec2/ec2.h"

void ec2_connector_init(struct ec2_connector *k, struct dms_config *cfg, ec2_init_fn init,
			const struct ec2_clock *clock)
{
	memset(k, 0, sizeof(*k));
	k->cfg = *cfg;
	k->init = init ? init : ec2_client_init;
	k->clock = clock ? clock : &ec2_real_clock;
	dms_config_wipe_secrets(cfg);
}

int ec2_connector_try(struct ec2_connector *k, struct ec2_client *c, double now_s)
{
	if (k->ready || now_s < k->next_try_s)
		return 0;
	k->attempts++;
	/* the client's waits (the attachment poll, backoffs) sleep on the
	 * connector's clock: the daemon's wakes on udev events and the pool */
	int r = k->init(c, &k->cfg, k->clock);
	if (r < 0) {
		k->next_try_s = k->clock->mono_s(k->clock->ud) + dms_init_backoff_s(&k->backoff_s);
		if (!k->warned)
			log_error_errno(r, "EC2 client not ready: %m; retrying (every <= 60 s) while watching the pool");
		k->warned = true;
		return r;
	}
	k->ready = true;
	k->backoff_s = 0;
	if (k->warned)
		log_info("EC2 client ready");
	k->warned = false;
	/* the client holds its own copy of the credentials now */
	dms_config_wipe_secrets(&k->cfg);
	return 1;
}

void ec2_connector_free(struct ec2_connector *k)
{
	dms_config_wipe_secrets(&k->cfg);
	explicit_bzero(k, sizeof(*k));
}
