/* EC2 client: signed Query API calls with retries (full-jitter exponential
 * backoff with a cap, bounded attempts and a retry budget), bounded waits,
 * and the provisioning sequence used by `dmscale daemon`:
 *   CreateVolume (tags, ClientToken reused on every retry) → wait available →
 *   [stage callback: record pending] → AttachVolume on a free /dev/xvdb? name →
 *   wait attached → ModifyInstanceAttribute DeleteOnTermination=true → verify.
 * Any failure after CreateVolume detaches (if needed) and deletes the volume.
 *
 * Errors: 0 or -errno. -EBUSY throttled past the retry limit, -EAGAIN
 * transient error past the limit, -EDQUOT EC2 limit (VolumeLimitExceeded,
 * InsufficientVolumeCapacity, AttachmentLimitExceeded), -EACCES
 * authorization, -EKEYEXPIRED credentials, -ENOENT not found, -ETIMEDOUT
 * wait bounded out, -EINVAL rejected request. c->last_error has the details. */
#ifndef DMSCALE_EC2_EC2_H
#define DMSCALE_EC2_EC2_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ec2/clock.h"
#include "ec2/http.h"
#include "ec2/imds.h"
#include "ec2/query.h"
#include "ec2/xml.h"

struct dms_config;

#define EC2_TAG_POOL "dmscale:pool"
#define EC2_TAG_INSTANCE "dmscale:instance"
#define EC2_DEVICE_PREFIX "/dev/xvdb"     /* candidates /dev/xvdba … /dev/xvdbz */
#define EC2_CLIENT_TOKEN_MAX 65

enum ec2_stage {
	EC2_STAGE_CREATING,       /* client_token chosen, CreateVolume about to be sent */
	EC2_STAGE_CREATED,        /* volume_id known (state available): record it as pending */
	EC2_STAGE_ATTACHING,      /* AttachVolume accepted */
	EC2_STAGE_ATTACHED,       /* attached and DeleteOnTermination verified */
	EC2_STAGE_DELETED,        /* cleanup deleted the volume: drop it from pending */
	EC2_STAGE_CLEANUP_FAILED, /* cleanup could not delete it now: retry later */
	EC2_STAGE_CLEANUP_CHECK,  /* about to clean up after a failure: return 1 to keep the volume
	                             (it joined the pool, or may hold data: deleting it could lose data) */
};
const char *ec2_stage_name(enum ec2_stage s);

/* Return < 0 from EC2_STAGE_CREATING/CREATED/ATTACHING to abort (the volume is cleaned up). */
typedef int (*ec2_stage_fn)(void *ud, enum ec2_stage stage, const char *volume_id,
			    const char *client_token, const char *device);

struct ec2_client {
	struct http_client http;  /* the libcurl handle behind the default transport */
	struct imds_client imds;
	bool imds_ready;
	bool static_creds;
	struct aws_credentials creds;
	char endpoint[256];
	char host[256];
	char region[32];
	char instance_id[EC2_ID_MAX];
	char availability_zone[EC2_ID_MAX];

	/* the seams (clock.h): ec2_client_init's real transport and its caller's clock, or
	 * any from ec2_client_setup */
	struct ec2_transport transport;
	struct ec2_clock clock;

	/* retries */
	unsigned max_attempts;    /* per call, default 8 */
	unsigned backoff_base_ms; /* default 1000 (the AWS SDKs' standard mode) */
	unsigned backoff_cap_ms;  /* default 20000 */
	unsigned throttle_base_ms; /* the base after a throttle, default 8000: a throttle says the
	                              account's bucket is empty, and a fleet shares it (500
	                              instances, 30 s apart: 1000 ms left 6.5 % of all calls
	                              throttled, 8000 ms 4.2 %; docs/COST.md) */
	unsigned retry_budget;    /* tokens: a retry costs 5, a success refunds 1; default 100 */
	bool backoff_fixed;       /* min(cap, base × 2^attempt) without jitter: the schedule of the
	                             seed's shell loops, for the fleet comparison only; default false */
	uint64_t rng;

	ec2_stage_fn on_stage;
	void *stage_ud;

	/* status for `dmscale status` */
	unsigned long api_calls, retries, throttled;
	struct ec2_error last_error;
	double last_attach_latency_s; /* CreateVolume sent → attachment attached */
	/* a CreateVolume that failed without a definite answer (its answer may
	 * have been lost after EC2 created the volume): the next provisioning
	 * re-sends it, same ClientToken and size, so EC2 returns that volume
	 * instead of leaving it behind and creating another */
	char unresolved_token[EC2_CLIENT_TOKEN_MAX];
	uint64_t unresolved_size_gib;
	char last_device[EC2_ID_MAX];
};

/* What a client needs besides its seams; no I/O. */
struct ec2_client_params {
	const char *region;
	const char *endpoint;            /* NULL/"" => https://ec2.<region>.amazonaws.com */
	const char *instance_id;         /* i-… */
	const char *availability_zone;
	const struct aws_credentials *static_creds; /* NULL => the instance role (needs c->imds) */
	uint64_t rng_seed;               /* 0 => from getrandom() */
};

/* Pure set-up over the given transport and clock (a test or a simulator);
 * *c zeroed by the caller. Checks the endpoint (http_endpoint_parse); 0 or
 * -EINVAL/-EPERM. Without static_creds and without IMDS, calls fail -ENOKEY. */
int ec2_client_setup(struct ec2_client *c, const struct ec2_client_params *p, const struct ec2_transport *t,
		     const struct ec2_clock *k);
/* The daemon's: libcurl + IMDS (instance, AZ, region, role credentials) +
 * config/env (already in cfg), over the real transport. The client's waits
 * (backoffs, the attachment poll) and SigV4 times run on *clock (the daemon's
 * wakes on udev events and the pool; NULL: ec2_real_clock). */
int ec2_client_init(struct ec2_client *c, const struct dms_config *cfg, const struct ec2_clock *clock);
void ec2_client_free(struct ec2_client *c);

/* One signed call with retries; on 0, *resp holds the 2xx body. */
int ec2_call(struct ec2_client *c, const struct ec2_form *f, struct http_response *resp);

int ec2_create_volume(struct ec2_client *c, const struct ec2_create_volume_req *req, struct ec2_volume *out);
int ec2_describe_volume(struct ec2_client *c, const char *volume_id, struct ec2_volume *out);
/* ec2_wait_volume: the first DescribeVolumes after EC2_WAIT_FIRST_MS, then
 * every ×1.5 up to EC2_WAIT_MAX_MS, each ±25 % jitter. */
#define EC2_WAIT_FIRST_MS 2000
#define EC2_WAIT_MAX_MS 8000
/* Poll until the volume is in want_state (and, if want_attach, its attachment
 * to this instance is in that state). Bounded by timeout_s. */
int ec2_wait_volume(struct ec2_client *c, const char *volume_id, const char *want_state,
		    const char *want_attach, unsigned timeout_s, struct ec2_volume *out);
int ec2_attach_volume(struct ec2_client *c, const char *volume_id, const char *device);
int ec2_detach_volume(struct ec2_client *c, const char *volume_id, bool force);
int ec2_delete_volume(struct ec2_client *c, const char *volume_id);
int ec2_list_block_devices(struct ec2_client *c, struct ec2_bdm *out, size_t max, size_t *n);
/* ModifyInstanceAttribute + verify through DescribeInstances. */
int ec2_set_delete_on_termination(struct ec2_client *c, const char *volume_id, const char *device);
/* Detach (if attached), wait, delete. 0 when the volume is gone. */
int ec2_cleanup_volume(struct ec2_client *c, const char *volume_id, unsigned timeout_s);
/* Volumes tagged dmscale:pool=<pool> (all pages). */
int ec2_find_pool_volumes(struct ec2_client *c, const char *pool, struct ec2_volume *out,
			  size_t max, size_t *n);

/* The whole sequence; on failure nothing is left behind (or
 * EC2_STAGE_CLEANUP_FAILED was reported with the volume id). */
int ec2_provision_volume(struct ec2_client *c, const struct dms_config *cfg, uint64_t size_gib,
			 char volume_id_out[EC2_ID_MAX]);

/* ---- pure helpers ---- */
/* Full jitter: uniform in [0, min(cap, base × 2^attempt)]. */
unsigned ec2_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint64_t *rng);
/* First /dev/xvdb[a-z] not in use. Names compare without "/dev/" and with
 * "sd" ≡ "xvd" (EC2 reports either). -ENOSPC when all 26 are taken. */
int ec2_pick_device(const char *const *in_use, size_t n, char *out, size_t outlen);
/* No jitter: min(cap, base × 2^attempt) (ec2_client.backoff_fixed). */
unsigned ec2_backoff_fixed_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms);
/* "dmscale-" + 32 hex from rng state: <= 64 ASCII characters. */
void ec2_make_client_token(uint64_t *rng, char out[EC2_CLIENT_TOKEN_MAX]);
/* errno for a classified EC2 error */
int ec2_error_errno(const struct ec2_error *e);

#endif
